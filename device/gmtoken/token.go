package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
	"github.com/tjfoc/gmsm/sm2"

	"github.com/sealkeeper/sealkeeper/store/atomic"
)

// The vendor numbers this token speaks: Sansec's (三未信安 upkcs11), as listed in xipki's
// vendor.conf (shared/research/gm-seals.md §4). SM2 has no standard PKCS#11 code.
const (
	ckkSM2        = 0x80000004
	ckmSM2KeyGen  = 0x80008001
	ckmSM3SM2Z    = 0x80008102 // SM3(Z_A || M) with ID 1234567812345678 on the token; r||s out
	ckmSM3SM2ZDER = 0x80008103 // the same, DER SEQUENCE{r,s} out
	ckmSM2Sign    = 0x80008104 // SM2 over a 32-byte e computed by the host; DER out
	ckmSM2SignRaw = 0x80008105 // the same, r||s out
	// SM2 encryption (GB/T 32918.4); C_Decrypt takes 04 || C1 || C3 || C2, the 2016 standard's
	// order (older tokens and GM/T 0009's ASN.1 form differ; see docs/architecture.md).
	ckmSM2Encrypt = 0x80008200
)

// mechanisms lists what the token can do. SEALKEEPER_GMTOKEN_MECHANISMS (hex numbers separated
// by commas, read at C_Initialize) narrows the list, so a test can make a token that offers only
// raw SM2, or only mechanisms that answer r||s, as some vendors' tokens do.
var mechanisms = []uint{ckmSM2KeyGen, ckmSM3SM2ZDER, ckmSM3SM2Z, ckmSM2Sign, ckmSM2SignRaw, ckmSM2Encrypt}

// maxTries wrong user PINs lock the token. C_InitPIN (the issuer's SO) resets the count.
const maxTries = 5

// sm2OID is the SM2 curve, 1.2.156.10197.1.301, as CKA_EC_PARAMS holds it.
var sm2OID = []byte{0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d}

// object is a token object: its attributes as the caller gave them (CK_ULONG values in the
// platform's byte order), with defaults filled in at creation. Every object is a token object.
type object struct {
	Attrs map[uint][]byte `json:"attrs"`
}

type token struct {
	Label       string           `json:"label"`
	Serial      string           `json:"serial"`
	Salt        []byte           `json:"salt"`
	SOPIN       []byte           `json:"so_pin"`   // SHA-256 of salt || PIN
	UserPIN     []byte           `json:"user_pin"` // empty: not set
	TriesLeft   int              `json:"tries_left"`
	ToBeChanged bool             `json:"to_be_changed"`
	Objects     map[uint]*object `json:"objects"`
	loggedIn    uint             // CKU_USER, CKU_SO or noUser; not saved: a login ends with the process
}

const noUser = ^uint(0)

type state struct {
	Tokens     []*token `json:"tokens"`
	NextHandle uint     `json:"next_handle"`
}

type session struct {
	slot  uint
	rw    bool
	found []uint // C_FindObjects results still to hand out; nil when no search is active
	find  bool
	sign  *signOp
	dec   *object // the key of an active C_DecryptInit
}

type signOp struct {
	mech uint
	key  *object
}

// module is the whole token state of the process. One mutex: the library may be called from
// several threads.
type module struct {
	mu       sync.Mutex
	ready    bool
	file     string
	st       state
	offered  []uint
	sessions map[uint]*session
	nextSess uint
}

var mod = &module{}

// rvError carries a CK_RV out of the helpers.
type rvError uint

func (e rvError) Error() string { return fmt.Sprintf("CK_RV 0x%x", uint(e)) }

func rvOf(err error) uint {
	if err == nil {
		return pkcs11.CKR_OK
	}
	var rv rvError
	if errors.As(err, &rv) {
		return uint(rv)
	}
	return pkcs11.CKR_GENERAL_ERROR
}

// initialize reads the state file of the folder named by dir (SEALKEEPER_GMTOKEN_DIR) and the
// offered mechanisms.
func (m *module) initialize(dir, mechs string) error {
	if m.ready {
		return rvError(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)
	}
	if dir == "" {
		return errors.New("SEALKEEPER_GMTOKEN_DIR is not set")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	m.file = filepath.Join(dir, "gmtoken.json")
	m.st = state{NextHandle: 1}
	b, err := os.ReadFile(m.file)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, &m.st); err != nil {
			return fmt.Errorf("%s: %w", m.file, err)
		}
	}
	for _, t := range m.st.Tokens {
		t.loggedIn = noUser
	}
	m.offered = mechanisms
	if mechs != "" {
		m.offered = nil
		for _, f := range strings.Split(mechs, ",") {
			v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(f), "0x"), 16, 64)
			if err != nil || !slices.Contains(mechanisms, uint(v)) {
				return fmt.Errorf("SEALKEEPER_GMTOKEN_MECHANISMS: %q is not one of this token's mechanisms", f)
			}
			m.offered = append(m.offered, uint(v))
		}
	}
	m.sessions = map[uint]*session{}
	m.ready = true
	return nil
}

func (m *module) finalize() error {
	if !m.ready {
		return rvError(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	m.ready = false
	m.sessions = nil
	return nil
}

func (m *module) save() error {
	b, err := json.Marshal(&m.st)
	if err != nil {
		return err
	}
	return atomic.WriteFile(m.file, b, 0o600)
}

// Slots: one per token, and one more, free (uninitialised), for C_InitToken, as SoftHSM does.
func (m *module) slots() []uint {
	out := make([]uint, len(m.st.Tokens)+1)
	for i := range out {
		out[i] = uint(i)
	}
	return out
}

func (m *module) token(slot uint) (*token, error) {
	if !m.ready {
		return nil, rvError(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	switch {
	case slot < uint(len(m.st.Tokens)):
		return m.st.Tokens[slot], nil
	case slot == uint(len(m.st.Tokens)):
		return nil, nil // the free slot
	}
	return nil, rvError(pkcs11.CKR_SLOT_ID_INVALID)
}

func (t *token) flags() uint {
	f := uint(pkcs11.CKF_RNG | pkcs11.CKF_LOGIN_REQUIRED | pkcs11.CKF_TOKEN_INITIALIZED)
	if len(t.UserPIN) > 0 {
		f |= pkcs11.CKF_USER_PIN_INITIALIZED
	}
	switch {
	case t.TriesLeft == 0:
		f |= pkcs11.CKF_USER_PIN_LOCKED | pkcs11.CKF_USER_PIN_COUNT_LOW
	case t.TriesLeft == 1:
		f |= pkcs11.CKF_USER_PIN_FINAL_TRY | pkcs11.CKF_USER_PIN_COUNT_LOW
	case t.TriesLeft < maxTries:
		f |= pkcs11.CKF_USER_PIN_COUNT_LOW
	}
	if t.ToBeChanged {
		f |= pkcs11.CKF_USER_PIN_TO_BE_CHANGED
	}
	return f
}

func (t *token) hash(pin []byte) []byte {
	h := sha256.New()
	h.Write(t.Salt)
	h.Write(pin)
	return h.Sum(nil)
}

func checkPIN(pin []byte) error {
	if len(pin) < 4 || len(pin) > 32 {
		return rvError(pkcs11.CKR_PIN_LEN_RANGE)
	}
	return nil
}

// initToken makes a token in the free slot, or erases the token in slot when soPIN is its SO PIN.
func (m *module) initToken(slot uint, soPIN []byte, label string) error {
	t, err := m.token(slot)
	if err != nil {
		return err
	}
	if err := checkPIN(soPIN); err != nil {
		return err
	}
	for _, s := range m.sessions {
		if s.slot == slot {
			return rvError(pkcs11.CKR_SESSION_EXISTS)
		}
	}
	if t == nil {
		t = &token{loggedIn: noUser}
		m.st.Tokens = append(m.st.Tokens, t)
		serial := make([]byte, 8)
		rand.Read(serial)
		t.Serial = fmt.Sprintf("%X", serial)
	} else if !bytes.Equal(t.hash(soPIN), t.SOPIN) {
		return rvError(pkcs11.CKR_PIN_INCORRECT)
	}
	t.Label = strings.TrimRight(label, " ")
	t.Salt = make([]byte, 16)
	rand.Read(t.Salt)
	t.SOPIN = t.hash(soPIN)
	t.UserPIN, t.TriesLeft, t.ToBeChanged = nil, maxTries, false
	t.Objects = map[uint]*object{}
	return m.save()
}

func (m *module) openSession(slot uint, flags uint) (uint, error) {
	t, err := m.token(slot)
	if err != nil {
		return 0, err
	}
	if t == nil {
		return 0, rvError(pkcs11.CKR_TOKEN_NOT_RECOGNIZED)
	}
	if flags&pkcs11.CKF_SERIAL_SESSION == 0 {
		return 0, rvError(pkcs11.CKR_SESSION_PARALLEL_NOT_SUPPORTED)
	}
	m.nextSess++
	m.sessions[m.nextSess] = &session{slot: slot, rw: flags&pkcs11.CKF_RW_SESSION != 0}
	return m.nextSess, nil
}

func (m *module) session(h uint) (*session, *token, error) {
	if !m.ready {
		return nil, nil, rvError(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	s := m.sessions[h]
	if s == nil {
		return nil, nil, rvError(pkcs11.CKR_SESSION_HANDLE_INVALID)
	}
	return s, m.st.Tokens[s.slot], nil
}

// closeSession closes h; the last session on a token logs it out, as PKCS#11 says.
func (m *module) closeSession(h uint) error {
	s, t, err := m.session(h)
	if err != nil {
		return err
	}
	delete(m.sessions, h)
	for _, o := range m.sessions {
		if o.slot == s.slot {
			return nil
		}
	}
	t.loggedIn = noUser
	return nil
}

func (m *module) closeAll(slot uint) error {
	t, err := m.token(slot)
	if err != nil {
		return err
	}
	if t == nil {
		return nil
	}
	for h, s := range m.sessions {
		if s.slot == slot {
			delete(m.sessions, h)
		}
	}
	t.loggedIn = noUser
	return nil
}

// sessionState is CKS_* for C_GetSessionInfo.
func (m *module) sessionState(h uint) (slot, st, flags uint, err error) {
	s, t, err := m.session(h)
	if err != nil {
		return 0, 0, 0, err
	}
	flags = pkcs11.CKF_SERIAL_SESSION
	if s.rw {
		flags |= pkcs11.CKF_RW_SESSION
	}
	switch {
	case t.loggedIn == pkcs11.CKU_SO:
		st = pkcs11.CKS_RW_SO_FUNCTIONS
	case t.loggedIn == pkcs11.CKU_USER && s.rw:
		st = pkcs11.CKS_RW_USER_FUNCTIONS
	case t.loggedIn == pkcs11.CKU_USER:
		st = pkcs11.CKS_RO_USER_FUNCTIONS
	case s.rw:
		st = pkcs11.CKS_RW_PUBLIC_SESSION
	default:
		st = pkcs11.CKS_RO_PUBLIC_SESSION
	}
	return s.slot, st, flags, nil
}

// login checks a PIN. Wrong user PINs count down to the lock; the right one resets the count.
// The count is written to the state file before the answer, so pulling the "key" (ending the
// process) does not give the PIN guesser fresh tries.
func (m *module) login(h, user uint, pin []byte) error {
	_, t, err := m.session(h)
	if err != nil {
		return err
	}
	if t.loggedIn != noUser {
		if t.loggedIn == user {
			return rvError(pkcs11.CKR_USER_ALREADY_LOGGED_IN)
		}
		return rvError(pkcs11.CKR_USER_ANOTHER_ALREADY_LOGGED_IN)
	}
	switch user {
	case pkcs11.CKU_SO:
		if !bytes.Equal(t.hash(pin), t.SOPIN) {
			return rvError(pkcs11.CKR_PIN_INCORRECT)
		}
	case pkcs11.CKU_USER:
		if len(t.UserPIN) == 0 {
			return rvError(pkcs11.CKR_USER_PIN_NOT_INITIALIZED)
		}
		if t.TriesLeft == 0 {
			return rvError(pkcs11.CKR_PIN_LOCKED)
		}
		if !bytes.Equal(t.hash(pin), t.UserPIN) {
			t.TriesLeft--
			if err := m.save(); err != nil {
				return err
			}
			if t.TriesLeft == 0 {
				return rvError(pkcs11.CKR_PIN_LOCKED)
			}
			return rvError(pkcs11.CKR_PIN_INCORRECT)
		}
		if t.TriesLeft != maxTries {
			t.TriesLeft = maxTries
			if err := m.save(); err != nil {
				return err
			}
		}
	default:
		return rvError(pkcs11.CKR_USER_TYPE_INVALID)
	}
	t.loggedIn = user
	return nil
}

func (m *module) logout(h uint) error {
	_, t, err := m.session(h)
	if err != nil {
		return err
	}
	if t.loggedIn == noUser {
		return rvError(pkcs11.CKR_USER_NOT_LOGGED_IN)
	}
	t.loggedIn = noUser
	return nil
}

// initPIN is the issuer (SO) setting the user PIN: it unlocks the token, and the custodian must
// change the PIN before using it (CKF_USER_PIN_TO_BE_CHANGED).
func (m *module) initPIN(h uint, pin []byte) error {
	_, t, err := m.session(h)
	if err != nil {
		return err
	}
	if t.loggedIn != pkcs11.CKU_SO {
		return rvError(pkcs11.CKR_USER_NOT_LOGGED_IN)
	}
	if err := checkPIN(pin); err != nil {
		return err
	}
	t.UserPIN, t.TriesLeft, t.ToBeChanged = t.hash(pin), maxTries, true
	return m.save()
}

// setPIN changes the PIN of whoever is logged in (the user PIN in a public session). A wrong old
// user PIN counts like a wrong login.
func (m *module) setPIN(h uint, oldPIN, newPIN []byte) error {
	s, t, err := m.session(h)
	if err != nil {
		return err
	}
	if !s.rw {
		return rvError(pkcs11.CKR_SESSION_READ_ONLY)
	}
	if err := checkPIN(newPIN); err != nil {
		return err
	}
	if t.loggedIn == pkcs11.CKU_SO {
		if !bytes.Equal(t.hash(oldPIN), t.SOPIN) {
			return rvError(pkcs11.CKR_PIN_INCORRECT)
		}
		t.SOPIN = t.hash(newPIN)
		return m.save()
	}
	if t.TriesLeft == 0 {
		return rvError(pkcs11.CKR_PIN_LOCKED)
	}
	if !bytes.Equal(t.hash(oldPIN), t.UserPIN) {
		t.TriesLeft--
		if err := m.save(); err != nil {
			return err
		}
		if t.TriesLeft == 0 {
			return rvError(pkcs11.CKR_PIN_LOCKED)
		}
		return rvError(pkcs11.CKR_PIN_INCORRECT)
	}
	t.UserPIN, t.TriesLeft, t.ToBeChanged = t.hash(newPIN), maxTries, false
	return m.save()
}

// Attribute helpers. CK_ULONG is the platform's unsigned long, CK_BBOOL one byte.

func ulong(v uint) []byte { return binary.NativeEndian.AppendUint64(nil, uint64(v)) }

func boolean(v bool) []byte {
	if v {
		return []byte{1}
	}
	return []byte{0}
}

func (o *object) ulong(t uint) (uint, bool) {
	b, ok := o.Attrs[t]
	if !ok || len(b) != 8 {
		return 0, false
	}
	return uint(binary.NativeEndian.Uint64(b)), true
}

func (o *object) bool(t uint) bool {
	b := o.Attrs[t]
	return len(b) == 1 && b[0] != 0
}

func (o *object) class() uint {
	c, _ := o.ulong(pkcs11.CKA_CLASS)
	return c
}

func (o *object) private() bool { return o.bool(pkcs11.CKA_PRIVATE) }

// visible: private objects only while the user is logged in.
func (t *token) visible(o *object) bool { return !o.private() || t.loggedIn == pkcs11.CKU_USER }

func (m *module) object(h, oh uint) (*session, *token, *object, error) {
	s, t, err := m.session(h)
	if err != nil {
		return nil, nil, nil, err
	}
	o := t.Objects[oh]
	if o == nil || !t.visible(o) {
		return nil, nil, nil, rvError(pkcs11.CKR_OBJECT_HANDLE_INVALID)
	}
	return s, t, o, nil
}

func (m *module) add(t *token, o *object) uint {
	h := m.st.NextHandle
	m.st.NextHandle++
	t.Objects[h] = o
	return h
}

func newObject(tmpl map[uint][]byte, defaults map[uint][]byte) *object {
	o := &object{Attrs: map[uint][]byte{}}
	for k, v := range defaults {
		o.Attrs[k] = v
	}
	for k, v := range tmpl {
		o.Attrs[k] = v
	}
	return o
}

// writable checks that objects may be made or destroyed in session s.
func writable(s *session, t *token, private bool) error {
	if !s.rw {
		return rvError(pkcs11.CKR_SESSION_READ_ONLY)
	}
	if private && t.loggedIn != pkcs11.CKU_USER {
		return rvError(pkcs11.CKR_USER_NOT_LOGGED_IN)
	}
	return nil
}

// createObject stores certificates and data objects (and public keys); private keys are only
// ever generated on the token.
func (m *module) createObject(h uint, tmpl map[uint][]byte) (uint, error) {
	s, t, err := m.session(h)
	if err != nil {
		return 0, err
	}
	o := newObject(tmpl, map[uint][]byte{pkcs11.CKA_TOKEN: boolean(true), pkcs11.CKA_PRIVATE: boolean(false)})
	switch o.class() {
	case pkcs11.CKO_CERTIFICATE, pkcs11.CKO_DATA, pkcs11.CKO_PUBLIC_KEY:
	case pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_SECRET_KEY:
		return 0, rvError(pkcs11.CKR_TEMPLATE_INCONSISTENT)
	default:
		return 0, rvError(pkcs11.CKR_TEMPLATE_INCOMPLETE)
	}
	if err := writable(s, t, o.private()); err != nil {
		return 0, err
	}
	oh := m.add(t, o)
	return oh, m.save()
}

func (m *module) destroyObject(h, oh uint) error {
	s, t, o, err := m.object(h, oh)
	if err != nil {
		return err
	}
	if err := writable(s, t, o.private()); err != nil {
		return err
	}
	delete(t.Objects, oh)
	return m.save()
}

// attribute returns one attribute's value; the private key's value is never given out.
func (m *module) attribute(h, oh, typ uint) ([]byte, error) {
	_, _, o, err := m.object(h, oh)
	if err != nil {
		return nil, err
	}
	if o.class() == pkcs11.CKO_PRIVATE_KEY && typ == pkcs11.CKA_VALUE {
		return nil, rvError(pkcs11.CKR_ATTRIBUTE_SENSITIVE)
	}
	v, ok := o.Attrs[typ]
	if !ok {
		return nil, rvError(pkcs11.CKR_ATTRIBUTE_TYPE_INVALID)
	}
	return v, nil
}

func (m *module) findInit(h uint, tmpl map[uint][]byte) error {
	s, t, err := m.session(h)
	if err != nil {
		return err
	}
	if s.find {
		return rvError(pkcs11.CKR_OPERATION_ACTIVE)
	}
	s.find, s.found = true, []uint{}
	for oh, o := range t.Objects {
		if !t.visible(o) {
			continue
		}
		match := true
		for k, v := range tmpl {
			if !bytes.Equal(o.Attrs[k], v) {
				match = false
				break
			}
		}
		if match {
			s.found = append(s.found, oh)
		}
	}
	slices.Sort(s.found)
	return nil
}

func (m *module) findObjects(h uint, max int) ([]uint, error) {
	s, _, err := m.session(h)
	if err != nil {
		return nil, err
	}
	if !s.find {
		return nil, rvError(pkcs11.CKR_OPERATION_NOT_INITIALIZED)
	}
	n := min(max, len(s.found))
	out := s.found[:n]
	s.found = s.found[n:]
	return out, nil
}

func (m *module) findFinal(h uint) error {
	s, _, err := m.session(h)
	if err != nil {
		return err
	}
	if !s.find {
		return rvError(pkcs11.CKR_OPERATION_NOT_INITIALIZED)
	}
	s.find, s.found = false, nil
	return nil
}

func (m *module) offers(mech uint) bool { return slices.Contains(m.offered, mech) }

// generateKeyPair makes an SM2 key pair. The private key's D is kept in CKA_VALUE, which
// C_GetAttributeValue never returns.
func (m *module) generateKeyPair(h, mech uint, pubT, privT map[uint][]byte) (uint, uint, error) {
	s, t, err := m.session(h)
	if err != nil {
		return 0, 0, err
	}
	if mech != ckmSM2KeyGen || !m.offers(mech) {
		return 0, 0, rvError(pkcs11.CKR_MECHANISM_INVALID)
	}
	if err := writable(s, t, true); err != nil {
		return 0, 0, err
	}
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return 0, 0, err
	}
	point, _ := asn1.Marshal(append(append([]byte{4}, pad32(key.X)...), pad32(key.Y)...))
	pub := newObject(pubT, map[uint][]byte{pkcs11.CKA_TOKEN: boolean(true), pkcs11.CKA_PRIVATE: boolean(false), pkcs11.CKA_VERIFY: boolean(true)})
	priv := newObject(privT, map[uint][]byte{pkcs11.CKA_TOKEN: boolean(true), pkcs11.CKA_PRIVATE: boolean(true), pkcs11.CKA_SIGN: boolean(true)})
	for _, o := range []*object{pub, priv} {
		o.Attrs[pkcs11.CKA_KEY_TYPE] = ulong(ckkSM2)
		o.Attrs[pkcs11.CKA_EC_PARAMS] = sm2OID
		o.Attrs[pkcs11.CKA_LOCAL] = boolean(true)
	}
	pub.Attrs[pkcs11.CKA_CLASS] = ulong(pkcs11.CKO_PUBLIC_KEY)
	pub.Attrs[pkcs11.CKA_EC_POINT] = point
	priv.Attrs[pkcs11.CKA_CLASS] = ulong(pkcs11.CKO_PRIVATE_KEY)
	priv.Attrs[pkcs11.CKA_VALUE] = pad32(key.D)
	priv.Attrs[pkcs11.CKA_SENSITIVE] = boolean(true)
	priv.Attrs[pkcs11.CKA_EXTRACTABLE] = boolean(false)
	ph := m.add(t, pub)
	kh := m.add(t, priv)
	return ph, kh, m.save()
}

func pad32(x *big.Int) []byte { return x.FillBytes(make([]byte, 32)) }

func (m *module) signInit(h, mech, oh uint) error {
	s, _, o, err := m.object(h, oh)
	if err != nil {
		return err
	}
	if s.sign != nil {
		return rvError(pkcs11.CKR_OPERATION_ACTIVE)
	}
	switch mech {
	case ckmSM3SM2Z, ckmSM3SM2ZDER, ckmSM2Sign, ckmSM2SignRaw:
	default:
		return rvError(pkcs11.CKR_MECHANISM_INVALID)
	}
	if !m.offers(mech) {
		return rvError(pkcs11.CKR_MECHANISM_INVALID)
	}
	if kt, _ := o.ulong(pkcs11.CKA_KEY_TYPE); o.class() != pkcs11.CKO_PRIVATE_KEY || kt != ckkSM2 {
		return rvError(pkcs11.CKR_KEY_TYPE_INCONSISTENT)
	}
	if !o.bool(pkcs11.CKA_SIGN) {
		return rvError(pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED)
	}
	s.sign = &signOp{mech: mech, key: o}
	return nil
}

// maxSigLen answers C_Sign's length query: a DER SM2 signature is at most 72 bytes.
func (m *module) maxSigLen(h uint) (int, error) {
	s, _, err := m.session(h)
	if err != nil {
		return 0, err
	}
	if s.sign == nil {
		return 0, rvError(pkcs11.CKR_OPERATION_NOT_INITIALIZED)
	}
	if s.sign.mech == ckmSM3SM2Z || s.sign.mech == ckmSM2SignRaw {
		return 64, nil
	}
	return 72, nil
}

// sign ends the operation and signs data with the key from signInit.
func (m *module) sign(h uint, data []byte) ([]byte, error) {
	s, t, err := m.session(h)
	if err != nil {
		return nil, err
	}
	op := s.sign
	if op == nil {
		return nil, rvError(pkcs11.CKR_OPERATION_NOT_INITIALIZED)
	}
	s.sign = nil
	if t.loggedIn != pkcs11.CKU_USER {
		return nil, rvError(pkcs11.CKR_USER_NOT_LOGGED_IN)
	}
	key, err := privateKey(op.key)
	if err != nil {
		return nil, err
	}
	var r, sv *big.Int
	switch op.mech {
	case ckmSM3SM2Z, ckmSM3SM2ZDER:
		r, sv, err = sm2.Sm2Sign(key, data, nil, rand.Reader) // nil: the default ID
	default:
		if len(data) != 32 {
			return nil, rvError(pkcs11.CKR_DATA_LEN_RANGE)
		}
		r, sv, err = signDigest(key, new(big.Int).SetBytes(data))
	}
	if err != nil {
		return nil, err
	}
	if op.mech == ckmSM3SM2Z || op.mech == ckmSM2SignRaw {
		return append(pad32(r), pad32(sv)...), nil
	}
	return sm2.SignDigitToSignData(r, sv)
}

func privateKey(o *object) (*sm2.PrivateKey, error) {
	d := new(big.Int).SetBytes(o.Attrs[pkcs11.CKA_VALUE])
	if d.Sign() == 0 {
		return nil, rvError(pkcs11.CKR_KEY_HANDLE_INVALID)
	}
	k := &sm2.PrivateKey{D: d}
	k.Curve = sm2.P256Sm2()
	//lint:ignore SA1019 tjfoc/gmsm's SM2 curve has no API but elliptic.Curve
	k.X, k.Y = k.Curve.ScalarBaseMult(d.Bytes())
	return k, nil
}

// signDigest is SM2 signing over e (GB/T 32918.2 §6.1 steps A3 to A7): tjfoc/gmsm signs only
// whole messages, computing e itself, and raw-SM2 tokens take e from the host.
func signDigest(key *sm2.PrivateKey, e *big.Int) (r, s *big.Int, err error) {
	n := key.Curve.Params().N
	nm1 := new(big.Int).Sub(n, big.NewInt(1))
	for {
		k, err := rand.Int(rand.Reader, nm1)
		if err != nil {
			return nil, nil, err
		}
		k.Add(k, big.NewInt(1)) // k in [1, n-1]
		//lint:ignore SA1019 tjfoc/gmsm's SM2 curve has no API but elliptic.Curve
		x, _ := key.Curve.ScalarBaseMult(k.Bytes())
		r = new(big.Int).Add(x, e)
		r.Mod(r, n)
		if r.Sign() == 0 || new(big.Int).Add(r, k).Cmp(n) == 0 {
			continue
		}
		d1 := new(big.Int).ModInverse(new(big.Int).Add(key.D, big.NewInt(1)), n)
		s = new(big.Int).Sub(k, new(big.Int).Mul(r, key.D))
		s.Mul(s, d1)
		s.Mod(s, n)
		if s.Sign() != 0 {
			return r, s, nil
		}
	}
}

func (m *module) decryptInit(h, mech, oh uint) error {
	s, _, o, err := m.object(h, oh)
	if err != nil {
		return err
	}
	if s.dec != nil {
		return rvError(pkcs11.CKR_OPERATION_ACTIVE)
	}
	if mech != ckmSM2Encrypt || !m.offers(mech) {
		return rvError(pkcs11.CKR_MECHANISM_INVALID)
	}
	if kt, _ := o.ulong(pkcs11.CKA_KEY_TYPE); o.class() != pkcs11.CKO_PRIVATE_KEY || kt != ckkSM2 {
		return rvError(pkcs11.CKR_KEY_TYPE_INCONSISTENT)
	}
	if !o.bool(pkcs11.CKA_DECRYPT) {
		return rvError(pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED)
	}
	s.dec = o
	return nil
}

// sm2Overhead is what SM2 encryption adds to the plaintext: 04 || x1 || y1 (C1) and the SM3
// check value (C3).
const sm2Overhead = 1 + 64 + 32

// decryptLen answers C_Decrypt's length query for a ciphertext of n bytes.
func (m *module) decryptLen(h uint, n int) (int, error) {
	s, _, err := m.session(h)
	if err != nil {
		return 0, err
	}
	if s.dec == nil {
		return 0, rvError(pkcs11.CKR_OPERATION_NOT_INITIALIZED)
	}
	if n <= sm2Overhead {
		return 0, rvError(pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE)
	}
	return n - sm2Overhead, nil
}

// decrypt ends the operation and decrypts 04 || C1 || C3 || C2 with the key from decryptInit.
func (m *module) decrypt(h uint, data []byte) ([]byte, error) {
	s, t, err := m.session(h)
	if err != nil {
		return nil, err
	}
	key := s.dec
	if key == nil {
		return nil, rvError(pkcs11.CKR_OPERATION_NOT_INITIALIZED)
	}
	s.dec = nil
	if t.loggedIn != pkcs11.CKU_USER {
		return nil, rvError(pkcs11.CKR_USER_NOT_LOGGED_IN)
	}
	if len(data) <= sm2Overhead || data[0] != 4 { // tjfoc's Decrypt does not check the length
		return nil, rvError(pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE)
	}
	k, err := privateKey(key)
	if err != nil {
		return nil, err
	}
	out, err := sm2.Decrypt(k, data, sm2.C1C3C2)
	if err != nil {
		return nil, rvError(pkcs11.CKR_ENCRYPTED_DATA_INVALID)
	}
	return out, nil
}

package device

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/tjfoc/gmsm/sm2"
)

// Session is a logged-in session on one token. Its methods are safe for concurrent use (they
// are serialised per module). After the token is pulled out they return an error wrapping
// ErrKeyRemoved.
type Session struct {
	m       *Module
	tok     TokenInfo
	h       pkcs11.SessionHandle
	closed  bool
	removed bool
}

// PINError is returned when the token refuses a PIN. It wraps ErrWrongPIN, and also
// ErrPINLocked when that attempt locked the PIN. Before and After are the token's PIN state
// around the attempt, read from the token (PINs are counted by the token, not by us).
type PINError struct {
	Token         TokenInfo
	Before, After PINState
}

func (e *PINError) Error() string {
	return fmt.Sprintf("wrong PIN for seal key %q; %s", e.Token.Name(), pinChange(e.Before, e.After))
}

func (e *PINError) Unwrap() []error {
	if e.After.Locked {
		return []error{ErrWrongPIN, ErrPINLocked}
	}
	return []error{ErrWrongPIN}
}

func lockedErr(tok TokenInfo) error {
	return fmt.Errorf("%w: seal key %q refuses every PIN after too many wrong ones; ask its issuer to unlock it", ErrPINLocked, tok.Name())
}

func removedErr(tok TokenInfo) error {
	return fmt.Errorf("%w: %q was pulled out; plug it in and log in again", ErrKeyRemoved, tok.Name())
}

// Login opens a session on tok and logs the user in with pin. A wrong PIN gives a *PINError
// saying how the token's PIN state changed. The PIN is always checked: if another session of
// this program is logged in to the same token, it is logged out and in again, so a wrong PIN
// here also logs that one out.
func (m *Module) Login(tok TokenInfo, pin string) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.live(); err != nil {
		return nil, err
	}
	cur, err := m.find(tok)
	if err != nil {
		return nil, err
	}
	if cur.PIN.Locked {
		return nil, lockedErr(cur)
	}
	h, err := m.ctx.OpenSession(cur.SlotID, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		if !m.present(cur) {
			return nil, removedErr(cur)
		}
		return nil, fmt.Errorf("opening a session on seal key %q: %w", cur.Name(), err)
	}
	err = m.ctx.Login(h, pkcs11.CKU_USER, pin)
	if isRV(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		_ = m.ctx.Logout(h)
		err = m.ctx.Login(h, pkcs11.CKU_USER, pin)
	}
	if err != nil {
		_ = m.ctx.CloseSession(h)
		return nil, m.pinErr(cur, err, "logging in to")
	}
	s := &Session{m: m, tok: cur, h: h}
	m.sessions[s] = struct{}{}
	return s, nil
}

// pinErr turns a refused PIN into a clear error, re-reading the token's flags. Called with mu held.
func (m *Module) pinErr(tok TokenInfo, err error, doing string) error {
	switch {
	case isRV(err, pkcs11.CKR_PIN_INCORRECT):
		after := tok
		if ti, gerr := m.ctx.GetTokenInfo(tok.SlotID); gerr == nil {
			after = tokenInfo(m.path, tok.SlotID, ti)
		}
		return &PINError{Token: after, Before: tok.PIN, After: after.PIN}
	case isRV(err, pkcs11.CKR_PIN_LOCKED) && !tok.PIN.Locked:
		// Some tokens answer the wrong PIN that locks them with CKR_PIN_LOCKED rather than
		// CKR_PIN_INCORRECT (measured on device/gmtoken, which does so on purpose).
		after := tok
		if ti, gerr := m.ctx.GetTokenInfo(tok.SlotID); gerr == nil {
			after = tokenInfo(m.path, tok.SlotID, ti)
		}
		if !after.PIN.Locked {
			return lockedErr(tok)
		}
		return &PINError{Token: after, Before: tok.PIN, After: after.PIN}
	case isRV(err, pkcs11.CKR_PIN_LOCKED):
		return lockedErr(tok)
	case isRV(err, pkcs11.CKR_PIN_LEN_RANGE), isRV(err, pkcs11.CKR_PIN_INVALID):
		return fmt.Errorf("seal key %q refused the PIN's form: it takes %d to %d characters", tok.Name(), tok.MinPINLen, tok.MaxPINLen)
	case isRV(err, pkcs11.CKR_PIN_EXPIRED):
		return fmt.Errorf("seal key %q says the PIN has expired: it must be changed", tok.Name())
	}
	if !m.present(tok) {
		return removedErr(tok)
	}
	return fmt.Errorf("%s seal key %q: %w", doing, tok.Name(), err)
}

// Token is the token this session is on, as it was at login (or at the last PIN change).
func (s *Session) Token() TokenInfo {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.tok
}

// check is called with mu held at the start of every session method.
func (s *Session) check() error {
	switch {
	case s.removed:
		return removedErr(s.tok)
	case s.closed || s.m.refs == 0:
		return fmt.Errorf("%w: log in to seal key %q again", ErrSessionClosed, s.tok.Name())
	}
	return nil
}

// fail explains an error from the module; if the token is gone, it ends the session and says
// so. Called with mu held.
func (s *Session) fail(doing string, err error) error {
	if s.removed || !s.m.present(s.tok) {
		s.m.tokenGone(s.tok)
		s.removed = true
		return removedErr(s.tok)
	}
	if isRV(err, pkcs11.CKR_USER_NOT_LOGGED_IN) || !s.loggedIn() {
		// Login state is shared by all of this program's sessions on a token: a failed Login
		// elsewhere logged this one out too.
		return fmt.Errorf("%w: seal key %q is no longer logged in (a wrong PIN was entered for it elsewhere); log in again", ErrSessionClosed, s.tok.Name())
	}
	return fmt.Errorf("%s on seal key %q: %w", doing, s.tok.Name(), err)
}

// loggedIn asks the module whether the session is still in a user state. SoftHSM answers a
// logged-out session's use of a private key with CKR_OBJECT_HANDLE_INVALID, not
// CKR_USER_NOT_LOGGED_IN, so the error code alone does not tell. Called with mu held.
func (s *Session) loggedIn() bool {
	si, err := s.m.ctx.GetSessionInfo(s.h)
	return err == nil && (si.State == pkcs11.CKS_RO_USER_FUNCTIONS || si.State == pkcs11.CKS_RW_USER_FUNCTIONS)
}

// Close logs out (when no other session of this program is on the token) and closes the session.
func (s *Session) Close() error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.closed || s.removed || s.m.refs == 0 {
		s.closed = true
		return nil
	}
	s.closed = true
	delete(s.m.sessions, s)
	last := true
	for o := range s.m.sessions {
		if o.tok.same(s.tok) {
			last = false
		}
	}
	if last {
		_ = s.m.ctx.Logout(s.h)
	}
	if err := s.m.ctx.CloseSession(s.h); err != nil && s.m.present(s.tok) {
		return fmt.Errorf("closing the session on seal key %q: %w", s.tok.Name(), err)
	}
	return nil
}

// ChangePIN changes the user PIN. A wrong old PIN gives a *PINError. Record the change in the
// PIN ages afterwards (store/pinages Ages.Record) so the policy knows the PIN is no longer the initial one.
func (s *Session) ChangePIN(oldPIN, newPIN string) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	if oldPIN == newPIN {
		return errors.New("the new PIN must differ from the old one")
	}
	if n := uint(len(newPIN)); (s.tok.MinPINLen > 0 && n < s.tok.MinPINLen) || (s.tok.MaxPINLen > 0 && n > s.tok.MaxPINLen) {
		return fmt.Errorf("seal key %q takes PINs of %d to %d characters; the new one has %d", s.tok.Name(), s.tok.MinPINLen, s.tok.MaxPINLen, n)
	}
	if err := s.m.ctx.SetPIN(s.h, oldPIN, newPIN); err != nil {
		if s.removed || !s.m.present(s.tok) {
			return s.fail("changing the PIN", err)
		}
		return s.m.pinErr(s.tok, err, "changing the PIN of")
	}
	if ti, err := s.m.ctx.GetTokenInfo(s.tok.SlotID); err == nil {
		s.tok = tokenInfo(s.m.path, s.tok.SlotID, ti)
	}
	return nil
}

// SealKey is a private key on the token with its certificate (paired by CKA_ID, then label).
// Cert is nil for a key without a certificate; Public then comes from the public key object.
type SealKey struct {
	ID     []byte
	Label  string
	Cert   *x509.Certificate
	Public crypto.PublicKey

	priv    pkcs11.ObjectHandle
	keyType uint
}

// CertSummary is what the custodian is shown about a seal certificate.
type CertSummary struct {
	ID           string    `json:"id"` // CKA_ID in hex
	Label        string    `json:"label"`
	Subject      string    `json:"subject,omitempty"`
	Issuer       string    `json:"issuer,omitempty"`
	Serial       string    `json:"serial,omitempty"` // hex
	NotBefore    time.Time `json:"not_before,omitzero"`
	NotAfter     time.Time `json:"not_after,omitzero"`
	KeyAlgorithm string    `json:"key_algorithm"`
}

// Summary describes the key and its certificate.
func (k SealKey) Summary() CertSummary {
	s := CertSummary{ID: fmt.Sprintf("%x", k.ID), Label: k.Label, KeyAlgorithm: KeyAlgorithm(k.Public)}
	if c := k.Cert; c != nil {
		s.Subject = c.Subject.String()
		s.Issuer = c.Issuer.String()
		s.Serial = fmt.Sprintf("%X", c.SerialNumber)
		s.NotBefore, s.NotAfter = c.NotBefore, c.NotAfter
	}
	return s
}

// String is a one-line summary for logs and the command line.
func (s CertSummary) String() string {
	if s.Subject == "" {
		return fmt.Sprintf("%s key %q (id %s), no certificate", s.KeyAlgorithm, s.Label, s.ID)
	}
	return fmt.Sprintf("%s; issued by %s; serial %s; valid %s to %s; %s",
		s.Subject, s.Issuer, s.Serial, s.NotBefore.UTC().Format(time.DateOnly), s.NotAfter.UTC().Format(time.DateOnly), s.KeyAlgorithm)
}

// KeyAlgorithm names a public key's algorithm and size, e.g. "RSA-2048" or "ECDSA P-256".
func KeyAlgorithm(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *sm2.PublicKey:
		return "SM2"
	case nil:
		return "unknown"
	}
	return fmt.Sprintf("%T", pub)
}

// Seals lists the token's private keys with their certificates, keys with a certificate first.
func (s *Session) Seals() ([]SealKey, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	// Finding objects on a pulled SoftHSM token silently finds nothing: look first.
	if !s.m.present(s.tok) {
		return nil, s.fail("listing keys", nil)
	}
	keys, err := s.m.findKeys(s.h, true)
	if err != nil {
		return nil, s.fail("listing keys", err)
	}
	return keys, nil
}

// Certificates lists the token's certificates and public keys without logging in (private
// keys are hidden before login, so the result has no key handles: use a Session to sign).
func (m *Module) Certificates(tok TokenInfo) ([]SealKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.live(); err != nil {
		return nil, err
	}
	cur, err := m.find(tok)
	if err != nil {
		return nil, err
	}
	h, err := m.ctx.OpenSession(cur.SlotID, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return nil, fmt.Errorf("opening a session on seal key %q: %w", cur.Name(), err)
	}
	defer m.ctx.CloseSession(h)
	keys, err := m.findKeys(h, false)
	if err != nil {
		return nil, fmt.Errorf("listing certificates on seal key %q: %w", cur.Name(), err)
	}
	return keys, nil
}

type object struct {
	h     pkcs11.ObjectHandle
	id    []byte
	label string
	attrs map[uint][]byte
}

func (m *Module) findObjects(h pkcs11.SessionHandle, class uint, want ...uint) ([]object, error) {
	if err := m.ctx.FindObjectsInit(h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, class)}); err != nil {
		return nil, err
	}
	var hs []pkcs11.ObjectHandle
	for {
		batch, _, err := m.ctx.FindObjects(h, 64)
		if err != nil {
			_ = m.ctx.FindObjectsFinal(h)
			return nil, err
		}
		if len(batch) == 0 {
			break
		}
		hs = append(hs, batch...)
	}
	if err := m.ctx.FindObjectsFinal(h); err != nil {
		return nil, err
	}
	var out []object
	for _, oh := range hs {
		o := object{h: oh, attrs: map[uint][]byte{}}
		// One attribute at a time: a module refuses the whole request (CKR_ATTRIBUTE_TYPE_INVALID)
		// if one attribute does not apply, e.g. CKA_MODULUS of an EC key.
		for _, a := range append([]uint{pkcs11.CKA_ID, pkcs11.CKA_LABEL}, want...) {
			v, err := m.ctx.GetAttributeValue(h, oh, []*pkcs11.Attribute{pkcs11.NewAttribute(a, nil)})
			if err != nil || len(v) != 1 {
				continue
			}
			switch a {
			case pkcs11.CKA_ID:
				o.id = v[0].Value
			case pkcs11.CKA_LABEL:
				o.label = string(v[0].Value)
			default:
				o.attrs[a] = v[0].Value
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// findKeys pairs keys (private ones when priv, else public ones) with certificates.
func (m *Module) findKeys(h pkcs11.SessionHandle, priv bool) ([]SealKey, error) {
	certs, err := m.findObjects(h, pkcs11.CKO_CERTIFICATE, pkcs11.CKA_VALUE)
	if err != nil {
		return nil, err
	}
	pubs, err := m.findObjects(h, pkcs11.CKO_PUBLIC_KEY, pkcs11.CKA_KEY_TYPE, pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT, pkcs11.CKA_EC_PARAMS, pkcs11.CKA_EC_POINT)
	if err != nil {
		return nil, err
	}
	keys := pubs
	if priv {
		if keys, err = m.findObjects(h, pkcs11.CKO_PRIVATE_KEY, pkcs11.CKA_KEY_TYPE); err != nil {
			return nil, err
		}
	}
	match := func(list []object, k object) *object {
		for i := range list {
			if len(k.id) > 0 && bytes.Equal(list[i].id, k.id) {
				return &list[i]
			}
		}
		for i := range list {
			if k.label != "" && list[i].label == k.label {
				return &list[i]
			}
		}
		return nil
	}
	if !priv {
		// Public key objects are often private (SoftHSM's default): list certificates anyway.
		for _, c := range certs {
			if match(pubs, c) == nil {
				keys = append(keys, c)
			}
		}
	}
	var out []SealKey
	seen := map[pkcs11.ObjectHandle]bool{}
	for _, k := range keys {
		if seen[k.h] {
			continue
		}
		seen[k.h] = true
		sk := SealKey{ID: k.id, Label: k.label, keyType: attrUint(k.attrs[pkcs11.CKA_KEY_TYPE])}
		if priv {
			sk.priv = k.h
		}
		if c := match(certs, k); c != nil {
			if cert, err := parseCertificate(c.attrs[pkcs11.CKA_VALUE]); err == nil {
				sk.Cert, sk.Public = cert, cert.PublicKey
			}
		}
		if sk.Public == nil {
			p := &k
			if priv {
				p = match(pubs, k)
			}
			if p != nil {
				sk.Public, _ = m.parsePublic(p.attrs)
			}
		}
		if sk.Label == "" && sk.Cert != nil {
			sk.Label = sk.Cert.Subject.CommonName
		}
		out = append(out, sk)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if (out[i].Cert != nil) != (out[j].Cert != nil) {
			return out[i].Cert != nil
		}
		return strings.Compare(out[i].Label, out[j].Label) < 0
	})
	return out, nil
}

// attrUint decodes a CK_ULONG attribute (native byte order and size, as the module wrote it).
func attrUint(b []byte) uint {
	switch len(b) {
	case 8:
		return uint(binary.NativeEndian.Uint64(b))
	case 4:
		return uint(binary.NativeEndian.Uint32(b))
	}
	return ^uint(0) // no such attribute: matches no CKK_* value
}

var curveOIDs = map[string]elliptic.Curve{
	"1.2.840.10045.3.1.7": elliptic.P256(),
	"1.3.132.0.34":        elliptic.P384(),
	"1.3.132.0.35":        elliptic.P521(),
}

// parsePublic builds a public key from a public key object's attributes. Called with mu held.
func (m *Module) parsePublic(a map[uint][]byte) (crypto.PublicKey, error) {
	kt := attrUint(a[pkcs11.CKA_KEY_TYPE])
	if m.isSM2Type(kt) {
		return parseSM2Point(a[pkcs11.CKA_EC_POINT])
	}
	switch kt {
	case pkcs11.CKK_RSA:
		n, e := new(big.Int).SetBytes(a[pkcs11.CKA_MODULUS]), new(big.Int).SetBytes(a[pkcs11.CKA_PUBLIC_EXPONENT])
		if n.Sign() == 0 || !e.IsInt64() {
			return nil, errors.New("RSA public key without modulus or exponent")
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case pkcs11.CKK_EC:
		var oid asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(a[pkcs11.CKA_EC_PARAMS], &oid); err != nil {
			return nil, fmt.Errorf("EC parameters: %w", err)
		}
		if oid.Equal(sm2CurveOID) { // some tokens type SM2 keys CKK_EC
			return parseSM2Point(a[pkcs11.CKA_EC_POINT])
		}
		curve, ok := curveOIDs[oid.String()]
		if !ok {
			return nil, fmt.Errorf("EC curve %s is not supported", oid)
		}
		point := a[pkcs11.CKA_EC_POINT]
		var inner []byte
		if rest, err := asn1.Unmarshal(point, &inner); err == nil && len(rest) == 0 {
			point = inner // DER OCTET STRING, as the standard says; some tokens give it raw
		}
		pk, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, fmt.Errorf("EC point: %w", err)
		}
		return pk, nil
	}
	return nil, errors.New("unsupported key type")
}

// StoreCertificate puts cert on the token as the certificate of the key with this ID.
func (s *Session) StoreCertificate(id []byte, label string, cert *x509.Certificate) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	keys, err := s.m.findKeys(s.h, true)
	if err != nil {
		return s.fail("storing the certificate", err)
	}
	for _, k := range keys {
		if bytes.Equal(k.ID, id) && k.Public != nil {
			if eq, ok := k.Public.(interface{ Equal(crypto.PublicKey) bool }); ok && !eq.Equal(cert.PublicKey) {
				return fmt.Errorf("certificate %q is not for key %q (id %x): the public keys differ", cert.Subject, k.Label, id)
			}
		}
	}
	serial, err := asn1.Marshal(cert.SerialNumber)
	if err != nil {
		return err
	}
	_, err = s.m.ctx.CreateObject(s.h, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, cert.RawSubject),
		pkcs11.NewAttribute(pkcs11.CKA_ISSUER, cert.RawIssuer),
		pkcs11.NewAttribute(pkcs11.CKA_SERIAL_NUMBER, serial),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, cert.Raw),
	})
	if err != nil {
		return s.fail("storing the certificate", err)
	}
	return nil
}

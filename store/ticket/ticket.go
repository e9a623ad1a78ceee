// Package ticket is the approval ticket: the server's signed statement that one document (by
// hash) may be stamped once with one seal on one workstation before a deadline.
//
// A ticket is compact text, safe in JSON and in a QR code:
//
//	skt1.<base64url(payload)>.<base64url(signature)>
//
// The payload is a fixed binary encoding (see Ticket.payload); the signature covers
// "SealKeeper approval ticket v1\x00" ‖ payload. The algorithm is named inside the payload, so a
// ticket signed with one key type can never be checked as another.
package ticket

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Alg names a signature algorithm in a ticket.
type Alg byte

const (
	// ECDSAP256 is ECDSA over P-256 with SHA-256, signature DER SEQUENCE{r,s}.
	ECDSAP256 Alg = 1
	// SM2 is SM2 with SM3 (user ID 1234567812345678). Reserved: see signMessage/verifyMessage.
	SM2 Alg = 2
)

func (a Alg) String() string {
	switch a {
	case ECDSAP256:
		return "ECDSA-P256-SHA256"
	case SM2:
		return "SM2-SM3"
	}
	return fmt.Sprintf("algorithm %d", byte(a))
}

const (
	prefix = "skt1."
	// version 2 adds Copies and Supersedes after the nonce; version 3 adds the page and region
	// limits after them. Versions 1 and 2 are still read: no copies (v1), nothing superseded
	// (v1), no limits (v1, v2).
	version   = 3
	domain    = "SealKeeper approval ticket v1\x00"
	nonceSize = 16
	// MaxLen bounds a ticket's text so a hostile server cannot hand us megabytes to parse.
	MaxLen = 2048
)

// Ticket is the content of an approval ticket.
type Ticket struct {
	Alg         Alg
	KeyID       [8]byte // first 8 bytes of SHA-256 of the signer's SubjectPublicKeyInfo
	DocumentID  string
	DocSHA256   [32]byte
	DocSM3      [32]byte
	SealID      string
	Workstation string
	IssuedAt    time.Time // second precision
	Expires     time.Time // second precision
	Nonce       [nonceSize]byte
	// Copies is how many printed copies the approval allows (RULES.md 15). It is signed with
	// the rest, so the queue's unsigned metadata cannot raise it.
	Copies int
	// Supersedes is the document this corrected one replaces (重印), "" for none: its stamped
	// version may no longer be printed, and its printed copies are recalled first.
	Supersedes string
	// Pages are the pages the seal may go on (1-based; LastPage for the document's last page),
	// empty for any page. Signed: the listing's allowedPages is only a copy (RULES.md 4).
	Pages []int
	// Regions are where on its page a seal's centre may lie; empty for anywhere on an allowed
	// page. Where there are any, a page without a region takes no seal.
	Regions []Region
}

// LastPage in Ticket.Pages and Region.Page stands for the document's last page, whatever its
// number: an approval written before the page count is known.
const LastPage = 0

// Region is a rectangle a seal's centre must lie in, in millimetres from the top-left corner
// of the page as displayed (the preview's coordinates). The ticket carries tenths of a mm, so
// Sign rounds to 0.1 mm.
type Region struct {
	Page       int // 1-based, or LastPage
	X, Y, W, H float64
}

// Contains tells whether (x, y) mm lies in the region (edges included).
func (r Region) Contains(x, y float64) bool {
	return x >= r.X && x <= r.X+r.W && y >= r.Y && y <= r.Y+r.H
}

func (r Region) String() string {
	page := fmt.Sprint(r.Page)
	if r.Page == LastPage {
		page = "last"
	}
	return fmt.Sprintf("page %s: x %.1f-%.1f mm, y %.1f-%.1f mm", page, r.X, r.X+r.W, r.Y, r.Y+r.H)
}

// PageOf resolves a page of the limits (LastPage) for a document of n pages.
func PageOf(page, n int) int {
	if page == LastPage {
		return n
	}
	return page
}

const (
	maxLimits = 255    // pages, regions: one length byte each
	maxTenths = 0xffff // a coordinate in tenths of a mm (6.5 m)
)

// ID is the ticket's identity for the used-ticket set: the nonce in hex.
func (t *Ticket) ID() string { return hex.EncodeToString(t.Nonce[:]) }

// KeyIDOf is the key identifier tickets carry for a public key.
func KeyIDOf(pub crypto.PublicKey) ([8]byte, error) {
	var id [8]byte
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return id, fmt.Errorf("ticket key: %w", err)
	}
	s := sha256.Sum256(der)
	copy(id[:], s[:8])
	return id, nil
}

// payload encodes the ticket as version v (the current one; older ones for the test vectors).
func (t *Ticket) payload(v byte) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte(v)
	b.WriteByte(byte(t.Alg))
	b.Write(t.KeyID[:])
	for _, s := range []string{t.DocumentID, t.SealID, t.Workstation} {
		if len(s) > 255 {
			return nil, fmt.Errorf("ticket field %q is longer than 255 bytes", s[:32]+"…")
		}
		b.WriteByte(byte(len(s)))
		b.WriteString(s)
	}
	b.Write(t.DocSHA256[:])
	b.Write(t.DocSM3[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(t.IssuedAt.Unix()))
	b.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(t.Expires.Unix()))
	b.Write(n[:])
	b.Write(t.Nonce[:])
	if v < 2 {
		return b.Bytes(), nil
	}
	if t.Copies < 0 || t.Copies > 0xffff {
		return nil, fmt.Errorf("ticket copies %d is outside 0..65535", t.Copies)
	}
	b.WriteByte(byte(t.Copies >> 8))
	b.WriteByte(byte(t.Copies))
	if len(t.Supersedes) > 255 {
		return nil, errors.New("ticket field supersedes is longer than 255 bytes")
	}
	b.WriteByte(byte(len(t.Supersedes)))
	b.WriteString(t.Supersedes)
	if v < 3 {
		return b.Bytes(), nil
	}
	if len(t.Pages) > maxLimits || len(t.Regions) > maxLimits {
		return nil, fmt.Errorf("a ticket names at most %d pages and %d regions", maxLimits, maxLimits)
	}
	u16 := func(v int) { b.WriteByte(byte(v >> 8)); b.WriteByte(byte(v)) }
	b.WriteByte(byte(len(t.Pages)))
	for _, p := range t.Pages {
		if p < 0 || p > 0xffff {
			return nil, fmt.Errorf("ticket page %d is outside 1..65535 (or LastPage)", p)
		}
		u16(p)
	}
	b.WriteByte(byte(len(t.Regions)))
	for _, r := range t.Regions {
		if r.Page < 0 || r.Page > 0xffff {
			return nil, fmt.Errorf("ticket region page %d is outside 1..65535 (or LastPage)", r.Page)
		}
		u16(r.Page)
		for _, v := range []float64{r.X, r.Y, r.W, r.H} {
			n := math.Round(v * 10)
			if !(n >= 0 && n <= maxTenths) {
				return nil, fmt.Errorf("ticket region %v: coordinates are 0 to %.1f mm", r, maxTenths/10.0)
			}
			u16(int(n))
		}
		if r.W <= 0 || r.H <= 0 {
			return nil, fmt.Errorf("ticket region %v is empty", r)
		}
	}
	return b.Bytes(), nil
}

func parsePayload(p []byte) (*Ticket, error) {
	r := bytes.NewReader(p)
	bad := errors.New("the ticket's content is cut short or has extra bytes")
	v, err := r.ReadByte()
	if err != nil {
		return nil, bad
	}
	if v < 1 || v > version {
		return nil, fmt.Errorf("ticket version %d is not supported (this program reads versions 1 to %d)", v, version)
	}
	t := &Ticket{}
	a, err := r.ReadByte()
	if err != nil {
		return nil, bad
	}
	t.Alg = Alg(a)
	if _, err := io.ReadFull(r, t.KeyID[:]); err != nil {
		return nil, bad
	}
	for _, dst := range []*string{&t.DocumentID, &t.SealID, &t.Workstation} {
		n, err := r.ReadByte()
		if err != nil {
			return nil, bad
		}
		s := make([]byte, n)
		if _, err := io.ReadFull(r, s); err != nil {
			return nil, bad
		}
		*dst = string(s)
	}
	var n [8]byte
	for _, dst := range [][]byte{t.DocSHA256[:], t.DocSM3[:]} {
		if _, err := io.ReadFull(r, dst); err != nil {
			return nil, bad
		}
	}
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, bad
	}
	t.IssuedAt = time.Unix(int64(binary.BigEndian.Uint64(n[:])), 0).UTC()
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, bad
	}
	t.Expires = time.Unix(int64(binary.BigEndian.Uint64(n[:])), 0).UTC()
	if _, err := io.ReadFull(r, t.Nonce[:]); err != nil {
		return nil, bad
	}
	if v >= 2 {
		var c [2]byte
		if _, err := io.ReadFull(r, c[:]); err != nil {
			return nil, bad
		}
		t.Copies = int(binary.BigEndian.Uint16(c[:]))
		n, err := r.ReadByte()
		if err != nil {
			return nil, bad
		}
		sup := make([]byte, n)
		if _, err := io.ReadFull(r, sup); err != nil {
			return nil, bad
		}
		t.Supersedes = string(sup)
	}
	if v >= 3 {
		if err := parseLimits(r, t); err != nil {
			return nil, err
		}
	}
	if r.Len() != 0 {
		return nil, bad
	}
	return t, nil
}

// parseLimits reads version 3's pages and regions. Zero-sized regions are refused: Sign never
// writes one, and a region that admits no point would make the approval unusable unseen.
func parseLimits(r *bytes.Reader, t *Ticket) error {
	bad := errors.New("the ticket's page and position limits are cut short")
	u16 := func() (int, error) {
		var c [2]byte
		if _, err := io.ReadFull(r, c[:]); err != nil {
			return 0, bad
		}
		return int(binary.BigEndian.Uint16(c[:])), nil
	}
	n, err := r.ReadByte()
	if err != nil {
		return bad
	}
	for range int(n) {
		p, err := u16()
		if err != nil {
			return err
		}
		t.Pages = append(t.Pages, p)
	}
	if n, err = r.ReadByte(); err != nil {
		return bad
	}
	for range int(n) {
		var v [5]int
		for i := range v {
			if v[i], err = u16(); err != nil {
				return err
			}
		}
		if v[3] == 0 || v[4] == 0 {
			return fmt.Errorf("the ticket names an empty region on page %d", v[0])
		}
		t.Regions = append(t.Regions, Region{Page: v[0], X: float64(v[1]) / 10, Y: float64(v[2]) / 10, W: float64(v[3]) / 10, H: float64(v[4]) / 10})
	}
	return nil
}

// Sign fills Alg, KeyID and (when zero) Nonce, and returns the ticket's text. The signer is the
// server's ticket key: an *ecdsa.PrivateKey on P-256 today.
func Sign(t Ticket, key crypto.Signer) (string, error) { return signAs(t, key, version) }

func signAs(t Ticket, key crypto.Signer, v byte) (string, error) {
	alg, err := signerFields(key, &t.Alg, &t.KeyID, &t.Nonce)
	if err != nil {
		return "", err
	}
	p, err := t.payload(v)
	if err != nil {
		return "", err
	}
	return sealText(prefix, domain, alg, key, p, "approval ticket")
}

// signerFields sets what a signed text takes from its key (algorithm, key id) and a random
// nonce where it has none yet.
func signerFields(key crypto.Signer, alg *Alg, kid *[8]byte, nonce *[nonceSize]byte) (Alg, error) {
	var err error
	if *alg, err = algOf(key.Public()); err != nil {
		return 0, err
	}
	if *kid, err = KeyIDOf(key.Public()); err != nil {
		return 0, err
	}
	if *nonce == ([nonceSize]byte{}) {
		if _, err := rand.Read(nonce[:]); err != nil {
			return 0, err
		}
	}
	return *alg, nil
}

// sealText signs p under dom and returns pre‖base64url(p).base64url(signature); openText reads
// such a text back. The one encoding of tickets and copy allowances.
func sealText(pre, dom string, alg Alg, key crypto.Signer, p []byte, what string) (string, error) {
	sig, err := signMessage(alg, key, append([]byte(dom), p...))
	if err != nil {
		return "", fmt.Errorf("signing the %s: %w", what, err)
	}
	enc := base64.RawURLEncoding
	return pre + enc.EncodeToString(p) + "." + enc.EncodeToString(sig), nil
}

func openText(s, pre, what string) (payload, sig []byte, err error) {
	if len(s) > MaxLen {
		return nil, nil, &Error{Reason: Malformed, msg: fmt.Sprintf("the %s is %d characters long, more than the %d allowed", what, len(s), MaxLen)}
	}
	rest, ok := strings.CutPrefix(s, pre)
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return nil, nil, &Error{Reason: Malformed, msg: fmt.Sprintf("this is not a valid %s (it should start with %s and have two parts)", what, pre)}
	}
	enc := base64.RawURLEncoding.Strict() // one text per payload: no slack in the padding bits
	if payload, err = enc.DecodeString(p64); err == nil {
		sig, err = enc.DecodeString(s64)
	}
	if err != nil {
		return nil, nil, &Error{Reason: Malformed, msg: fmt.Sprintf("the %s is damaged (not base64url)", what)}
	}
	return payload, sig, nil
}

// algOf, signMessage and verifyMessage are the one place that knows signature algorithms.
// SM2 goes here (tjfoc/gmsm sm2 with SM3 and the default user ID) when the server has an SM2 key.
func algOf(pub crypto.PublicKey) (Alg, error) {
	if k, ok := pub.(*ecdsa.PublicKey); ok && k.Curve.Params().Name == "P-256" {
		return ECDSAP256, nil
	}
	return 0, fmt.Errorf("ticket key of type %T is not supported: use an ECDSA P-256 key", pub)
}

func signMessage(alg Alg, key crypto.Signer, msg []byte) ([]byte, error) {
	switch alg {
	case ECDSAP256:
		d := sha256.Sum256(msg)
		return key.Sign(rand.Reader, d[:], crypto.SHA256)
	}
	return nil, fmt.Errorf("%v signatures are not supported yet", alg)
}

func verifyMessage(alg Alg, pub crypto.PublicKey, msg, sig []byte) bool {
	switch alg {
	case ECDSAP256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return false
		}
		d := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(k, d[:], sig)
	}
	return false
}

// Parse decodes a ticket without checking its signature. Use it to show what a ticket says; use
// Verify before trusting it.
func Parse(s string) (*Ticket, error) {
	t, _, _, err := split(s)
	return t, err
}

func split(s string) (t *Ticket, payload, sig []byte, err error) {
	if payload, sig, err = openText(s, prefix, "approval ticket"); err != nil {
		return nil, nil, nil, err
	}
	if t, err = parsePayload(payload); err != nil {
		return nil, nil, nil, &Error{Reason: Malformed, msg: "the approval ticket is damaged: " + err.Error()}
	}
	return t, payload, sig, nil
}

// Reason says why a ticket was refused, for the user interface to translate.
type Reason int

const (
	Malformed Reason = iota + 1
	WrongKey
	ChangedHash
	WrongSeal
	WrongDocument
	Expired
	NotYetValid
	OtherWorkstation
	Reused
	NoUsedSet
)

// Error is a refused ticket. Its message is written for the seal custodian.
type Error struct {
	Reason Reason
	msg    string
	err    error
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.err }

// ReasonOf returns the Reason of a refusal, or 0 when err is not one.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}

// UsedSet tells whether a ticket was already used. The ledger satisfies it (its used-ticket
// index: the stamp.intent that names the ticket, written in the same transaction); the sync
// store in store/upstream keeps a mark too.
type UsedSet interface {
	TicketUsed(id string) (bool, error)
}

// Expect is what the workstation knows independently of the ticket.
type Expect struct {
	DocumentID  string   // "" to skip
	DocSHA256   [32]byte // hash of the bytes about to be stamped
	SealID      string   // the seal on the token; "" to skip (e.g. before a token is inserted)
	Workstation string   // this workstation
	Now         time.Time
	// Skew is how far the workstation clock may be behind the server's (default 5 minutes).
	Skew time.Duration
}

// Verify checks a ticket against the pinned server key and what the workstation expects. Every
// refusal is an *Error whose message says what is wrong and what to do.
func Verify(s string, pinned crypto.PublicKey, want Expect, used UsedSet) (*Ticket, error) {
	t, payload, sig, err := split(s)
	if err != nil {
		return nil, err
	}
	kid, err := KeyIDOf(pinned)
	if err != nil {
		return nil, err
	}
	if t.KeyID != kid || !verifyMessage(t.Alg, pinned, append([]byte(domain), payload...), sig) {
		return nil, &Error{Reason: WrongKey, msg: "the approval ticket was not signed by the seal-management server this workstation is enrolled with; do not stamp, ask the server administrator to re-issue the approval"}
	}
	if t.DocSHA256 != want.DocSHA256 {
		return nil, &Error{Reason: ChangedHash, msg: fmt.Sprintf("the document's bytes are not the ones that were approved (SHA-256 %x…, approved %x…); a changed document needs a new approval", want.DocSHA256[:6], t.DocSHA256[:6])}
	}
	if want.DocumentID != "" && t.DocumentID != want.DocumentID {
		return nil, &Error{Reason: WrongDocument, msg: fmt.Sprintf("the approval ticket is for document %q, not %q", t.DocumentID, want.DocumentID)}
	}
	if want.SealID != "" && t.SealID != want.SealID {
		return nil, &Error{Reason: WrongSeal, msg: fmt.Sprintf("the approval is for seal %q, but the seal on the key is %q; insert the right key or ask for a new approval", t.SealID, want.SealID)}
	}
	if t.Workstation != want.Workstation {
		return nil, &Error{Reason: OtherWorkstation, msg: fmt.Sprintf("the approval was issued to workstation %q, not to this one (%q); it cannot be used here", t.Workstation, want.Workstation)}
	}
	now := want.Now
	if now.IsZero() {
		now = time.Now()
	}
	skew := want.Skew
	if skew == 0 {
		skew = 5 * time.Minute
	}
	if !now.Before(t.Expires) {
		return nil, &Error{Reason: Expired, msg: fmt.Sprintf("the approval expired at %s; ask for it to be renewed", t.Expires.Local().Format("2006-01-02 15:04"))}
	}
	if now.Add(skew).Before(t.IssuedAt) {
		return nil, &Error{Reason: NotYetValid, msg: fmt.Sprintf("the approval is dated %s, in the future; check this computer's clock", t.IssuedAt.Local().Format("2006-01-02 15:04"))}
	}
	if used == nil {
		return nil, &Error{Reason: NoUsedSet, msg: "cannot tell whether the approval was already used (no ledger is open)"}
	}
	u, err := used.TicketUsed(t.ID())
	if err != nil {
		return nil, &Error{Reason: NoUsedSet, msg: "cannot tell whether the approval was already used: " + err.Error(), err: err}
	}
	if u {
		return nil, &Error{Reason: Reused, msg: "this approval was already used to stamp; stamping again needs a new approval (重印流程)"}
	}
	return t, nil
}

// MarshalPublicKey encodes a ticket key as PEM (PUBLIC KEY), as pinned in the configuration.
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKey reads a pinned server key (PEM PUBLIC KEY).
func ParsePublicKey(b []byte) (crypto.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("the pinned server key is not a PEM PUBLIC KEY; enrol the workstation again")
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the pinned server key cannot be read: %w", err)
	}
	if _, err := algOf(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

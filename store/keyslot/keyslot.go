// Package keyslot keeps a random data key wrapped for several holders, like LUKS key slots or age
// recipients: each authorised custodian's token key and the organisation's escrow key get a slot,
// and any one of them can unwrap the data key. Handover adds the new custodian's slot and
// removes the old one; the data key, and so everything encrypted with it, stays the same.
//
// Wrapping needs only a public key. Unwrapping needs the private key, reached through interfaces
// that both software keys and a token session satisfy:
//
//   - RSA: crypto.Decrypter (RSA-OAEP with SHA-256, no label, so PKCS#11 tokens can do it).
//   - SM2: crypto.Decrypter over an SM2 key (tjfoc/gmsm's *sm2.PrivateKey, or a GM token's key
//     through the vendor's SM2 decryption): the data key is SM2-encrypted (GB/T 32918.4,
//     04 || C1 || C3 || C2). SM2 has no key agreement a token offers as plainly as ECDH, and an
//     SM2 signature is randomised, so nothing can be derived from one.
//   - EC P-256: ECDHKey (what *ecdh.PrivateKey has). The slot holds an ephemeral public key; the
//     key-encryption key is HKDF-SHA256(ECDH(ephemeral, holder), salt = ephemeral ‖ holder,
//     info = "sealkeeper keyslot v1 p256"), and the data key is sealed with SM4-GCM under it.
//
// Seal and Open use the same slots to encrypt a message to public keys only (a fresh content key
// per message): this is how events are written while nobody is logged in.
//
// Invariant: a sealed message is confidential, never authenticated. Sealing needs only the
// recipients' public keys, and those are public (a ledger keeps them in its file), so Open
// proves only that the message was sealed to the opener, not who sealed it. A reader that needs
// to know who wrote a message authenticates it by other means (store/ledger's pending events
// carry their own MAC, or count as claims).
package keyslot

import (
	"bytes"
	"crypto"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/tjfoc/gmsm/sm2"
	gmx509 "github.com/tjfoc/gmsm/x509"
)

// Holder is a private key that may open a slot: a crypto.Decrypter over an RSA key, or an
// ECDHKey over a P-256 key. Both *rsa.PrivateKey and *ecdh.PrivateKey are Holders, and so are the
// token-backed keys of package device.
type Holder interface {
	Public() crypto.PublicKey
}

// ECDHKey is a P-256 private key that can do ECDH without handing out its scalar.
type ECDHKey interface {
	Public() crypto.PublicKey
	ECDH(*ecdh.PublicKey) ([]byte, error)
}

// Role says why a slot exists.
type Role string

const (
	RoleCustodian Role = "custodian" // a custodian's token key
	RoleEscrow    Role = "escrow"    // the organisation's escrow key (recovery, audit)
	RoleDelegate  Role = "delegate"  // a delegate's key (代管), removed when the delegation ends
)

// Wrapping algorithms.
const (
	AlgRSAOAEP = "rsa-oaep-sha256"
	AlgP256    = "p256-hkdf-sha256-sm4gcm"
	AlgSM2     = "sm2-encrypt-c1c3c2"
)

// Slot is one wrapped copy of a key. Everything in it is public; only the holder of the private
// key matching PublicKey can unwrap it.
type Slot struct {
	ID        string    `json:"id"` // 16 hex digits of SHA-256 over PublicKey
	Role      Role      `json:"role"`
	Label     string    `json:"label,omitempty"` // e.g. the custodian's name
	Alg       string    `json:"alg"`
	PublicKey []byte    `json:"pub"` // PKIX DER
	Ephemeral []byte    `json:"eph,omitempty"`
	Nonce     []byte    `json:"nonce,omitempty"`
	Wrapped   []byte    `json:"wrapped"`
	Added     time.Time `json:"added,omitzero"`
}

// ErrNoSlot means none of the slots was made for the key that tried to open them.
var ErrNoSlot = errors.New("no key slot for this key")

// ErrUnwrap means a slot was made for this key but did not open: the slot is damaged or was
// tampered with, or the token refused the operation.
var ErrUnwrap = errors.New("key slot did not open")

const p256Info = "sealkeeper keyslot v1 p256"

// NewKey returns a fresh random data key.
func NewKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, nil
}

// normalise turns the public keys a token or software key may report into the two forms the
// slots use: *rsa.PublicKey, a P-256 *ecdh.PublicKey or an *sm2.PublicKey.
func normalise(pub crypto.PublicKey) (crypto.PublicKey, error) {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if p.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits is too small for a key slot (2048 at least)", p.N.BitLen())
		}
		return p, nil
	case *ecdsa.PublicKey:
		e, err := p.ECDH()
		if err != nil {
			return nil, fmt.Errorf("EC key cannot be used for ECDH: %w", err)
		}
		return normalise(e)
	case *ecdh.PublicKey:
		if p.Curve() != ecdh.P256() {
			return nil, errors.New("only P-256 EC keys can hold a key slot")
		}
		return p, nil
	case *sm2.PublicKey:
		//lint:ignore SA1019 tjfoc/gmsm's SM2 curve has no API but elliptic.Curve
		if p.X == nil || p.Y == nil || !sm2.P256Sm2().IsOnCurve(p.X, p.Y) {
			return nil, errors.New("the SM2 public key is not a point on the SM2 curve")
		}
		return p, nil
	case nil:
		return nil, errors.New("no public key")
	}
	return nil, fmt.Errorf("a %T cannot hold a key slot (RSA, P-256 or SM2 only)", pub)
}

// ID returns the slot ID a public key gets: 16 hex digits of SHA-256 over its PKIX encoding.
func ID(pub crypto.PublicKey) (string, error) {
	_, der, err := pkix(pub)
	if err != nil {
		return "", err
	}
	return idOf(der), nil
}

func idOf(der []byte) string {
	h := sha256.Sum256(der)
	return hex.EncodeToString(h[:8])
}

func pkix(pub crypto.PublicKey) (crypto.PublicKey, []byte, error) {
	n, err := normalise(pub)
	if err != nil {
		return nil, nil, err
	}
	var der []byte
	if p, ok := n.(*sm2.PublicKey); ok {
		der, err = gmx509.MarshalSm2PublicKey(p) // the standard library knows no SM2
	} else {
		der, err = x509.MarshalPKIXPublicKey(n)
	}
	if err != nil {
		return nil, nil, err
	}
	return n, der, nil
}

// parsePKIX reads a PKIX public key of any kind a slot can hold.
func parsePKIX(der []byte) (crypto.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		if p, gerr := gmx509.ParseSm2PublicKey(der); gerr == nil {
			return normalise(p)
		}
		return nil, err
	}
	return normalise(pub)
}

// Wrap makes a slot holding key for the owner of pub.
func Wrap(key []byte, pub crypto.PublicKey, role Role, label string) (Slot, error) {
	n, der, err := pkix(pub)
	if err != nil {
		return Slot{}, err
	}
	s := Slot{ID: idOf(der), Role: role, Label: label, PublicKey: der, Added: time.Now().UTC().Truncate(time.Second)}
	switch p := n.(type) {
	case *rsa.PublicKey:
		s.Alg = AlgRSAOAEP
		s.Wrapped, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, p, key, nil)
		if err != nil {
			return Slot{}, fmt.Errorf("wrapping the data key with RSA-OAEP: %w", err)
		}
	case *ecdh.PublicKey:
		s.Alg = AlgP256
		eph, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			return Slot{}, err
		}
		shared, err := eph.ECDH(p)
		if err != nil {
			return Slot{}, err
		}
		s.Ephemeral = eph.PublicKey().Bytes()
		aead, err := p256KEK(shared, s.Ephemeral, p.Bytes())
		if err != nil {
			return Slot{}, err
		}
		s.Nonce = make([]byte, aead.NonceSize())
		if _, err := rand.Read(s.Nonce); err != nil {
			return Slot{}, err
		}
		s.Wrapped = aead.Seal(nil, s.Nonce, key, []byte(s.ID))
	case *sm2.PublicKey:
		s.Alg = AlgSM2
		s.Wrapped, err = sm2.Encrypt(p, key, rand.Reader, sm2.C1C3C2)
		if err != nil {
			return Slot{}, fmt.Errorf("wrapping the data key with SM2 encryption: %w", err)
		}
	}
	return s, nil
}

func p256KEK(shared, eph, holder []byte) (cipher.AEAD, error) {
	salt := append(append([]byte{}, eph...), holder...)
	kek, err := hkdf.Key(sha256.New, shared, salt, p256Info, KeySize)
	if err != nil {
		return nil, err
	}
	return NewSM4GCM(kek)
}

// Recipient returns the public key the slot was made for.
func (s Slot) Recipient() (crypto.PublicKey, error) {
	pub, err := parsePKIX(s.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("key slot %s: public key does not parse: %w", s.ID, err)
	}
	return pub, nil
}

// For reports whether the slot was made for h's public key.
func (s Slot) For(h Holder) bool {
	_, der, err := pkix(h.Public())
	return err == nil && bytes.Equal(der, s.PublicKey)
}

// Unwrap opens the slot with the holder's private key and returns the key inside.
func (s Slot) Unwrap(h Holder) ([]byte, error) {
	if !s.For(h) {
		return nil, ErrNoSlot
	}
	if idOf(s.PublicKey) != s.ID {
		return nil, fmt.Errorf("%w: slot %s does not match its public key (tampered?)", ErrUnwrap, s.ID)
	}
	var key []byte
	switch s.Alg {
	case AlgRSAOAEP:
		d, ok := h.(crypto.Decrypter)
		if !ok {
			return nil, fmt.Errorf("%w: slot %s needs RSA decryption, and this key cannot decrypt", ErrUnwrap, s.ID)
		}
		k, err := d.Decrypt(rand.Reader, s.Wrapped, &rsa.OAEPOptions{Hash: crypto.SHA256})
		if err != nil {
			return nil, fmt.Errorf("%w: slot %s: %v", ErrUnwrap, s.ID, err)
		}
		key = k
	case AlgSM2:
		d, ok := h.(crypto.Decrypter)
		if !ok {
			return nil, fmt.Errorf("%w: slot %s needs SM2 decryption, and this key cannot decrypt", ErrUnwrap, s.ID)
		}
		k, err := d.Decrypt(rand.Reader, s.Wrapped, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: slot %s: %v", ErrUnwrap, s.ID, err)
		}
		key = k
	case AlgP256:
		x, ok := h.(ECDHKey)
		if !ok {
			return nil, fmt.Errorf("%w: slot %s needs ECDH, and this key cannot do it", ErrUnwrap, s.ID)
		}
		eph, err := ecdh.P256().NewPublicKey(s.Ephemeral)
		if err != nil {
			return nil, fmt.Errorf("%w: slot %s: ephemeral key: %v", ErrUnwrap, s.ID, err)
		}
		shared, err := x.ECDH(eph)
		if err != nil {
			return nil, fmt.Errorf("%w: slot %s: ECDH: %v", ErrUnwrap, s.ID, err)
		}
		pub, err := s.Recipient()
		if err != nil {
			return nil, err
		}
		aead, err := p256KEK(shared, s.Ephemeral, pub.(*ecdh.PublicKey).Bytes())
		if err != nil {
			return nil, err
		}
		if len(s.Nonce) != aead.NonceSize() {
			return nil, fmt.Errorf("%w: slot %s: bad nonce", ErrUnwrap, s.ID)
		}
		k, err := aead.Open(nil, s.Nonce, s.Wrapped, []byte(s.ID))
		if err != nil {
			return nil, fmt.Errorf("%w: slot %s: authentication failed (damaged or tampered)", ErrUnwrap, s.ID)
		}
		key = k
	default:
		return nil, fmt.Errorf("%w: slot %s uses unknown algorithm %q (made by a newer SealKeeper?)", ErrUnwrap, s.ID, s.Alg)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: slot %s held a %d-byte key", ErrUnwrap, s.ID, len(key))
	}
	return key, nil
}

// UnwrapAny opens the first slot made for h.
func UnwrapAny(slots []Slot, h Holder) (key []byte, slot Slot, err error) {
	for _, s := range slots {
		if s.For(h) {
			k, err := s.Unwrap(h)
			return k, s, err
		}
	}
	return nil, Slot{}, ErrNoSlot
}

// sealed is the form of a message sealed to public keys.
type sealed struct {
	V      int    `json:"v"`
	Slots  []Slot `json:"slots"`
	Nonce  []byte `json:"nonce"`
	Cipher []byte `json:"ct"`
}

// Seal encrypts plaintext so that the holder of any one of recipients can read it: a fresh
// content key, wrapped in one slot per recipient, and SM4-GCM with ad as associated data.
// Anyone with the public keys can do this: the result says nothing about its author.
func Seal(plaintext, ad []byte, recipients []crypto.PublicKey) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, errors.New("sealing a message: no recipients")
	}
	k, err := NewKey()
	if err != nil {
		return nil, err
	}
	m := sealed{V: 1}
	for _, r := range recipients {
		s, err := Wrap(k, r, "", "")
		if err != nil {
			return nil, err
		}
		s.Added = time.Time{}
		m.Slots = append(m.Slots, s)
	}
	aead, err := NewSM4GCM(k)
	if err != nil {
		return nil, err
	}
	m.Nonce = make([]byte, aead.NonceSize())
	if _, err := rand.Read(m.Nonce); err != nil {
		return nil, err
	}
	m.Cipher = aead.Seal(nil, m.Nonce, plaintext, ad)
	return json.Marshal(m)
}

// Open decrypts what Seal made, with the private key of one of its recipients.
func Open(msg, ad []byte, h Holder) ([]byte, error) {
	var m sealed
	if err := json.Unmarshal(msg, &m); err != nil || m.V != 1 {
		return nil, errors.New("sealed message is damaged (does not parse)")
	}
	k, _, err := UnwrapAny(m.Slots, h)
	if err != nil {
		return nil, err
	}
	aead, err := NewSM4GCM(k)
	if err != nil {
		return nil, err
	}
	if len(m.Nonce) != aead.NonceSize() {
		return nil, errors.New("sealed message is damaged (bad nonce)")
	}
	p, err := aead.Open(nil, m.Nonce, m.Cipher, ad)
	if err != nil {
		return nil, errors.New("sealed message failed authentication (damaged or tampered)")
	}
	return p, nil
}

// ParsePublicKeyPEM reads a PEM "PUBLIC KEY" (PKIX) block holding an RSA, P-256 or SM2 key.
func ParsePublicKeyPEM(b []byte) (crypto.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM PUBLIC KEY block")
	}
	return parsePKIX(blk.Bytes)
}

// ParsePrivateKeyPEM reads a PEM "PRIVATE KEY" (PKCS#8) block holding an RSA or P-256 key, such
// as an escrow key file, and returns it as a Holder.
func ParsePrivateKeyPEM(b []byte) (Holder, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM PRIVATE KEY (PKCS#8) block")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	switch p := k.(type) {
	case *rsa.PrivateKey:
		return p, nil
	case *ecdsa.PrivateKey:
		return p.ECDH()
	case *ecdh.PrivateKey:
		if p.Curve() == ecdh.P256() {
			return p, nil
		}
	}
	return nil, fmt.Errorf("a %T cannot hold a key slot (RSA or P-256 only)", k)
}

// MarshalPublicKeyPEM writes pub as a PEM PUBLIC KEY block.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	_, der, err := pkix(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// MarshalPrivateKeyPEM writes a software key as a PEM PKCS#8 PRIVATE KEY block.
func MarshalPrivateKeyPEM(key crypto.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

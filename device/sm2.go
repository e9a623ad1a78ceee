package device

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"

	"github.com/miekg/pkcs11"
	"github.com/tjfoc/gmsm/sm2"
	gmx509 "github.com/tjfoc/gmsm/x509"
	"golang.org/x/crypto/cryptobyte"
	casn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// SM2Mechanisms are one vendor's PKCS#11 numbers for SM2 keys. SM2 has no standard PKCS#11
// code, so every vendor numbers it in its own range (shared/research/gm-seals.md §4).
type SM2Mechanisms struct {
	Vendor  string
	KeyType uint // CKK_SM2
	KeyGen  uint // SM2 key pair generation (provisioning); 0 when not known
	// SignWithZ are mechanisms that hash SM3(Z_A || M) on the token with the default user ID
	// 1234567812345678, then sign: they take the whole message. Preferred, in this order.
	SignWithZ []uint
	// SignRaw are mechanisms that sign a 32-byte e computed by the host, e = SM3(Z_A || M).
	SignRaw []uint
	// Decrypt are SM2 encryption mechanisms (GB/T 32918.4) for C_Decrypt over
	// 04 || C1 || C3 || C2: the ledger's key slot of an SM2 key. Empty: none known.
	Decrypt []uint
}

// BuiltinSM2 are the public vendor tables, tried after those a module was given with
// UseSM2Mechanisms. Sources: xipki/ipkcs11wrapper vendor.conf (Sansec, TASS, Luna),
// zzy007/ZzySoftHsmGM pkcs11.h (IBM-style).
var BuiltinSM2 = []SM2Mechanisms{
	// Sansec's plain CKM_SM3_SM2 (0x80008100/01) hashes without Z, so only the _Z pair is here.
	{Vendor: "Sansec", KeyType: 0x80000004, KeyGen: 0x80008001, SignWithZ: []uint{0x80008103, 0x80008102}, SignRaw: []uint{0x80008104, 0x80008105}, Decrypt: []uint{0x80008200}},
	// TASS: whether its CKM_SM3_SM2 includes Z is not documented, so only raw SM2 is used.
	{Vendor: "TASS", KeyType: 0x80000004, KeyGen: 0x80008001, SignRaw: []uint{0x80008000}, Decrypt: []uint{0x80008200}},
	{Vendor: "SafeNet Luna", KeyType: 0x80000016, KeyGen: 0x80000B20, SignWithZ: []uint{0x80000B22}, SignRaw: []uint{0x80000B21}},
	{Vendor: "IBM-style", KeyType: 0x80050002, KeyGen: 0x8005000A, SignWithZ: []uint{0x8005000C}, SignRaw: []uint{0x8005000B}},
}

// UseSM2Mechanisms puts a vendor's tables (from the configuration) before the built-in ones for
// this module.
func (m *Module) UseSM2Mechanisms(t ...SM2Mechanisms) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sm2 = append(slices.Clone(t), BuiltinSM2...)
	clear(m.sm2Good)
	clear(m.sm2Bad)
}

// sm2Tables are the tables in force. Called with mu held.
func (m *Module) sm2Tables() []SM2Mechanisms {
	if m.sm2 == nil {
		return BuiltinSM2
	}
	return m.sm2
}

// isSM2Type reports whether kt is some vendor's CKK_SM2. Called with mu held.
func (m *Module) isSM2Type(kt uint) bool {
	for _, t := range m.sm2Tables() {
		if t.KeyType == kt {
			return true
		}
	}
	return false
}

// sm2CurveOID is the SM2 curve (1.2.156.10197.1.301), as CKA_EC_PARAMS names it.
var sm2CurveOID = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}

// parseSM2Point reads CKA_EC_POINT (a DER OCTET STRING holding 04 || X || Y; some tokens give
// the point bare).
func parseSM2Point(point []byte) (*sm2.PublicKey, error) {
	var inner []byte
	if rest, err := asn1.Unmarshal(point, &inner); err == nil && len(rest) == 0 {
		point = inner
	}
	if len(point) != 65 || point[0] != 4 {
		return nil, fmt.Errorf("SM2 point of %d bytes is not an uncompressed point", len(point))
	}
	return &sm2.PublicKey{Curve: sm2.P256Sm2(), X: new(big.Int).SetBytes(point[1:33]), Y: new(big.Int).SetBytes(point[33:])}, nil
}

// parseCertificate parses a certificate from the token. The standard library refuses SM2
// certificates (the SM2 curve is not one it knows), so those are parsed with tjfoc/gmsm and
// given as an x509.Certificate whose PublicKey is a *sm2.PublicKey, read from the certificate's
// SubjectPublicKeyInfo. Their signature and key algorithm fields are left unknown: the standard
// library's numbers mean other algorithms, and its CheckSignature cannot verify SM2.
func parseCertificate(der []byte) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err == nil {
		return c, nil
	}
	gc, gerr := gmx509.ParseCertificate(der)
	if gerr != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		Key       asn1.BitString
	}
	var curve asn1.ObjectIdentifier
	if _, e := asn1.Unmarshal(gc.RawSubjectPublicKeyInfo, &spki); e != nil {
		return nil, err
	}
	if _, e := asn1.Unmarshal(spki.Algorithm.Parameters.FullBytes, &curve); e != nil || !curve.Equal(sm2CurveOID) {
		return nil, err
	}
	pub, perr := parseSM2Point(spki.Key.Bytes)
	if perr != nil {
		return nil, perr
	}
	c = gc.ToX509Certificate()
	c.PublicKey = pub
	c.SignatureAlgorithm, c.PublicKeyAlgorithm = x509.UnknownSignatureAlgorithm, x509.UnknownPublicKeyAlgorithm
	return c, nil
}

// sm2KeyGen finds the table whose SM2 key generation the token offers. Called with mu held.
func (m *Module) sm2KeyGen(slot uint) (SM2Mechanisms, error) {
	list, err := m.ctx.GetMechanismList(slot)
	if err != nil {
		return SM2Mechanisms{}, err
	}
	for _, t := range m.sm2Tables() {
		for _, mech := range list {
			if t.KeyGen != 0 && mech.Mechanism == t.KeyGen {
				return t, nil
			}
		}
	}
	return SM2Mechanisms{}, fmt.Errorf("%w: the module offers no SM2 key generation SealKeeper knows; add the vendor's numbers under [[device.sm2]] in the config", ErrUnsupported)
}

// sm2Mechanism is the mechanism a token signs SM2 with; withZ: it takes the message.
type sm2Mechanism struct {
	mech  uint
	withZ bool
}

// pickSM2 probes the token's mechanisms: the first mechanism that hashes with Z of any table
// for keyType, else the first raw one. Mechanisms that failed the check in sm2Signer.Sign are
// skipped. Called with mu held.
func (m *Module) pickSM2(slot, keyType uint) (sm2Mechanism, error) {
	list, err := m.ctx.GetMechanismList(slot)
	if err != nil {
		return sm2Mechanism{}, err
	}
	offered := map[uint]bool{}
	for _, mech := range list {
		offered[mech.Mechanism] = true
	}
	var tables []SM2Mechanisms
	for _, t := range m.sm2Tables() {
		// A key typed CKK_EC on the SM2 curve may use any vendor's mechanisms.
		if t.KeyType == keyType || keyType == pkcs11.CKK_EC {
			tables = append(tables, t)
		}
	}
	usable := func(sm sm2Mechanism) bool { return offered[sm.mech] && !m.sm2Bad[sm] }
	for _, t := range tables {
		for _, mech := range t.SignWithZ {
			if sm := (sm2Mechanism{mech, true}); usable(sm) {
				return sm, nil
			}
		}
	}
	for _, t := range tables {
		for _, mech := range t.SignRaw {
			if sm := (sm2Mechanism{mech, false}); usable(sm) {
				return sm, nil
			}
		}
	}
	var known []string
	for _, t := range tables {
		known = append(known, t.Vendor)
	}
	return sm2Mechanism{}, fmt.Errorf("%w: the module offers none of the SM2 signing mechanisms SealKeeper knows for key type 0x%x (tables: %s); add the vendor's numbers under [[device.sm2]] in the config", ErrUnsupported, keyType, strings.Join(known, ", "))
}

// sm2Signer signs with an SM2 key on the token.
type sm2Signer struct {
	s   *Session
	key SealKey
	pub *sm2.PublicKey
}

func (k *sm2Signer) Public() crypto.PublicKey { return k.pub }

// Sign signs msg, the whole message, with SM2 and the default user ID 1234567812345678, as
// tjfoc/gmsm's sm2.PrivateKey.Sign does: SM2 hashes SM3(Z_A || msg) itself, so opts (a hash)
// is not used. The signature is DER SEQUENCE{r, s} whatever form the token answers in.
//
// The first signature through each mechanism of a module is verified here: a vendor's
// "SM3 with SM2" may hash without Z, or with another ID, and its signatures would then fail
// every verifier. Such a mechanism is set aside and the next one (in the end raw SM2 over an e
// computed here) is used.
func (k *sm2Signer) Sign(_ io.Reader, msg []byte, _ crypto.SignerOpts) ([]byte, error) {
	s := k.s
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	for {
		mech, err := s.m.pickSM2(s.tok.SlotID, k.key.keyType)
		if err != nil {
			if errors.Is(err, ErrUnsupported) {
				return nil, fmt.Errorf("seal key %q: %w", k.key.Label, err)
			}
			return nil, s.fail("listing the SM2 mechanisms", err)
		}
		input := msg
		if !mech.withZ {
			e, err := k.pub.Sm3Digest(msg, nil) // nil: the default ID
			if err != nil {
				return nil, err
			}
			input = new(big.Int).SetBytes(e).FillBytes(make([]byte, 32))
		}
		if err := s.m.ctx.SignInit(s.h, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech.mech, nil)}, k.key.priv); err != nil {
			return nil, s.fail(fmt.Sprintf("starting to sign (SM2 mechanism 0x%x)", mech.mech), err)
		}
		sig, err := s.m.ctx.Sign(s.h, input)
		if err != nil {
			return nil, s.fail(fmt.Sprintf("signing (SM2 mechanism 0x%x)", mech.mech), err)
		}
		der, err := sm2DER(sig)
		if err != nil {
			return nil, fmt.Errorf("seal key %q, SM2 mechanism 0x%x: %w", k.key.Label, mech.mech, err)
		}
		if s.m.sm2Good[mech] {
			return der, nil
		}
		if k.pub.Verify(msg, der) {
			s.m.sm2Good[mech] = true
			return der, nil
		}
		if !mech.withZ {
			return nil, fmt.Errorf("seal key %q: the token's raw SM2 signature (mechanism 0x%x) does not verify with the key's public key; the token or its vendor table is wrong", k.key.Label, mech.mech)
		}
		s.m.sm2Bad[mech] = true // and try the next one
	}
}

// sm2DER turns what a token answers into DER SEQUENCE{r, s}: DER is checked and kept, 64 bytes
// are r || s. (A 64-byte r || s that also parses as DER would need r to begin 30 3e 02: not
// seen in practice, and the signature check in Sign catches it.)
func sm2DER(sig []byte) ([]byte, error) {
	in := cryptobyte.String(sig)
	var seq cryptobyte.String
	var r, s big.Int
	if in.ReadASN1(&seq, casn1.SEQUENCE) && in.Empty() && seq.ReadASN1Integer(&r) && seq.ReadASN1Integer(&s) && seq.Empty() && r.Sign() > 0 && s.Sign() > 0 {
		return bytes.Clone(sig), nil
	}
	if len(sig) == 64 {
		return rawToDER(sig)
	}
	return nil, fmt.Errorf("the token answered an SM2 signature of %d bytes that is neither DER nor r||s", len(sig))
}

// pickSM2Decrypt is the first SM2 decryption mechanism of the tables for keyType that the token
// offers. Called with mu held.
func (m *Module) pickSM2Decrypt(slot, keyType uint) (uint, error) {
	list, err := m.ctx.GetMechanismList(slot)
	if err != nil {
		return 0, err
	}
	var known []string
	for _, t := range m.sm2Tables() {
		if t.KeyType != keyType && keyType != pkcs11.CKK_EC {
			continue
		}
		known = append(known, t.Vendor)
		for _, want := range t.Decrypt {
			for _, mech := range list {
				if mech.Mechanism == want {
					return want, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("%w: the module offers none of the SM2 decryption mechanisms SealKeeper knows for key type 0x%x (tables: %s), so the ledger's key slot cannot be opened with this key; add the vendor's numbers (decrypt) under [[device.sm2]] in the config", ErrUnsupported, keyType, strings.Join(known, ", "))
}

// sm2Decrypter decrypts SM2 ciphertexts with a key on the token.
type sm2Decrypter struct {
	s   *Session
	key SealKey
	pub *sm2.PublicKey
}

func (d *sm2Decrypter) Public() crypto.PublicKey { return d.pub }

// Decrypt decrypts an SM2 ciphertext 04 || C1 || C3 || C2 (as tjfoc/gmsm's sm2.Encrypt with
// C1C3C2 makes it) on the token; opts is not used.
func (d *sm2Decrypter) Decrypt(_ io.Reader, msg []byte, _ crypto.DecrypterOpts) ([]byte, error) {
	s := d.s
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	mech, err := s.m.pickSM2Decrypt(s.tok.SlotID, d.key.keyType)
	if err != nil {
		if errors.Is(err, ErrUnsupported) {
			return nil, fmt.Errorf("seal key %q: %w", d.key.Label, err)
		}
		return nil, s.fail("listing the SM2 mechanisms", err)
	}
	if err := s.m.ctx.DecryptInit(s.h, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, d.key.priv); err != nil {
		return nil, s.fail(fmt.Sprintf("starting to decrypt (SM2 mechanism 0x%x)", mech), err)
	}
	out, err := s.m.ctx.Decrypt(s.h, msg)
	if err != nil {
		return nil, s.fail(fmt.Sprintf("decrypting (SM2 mechanism 0x%x)", mech), err)
	}
	return out, nil
}

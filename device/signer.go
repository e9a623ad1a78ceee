package device

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"

	"github.com/miekg/pkcs11"
	"github.com/tjfoc/gmsm/sm2"
	"golang.org/x/crypto/cryptobyte"
	casn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// scheme is a signature scheme as chosen by the caller's crypto.SignerOpts.
type scheme int

const (
	schemePKCS1v15 scheme = iota // RSA, opts a crypto.Hash
	schemePSS                    // RSA, opts *rsa.PSSOptions
	schemeECDSA                  // EC, opts a crypto.Hash
)

type mechKey struct {
	keyType uint // CKK_*
	scheme  scheme
	hash    crypto.Hash
}

// mechanism says how one (key type, scheme, hash) is signed on a token.
type mechanism struct {
	mech       uint
	digestInfo []byte // PKCS#1 v1.5: DER prefix put before the digest (CKM_RSA_PKCS signs raw)
	pssHash    uint   // PSS: CKM_SHA* and CKG_MGF1_SHA* for the parameters
	pssMGF     uint
	rawRS      bool // the token returns r||s; crypto.Signer promises ASN.1 DER
}

// signMechanisms is the one table that maps what the caller asks for to a PKCS#11 mechanism.
// The host hashes; the token signs the digest.
var signMechanisms = map[mechKey]mechanism{
	{pkcs11.CKK_RSA, schemePKCS1v15, crypto.SHA256}: {mech: pkcs11.CKM_RSA_PKCS, digestInfo: []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}},
	{pkcs11.CKK_RSA, schemePKCS1v15, crypto.SHA384}: {mech: pkcs11.CKM_RSA_PKCS, digestInfo: []byte{0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30}},
	{pkcs11.CKK_RSA, schemePKCS1v15, crypto.SHA512}: {mech: pkcs11.CKM_RSA_PKCS, digestInfo: []byte{0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40}},

	{pkcs11.CKK_RSA, schemePSS, crypto.SHA256}: {mech: pkcs11.CKM_RSA_PKCS_PSS, pssHash: pkcs11.CKM_SHA256, pssMGF: pkcs11.CKG_MGF1_SHA256},
	{pkcs11.CKK_RSA, schemePSS, crypto.SHA384}: {mech: pkcs11.CKM_RSA_PKCS_PSS, pssHash: pkcs11.CKM_SHA384, pssMGF: pkcs11.CKG_MGF1_SHA384},
	{pkcs11.CKK_RSA, schemePSS, crypto.SHA512}: {mech: pkcs11.CKM_RSA_PKCS_PSS, pssHash: pkcs11.CKM_SHA512, pssMGF: pkcs11.CKG_MGF1_SHA512},

	{pkcs11.CKK_EC, schemeECDSA, crypto.SHA256}: {mech: pkcs11.CKM_ECDSA, rawRS: true},
	{pkcs11.CKK_EC, schemeECDSA, crypto.SHA384}: {mech: pkcs11.CKM_ECDSA, rawRS: true},
	{pkcs11.CKK_EC, schemeECDSA, crypto.SHA512}: {mech: pkcs11.CKM_ECDSA, rawRS: true},

	// SM2 is not in this table: vendors number its key type and mechanisms each their own way,
	// and a mechanism may take the message or a host-computed digest, so SM2 keys get their
	// mechanism from the module's vendor tables by probing the token (sm2.go).
}

// Signer returns a crypto.Signer that signs with key on the token. Opts: crypto.SHA256/384/512
// for RSA PKCS#1 v1.5 and ECDSA, *rsa.PSSOptions for RSA-PSS. ECDSA signatures come back as
// ASN.1 DER. An SM2 key (Public a *sm2.PublicKey) signs whole messages with the default user
// ID and answers DER SEQUENCE{r, s} (see sm2Signer.Sign).
func (s *Session) Signer(key SealKey) (crypto.Signer, error) {
	if key.priv == 0 {
		return nil, fmt.Errorf("key %q has no private key handle: take it from Session.Seals", key.Label)
	}
	if key.Public == nil {
		return nil, fmt.Errorf("key %q has neither a certificate nor a public key object on the token", key.Label)
	}
	pub, isSM2 := key.Public.(*sm2.PublicKey)
	if !isSM2 && key.keyType != pkcs11.CKK_RSA && key.keyType != pkcs11.CKK_EC {
		return nil, fmt.Errorf("key %q is of a type SealKeeper cannot sign with yet (CKK 0x%x)", key.Label, key.keyType)
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	if isSM2 {
		return &sm2Signer{s: s, key: key, pub: pub}, nil
	}
	return &signer{s: s, key: key}, nil
}

type signer struct {
	s   *Session
	key SealKey
}

func (k *signer) Public() crypto.PublicKey { return k.key.Public }

func (k *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sc := schemePKCS1v15
	if k.key.keyType == pkcs11.CKK_EC {
		sc = schemeECDSA
	}
	if opts == nil {
		return nil, fmt.Errorf("seal key %q: no hash given to Sign; pass crypto.SHA256 or *rsa.PSSOptions", k.key.Label)
	}
	pss, isPSS := opts.(*rsa.PSSOptions)
	if isPSS {
		sc = schemePSS
	}
	h := opts.HashFunc()
	m, ok := signMechanisms[mechKey{k.key.keyType, sc, h}]
	if !ok {
		return nil, fmt.Errorf("seal key %q cannot sign with %s and %T hash %v: not in SealKeeper's mechanism table", k.key.Label, KeyAlgorithm(k.key.Public), opts, h)
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("digest is %d bytes, %v needs %d", len(digest), h, h.Size())
	}
	var mech *pkcs11.Mechanism
	input := digest
	switch {
	case m.digestInfo != nil:
		input = append(append(make([]byte, 0, len(m.digestInfo)+len(digest)), m.digestInfo...), digest...)
		mech = pkcs11.NewMechanism(m.mech, nil)
	case m.pssHash != 0:
		salt, err := pssSaltLength(k.key.Public.(*rsa.PublicKey), pss, h)
		if err != nil {
			return nil, err
		}
		mech = pkcs11.NewMechanism(m.mech, pkcs11.NewPSSParams(m.pssHash, m.pssMGF, uint(salt)))
	default:
		mech = pkcs11.NewMechanism(m.mech, nil)
	}

	s := k.s
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := s.m.ctx.SignInit(s.h, []*pkcs11.Mechanism{mech}, k.key.priv); err != nil {
		return nil, s.fail("starting to sign", err)
	}
	sig, err := s.m.ctx.Sign(s.h, input)
	if err != nil {
		return nil, s.fail("signing", err)
	}
	if m.rawRS {
		return rawToDER(sig)
	}
	return sig, nil
}

// pssSaltLength resolves Go's special salt lengths the way rsa.SignPSS does.
func pssSaltLength(pub *rsa.PublicKey, o *rsa.PSSOptions, h crypto.Hash) (int, error) {
	switch o.SaltLength {
	case rsa.PSSSaltLengthEqualsHash:
		return h.Size(), nil
	case rsa.PSSSaltLengthAuto:
		return (pub.N.BitLen()-1+7)/8 - 2 - h.Size(), nil
	}
	if o.SaltLength < 0 {
		return 0, fmt.Errorf("PSS salt length %d is not valid", o.SaltLength)
	}
	return o.SaltLength, nil
}

// rawToDER converts a PKCS#11 ECDSA signature (r||s, each half the length) to ASN.1 DER
// SEQUENCE{r, s}. Built by hand with cryptobyte: encoding/asn1's reflection cost a measurable
// share of a P-256 signature.
func rawToDER(sig []byte) ([]byte, error) {
	if len(sig) == 0 || len(sig)%2 != 0 {
		return nil, fmt.Errorf("token returned an ECDSA signature of odd length %d", len(sig))
	}
	n := len(sig) / 2
	var b cryptobyte.Builder
	b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addUnsigned(b, sig[:n])
		addUnsigned(b, sig[n:])
	})
	return b.Bytes()
}

// addUnsigned adds a big-endian unsigned integer as a minimal DER INTEGER.
func addUnsigned(b *cryptobyte.Builder, x []byte) {
	for len(x) > 1 && x[0] == 0 {
		x = x[1:]
	}
	b.AddASN1(casn1.INTEGER, func(b *cryptobyte.Builder) {
		if len(x) == 0 || x[0]&0x80 != 0 {
			b.AddUint8(0)
		}
		b.AddBytes(x)
	})
}

// oaepHashes are the OAEP hashes the Decrypter asks the token for (hash and MGF1 alike).
// SoftHSM 2.6 decrypts OAEP with SHA-1 only ("hashAlg must be CKM_SHA_1", measured); hardware
// tokens commonly do SHA-256, which is the default.
var oaepHashes = map[crypto.Hash][2]uint{
	crypto.SHA256: {pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256},
	crypto.SHA1:   {pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1},
}

// ErrUnsupported is wrapped when the token does not offer what was asked (a mechanism or its
// parameters).
var ErrUnsupported = errors.New("not supported by this token")

// Decrypter returns a crypto.Decrypter for an RSA key: RSA-OAEP through CKM_RSA_PKCS_OAEP.
// Opts may be nil (SHA-256) or *rsa.OAEPOptions with Hash SHA-256 or SHA-1 (MGF1 with the same
// hash). Labels are passed to the token; many tokens (SoftHSM) accept only an empty one.
//
// For an SM2 key it decrypts SM2 ciphertexts (GB/T 32918.4, 04 || C1 || C3 || C2) through the
// vendor table's decryption mechanism (SM2Mechanisms.Decrypt); opts is not used.
func (s *Session) Decrypter(key SealKey) (crypto.Decrypter, error) {
	if pub, ok := key.Public.(*sm2.PublicKey); ok && key.priv != 0 {
		return &sm2Decrypter{s: s, key: key, pub: pub}, nil
	}
	if key.priv == 0 || key.keyType != pkcs11.CKK_RSA {
		return nil, fmt.Errorf("key %q is not an RSA or SM2 private key from Session.Seals: it cannot decrypt", key.Label)
	}
	return &decrypter{s: s, key: key}, nil
}

// Holder is the seal key's side of a ledger key slot: ECDH for a P-256 key, decryption for an
// RSA or SM2 key (store/keyslot's Holder; device does not import store).
func (s *Session) Holder(key SealKey) (interface{ Public() crypto.PublicKey }, error) {
	if _, isEC := key.Public.(*ecdsa.PublicKey); isEC {
		x, err := s.ECDH(key)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return x, nil
	}
	d, err := s.Decrypter(key)
	if err != nil {
		return nil, err
	}
	return d, nil
}

type decrypter struct {
	s   *Session
	key SealKey
}

func (d *decrypter) Public() crypto.PublicKey { return d.key.Public }

func (d *decrypter) Decrypt(_ io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	h, label := crypto.SHA256, []byte(nil)
	switch o := opts.(type) {
	case nil:
	case *rsa.OAEPOptions:
		h, label = o.Hash, o.Label
		if o.MGFHash != 0 && o.MGFHash != o.Hash {
			return nil, errors.New("the seal key decrypts RSA-OAEP with the same hash for OAEP and MGF1 only")
		}
	default:
		return nil, fmt.Errorf("the seal key decrypts RSA-OAEP only, not %T", opts)
	}
	p, ok := oaepHashes[h]
	if !ok {
		return nil, fmt.Errorf("the seal key decrypts RSA-OAEP with SHA-256 or SHA-1, not %v", h)
	}
	mech := pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP, pkcs11.NewOAEPParams(p[0], p[1], pkcs11.CKZ_DATA_SPECIFIED, label))
	s := d.s
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := s.m.ctx.DecryptInit(s.h, []*pkcs11.Mechanism{mech}, d.key.priv); err != nil {
		if isRV(err, pkcs11.CKR_ARGUMENTS_BAD) || isRV(err, pkcs11.CKR_MECHANISM_INVALID) || isRV(err, pkcs11.CKR_MECHANISM_PARAM_INVALID) {
			return nil, fmt.Errorf("seal key %q cannot decrypt RSA-OAEP with %v: %w (%v)", s.tok.Name(), h, ErrUnsupported, err)
		}
		return nil, s.fail("starting to decrypt", err)
	}
	out, err := s.m.ctx.Decrypt(s.h, msg)
	if err != nil {
		return nil, s.fail("decrypting", err)
	}
	return out, nil
}

// ECDHKey agrees a shared secret with the token's EC key (CKM_ECDH1_DERIVE, no KDF).
type ECDHKey struct {
	s   *Session
	key SealKey
	pub *ecdh.PublicKey
}

// ECDH returns the key agreement side of an EC key on the token.
func (s *Session) ECDH(key SealKey) (*ECDHKey, error) {
	ep, ok := key.Public.(*ecdsa.PublicKey)
	if key.priv == 0 || key.keyType != pkcs11.CKK_EC || !ok {
		return nil, fmt.Errorf("key %q is not an EC private key from Session.Seals: it cannot do ECDH", key.Label)
	}
	pub, err := ep.ECDH()
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", key.Label, err)
	}
	return &ECDHKey{s: s, key: key, pub: pub}, nil
}

// Public is the token key's public key, a *ecdh.PublicKey.
func (e *ECDHKey) Public() crypto.PublicKey { return e.pub }

// ECDH returns the raw shared secret (the X coordinate) with remote, like ecdh.PrivateKey.ECDH.
func (e *ECDHKey) ECDH(remote *ecdh.PublicKey) ([]byte, error) {
	if remote.Curve() != e.pub.Curve() {
		return nil, fmt.Errorf("the remote key is on a different curve from seal key %q", e.key.Label)
	}
	size := (len(e.pub.Bytes()) - 1) / 2
	mech := pkcs11.NewMechanism(pkcs11.CKM_ECDH1_DERIVE, pkcs11.NewECDH1DeriveParams(pkcs11.CKD_NULL, nil, remote.Bytes()))
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, size),
	}
	s := e.s
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	h, err := s.m.ctx.DeriveKey(s.h, []*pkcs11.Mechanism{mech}, e.key.priv, tmpl)
	if err != nil {
		return nil, s.fail("agreeing a key (ECDH)", err)
	}
	// The derived secret is a session object; destroy it so it does not linger in the token.
	defer s.m.ctx.DestroyObject(s.h, h)
	attrs, err := s.m.ctx.GetAttributeValue(s.h, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
	if err != nil {
		return nil, s.fail("reading the ECDH secret", err)
	}
	return attrs[0].Value, nil
}

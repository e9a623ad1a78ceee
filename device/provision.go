package device

import (
	"crypto"
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"
)

// ProvisionOptions describe a new seal token.
type ProvisionOptions struct {
	Label    string // token label, at most 32 bytes
	SOPIN    string // security officer PIN set on the token
	UserPIN  string // the custodian's initial PIN
	KeyType  string // "rsa2048", "p256" or "sm2" (with the vendor's numbers, see SM2Mechanisms)
	KeyLabel string // CKA_LABEL of the key pair (default: Label)
	KeyID    []byte // CKA_ID of the key pair; the certificate gets the same
}

// Provision initialises the first free token of m (C_InitToken), sets the user PIN
// (C_InitPIN) and generates a seal key pair on it (C_GenerateKeyPair). It returns the public
// key (to be certified; then log in and call Session.StoreCertificate) and the new token.
// Everything on the token in that slot is erased.
func Provision(m *Module, o ProvisionOptions) (crypto.PublicKey, TokenInfo, error) {
	switch {
	case o.Label == "" || len(o.Label) > 32:
		return nil, TokenInfo{}, fmt.Errorf("token label %q must be 1 to 32 bytes", o.Label)
	case o.SOPIN == "" || o.UserPIN == "":
		return nil, TokenInfo{}, errors.New("provisioning needs both an SO PIN and a user PIN")
	case len(o.KeyID) == 0:
		return nil, TokenInfo{}, errors.New("provisioning needs a key ID (CKA_ID)")
	}
	if o.KeyLabel == "" {
		o.KeyLabel = o.Label
	}
	if _, _, err := keyTemplates(o.KeyType, o.KeyLabel, o.KeyID, SM2Mechanisms{}); err != nil {
		return nil, TokenInfo{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.live(); err != nil {
		return nil, TokenInfo{}, err
	}
	free, err := m.tokens(true)
	if err != nil {
		return nil, TokenInfo{}, err
	}
	if len(free) == 0 {
		return nil, TokenInfo{}, fmt.Errorf("module %s has no free (uninitialised) token to provision; for SoftHSM check directories.tokendir in SOFTHSM2_CONF", m.path)
	}
	slot := free[0].SlotID
	fail := func(doing string, err error) (crypto.PublicKey, TokenInfo, error) {
		return nil, TokenInfo{}, fmt.Errorf("provisioning token %q: %s: %w", o.Label, doing, err)
	}
	if err := m.ctx.InitToken(slot, o.SOPIN, o.Label); err != nil {
		return fail("C_InitToken", err)
	}
	h, err := m.ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fail("opening a session", err)
	}
	defer m.ctx.CloseSession(h)
	if err := m.ctx.Login(h, pkcs11.CKU_SO, o.SOPIN); err != nil {
		return fail("SO login", err)
	}
	if err := m.ctx.InitPIN(h, o.UserPIN); err != nil {
		return fail("C_InitPIN", err)
	}
	if err := m.ctx.Logout(h); err != nil {
		return fail("SO logout", err)
	}
	if err := m.ctx.Login(h, pkcs11.CKU_USER, o.UserPIN); err != nil {
		return fail("user login", err)
	}
	defer m.ctx.Logout(h)
	pk, err := m.generateKeyPair(h, slot, o.KeyType, o.KeyLabel, o.KeyID)
	if err != nil {
		return fail("generating the key pair", err)
	}
	ti, err := m.ctx.GetTokenInfo(slot)
	if err != nil {
		return fail("reading the token", err)
	}
	return pk, tokenInfo(m.path, slot, ti), nil
}

// GenerateKeyPair makes another key pair on the token ("rsa2048", "p256" or "sm2").
func (s *Session) GenerateKeyPair(keyType, label string, id []byte) (crypto.PublicKey, error) {
	if len(id) == 0 {
		return nil, errors.New("a new key needs an ID (CKA_ID)")
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	pk, err := s.m.generateKeyPair(s.h, s.tok.SlotID, keyType, label, id)
	if err != nil {
		return nil, s.fail("generating a key pair", err)
	}
	return pk, nil
}

// keyTemplates are the C_GenerateKeyPair mechanism and templates of a seal key; sm2 gives the
// vendor's numbers for "sm2".
func keyTemplates(keyType, label string, id []byte, sm2 SM2Mechanisms) (*pkcs11.Mechanism, [2][]*pkcs11.Attribute, error) {
	common := func(class, kt uint) []*pkcs11.Attribute {
		return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, kt),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		}
	}
	secret := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
	}
	switch keyType {
	case "rsa2048":
		pub := append(common(pkcs11.CKO_PUBLIC_KEY, pkcs11.CKK_RSA),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false), // listed before login
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, 2048),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
		priv := append(append(common(pkcs11.CKO_PRIVATE_KEY, pkcs11.CKK_RSA), secret...),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true)) // the ledger unwraps its data key with it
		return pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil), [2][]*pkcs11.Attribute{pub, priv}, nil
	case "p256":
		pub := append(common(pkcs11.CKO_PUBLIC_KEY, pkcs11.CKK_EC),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}))
		priv := append(append(common(pkcs11.CKO_PRIVATE_KEY, pkcs11.CKK_EC), secret...),
			pkcs11.NewAttribute(pkcs11.CKA_DERIVE, true)) // ECDH for the ledger's key slots
		return pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil), [2][]*pkcs11.Attribute{pub, priv}, nil
	case "sm2":
		pub := append(common(pkcs11.CKO_PUBLIC_KEY, sm2.KeyType),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, []byte{0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d}))
		priv := append(append(common(pkcs11.CKO_PRIVATE_KEY, sm2.KeyType), secret...),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true)) // SM2 decryption for the ledger's key slots
		return pkcs11.NewMechanism(sm2.KeyGen, nil), [2][]*pkcs11.Attribute{pub, priv}, nil
	}
	return nil, [2][]*pkcs11.Attribute{}, fmt.Errorf("key type %q is not one SealKeeper provisions; use rsa2048, p256 or sm2", keyType)
}

// generateKeyPair runs C_GenerateKeyPair and reads back the public key. Called with mu held
// and the user logged in on h, a session on slot.
func (m *Module) generateKeyPair(h pkcs11.SessionHandle, slot uint, keyType, label string, id []byte) (crypto.PublicKey, error) {
	var sm2 SM2Mechanisms
	if keyType == "sm2" {
		var err error
		if sm2, err = m.sm2KeyGen(slot); err != nil {
			return nil, err
		}
	}
	mech, tmpl, err := keyTemplates(keyType, label, id, sm2)
	if err != nil {
		return nil, err
	}
	pubH, _, err := m.ctx.GenerateKeyPair(h, []*pkcs11.Mechanism{mech}, tmpl[0], tmpl[1])
	if err != nil {
		return nil, err
	}
	fields := []uint{pkcs11.CKA_KEY_TYPE, pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT}
	if keyType == "p256" || keyType == "sm2" {
		fields = []uint{pkcs11.CKA_KEY_TYPE, pkcs11.CKA_EC_PARAMS, pkcs11.CKA_EC_POINT}
	}
	var q []*pkcs11.Attribute
	for _, f := range fields {
		q = append(q, pkcs11.NewAttribute(f, nil))
	}
	attrs, err := m.ctx.GetAttributeValue(h, pubH, q)
	if err != nil {
		return nil, fmt.Errorf("reading the new public key: %w", err)
	}
	got := map[uint][]byte{}
	for _, a := range attrs {
		got[a.Type] = a.Value
	}
	return m.parsePublic(got)
}

package gmtokentest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/tjfoc/gmsm/sm2"
	gmx509 "github.com/tjfoc/gmsm/x509"

	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal/gmca"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// open initialises the module for one test and logs the user in on the test's token.
func open(t *testing.T, tok *Token) (uint, pkcs11.SessionHandle) {
	t.Helper()
	must(t, ctx.Initialize())
	t.Cleanup(func() { ctx.Finalize() })
	slots, err := ctx.GetSlotList(true)
	must(t, err)
	if len(slots) != 2 {
		t.Fatalf("%d slots, want the token's and a free one", len(slots))
	}
	h, err := ctx.OpenSession(slots[0], pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	must(t, err)
	return slots[0], h
}

func findKey(t *testing.T, h pkcs11.SessionHandle) pkcs11.ObjectHandle {
	t.Helper()
	must(t, ctx.FindObjectsInit(h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY)}))
	found, _, err := ctx.FindObjects(h, 10)
	must(t, err)
	must(t, ctx.FindObjectsFinal(h))
	if len(found) != 1 {
		t.Fatalf("found %d private keys, want 1", len(found))
	}
	return found[0]
}

// Each mechanism signs what it should (the message, or e = SM3(Z||M)) and answers in its form.
func TestEveryMechanismSignsAndVerifies(t *testing.T) {
	tok := New(t)
	_, h := open(t, tok)
	msg := []byte("GB/T 38540 TBS_Sign")
	must(t, ctx.FindObjectsInit(h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY)}))
	none, _, err := ctx.FindObjects(h, 10)
	must(t, err)
	must(t, ctx.FindObjectsFinal(h))
	if len(none) != 0 {
		t.Fatal("the private key is listed before login")
	}
	must(t, ctx.Login(h, pkcs11.CKU_USER, tok.UserPIN))
	key := findKey(t, h)
	e, err := tok.Public.Sm3Digest(msg, nil)
	must(t, err)
	e = new(big.Int).SetBytes(e).FillBytes(make([]byte, 32))
	for _, c := range []struct {
		mech  uint
		input []byte
		raw   bool
	}{
		{CKMSM3SM2ZDER, msg, false},
		{CKMSM3SM2Z, msg, true},
		{CKMSM2Sign, e, false},
		{CKMSM2SignRaw, e, true},
	} {
		must(t, ctx.SignInit(h, []*pkcs11.Mechanism{pkcs11.NewMechanism(c.mech, nil)}, key))
		sig, err := ctx.Sign(h, c.input)
		must(t, err)
		var r, s *big.Int
		if c.raw {
			if len(sig) != 64 {
				t.Fatalf("mechanism 0x%x: %d bytes, want r||s (64)", c.mech, len(sig))
			}
			r, s = new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		} else if r, s, err = sm2.SignDataToSignDigit(sig); err != nil {
			t.Fatalf("mechanism 0x%x: not DER: %v", c.mech, err)
		}
		if !sm2.Sm2Verify(tok.Public, msg, nil, r, s) {
			t.Errorf("mechanism 0x%x: the signature does not verify over the message with the default ID", c.mech)
		}
		if sm2.Sm2Verify(tok.Public, []byte("another message"), nil, r, s) {
			t.Errorf("mechanism 0x%x: the signature verifies over another message", c.mech)
		}
	}
	must(t, ctx.SignInit(h, []*pkcs11.Mechanism{pkcs11.NewMechanism(CKMSM2Sign, nil)}, key))
	if _, err := ctx.Sign(h, msg); !isRV(err, pkcs11.CKR_DATA_LEN_RANGE) {
		t.Errorf("raw SM2 over %d bytes: %v, want CKR_DATA_LEN_RANGE", len(msg), err)
	}
	if _, err := ctx.GetAttributeValue(h, key, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)}); !isRV(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE) {
		t.Errorf("reading the private key's value: %v, want CKR_ATTRIBUTE_SENSITIVE", err)
	}
}

func TestMechanismsOption(t *testing.T) {
	tok := New(t, Mechanisms(CKMSM2SignRaw))
	slot, h := open(t, tok)
	ms, err := ctx.GetMechanismList(slot)
	must(t, err)
	var got []uint
	for _, m := range ms {
		got = append(got, m.Mechanism)
	}
	if want := []uint{CKMSM2KeyGen, CKMSM2Encrypt, CKMSM2SignRaw}; !slices.Equal(got, want) {
		t.Fatalf("mechanisms %#x, want key generation, SM2 decryption and 0x%x", got, CKMSM2SignRaw)
	}
	must(t, ctx.Login(h, pkcs11.CKU_USER, tok.UserPIN))
	if err := ctx.SignInit(h, []*pkcs11.Mechanism{pkcs11.NewMechanism(CKMSM3SM2ZDER, nil)}, findKey(t, h)); !isRV(err, pkcs11.CKR_MECHANISM_INVALID) {
		t.Errorf("a mechanism not offered: %v, want CKR_MECHANISM_INVALID", err)
	}
}

func flags(t *testing.T, slot uint) uint {
	t.Helper()
	ti, err := ctx.GetTokenInfo(slot)
	must(t, err)
	return ti.Flags & (pkcs11.CKF_USER_PIN_COUNT_LOW | pkcs11.CKF_USER_PIN_FINAL_TRY | pkcs11.CKF_USER_PIN_LOCKED | pkcs11.CKF_USER_PIN_TO_BE_CHANGED)
}

// The retry counter counts down, survives the module being finalised (the process ending), and
// only the SO's C_InitPIN unlocks, leaving a PIN that must be changed.
func TestPINCounter(t *testing.T) {
	tok := New(t)
	slot, h := open(t, tok)
	if f := flags(t, slot); f != 0 {
		t.Fatalf("fresh token flags %#x", f)
	}
	for i := 1; i <= MaxTries; i++ {
		err := ctx.Login(h, pkcs11.CKU_USER, "wrong-pin")
		want, wantFlags := uint(pkcs11.CKR_PIN_INCORRECT), uint(pkcs11.CKF_USER_PIN_COUNT_LOW)
		switch i {
		case MaxTries - 1:
			wantFlags |= pkcs11.CKF_USER_PIN_FINAL_TRY
		case MaxTries:
			want, wantFlags = pkcs11.CKR_PIN_LOCKED, wantFlags|pkcs11.CKF_USER_PIN_LOCKED
		}
		if !isRV(err, want) {
			t.Fatalf("wrong PIN %d: %v, want 0x%x", i, err, want)
		}
		if f := flags(t, slot); f != wantFlags {
			t.Fatalf("after wrong PIN %d flags %#x, want %#x", i, f, wantFlags)
		}
		if i == 2 { // the count is on the token, not in this process
			must(t, ctx.Finalize())
			must(t, ctx.Initialize())
			var err error
			h, err = ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
			must(t, err)
		}
	}
	if err := ctx.Login(h, pkcs11.CKU_USER, tok.UserPIN); !isRV(err, pkcs11.CKR_PIN_LOCKED) {
		t.Fatalf("right PIN on a locked token: %v, want CKR_PIN_LOCKED", err)
	}
	must(t, ctx.Login(h, pkcs11.CKU_SO, tok.SOPIN))
	must(t, ctx.InitPIN(h, "654321"))
	must(t, ctx.Logout(h))
	if f := flags(t, slot); f != pkcs11.CKF_USER_PIN_TO_BE_CHANGED {
		t.Fatalf("after the SO set the PIN flags %#x, want only TO_BE_CHANGED", f)
	}
	must(t, ctx.Login(h, pkcs11.CKU_USER, "654321"))
	must(t, ctx.SetPIN(h, "654321", "24680135"))
	if f := flags(t, slot); f != 0 {
		t.Fatalf("after the user changed the PIN flags %#x, want none", f)
	}
	// One wrong PIN, then the right one: the count starts again.
	must(t, ctx.Logout(h))
	if err := ctx.Login(h, pkcs11.CKU_USER, "wrong-pin"); !isRV(err, pkcs11.CKR_PIN_INCORRECT) {
		t.Fatal(err)
	}
	must(t, ctx.Login(h, pkcs11.CKU_USER, "24680135"))
	if f := flags(t, slot); f != 0 {
		t.Fatalf("after the right PIN flags %#x, want none", f)
	}
}

// Objects are kept in the folder's state file: data objects and certificates come back after
// the module is finalised, and a destroyed one does not.
func TestObjectsPersist(t *testing.T) {
	tok := New(t)
	_, h := open(t, tok)
	must(t, ctx.Login(h, pkcs11.CKU_USER, tok.UserPIN))
	seal := make([]byte, 300)
	rand.Read(seal)
	data := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "SESeal"),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, seal),
	}
	oh, err := ctx.CreateObject(h, data)
	must(t, err)
	tmp, err := ctx.CreateObject(h, append(data[:2:2], pkcs11.NewAttribute(pkcs11.CKA_LABEL, "scratch")))
	must(t, err)
	must(t, ctx.DestroyObject(h, tmp))
	must(t, ctx.Finalize())
	must(t, ctx.Initialize())
	slots, err := ctx.GetSlotList(true)
	must(t, err)
	h, err = ctx.OpenSession(slots[0], pkcs11.CKF_SERIAL_SESSION)
	must(t, err)
	must(t, ctx.FindObjectsInit(h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA)}))
	found, _, err := ctx.FindObjects(h, 10)
	must(t, err)
	must(t, ctx.FindObjectsFinal(h))
	if len(found) != 1 || found[0] != oh {
		t.Fatalf("data objects after re-initialising: %v, want [%d]", found, oh)
	}
	v, err := ctx.GetAttributeValue(h, oh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
	must(t, err)
	if !bytes.Equal(v[0].Value, seal) {
		t.Fatal("the data object's value changed")
	}
}

func isRV(err error, rv uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == rv
}

// The seal certificate New stores is an SM2-with-SM3 certificate that tjfoc x509 reads from the
// token and chains to the test CA (a certificate whose template named no signature algorithm
// did not); a certificate from another CA does not chain.
func TestCertificateChainsUnderTjfoc(t *testing.T) {
	tok := New(t)
	_, h := open(t, tok)
	must(t, ctx.FindObjectsInit(h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE)}))
	found, _, err := ctx.FindObjects(h, 10)
	must(t, err)
	must(t, ctx.FindObjectsFinal(h))
	if len(found) != 1 {
		t.Fatalf("found %d certificates, want 1", len(found))
	}
	attrs, err := ctx.GetAttributeValue(h, found[0], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
	must(t, err)
	cert, err := gmx509.ParseCertificate(attrs[0].Value)
	must(t, err)
	if cert.SignatureAlgorithm != gmx509.SM2WithSM3 {
		t.Fatalf("signature algorithm %v, want SM2-with-SM3", cert.SignatureAlgorithm)
	}
	if err := cert.CheckSignatureFrom(tok.CA); err != nil {
		t.Fatalf("the certificate's signature does not verify under the CA: %v", err)
	}
	if err := gmseal.Chain(cert, []*gmx509.Certificate{tok.CA}, time.Now()); err != nil {
		t.Fatalf("chain: %v", err)
	}
	other, err := gmca.New("Another SM2 CA")
	must(t, err)
	if err := gmseal.Chain(cert, []*gmx509.Certificate{other.Cert}, time.Now()); err == nil {
		t.Fatal("the certificate chains to a CA that did not issue it")
	}
}

// SM2 decryption on the token (C_Decrypt, 04 || C1 || C3 || C2): the plaintext comes back after
// login, a changed byte is refused as invalid, and without login the key cannot be used.
func TestDecrypt(t *testing.T) {
	tok := New(t)
	_, h := open(t, tok)
	plain := []byte("sixteen byte key")
	ct, err := sm2.Encrypt(tok.Public, plain, rand.Reader, sm2.C1C3C2)
	must(t, err)
	must(t, ctx.Login(h, pkcs11.CKU_USER, tok.UserPIN))
	key := findKey(t, h)
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(CKMSM2Encrypt, nil)}
	must(t, ctx.DecryptInit(h, mech, key))
	got, err := ctx.Decrypt(h, ct)
	must(t, err)
	if !bytes.Equal(got, plain) {
		t.Fatalf("decrypted %q, want %q", got, plain)
	}
	bad := bytes.Clone(ct)
	bad[len(bad)-1] ^= 1
	must(t, ctx.DecryptInit(h, mech, key))
	if _, err := ctx.Decrypt(h, bad); !errors.Is(err, pkcs11.Error(pkcs11.CKR_ENCRYPTED_DATA_INVALID)) {
		t.Fatalf("changed ciphertext: %v, want CKR_ENCRYPTED_DATA_INVALID", err)
	}
	must(t, ctx.Logout(h))
	if err := ctx.DecryptInit(h, mech, key); err == nil {
		t.Fatal("the private key decrypts without login")
	}
}

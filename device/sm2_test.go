package device_test

// These tests load our own GM token (device/gmtoken) through the device package, as a vendor's
// module is loaded. SEALKEEPER_GMTOKEN_DIR is process-global: no t.Parallel.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	emsm2 "github.com/emmansun/gmsm/sm2"
	emx509 "github.com/emmansun/gmsm/smx509"
	"github.com/tjfoc/gmsm/sm2"
	gmx509 "github.com/tjfoc/gmsm/x509"

	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/gmtoken/gmtokentest"
)

// gmOpen opens the module on tok and finds the token.
func gmOpen(t *testing.T, tok *gmtokentest.Token) (*device.Module, device.TokenInfo) {
	t.Helper()
	m := tok.Open(t)
	toks, err := m.Tokens()
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 1 || toks[0].Serial != tok.Serial {
		t.Fatalf("tokens %+v, want the one with serial %s", toks, tok.Serial)
	}
	return m, toks[0]
}

func gmLogin(t *testing.T, tok *gmtokentest.Token) (*device.Module, *device.Session) {
	t.Helper()
	m, ti := gmOpen(t, tok)
	s, err := m.Login(ti, tok.UserPIN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// gmSign signs msg with the token's SM2 seal key through device's crypto.Signer.
func gmSign(t *testing.T, s *device.Session, msg []byte) []byte {
	t.Helper()
	k := seal(t, s, gmtokentest.KeyID)
	signer, err := s.Signer(k)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(rand.Reader, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// verifySM2 checks sig is DER SEQUENCE{r,s} and verifies over msg with the default user ID.
func verifySM2(t *testing.T, pub *sm2.PublicKey, msg, sig []byte) {
	t.Helper()
	r, s, err := sm2.SignDataToSignDigit(sig)
	if err != nil {
		t.Fatalf("signature %x is not DER SEQUENCE{r,s}: %v", sig, err)
	}
	if back, _ := sm2.SignDigitToSignData(r, s); !bytes.Equal(back, sig) {
		t.Fatalf("signature %x is not the DER encoding of its r and s", sig)
	}
	if !pub.Verify(msg, sig) || !sm2.Sm2Verify(pub, msg, []byte("1234567812345678"), r, s) {
		t.Fatal("the signature does not verify with tjfoc/gmsm and the default user ID")
	}
	// The independent second implementation (emmansun/gmsm) must agree.
	der, err := gmx509.MarshalSm2PublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := emx509.ParsePKIXPublicKey(der)
	em, ok := parsed.(*ecdsa.PublicKey)
	if err != nil || !ok {
		t.Fatalf("emmansun/gmsm reads the public key as %T, %v", parsed, err)
	}
	if !emsm2.VerifyASN1WithSM2(em, []byte("1234567812345678"), msg, sig) {
		t.Fatal("the signature verifies with tjfoc/gmsm but not with emmansun/gmsm")
	}
	if pub.Verify(append(msg, 0), sig) {
		t.Fatal("the signature verifies over another message")
	}
}

// An SM2 key on the token is a seal key like the others: listed with its SM2 certificate,
// before login too, and its signer's public key is the certificate's.
func TestSM2SealKey(t *testing.T) {
	tok := gmtokentest.New(t)
	m, ti := gmOpen(t, tok)
	pub, err := m.Certificates(ti)
	if err != nil {
		t.Fatal(err)
	}
	if len(pub) != 1 || pub[0].Cert == nil || !bytes.Equal(pub[0].Cert.Raw, tok.Cert.Raw) {
		t.Fatalf("certificates before login: %+v", pub)
	}
	if sum := pub[0].Summary(); sum.KeyAlgorithm != "SM2" || !strings.Contains(sum.Subject, "Test Seal SM2") {
		t.Errorf("summary %+v", sum)
	}
	s, err := m.Login(ti, tok.UserPIN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k := seal(t, s, gmtokentest.KeyID)
	if k.Cert == nil || device.KeyAlgorithm(k.Public) != "SM2" {
		t.Fatalf("seal key %+v", k)
	}
	signer, err := s.Signer(k)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := signer.Public().(*sm2.PublicKey); !ok || p.X.Cmp(tok.Public.X) != 0 || p.Y.Cmp(tok.Public.Y) != 0 {
		t.Fatalf("signer's public key %v is not the token's", signer.Public())
	}
	msg := []byte("a document's SES_Signature TBS_Sign")
	certKey, ok := k.Cert.PublicKey.(*sm2.PublicKey)
	if !ok {
		t.Fatalf("the certificate's key is a %T, want *sm2.PublicKey", k.Cert.PublicKey)
	}
	verifySM2(t, certKey, msg, gmSign(t, s, msg))
}

// Each way a token may sign gives a DER signature that verifies: a mechanism that hashes with
// Z on the token, raw SM2 over e computed on the host, and each answering r||s or DER.
func TestSM2MechanismPaths(t *testing.T) {
	for _, c := range []struct {
		name  string
		mechs []uint
	}{
		{"all offered", nil},
		{"Z on the token, DER", []uint{gmtokentest.CKMSM3SM2ZDER}},
		{"Z on the token, r||s", []uint{gmtokentest.CKMSM3SM2Z}},
		{"raw over host e, DER", []uint{gmtokentest.CKMSM2Sign}},
		{"raw over host e, r||s", []uint{gmtokentest.CKMSM2SignRaw}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var opts []gmtokentest.Option
			if c.mechs != nil {
				opts = append(opts, gmtokentest.Mechanisms(c.mechs...))
			}
			tok := gmtokentest.New(t, opts...)
			_, s := gmLogin(t, tok)
			for _, msg := range [][]byte{[]byte("short"), bytes.Repeat([]byte("PDF byte range "), 5000), {}} {
				verifySM2(t, tok.Public, msg, gmSign(t, s, msg))
			}
		})
	}
}

// A vendor table that calls a mechanism "hashes with Z" when it does not: the first signature
// fails the check, the mechanism is set aside, and the signer falls back to raw SM2.
func TestSM2WrongVendorTableFallsBack(t *testing.T) {
	tok := gmtokentest.New(t, gmtokentest.Mechanisms(gmtokentest.CKMSM2SignRaw, gmtokentest.CKMSM2Sign))
	m, s := gmLogin(t, tok)
	m.UseSM2Mechanisms(device.SM2Mechanisms{Vendor: "misdescribed", KeyType: gmtokentest.CKKSM2, SignWithZ: []uint{gmtokentest.CKMSM2SignRaw}})
	t.Cleanup(func() { m.UseSM2Mechanisms() })
	msg := bytes.Repeat([]byte{7}, 32) // raw SM2 takes it as e, so the token signs without error
	verifySM2(t, tok.Public, msg, gmSign(t, s, msg))
	verifySM2(t, tok.Public, msg, gmSign(t, s, msg))
}

func TestSM2NoKnownMechanism(t *testing.T) {
	tok := gmtokentest.New(t, gmtokentest.Mechanisms())
	_, s := gmLogin(t, tok)
	signer, err := s.Signer(seal(t, s, gmtokentest.KeyID))
	if err != nil {
		t.Fatal(err)
	}
	_, err = signer.Sign(rand.Reader, []byte("x"), nil)
	if !errors.Is(err, device.ErrUnsupported) || !strings.Contains(err.Error(), "[[device.sm2]]") || !strings.Contains(err.Error(), "SM2 seal") {
		t.Fatalf("signing on a token without SM2 signing mechanisms: %v", err)
	}
}

// Wrong PINs on the GM token, read through the device package: count low, final try, locked;
// then the right PIN is refused too.
func TestSM2TokenLockout(t *testing.T) {
	tok := gmtokentest.New(t)
	m, ti := gmOpen(t, tok)
	for i := 1; i <= gmtokentest.MaxTries; i++ {
		_, err := m.Login(ti, "999999")
		var pe *device.PINError
		if !errors.As(err, &pe) || !errors.Is(err, device.ErrWrongPIN) {
			t.Fatalf("wrong PIN %d: %v", i, err)
		}
		want := device.PINState{CountLow: true, FinalTry: i == gmtokentest.MaxTries-1, Locked: i == gmtokentest.MaxTries}
		if pe.After != want {
			t.Fatalf("after wrong PIN %d: %+v, want %+v", i, pe.After, want)
		}
		if errors.Is(err, device.ErrPINLocked) != want.Locked {
			t.Fatalf("wrong PIN %d: ErrPINLocked is %v, want %v: %v", i, errors.Is(err, device.ErrPINLocked), want.Locked, err)
		}
		switch {
		case want.Locked:
			if !strings.Contains(err.Error(), "PIN locked after too many wrong PINs") {
				t.Errorf("locking PIN: %q", err)
			}
		case want.FinalTry:
			if !strings.Contains(err.Error(), "final try: one more wrong PIN locks the key") {
				t.Errorf("final try: %q", err)
			}
		}
	}
	toks, err := m.Tokens()
	if err != nil || len(toks) != 1 || !toks[0].PIN.Locked {
		t.Fatalf("Tokens after locking: %+v %v", toks, err)
	}
	if _, err := m.Login(ti, tok.UserPIN); !errors.Is(err, device.ErrPINLocked) || !strings.Contains(err.Error(), "ask its issuer to unlock it") {
		t.Fatalf("right PIN on a locked key: %v", err)
	}
}

// The issuer's PIN (set by the SO) must be changed: the token says so, and ChangePIN clears it.
func TestSM2PINToBeChanged(t *testing.T) {
	tok := gmtokentest.New(t, gmtokentest.PINToBeChanged())
	m, ti := gmOpen(t, tok)
	if !ti.PIN.ToBeChanged || !strings.Contains(ti.PIN.String(), "the key asks for its PIN to be changed") {
		t.Fatalf("issued token's PIN state %+v", ti.PIN)
	}
	s, err := m.Login(ti, tok.UserPIN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.ChangePIN(tok.UserPIN, "86420975"); err != nil {
		t.Fatal(err)
	}
	if st := s.Token().PIN; !st.OK() {
		t.Fatalf("after the change: %+v", st)
	}
}

// An SM2 key made through the device package (as provisioning does) uses the vendor's key
// generation, and its public key, read back from the token, verifies its signatures.
func TestSM2GenerateKeyPair(t *testing.T) {
	tok := gmtokentest.New(t)
	_, s := gmLogin(t, tok)
	id := []byte{0x53, 0x4d, 0x32, 0x02}
	pk, err := s.GenerateKeyPair("sm2", "second SM2 key", id)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := pk.(*sm2.PublicKey)
	if !ok {
		t.Fatalf("new key's public key is a %T", pk)
	}
	k := seal(t, s, id)
	if k.Cert != nil || device.KeyAlgorithm(k.Public) != "SM2" {
		t.Fatalf("new key %+v", k)
	}
	signer, err := s.Signer(k)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("signed by the second key")
	sig, err := signer.Sign(rand.Reader, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	verifySM2(t, pub, msg, sig)
}

package device_test

// These tests run against a real SoftHSM2 module (device/softhsmtest). SOFTHSM2_CONF is
// process-global, so none of them may call t.Parallel.

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/softhsmtest"
)

func login(t *testing.T) (*softhsmtest.Token, *device.Module, *device.Session) {
	t.Helper()
	tok := softhsmtest.New(t)
	m := tok.Open(t)
	s, err := m.Login(tok.Info, tok.UserPIN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return tok, m, s
}

func seal(t *testing.T, s *device.Session, id []byte) device.SealKey {
	t.Helper()
	keys, err := s.Seals()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if bytes.Equal(k.ID, id) {
			return k
		}
	}
	t.Fatalf("no key with id %x among %d", id, len(keys))
	return device.SealKey{}
}

func TestTokensAndDiscovery(t *testing.T) {
	tok := softhsmtest.New(t)
	m := tok.Open(t)
	toks, err := m.Tokens()
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 1 {
		t.Fatalf("want 1 token, got %+v", toks)
	}
	ti := toks[0]
	if ti.Label != tok.Label || ti.Serial != tok.Serial || ti.Manufacturer == "" || ti.Model == "" {
		t.Errorf("token info %+v", ti)
	}
	if ti.PIN != (device.PINState{}) || ti.PIN.String() != "PIN ok" {
		t.Errorf("fresh token's PIN state %+v %q", ti.PIN, ti.PIN)
	}
	if w := ti.Flags.String(); !strings.Contains(w, "login required") || !strings.Contains(w, "user PIN set") {
		t.Errorf("flags in words: %q", w)
	}

	// Before login only certificates and public keys are visible.
	pub, err := m.Certificates(ti)
	if err != nil {
		t.Fatal(err)
	}
	if len(pub) != 2 || pub[0].Cert == nil || pub[1].Cert == nil {
		t.Fatalf("certificates before login: %+v", pub)
	}

	s, err := m.Login(ti, tok.UserPIN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys, err := s.Seals()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("want 2 seal keys, got %d", len(keys))
	}
	for _, k := range keys {
		var want = tok.RSACert
		alg := "RSA-2048"
		if bytes.Equal(k.ID, softhsmtest.ECKeyID) {
			want, alg = tok.ECCert, "ECDSA P-256"
		}
		if k.Cert == nil || !k.Cert.Equal(want) {
			t.Errorf("key %q paired with the wrong certificate", k.Label)
			continue
		}
		sum := k.Summary()
		if sum.Subject != want.Subject.String() || sum.Issuer != tok.CA.Subject.String() || sum.KeyAlgorithm != alg ||
			!sum.NotAfter.Equal(want.NotAfter) || sum.Serial == "" {
			t.Errorf("summary %+v", sum)
		}
	}
}

func TestWrongPIN(t *testing.T) {
	tok := softhsmtest.New(t)
	m := tok.Open(t)
	_, err := m.Login(tok.Info, "000000")
	if !errors.Is(err, device.ErrWrongPIN) {
		t.Fatalf("wrong PIN: got %v", err)
	}
	var pe *device.PINError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "wrong PIN") || !strings.Contains(err.Error(), tok.Label) {
		t.Errorf("error %q should say wrong PIN and name the key", err)
	}
	// Measured: SoftHSM 2.6 sets "count low" after a wrong PIN (and never final try or
	// locked); the error reports the change it read back from the token.
	if pe.Before.CountLow || !pe.After.CountLow || !strings.Contains(err.Error(), "now reports: a wrong PIN was entered") {
		t.Errorf("flags %+v -> %+v: %v", pe.Before, pe.After, err)
	}
	toks, err := m.Tokens()
	if err != nil || len(toks) != 1 || !toks[0].PIN.CountLow {
		t.Errorf("Tokens after a wrong PIN: %+v %v", toks, err)
	}
	s, err := m.Login(tok.Info, tok.UserPIN)
	if err != nil {
		t.Fatalf("right PIN after a wrong one: %v", err)
	}
	s.Close()
	toks, err = m.Tokens()
	if err != nil || len(toks) != 1 || !toks[0].PIN.OK() {
		t.Errorf("Tokens after the right PIN: %+v %v", toks, err)
	}
}

func TestChangePIN(t *testing.T) {
	tok, m, s := login(t)
	if err := s.ChangePIN("999999", "654321"); !errors.Is(err, device.ErrWrongPIN) {
		t.Fatalf("change with a wrong old PIN: %v", err)
	}
	if err := s.ChangePIN(tok.UserPIN, tok.UserPIN); err == nil {
		t.Fatal("changing to the same PIN was accepted")
	}
	if err := s.ChangePIN(tok.UserPIN, "654321"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := m.Login(tok.Info, tok.UserPIN); !errors.Is(err, device.ErrWrongPIN) {
		t.Fatalf("old PIN after change: %v", err)
	}
	s2, err := m.Login(tok.Info, "654321")
	if err != nil {
		t.Fatalf("new PIN: %v", err)
	}
	s2.Close()
}

func TestSignRSA(t *testing.T) {
	tok, _, s := login(t)
	k := seal(t, s, softhsmtest.RSAKeyID)
	signer, err := s.Signer(k)
	if err != nil {
		t.Fatal(err)
	}
	pub := tok.RSACert.PublicKey.(*rsa.PublicKey)
	msg := []byte("stamp this")
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		hh := h.New()
		hh.Write(msg)
		d := hh.Sum(nil)
		sig, err := signer.Sign(rand.Reader, d, h)
		if err != nil {
			t.Fatalf("PKCS#1 v1.5 %v: %v", h, err)
		}
		if err := rsa.VerifyPKCS1v15(pub, h, d, sig); err != nil {
			t.Errorf("PKCS#1 v1.5 %v does not verify: %v", h, err)
		}
		for _, salt := range []int{rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthAuto, 20} {
			sig, err := signer.Sign(rand.Reader, d, &rsa.PSSOptions{SaltLength: salt, Hash: h})
			if err != nil {
				t.Fatalf("PSS %v salt %d: %v", h, salt, err)
			}
			if err := rsa.VerifyPSS(pub, h, d, sig, &rsa.PSSOptions{SaltLength: salt}); err != nil {
				t.Errorf("PSS %v salt %d does not verify: %v", h, salt, err)
			}
		}
	}
	if _, err := signer.Sign(rand.Reader, make([]byte, 20), crypto.SHA1); err == nil {
		t.Error("SHA-1 was signed")
	}
	if _, err := signer.Sign(rand.Reader, make([]byte, 31), crypto.SHA256); err == nil {
		t.Error("a short digest was signed")
	}
}

func TestSignECDSA(t *testing.T) {
	tok, _, s := login(t)
	signer, err := s.Signer(seal(t, s, softhsmtest.ECKeyID))
	if err != nil {
		t.Fatal(err)
	}
	pub := tok.ECCert.PublicKey.(*ecdsa.PublicKey)
	d := sha256.Sum256([]byte("stamp this"))
	sig, err := signer.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(pub, d[:], sig) {
		t.Error("ECDSA SHA-256 signature (DER) does not verify")
	}
	d384 := sha512.Sum384([]byte("stamp this"))
	sig, err = signer.Sign(rand.Reader, d384[:], crypto.SHA384)
	if err != nil || !ecdsa.VerifyASN1(pub, d384[:], sig) {
		t.Errorf("ECDSA SHA-384: %v", err)
	}
	if _, err := signer.Sign(rand.Reader, d[:], &rsa.PSSOptions{Hash: crypto.SHA256}); err == nil {
		t.Error("PSS with an EC key was accepted")
	}
}

func TestDecryptOAEP(t *testing.T) {
	tok, _, s := login(t)
	dec, err := s.Decrypter(seal(t, s, softhsmtest.RSAKeyID))
	if err != nil {
		t.Fatal(err)
	}
	dataKey := []byte("0123456789abcdef0123456789abcdef")
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, tok.RSACert.PublicKey.(*rsa.PublicKey), dataKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dec.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
	switch {
	case errors.Is(err, device.ErrUnsupported):
		t.Logf("as measured, SoftHSM does not do OAEP with SHA-256: %v", err)
	case err != nil:
		t.Fatal(err)
	case !bytes.Equal(got, dataKey):
		t.Errorf("decrypted %x", got)
	}
	ct, err = rsa.EncryptOAEP(sha1.New(), rand.Reader, tok.RSACert.PublicKey.(*rsa.PublicKey), dataKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err = dec.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA1})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, dataKey) {
		t.Errorf("decrypted %x", got)
	}
}

func TestECDH(t *testing.T) {
	tok, _, s := login(t)
	e, err := s.ECDH(seal(t, s, softhsmtest.ECKeyID))
	if err != nil {
		t.Fatal(err)
	}
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tokPub, err := tok.ECCert.PublicKey.(*ecdsa.PublicKey).ECDH()
	if err != nil {
		t.Fatal(err)
	}
	if !e.Public().(*ecdh.PublicKey).Equal(tokPub) {
		t.Error("ECDH public key is not the certificate's")
	}
	want, err := eph.ECDH(tokPub)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.ECDH(eph.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("shared secret differs:\n token %x\n   go  %x", got, want)
	}
}

func TestRemovedMidSession(t *testing.T) {
	tok, _, s := login(t)
	k := seal(t, s, softhsmtest.ECKeyID)
	signer, err := s.Signer(k)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	if _, err := signer.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	tok.Remove()
	_, err = signer.Sign(rand.Reader, d[:], crypto.SHA256)
	if !errors.Is(err, device.ErrKeyRemoved) || !strings.Contains(err.Error(), "pulled out") {
		t.Fatalf("sign after removal: %v", err)
	}
	if _, err := s.Seals(); !errors.Is(err, device.ErrKeyRemoved) {
		t.Errorf("Seals after removal: %v", err)
	}
	if err := s.ChangePIN(tok.UserPIN, "777777"); !errors.Is(err, device.ErrKeyRemoved) {
		t.Errorf("ChangePIN after removal: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after removal: %v", err)
	}
}

func TestOpenModuleErrors(t *testing.T) {
	_, err := device.OpenModule("/nonexistent/libvendor-pkcs11.so")
	if err == nil || !strings.Contains(err.Error(), "could not be loaded") || !strings.Contains(err.Error(), "check [device] modules") {
		t.Errorf("missing module: %v", err)
	}
	notLib := t.TempDir() + "/not-a-library.so"
	if err := os.WriteFile(notLib, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := device.OpenModule(notLib); err == nil || !strings.Contains(err.Error(), "could not be loaded") {
		t.Errorf("not a library: %v", err)
	}
}

func TestTwoSessionsShareTheModule(t *testing.T) {
	tok := softhsmtest.New(t)
	m1 := tok.Open(t)
	m2 := tok.Open(t) // the same module, opened twice (the watcher and the ledger, say)
	if m1 != m2 {
		t.Fatal("OpenModule of the same path gave two modules")
	}
	a, err := m1.Login(tok.Info, tok.UserPIN)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m2.Login(tok.Info, tok.UserPIN)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Seals(); !errors.Is(err, device.ErrSessionClosed) {
		t.Errorf("closed session: %v", err)
	}
	// Closing one session did not log out the other.
	signer, err := b.Signer(seal(t, b, softhsmtest.ECKeyID))
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	if _, err := signer.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Errorf("the other session after Close: %v", err)
	}
	// A wrong PIN is checked even though the token is logged in already.
	if _, err := m1.Login(tok.Info, "000000"); !errors.Is(err, device.ErrWrongPIN) {
		t.Errorf("wrong PIN while logged in elsewhere: %v", err)
	}
	// ... which logs the other session out: it says so.
	if _, err := signer.Sign(rand.Reader, d[:], crypto.SHA256); !errors.Is(err, device.ErrSessionClosed) || !strings.Contains(err.Error(), "log in again") {
		t.Errorf("sign after a wrong PIN elsewhere: %v", err)
	}
}

func TestKeyWithoutCertificate(t *testing.T) {
	tok, _, s := login(t)
	id := []byte{0x99}
	pub, err := s.GenerateKeyPair("p256", "no cert yet", id)
	if err != nil {
		t.Fatal(err)
	}
	k := seal(t, s, id)
	if k.Cert != nil || k.Public == nil || !pub.(*ecdsa.PublicKey).Equal(k.Public) {
		t.Fatalf("key without certificate: cert %v, public %v", k.Cert, k.Public)
	}
	if sum := k.Summary(); sum.KeyAlgorithm != "ECDSA P-256" || sum.Subject != "" || !strings.Contains(sum.String(), "no certificate") {
		t.Errorf("summary %+v", sum)
	}
	keys, err := s.Seals()
	if err != nil || keys[len(keys)-1].Cert != nil {
		t.Errorf("keys with a certificate should come first: %v", err)
	}
	signer, err := s.Signer(k)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	sig, err := signer.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(k.Public.(*ecdsa.PublicKey), d[:], sig) {
		t.Errorf("signature with the public key object's key: %v", err)
	}
	if err := s.StoreCertificate(id, "wrong", tok.ECCert); err == nil || !strings.Contains(err.Error(), "not for key") {
		t.Errorf("storing another key's certificate: %v", err)
	}
}

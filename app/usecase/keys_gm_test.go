package usecase_test

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tjfoc/gmsm/sm2"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/gmtoken/gmtokentest"
)

// startGM runs the key use case over a GM token (our own PKCS#11 module with an SM2 seal key).
func startGM(t *testing.T, opts ...gmtokentest.Option) (*gmtokentest.Token, *usecase.Keys) {
	t.Helper()
	tok := gmtokentest.New(t, opts...)
	k, _ := runKeys(t, tok.Open(t), usecase.KeysConfig{Now: time.Now})
	return tok, k
}

// The key screen's lockout path on a token that counts PINs for real: each wrong PIN shows the
// token's new state (count low, final try, locked), the locking one too, and then even the right
// PIN is refused as locked.
func TestGMTokenLockout(t *testing.T) {
	tok, k := startGM(t)
	if s := waitPhase(t, k, usecase.KeyPresent); !s.Token.PIN.OK() {
		t.Fatalf("fresh GM token's PIN state %+v", s.Token.PIN)
	}
	for i := 1; i <= gmtokentest.MaxTries; i++ {
		err := k.Login("999999")
		if !errors.Is(err, usecase.ErrWrongPIN) {
			t.Fatalf("wrong PIN %d: %v, want ErrWrongPIN", i, err)
		}
		if kind, _ := usecase.Explain(err); kind != usecase.ProblemWrongPIN {
			t.Fatalf("wrong PIN %d explained as %q", i, kind)
		}
		st := k.State()
		want := device.PINState{CountLow: true, FinalTry: i == gmtokentest.MaxTries-1, Locked: i == gmtokentest.MaxTries}
		if st.Phase != usecase.KeyPresent || st.Token.PIN != want {
			t.Fatalf("after wrong PIN %d: phase %v, PIN %+v; want key present, %+v", i, st.Phase, st.Token.PIN, want)
		}
		words := st.Token.PIN.String()
		switch {
		case want.Locked:
			if !strings.Contains(words, "PIN locked") || !errors.Is(err, usecase.ErrWrongPIN) || !errors.Is(err, device.ErrPINLocked) {
				t.Fatalf("locking PIN: state %q, error %v", words, err)
			}
		case want.FinalTry:
			if !strings.Contains(words, "final try") {
				t.Fatalf("final try shown as %q", words)
			}
		default:
			if !strings.Contains(words, "a wrong PIN was entered") {
				t.Fatalf("count low shown as %q", words)
			}
		}
	}
	err := k.Login(tok.UserPIN)
	if kind, _ := usecase.Explain(err); kind != usecase.ProblemPINLocked {
		t.Fatalf("right PIN on the locked key: %v (kind %q), want %q", err, kind, usecase.ProblemPINLocked)
	}
	if st := k.State(); st.Phase != usecase.KeyPresent || !st.Token.PIN.Locked {
		t.Fatalf("after the right PIN on the locked key: %+v", st)
	}
}

// A GM token as its issuer hands it over asks for its PIN to be changed: the use case forces the
// change before the SM2 seal signs, and after it the seal signs SM2 that verifies.
func TestGMTokenPINToBeChangedThenSign(t *testing.T) {
	tok, k := startGM(t, gmtokentest.PINToBeChanged())
	if s := waitPhase(t, k, usecase.KeyPresent); !s.Token.PIN.ToBeChanged {
		t.Fatalf("issued token's PIN state %+v", s.Token.PIN)
	}
	if err := k.Login(tok.UserPIN); err != nil {
		t.Fatal(err)
	}
	s := k.State()
	if s.PINChange.Kind != usecase.PINChangeByToken {
		t.Fatalf("PIN change %+v, want the token asking", s.PINChange)
	}
	if s.Seal == nil || s.Seal.KeyAlgorithm != "SM2" || !s.Seal.ValidNow || !strings.Contains(s.Seal.Subject, "Test Seal SM2") {
		t.Fatalf("seal %+v, want the SM2 certificate, valid now", s.Seal)
	}
	if _, _, err := k.Signer(); err == nil {
		t.Fatal("the seal signs before the PIN is changed")
	}
	if err := k.ChangePIN(tok.UserPIN, "13572468"); err != nil {
		t.Fatal(err)
	}
	signer, cert, err := k.Signer()
	if err != nil {
		t.Fatal(err)
	}
	if cert == nil || string(cert.Raw) != string(tok.Cert.Raw) {
		t.Fatal("the signer's certificate is not the token's SM2 certificate")
	}
	msg := []byte("TBS_Sign of a GM seal")
	sig, err := signer.Sign(rand.Reader, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Public.Verify(msg, sig) {
		t.Fatal("the SM2 signature does not verify with tjfoc/gmsm")
	}
	if _, ok := signer.Public().(*sm2.PublicKey); !ok {
		t.Fatalf("signer's public key is a %T", signer.Public())
	}
}

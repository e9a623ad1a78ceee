package usecase_test

import (
	"crypto/rand"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tjfoc/gmsm/sm2"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/gmtoken/gmtokentest"
	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
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

// A ledger whose only custodian slot is an SM2 key's: logging in to the GM token opens it by
// SM2 decryption on the token, what the key does is recorded in the chain (not only sealed while
// locked), and logging out locks it again.
func TestGMTokenUnlocksLedger(t *testing.T) {
	tok := gmtokentest.New(t)
	m := tok.Open(t)
	path := filepath.Join(t.TempDir(), ledger.FileName)
	led, err := ledger.Create(path, []ledger.Recipient{{Public: tok.Public, Role: keyslot.RoleCustodian, Label: "张伟"}},
		ledger.Options{Workstation: "WS-1", Check: ledger.CheckFile})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	slots, err := led.Slots()
	if err != nil || len(slots) != 1 || slots[0].Alg != keyslot.AlgSM2 {
		t.Fatalf("slots %+v, %v; want one SM2 slot", slots, err)
	}
	led.Lock()
	k, _ := runKeys(t, m, usecase.KeysConfig{Now: time.Now, Ledger: led, Workstation: "WS-1"})
	waitPhase(t, k, usecase.KeyPresent)
	if err := k.Login(tok.UserPIN); err != nil {
		t.Fatal(err)
	}
	if !led.Unlocked() {
		t.Fatal("login to the GM token did not open the ledger's SM2 key slot")
	}
	var kinds []ledger.Kind
	if err := led.Records(1, func(r ledger.Record) error { kinds = append(kinds, r.Kind); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(kinds, ledger.KindLoginOK) {
		t.Fatalf("records %v: no login.ok in the chain", kinds)
	}
	k.Logout()
	if led.Unlocked() {
		t.Fatal("the ledger stayed unlocked after logging out of the GM key")
	}
}

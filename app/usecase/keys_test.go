package usecase_test

import (
	"context"
	"crypto"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/softhsmtest"
	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/pinages"
)

// start makes a SoftHSM token and runs the key use case over it, polling fast.
func start(t *testing.T, policy device.PINPolicy, now func() time.Time) (*softhsmtest.Token, *usecase.Keys, *pinages.Ages) {
	t.Helper()
	tok := softhsmtest.New(t)
	k, ages := runKeys(t, tok.Open(t), usecase.KeysConfig{Policy: policy, SealKeyID: "454301" /* the P-256 key */, Now: now})
	return tok, k, ages
}

// runKeys runs the key use case over module m with cfg (custodian 张伟, fresh PIN ages), polling
// fast, until the test ends.
func runKeys(t *testing.T, m *device.Module, cfg usecase.KeysConfig) (*usecase.Keys, *pinages.Ages) {
	t.Helper()
	ages, err := pinages.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Watch = device.WatchConfig{Modules: []*device.Module{m}, Interval: 50 * time.Millisecond, NoUSB: true}
	cfg.Ages, cfg.Custodian = ages, "张伟"
	k := usecase.NewKeys(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; k.Close() })
	return k, ages
}

func waitPhase(t *testing.T, k *usecase.Keys, want usecase.KeyPhase) usecase.KeyState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s := k.State(); s.Phase == want {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("phase is %v after 10 s, want %v", k.State().Phase, want)
	return usecase.KeyState{}
}

func TestKeyLifecycle(t *testing.T) {
	tok, k, _ := start(t, device.PINPolicy{}, nil)
	s := waitPhase(t, k, usecase.KeyPresent)
	if s.Token.Serial != tok.Serial {
		t.Fatalf("present token serial %q, want %q", s.Token.Serial, tok.Serial)
	}
	if _, _, err := k.Signer(); err == nil {
		t.Fatal("Signer before login succeeded")
	}

	err := k.Login("000000")
	if !errors.Is(err, usecase.ErrWrongPIN) {
		t.Fatalf("wrong PIN: %v, want ErrWrongPIN", err)
	}
	if k.State().Phase != usecase.KeyPresent {
		t.Fatal("a wrong PIN logged in")
	}

	if err := k.Login(tok.UserPIN); err != nil {
		t.Fatal(err)
	}
	s = k.State()
	if s.Phase != usecase.LoggedIn || s.Custodian != "张伟" {
		t.Fatalf("after login: %+v", s)
	}
	if s.Seal == nil || s.Seal.Serial == "" || !s.Seal.ValidNow || s.Seal.KeyAlgorithm == "" {
		t.Fatalf("seal summary %+v; want the P-256 certificate, valid now", s.Seal)
	}
	signer, cert, err := k.Signer()
	if err != nil {
		t.Fatal(err)
	}
	if cert.SerialNumber.Cmp(tok.ECCert.SerialNumber) != 0 {
		t.Fatalf("signer's certificate serial %X, want the EC seal's %X", cert.SerialNumber, tok.ECCert.SerialNumber)
	}

	if _, err := signer.Sign(nil, make([]byte, 32), nil); err == nil {
		t.Error("Sign with no hash given succeeded; want an error saying which to pass")
	}

	var told atomic.Int32 // subscribers run on the watcher's goroutine
	k.Subscribe(func(usecase.KeyState) { told.Add(1) })
	tok.Remove()
	s = waitPhase(t, k, usecase.NoKey)
	if !s.Removed {
		t.Error("state after pulling the key while logged in does not say it was removed")
	}
	if _, _, err := k.Signer(); err == nil {
		t.Error("Signer still works after the key was pulled")
	}
	// The signer handed out before removal must fail cleanly, not sign.
	if _, err := signer.Sign(nil, make([]byte, 32), crypto.SHA256); err == nil {
		t.Error("a signer from the pulled key still signed")
	}
	for deadline := time.Now().Add(5 * time.Second); told.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if told.Load() == 0 {
		t.Error("subscribers were not told of the removal")
	}

	tok.Insert()
	waitPhase(t, k, usecase.KeyPresent)
}

func TestForcedPINChange(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tok, k, ages := start(t, device.PINPolicy{ChangeInitial: true, MaxAge: 60 * 24 * time.Hour}, clock)
	waitPhase(t, k, usecase.KeyPresent)
	if err := k.Login(tok.UserPIN); err != nil {
		t.Fatal(err)
	}
	if got := k.State().PINChange.Kind; got != device.InitialPIN {
		t.Fatalf("first login: PIN change %v, want InitialPIN", got)
	}
	if _, _, err := k.Signer(); err == nil {
		t.Fatal("the seal signs before the initial PIN is changed")
	}
	if err := k.ChangePIN("999999", "24681357"); !errors.Is(err, usecase.ErrWrongPIN) {
		t.Fatalf("change with a wrong old PIN: %v, want ErrWrongPIN", err)
	}
	if err := k.ChangePIN(tok.UserPIN, "24681357"); err != nil {
		t.Fatal(err)
	}
	if got := k.State().PINChange.Kind; got != device.NoChange {
		t.Fatalf("after the change: %v, want no change due", got)
	}
	if last, ok := ages.LastChanged(tok.Serial); !ok || !last.Equal(now) {
		t.Fatalf("PIN age record = %v, %v; want %v", last, ok, now)
	}
	if _, _, err := k.Signer(); err != nil {
		t.Fatal(err)
	}

	// 61 days later the PIN is too old.
	k.Logout()
	now = now.Add(61 * 24 * time.Hour)
	if err := k.Login(tok.UserPIN); !errors.Is(err, usecase.ErrWrongPIN) {
		t.Fatalf("old PIN after the change: %v, want ErrWrongPIN", err)
	}
	if err := k.Login("24681357"); err != nil {
		t.Fatal(err)
	}
	if got := k.State().PINChange.Kind; got != device.PINTooOld {
		t.Fatalf("after 61 days: %v, want PINTooOld", got)
	}
}

// TestKeyEventsGoToTheLedger checks that the key's life is written to a real ledger, that a
// login unlocks the ledger through the token's own key slot, and that the PIN never appears.
func TestKeyEventsGoToTheLedger(t *testing.T) {
	tok := softhsmtest.New(t)
	m := tok.Open(t)
	path := filepath.Join(t.TempDir(), "ledger.db")
	led, err := ledger.Create(path, []ledger.Recipient{{Public: tok.ECCert.PublicKey, Role: keyslot.RoleCustodian, Label: "张伟"}},
		ledger.Options{Workstation: "WS-1", Check: ledger.CheckFile})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	led.Lock()
	ages, _ := pinages.Load(t.TempDir())
	k := usecase.NewKeys(usecase.KeysConfig{
		Watch: device.WatchConfig{Modules: []*device.Module{m}, Interval: 50 * time.Millisecond, NoUSB: true},
		Ages:  ages, Custodian: "张伟", SealKeyID: "454301", Ledger: led, Workstation: "WS-1", Host: "host-1",
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; k.Close() }()

	waitPhase(t, k, usecase.KeyPresent)
	if err := k.Login("000000"); err == nil {
		t.Fatal("wrong PIN accepted")
	}
	if led.Unlocked() {
		t.Fatal("a wrong PIN unlocked the ledger")
	}
	if err := k.Login(tok.UserPIN); err != nil {
		t.Fatal(err)
	}
	if !led.Unlocked() {
		t.Fatal("login did not unlock the ledger with the token's key slot")
	}
	tok.Remove()
	waitPhase(t, k, usecase.NoKey)
	if led.Unlocked() {
		t.Fatal("the ledger stayed unlocked after the key was pulled")
	}

	// Events written while the ledger is locked wait sealed to the slots' public keys; the
	// next login folds them into the chain, so everything reads back in order.
	tok.Insert()
	waitPhase(t, k, usecase.KeyPresent)
	if err := k.Login(tok.UserPIN); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	if err := led.Records(1, func(r ledger.Record) error {
		kinds = append(kinds, string(r.Kind))
		if strings.Contains(string(r.Raw), tok.UserPIN) || strings.Contains(string(r.Raw), "000000") {
			t.Errorf("record %d holds a PIN: %s", r.Seq, r.Raw)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(kinds, " ")
	for _, want := range []string{"key.inserted", "login.failed", "login.ok", "key.removed"} {
		if !strings.Contains(got, want) {
			t.Errorf("ledger kinds %q lack %s", got, want)
		}
	}
	if strings.Index(got, "login.failed") > strings.Index(got, "login.ok") {
		t.Errorf("ledger order %q: the failed login must come before the good one", got)
	}
}

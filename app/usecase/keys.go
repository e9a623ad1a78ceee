package usecase

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	gmx509 "github.com/tjfoc/gmsm/x509"

	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/pinages"
)

// KeysConfig wires the key use case to the device layer.
type KeysConfig struct {
	Watch  device.WatchConfig // the modules in it are opened and closed by the caller
	Policy device.PINPolicy
	Ages   *pinages.Ages // when each token's PIN was last changed (never the PIN)
	// Custodian is the name shown once logged in (from the configuration or the roster).
	Custodian string
	// SealKeyID (hex CKA_ID) or SealKeyLabel picks the seal when a token holds several keys.
	SealKeyID, SealKeyLabel string
	Log                     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Ledger records every key event (docs/rules.md 12-13); nil records nothing (tests of the key
	// alone). Login unlocks it with the seal key's slot, removal and logout lock it again.
	Ledger *ledger.Ledger
	// Workstation and Host say where, in the ledger's records.
	Workstation, Host string
	// Anchors are the trusted CA certificates; Seal builds the seal's chain from them.
	Anchors []*x509.Certificate
	// Alarms records abnormal key events (repeated wrong PINs); nil makes one over Ledger.
	Alarms *Alarms
	// MaxWrongPINs is how many wrong PINs in a row on one key raise an alarm (0: 3).
	MaxWrongPINs int
	// GMAnchors are the trusted SM2 CAs of GM seals (signers and seal makers), for Desk.Verify.
	GMAnchors []*gmx509.Certificate
	// GMSeal makes the stamp engine's GM request for an SM2 seal from its certificate (DER):
	// the configured mode and seal file ([seal] gm_mode, gm_seal: workspace.GMSeal); nil when
	// the configuration makes no GM seal. Without it an SM2 key cannot stamp.
	GMSeal func(certDER []byte) (*stamp.GM, error)
}

// DefaultMaxWrongPINs is how many wrong PINs in a row raise an alarm (RULES.md 13).
const DefaultMaxWrongPINs = 3

// Keys follows the seal key from insertion to login and back: it consumes the device watcher's
// events, holds the PKCS#11 session while the custodian is logged in, and ends it the moment
// the key is pulled out.
type Keys struct {
	cfg KeysConfig
	log *slog.Logger

	mu    sync.Mutex
	state KeyState
	subs  []func(KeyState)
	sess  *device.Session
	seal  *device.SealKey
	wrong map[string]int // wrong PINs in a row, by token serial, in this run (without Ages)
}

// NewKeys makes the use case; Run starts watching.
func NewKeys(cfg KeysConfig) *Keys {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Alarms == nil {
		cfg.Alarms = NewAlarms(cfg.Ledger, cfg.Log)
	}
	if cfg.MaxWrongPINs <= 0 {
		cfg.MaxWrongPINs = DefaultMaxWrongPINs
	}
	return &Keys{cfg: cfg, log: cfg.Log, wrong: map[string]int{}}
}

// Run follows the device watcher until ctx ends.
func (k *Keys) Run(ctx context.Context) {
	for ev := range device.Watch(ctx, k.cfg.Watch) {
		k.handle(ev)
	}
}

func (k *Keys) handle(ev device.Event) {
	k.mu.Lock()
	s := &k.state
	if ev.Note != "" || ev.Kind == device.Status {
		s.USBNote = ev.Note
	}
	switch ev.Kind {
	case device.Inserted:
		if s.Phase == NoKey {
			k.log.Info("seal key inserted", "token", ev.Token.Label, "serial", ev.Token.Serial)
			s.Phase, s.Token, s.Removed = KeyPresent, ev.Token, false
			defer k.record(ledger.KindKeyInserted, ev.Token, "")
		}
	case device.Changed:
		if s.Phase != NoKey && sameToken(s.Token, ev.Token) {
			s.Token = ev.Token
		}
	case device.Removed:
		if s.Phase != NoKey && sameToken(s.Token, ev.Token) {
			k.log.Info("seal key removed", "token", ev.Token.Label, "serial", ev.Token.Serial, "was_logged_in", s.Phase == LoggedIn)
			wasIn := s.Phase == LoggedIn
			k.endSession()
			defer k.record(ledger.KindKeyRemoved, ev.Token, "")
			*s = KeyState{Phase: NoKey, Removed: wasIn, USBNote: s.USBNote}
		}
	}
	k.unlockAndNotify()
}

func sameToken(a, b device.TokenInfo) bool {
	return a.Module == b.Module && a.Serial == b.Serial && a.Label == b.Label
}

// record writes an event to the ledger. Failing to record is logged, not returned: the event
// itself (a key pulled out, a wrong PIN) has happened either way, and the ledger's own checks
// raise the alarm if its file is in trouble.
func (k *Keys) record(kind ledger.Kind, tok device.TokenInfo, reason string) {
	if k.cfg.Ledger == nil {
		return
	}
	r := ledger.Record{Kind: kind, Time: k.cfg.Now(), Workstation: k.cfg.Workstation, Host: k.cfg.Host,
		Token: tok.Serial, Reason: reason}
	if kind == ledger.KindLoginOK || kind == ledger.KindPINChanged {
		r.Custodian = k.cfg.Custodian
	}
	if err := k.cfg.Ledger.Note(r); err != nil {
		k.log.Error("writing to the ledger", "kind", string(kind), "error", err.Error())
	}
}

// State is the current snapshot.
func (k *Keys) State() KeyState {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.state
}

// Subscribe calls fn after every change, from the goroutine that made it.
func (k *Keys) Subscribe(fn func(KeyState)) {
	k.mu.Lock()
	k.subs = append(k.subs, fn)
	k.mu.Unlock()
}

// unlockAndNotify releases k.mu and tells subscribers, outside the lock so they may call back.
func (k *Keys) unlockAndNotify() {
	s, subs := k.state, append([]func(KeyState){}, k.subs...)
	k.mu.Unlock()
	for _, fn := range subs {
		fn(s)
	}
}

func (k *Keys) module(path string) (*device.Module, error) {
	for _, m := range k.cfg.Watch.Modules {
		if m.Path() == path {
			return m, nil
		}
	}
	return nil, fmt.Errorf("the seal key's PKCS#11 module %s is no longer open", path)
}

// Login checks the PIN on the present key. A wrong PIN returns an error wrapping ErrWrongPIN and
// the state then shows the token's PIN flags as they are after the attempt.
func (k *Keys) Login(pin string) error {
	k.mu.Lock()
	if k.state.Phase != KeyPresent {
		phase := k.state.Phase
		k.mu.Unlock()
		if phase == LoggedIn {
			return errors.New("already logged in")
		}
		return errors.New("no seal key is plugged in")
	}
	tok := k.state.Token
	k.mu.Unlock()

	m, err := k.module(tok.Module)
	if err != nil {
		return err
	}
	// The PKCS#11 call runs without k.mu: a token can take a second, and a removal event must
	// still get through meanwhile.
	sess, err := m.Login(tok, pin)
	if err != nil {
		var pe *device.PINError
		k.mu.Lock()
		if errors.As(err, &pe) && k.state.Phase == KeyPresent {
			k.state.Token.PIN = pe.After
		}
		k.log.Warn("login failed", "token", tok.Label, "serial", tok.Serial, "error", err.Error())
		k.unlockAndNotify()
		k.record(ledger.KindLoginFailed, tok, err.Error())
		n := 0
		if errors.Is(err, device.ErrWrongPIN) || errors.Is(err, device.ErrPINLocked) {
			n = k.countWrong(tok.Serial)
		}
		if n > 0 && n%k.cfg.MaxWrongPINs == 0 {
			k.cfg.Alarms.Raise(ledger.Record{Alarm: AlarmWrongPINs, Token: tok.Serial, Time: k.cfg.Now(),
				Workstation: k.cfg.Workstation, Host: k.cfg.Host,
				Detail: fmt.Sprintf("%d wrong PINs in a row on the seal key %q (serial %s); the last said: %v", n, tok.Label, tok.Serial, err)})
		}
		return err
	}
	seal, serr := k.pickSeal(sess)
	// The ledger is unlocked before the PIN policy is checked: the last PIN change is read
	// from it.
	k.unlockLedger(sess, seal)
	history := k.pinHistory()

	k.mu.Lock()
	if k.state.Phase != KeyPresent || !sameToken(k.state.Token, tok) {
		// The key went away while the PIN was being checked.
		if k.cfg.Ledger != nil && k.sess == nil {
			k.cfg.Ledger.Lock()
		}
		k.mu.Unlock()
		sess.Close()
		return fmt.Errorf("%w: %q was pulled out while logging in", device.ErrKeyRemoved, tok.Name())
	}
	k.sess, k.seal = sess, seal
	delete(k.wrong, tok.Serial)
	if err := k.cfg.Ages.LoggedIn(tok.Serial); err != nil {
		k.log.Error("wrong PINs", "error", err.Error())
	}
	s := &k.state
	s.Phase, s.Custodian, s.Token = LoggedIn, k.cfg.Custodian, sess.Token()
	if seal != nil {
		now := k.cfg.Now()
		v := &SealView{CertSummary: seal.Summary(), ValidNow: seal.Cert != nil && checkValidity(seal.Cert, now) == nil}
		v.ExpiresSoon = v.ValidNow && seal.Cert.NotAfter.Sub(now) < CertWarnBefore
		s.Seal = v
	}
	_, s.PINChange = k.cfg.Policy.Check(s.Token, history, k.cfg.Now())
	k.log.Info("login ok", "token", tok.Label, "serial", tok.Serial, "pin_change", s.PINChange.Kind != device.NoChange)
	if serr != nil {
		k.log.Warn("no seal on the key", "token", tok.Label, "error", serr.Error())
	}
	k.unlockAndNotify()
	k.record(ledger.KindLoginOK, tok, "")
	return nil
}

// countWrong counts a wrong PIN on the token and returns how many in a row: across runs
// (the command line's and the window's) in the PIN ages file, since the ledger's login.failed
// records are sealed until the next login; in this run only when there is no such file.
func (k *Keys) countWrong(serial string) int {
	if k.cfg.Ages != nil {
		n, err := k.cfg.Ages.WrongPIN(serial)
		if err == nil {
			return n
		}
		k.log.Error("wrong PINs", "error", err.Error())
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.wrong[serial]++
	return k.wrong[serial]
}

// unlockLedger opens the ledger's key slot with the seal key: ECDH for an EC key, RSA-OAEP for
// an RSA one, SM2 decryption on the token for an SM2 one. A custodian without a slot can still log in (the events are sealed to the slots'
// public keys until someone who has one logs in); the log says a handover is due.
func (k *Keys) unlockLedger(sess *device.Session, seal *device.SealKey) {
	if k.cfg.Ledger == nil || seal == nil {
		return
	}
	h, err := sess.Holder(*seal)
	if err == nil {
		err = k.cfg.Ledger.Unlock(h)
	}
	if err != nil {
		k.log.Warn("the ledger stays locked for this custodian", "error", err.Error())
		return
	}
	// Checkpoints are signed by the logged-in custodian's seal key from now until logout.
	signer, err := sess.Signer(*seal)
	if err == nil {
		err = k.cfg.Ledger.SetSigner(signer)
	}
	if err != nil {
		k.log.Warn("the ledger's checkpoints stay unsigned for this session", "error", err.Error())
	}
}

// pickSeal finds the configured seal key, or the first key with a certificate.
func (k *Keys) pickSeal(sess *device.Session) (*device.SealKey, error) {
	keys, err := sess.Seals()
	if err != nil {
		return nil, err
	}
	var want []byte
	if k.cfg.SealKeyID != "" {
		if want, err = hex.DecodeString(k.cfg.SealKeyID); err != nil {
			return nil, fmt.Errorf("configured seal key_id %q is not hex", k.cfg.SealKeyID)
		}
	}
	for i := range keys {
		c := &keys[i]
		switch {
		case want != nil && bytes.Equal(c.ID, want),
			want == nil && k.cfg.SealKeyLabel != "" && c.Label == k.cfg.SealKeyLabel,
			want == nil && k.cfg.SealKeyLabel == "" && c.Cert != nil:
			return c, nil
		}
	}
	return nil, errors.New("no seal certificate on the key matches the configuration")
}

// ChangePIN changes the PIN of the logged-in key and records the date (not the PIN) for the
// policy's age check.
func (k *Keys) ChangePIN(oldPIN, newPIN string) error {
	k.mu.Lock()
	sess, tok := k.sess, k.state.Token
	k.mu.Unlock()
	if sess == nil {
		return errors.New("log in before changing the PIN")
	}
	if err := sess.ChangePIN(oldPIN, newPIN); err != nil {
		k.log.Warn("PIN change failed", "token", tok.Label, "serial", tok.Serial, "error", err.Error())
		return err
	}
	now := k.cfg.Now()
	// The ledger's pin.changed record is the date the policy reads; the side file only serves
	// where there is no readable ledger.
	if k.cfg.Ages != nil {
		if err := k.cfg.Ages.Record(tok.Serial, now); err != nil {
			k.log.Error("recording the PIN change date", "error", err.Error())
		}
	}
	k.log.Info("PIN changed", "token", tok.Label, "serial", tok.Serial)
	k.record(ledger.KindPINChanged, tok, "")
	info := sess.Token()
	_, pc := k.cfg.Policy.Check(info, k.pinHistory(), now)
	k.mu.Lock()
	if k.sess == sess {
		k.state.Token, k.state.PINChange = info, pc
	}
	k.unlockAndNotify()
	return nil
}

// Logout ends the session; the key stays present.
func (k *Keys) Logout() {
	k.mu.Lock()
	if k.state.Phase != LoggedIn {
		k.mu.Unlock()
		return
	}
	k.endSession()
	k.state = KeyState{Phase: KeyPresent, Token: k.state.Token, USBNote: k.state.USBNote}
	k.log.Info("logged out", "token", k.state.Token.Label)
	k.unlockAndNotify()
}

// endSession closes the PKCS#11 session and locks the ledger; k.mu is held.
func (k *Keys) endSession() {
	if k.cfg.Ledger != nil {
		k.cfg.Ledger.Lock()
	}
	if k.sess != nil {
		_ = k.sess.Close() // after removal the token is gone: nothing more to close
		k.sess, k.seal = nil, nil
	}
}

// Find looks for the seal key once, without the watcher (the command line): the token whose
// label or serial is want, or the only token when want is "". It then counts as inserted, so
// Login works and is recorded as from the window.
func (k *Keys) Find(want string) error {
	var found []device.TokenInfo
	var errs []error
	for _, m := range k.cfg.Watch.Modules {
		toks, err := m.Tokens()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, t := range toks {
			if want == "" || t.Label == want || t.Serial == want {
				found = append(found, t)
			}
		}
	}
	switch {
	case len(found) == 0 && len(errs) > 0:
		return errors.Join(errs...)
	case len(found) == 0 && want != "":
		return fmt.Errorf("no seal key labelled or numbered %q is plugged in; plug it in, or check the name (sealkeeper token list)", want)
	case len(found) == 0:
		return errors.New("no seal key is plugged in; plug it in and try again")
	case len(found) > 1:
		return fmt.Errorf("%d seal keys are plugged in; say which one by its label or serial number (sealkeeper token list)", len(found))
	}
	k.handle(device.Event{Kind: device.Inserted, Token: found[0]})
	return nil
}

// Signer is the logged-in seal's signer and certificate, for stamping.
func (k *Keys) Signer() (crypto.Signer, *x509.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.sess == nil || k.seal == nil {
		return nil, nil, errors.New("log in with the seal key first")
	}
	if k.state.PINChange.Kind != device.NoChange {
		return nil, nil, fmt.Errorf("change the PIN first: %s", k.state.PINChange)
	}
	s, err := k.sess.Signer(*k.seal)
	if err != nil {
		return nil, nil, err
	}
	return s, k.seal.Cert, nil
}

// Close ends any session.
func (k *Keys) Close() {
	k.mu.Lock()
	k.endSession()
	k.mu.Unlock()
}

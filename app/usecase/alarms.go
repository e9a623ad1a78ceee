package usecase

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// Alarm names (ledger Record.Alarm, RULES.md 13). Never rename one: the server and the reports
// key on them.
const (
	AlarmWrongPINs      = "wrong-pins"          // repeated wrong PINs on one key
	AlarmKeyRemoved     = "key-removed-signing" // the key was pulled out while it was signing
	AlarmLedgerVerify   = "ledger-verify"       // the ledger's chain did not verify when read
	AlarmLedgerFork     = "ledger-fork"         // the server holds another ledger than this one
	AlarmRevokedSeal    = "revoked-seal"        // a revoked or suspended seal was tried
	AlarmClockBehind    = "clock-behind"        // the clock is behind the ledger or the server
	AlarmClockJump      = "clock-jump"          // the clock jumped forward past the policy's bound
	AlarmOutOfHours     = "out-of-hours"        // stamped outside the configured working hours
	AlarmUnapprovedFile = "unapproved-file"     // a local file without a ticket was stamped
	AlarmForgedLocked   = "forged-locked-event" // written by the ledger itself at a fold
)

// AlarmNames lists every alarm name this version raises, for the screens' translations.
func AlarmNames() []string {
	return []string{AlarmWrongPINs, AlarmKeyRemoved, AlarmLedgerVerify, AlarmLedgerFork, AlarmRevokedSeal,
		AlarmClockBehind, AlarmClockJump, AlarmOutOfHours, AlarmUnapprovedFile, AlarmForgedLocked}
}

// Alarm is one alarm not acknowledged yet.
type Alarm struct {
	// Seq is its ledger record; 0 while it waits, sealed, for the next login (raised while
	// nobody was logged in): it can be acknowledged once it is in the chain.
	Seq    uint64
	Name   string // one of the Alarm* names
	Time   time.Time
	Detail string
}

// Alarms are the abnormal situations the ledger records (RULES.md 13), shown until a custodian
// acknowledges them; the acknowledgement is a ledger record too. Every alarm goes through
// Raise (or a desk's own transaction, then Changed), which asks the sync loop to run at once:
// the ledger is pushed before the outbox in every round (store/upstream/sync.go), so an alarm
// reaches the server before any stamped result waiting behind it.
type Alarms struct {
	led *ledger.Ledger
	log *slog.Logger

	mu       sync.Mutex
	next     uint64           // first ledger seq not read yet
	open     map[uint64]Alarm // alarms read from the ledger, not acknowledged
	waiting  []Alarm          // raised while locked: sealed, not in the chain yet
	failed   map[string]bool  // verification failures already raised, by text
	onRaise  []func()         // the sync loop's trigger
	subs     []func()         // the status bar
	lastSync string           // FollowSync: the last disagreement raised
}

// NewAlarms follows the alarms of led (nil: no ledger; Raise only logs).
func NewAlarms(led *ledger.Ledger, log *slog.Logger) *Alarms {
	if log == nil {
		log = slog.Default()
	}
	a := &Alarms{led: led, log: log, next: 1, open: map[uint64]Alarm{}, failed: map[string]bool{}}
	if led != nil {
		// A login folds what was sealed into the chain (ledger.Unlock): nothing waits any more.
		led.OnUnlock(func(keyslot.Holder) {
			a.mu.Lock()
			a.waiting = nil
			a.mu.Unlock()
		})
	}
	return a
}

// OnRaise has f called after every alarm is written (the sync loop's Trigger).
func (a *Alarms) OnRaise(f func()) {
	a.mu.Lock()
	a.onRaise = append(a.onRaise, f)
	a.mu.Unlock()
}

// Subscribe has fn called after every change, from the goroutine that made it; fn reads the
// alarms with Open (not there and then: the first read after a login reads the whole ledger).
func (a *Alarms) Subscribe(fn func()) {
	a.mu.Lock()
	a.subs = append(a.subs, fn)
	a.mu.Unlock()
}

// Raise records an alarm: in the chain when the ledger is unlocked, else sealed to the key
// slots until the next login (ledger.LockedKinds). Failing to record is returned and logged;
// the alarm stays shown for this run either way.
func (a *Alarms) Raise(r ledger.Record) error {
	r.Kind = ledger.KindAlarm
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	a.log.Warn("alarm", "alarm", r.Alarm, "detail", r.Detail)
	var err error
	if a.led == nil {
		err = ErrNoLedger
	} else {
		err = a.led.Note(r)
	}
	if err != nil {
		a.log.Error("recording an alarm in the ledger", "alarm", r.Alarm, "error", err.Error())
	}
	a.mu.Lock()
	if a.led == nil || !a.led.Unlocked() {
		a.waiting = append(a.waiting, Alarm{Name: r.Alarm, Time: r.Time, Detail: r.Detail})
	}
	a.mu.Unlock()
	a.Changed()
	return err
}

// Changed is told that alarm records were written in another transaction (a stamping's): it
// triggers the sync loop and tells the subscribers.
func (a *Alarms) Changed() {
	a.mu.Lock()
	trig := slices.Clone(a.onRaise)
	a.mu.Unlock()
	for _, f := range trig {
		f()
	}
	a.notify()
}

func (a *Alarms) notify() {
	a.mu.Lock()
	subs := slices.Clone(a.subs)
	a.mu.Unlock()
	for _, fn := range subs {
		fn()
	}
}

// Open lists the alarms not acknowledged, oldest first. While the ledger is locked only those
// raised in this run are shown (the rest is in the encrypted ledger); reading it is also a
// check of its chain, and a record that does not verify raises a ledger-verify alarm.
func (a *Alarms) Open() ([]Alarm, error) {
	if a.led == nil {
		a.mu.Lock()
		defer a.mu.Unlock()
		return slices.Clone(a.waiting), nil
	}
	if !a.led.Unlocked() {
		a.mu.Lock()
		defer a.mu.Unlock()
		return slices.Clone(a.waiting), nil
	}
	a.mu.Lock()
	// Unlocked: what was waiting was folded into the chain at the login, and is read below.
	a.waiting = nil
	err := a.led.Records(a.next, func(r ledger.Record) error {
		a.next = r.Seq + 1
		switch r.Kind {
		case ledger.KindAlarm:
			a.open[r.Seq] = Alarm{Seq: r.Seq, Name: r.Alarm, Time: r.Time, Detail: r.Detail}
		case ledger.KindAlarmAck:
			delete(a.open, r.AlarmSeq)
		}
		return nil
	})
	out := make([]Alarm, 0, len(a.open))
	for _, al := range a.open {
		out = append(out, al)
	}
	verifyFailed := err != nil && !errors.Is(err, ledger.ErrLocked) && !a.failed[err.Error()]
	if verifyFailed {
		a.failed[err.Error()] = true
	}
	a.mu.Unlock()
	slices.SortFunc(out, func(x, y Alarm) int { return int(x.Seq) - int(y.Seq) })
	if verifyFailed {
		a.Raise(ledger.Record{Alarm: AlarmLedgerVerify, Detail: fmt.Sprintf("reading the ledger from record %d: %v", a.next, err)})
	}
	if errors.Is(err, ledger.ErrLocked) {
		err = ErrLedgerLocked
	}
	return out, err
}

// Unrecorded lists the alarms raised in this run that are not in the chain: with no ledger
// (it failed its checks at open: they are only in memory) or while it is locked (sealed until
// the next login). The sync loop's heartbeat carries them (upstream.Heartbeat.Alarms), so the
// server hears of them before the ledger can tell it.
func (a *Alarms) Unrecorded() []Alarm {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.waiting)
}

// ErrAlarmWaiting: the alarm was raised while nobody was logged in and is not in the chain yet.
var ErrAlarmWaiting = errors.New("this alarm is not in the ledger yet (it was raised while nobody was logged in); log in with the seal key, then acknowledge it")

// Acknowledge records that custodian has seen the alarm at seq; it is then no longer shown.
func (a *Alarms) Acknowledge(seq uint64, custodian string) error {
	if seq == 0 {
		return ErrAlarmWaiting
	}
	if a.led == nil {
		return ErrNoLedger
	}
	if !a.led.Unlocked() {
		return ErrLedgerLocked
	}
	if _, err := a.Open(); err != nil {
		return err
	}
	a.mu.Lock()
	al, ok := a.open[seq]
	a.mu.Unlock()
	if !ok {
		return fmt.Errorf("ledger record %d is not an alarm waiting to be acknowledged", seq)
	}
	if _, err := a.led.Append(ledger.Record{Kind: ledger.KindAlarmAck, AlarmSeq: seq, Alarm: al.Name, Custodian: custodian}); err != nil {
		if errors.Is(err, ledger.ErrLocked) {
			return ErrLedgerLocked
		}
		return fmt.Errorf("recording the acknowledgement of alarm %d: %w", seq, err)
	}
	a.notify()
	return nil
}

// FollowSync raises a ledger-fork alarm each time the sync loop reports a new disagreement
// with the server about the ledger (fork, rollback), until ctx ends.
func (a *Alarms) FollowSync(ctx context.Context, statuses <-chan SyncStatus) {
	for {
		var st SyncStatus
		select {
		case <-ctx.Done():
			return
		case st = <-statuses:
		}
		a.mu.Lock()
		fresh := st.Alarm != "" && a.lastSync != st.Alarm
		a.lastSync = st.Alarm
		a.mu.Unlock()
		if fresh {
			a.Raise(ledger.Record{Alarm: AlarmLedgerFork, Detail: st.Alarm})
		}
	}
}

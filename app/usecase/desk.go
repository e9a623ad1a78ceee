package usecase

import (
	"crypto"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/sealkeeper/sealkeeper/device/cups"
	"github.com/sealkeeper/sealkeeper/stamp/render"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// DeskConfig wires the custodian's desk to the ledger, the server's cached documents and the
// workstation's policy.
type DeskConfig struct {
	// Ledger records every stamping (intent, then done or failed), rejection and alarm. Without
	// one nothing can be stamped.
	Ledger *ledger.Ledger
	// Store holds the documents pulled from the server, their tickets, the seal list and the
	// outbox; nil on a workstation with no server (then only local files, if policy allows).
	Store *upstream.Store
	// ServerKey is the server's ticket key, pinned at enrolment.
	ServerKey crypto.PublicKey
	// Online tells whether the server answered the last sync round; nil means offline.
	Online func() bool
	// Trigger asks the sync loop to run now (after a stamping or a rejection); may be nil.
	Trigger func()
	// Policy limits stamping while offline.
	Policy upstream.Policy
	// SealID is the seal on this workstation's key, as the server's seal list names it.
	SealID string
	// AllowUnapproved lets local files without an approval ticket be stamped (a demo
	// workspace; off by default). Each such stamping is recorded with an alarm.
	AllowUnapproved bool
	// OutDir is where stamped documents go when the caller names no file.
	OutDir string
	// Keys and Seal serve the window's calls (StampAt, RejectQueued): the logged-in seal and
	// its picture.
	Keys *Keys
	Seal SealArt
	// Renderer draws the pages of the preview; nil makes one on first use (without a
	// compilation cache, so the first preview takes seconds).
	Renderer *render.Renderer
	// Custody ends delegations at their end date before each recorded act; may be nil.
	Custody *Custody
	// Printing is the system's printing system (CUPS); nil means the default scheduler.
	Printing *cups.Client
	// Upstream is the link to the server for requests made while online (extra copies); nil
	// on a workstation with no server.
	Upstream *upstream.Client
	// Workstation and Host say where, in the ledger's records.
	Workstation, Host string
	Log               *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Alarms is told of every alarm the desk records (and raises those outside a stamping's
	// transaction); nil makes one over Ledger.
	Alarms *Alarms
	// WorkingHours are when stamping is expected; a stamping outside them is recorded with an
	// alarm (zero: any time).
	WorkingHours WorkingHours
	// MaxClockJump is how far past the newest record the clock may be at a stamping before an
	// alarm says it jumped (0: not checked).
	MaxClockJump time.Duration
}

// Desk is the custodian's desk: the queue of approved documents and what can be done with
// each (stamp, return with a reason), the stampings a crash interrupted, and every such act
// recorded in the ledger.
type Desk struct {
	mu  sync.Mutex // guards cfg.Renderer's creation and the clock floor
	cfg DeskConfig

	floor     time.Time // the clock floor from the ledger (clock.go), once floorRead
	floorSeq  uint64
	floorRead bool
	skewSeen  time.Time  // the server time of the last heartbeat a clock-jump alarm was raised for
	printMu   sync.Mutex // one print job at a time: its allowance read and its intent (print.go)
	copiesMu  sync.Mutex // guards copyIdx
	copyIdx   *copyIndex // the ledger's copies, up to date on each use (copyindex.go)
	monthDone time.Time  // the month start up to which every table is made and sent (monthly.go)
}

// NewDesk makes the desk.
func NewDesk(cfg DeskConfig) *Desk {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Alarms == nil {
		cfg.Alarms = NewAlarms(cfg.Ledger, cfg.Log)
	}
	d := &Desk{cfg: cfg}
	if cfg.Ledger != nil {
		cfg.Ledger.OnLock(d.forgetCopies)
	}
	return d
}

// Refusals a screen tells apart (errors.Is); the error's text says what to do.
var (
	// ErrNoLedger: there is no usable ledger, so nothing can be recorded or stamped.
	ErrNoLedger = errors.New("no usable ledger: nothing can be stamped until the administrator has restored or created the ledger (sealkeeper ledger)")
	// ErrLedgerLocked: nobody who holds a key slot of the ledger is logged in.
	ErrLedgerLocked = errors.New("the ledger is locked: log in with the seal key of a custodian of this workstation (a new custodian needs a handover first)")
	// ErrNoServer: the workstation has no server, so there is no queue.
	ErrNoServer = errors.New("this workstation has no seal-management server configured, so there are no approved documents")
	// ErrUnapproved: a local file without a ticket, and the policy does not allow those (docs/rules.md 4).
	ErrUnapproved = errors.New("only documents approved through the seal-management server may be stamped; this file has no approval ticket")
)

func (d *Desk) online() bool { return d.cfg.Online != nil && d.cfg.Online() }

func (d *Desk) trigger() {
	if d.cfg.Trigger != nil {
		d.cfg.Trigger()
	}
}

// ledgerReady is the precondition of every act that must be recorded.
func (d *Desk) ledgerReady() error {
	if d.cfg.Ledger == nil {
		return ErrNoLedger
	}
	if !d.cfg.Ledger.Unlocked() {
		return ErrLedgerLocked
	}
	if d.cfg.Custody != nil {
		return d.cfg.Custody.Enforce() // a delegate's access ends at the delegation's end date
	}
	return nil
}

// record appends records in one durable transaction and returns their seqs.
func (d *Desk) record(recs ...ledger.Record) ([]uint64, error) {
	now := d.cfg.Now()
	for i := range recs {
		r := &recs[i]
		if r.Time.IsZero() {
			r.Time = now
		}
		r.Workstation, r.Host = d.cfg.Workstation, d.cfg.Host
	}
	seqs, err := d.cfg.Ledger.Append(recs...)
	if err == nil {
		d.noteRecords(recs, seqs)
		for _, r := range recs {
			if r.Kind == ledger.KindAlarm {
				d.cfg.Alarms.Changed()
				break
			}
		}
	}
	return seqs, err
}

// raise records an alarm outside a stamping's transaction, also while the ledger is locked.
func (d *Desk) raise(r ledger.Record) {
	if r.Time.IsZero() {
		r.Time = d.cfg.Now()
	}
	r.Workstation, r.Host = d.cfg.Workstation, d.cfg.Host
	_ = d.cfg.Alarms.Raise(r) // logged there; the refusal that raised it is returned either way
}

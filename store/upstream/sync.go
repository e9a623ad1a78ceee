package upstream

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/ticket"
)

// LedgerSource is the local ledger as the sync loop reads it; *ledger.Ledger satisfies it.
type LedgerSource interface {
	// Size is the number of records (the seq of the last one).
	Size() uint64
	// Envelopes calls fn with the envelopes from seq from on, in seq order, until fn returns
	// an error.
	Envelopes(from uint64, fn func(ledger.Envelope) error) error
}

var errEnough = errors.New("enough")

// envelopes reads up to n envelopes from seq from.
func envelopes(l LedgerSource, from uint64, n int) ([]ledger.Envelope, error) {
	out := make([]ledger.Envelope, 0, n)
	err := l.Envelopes(from, func(e ledger.Envelope) error {
		if e.Seq != from+uint64(len(out)) {
			return fmt.Errorf("the local ledger returned record %d where %d was expected", e.Seq, from+uint64(len(out)))
		}
		out = append(out, e)
		if len(out) == n {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	return out, nil
}

// SyncOptions configure a Syncer.
type SyncOptions struct {
	Ledger    LedgerSource  // nil: no ledger push
	PullEvery time.Duration // default 1 minute
	// MinBackoff and MaxBackoff bound the wait after a failed round (default 1 s and 5 min);
	// each failure doubles the wait, with ±25 % jitter so many workstations do not retry together.
	MinBackoff, MaxBackoff time.Duration
	// Batch is records per ledger push (default 1000, at most MaxLedgerBatch).
	Batch int
	// State fills the heartbeat with what the app knows (token, custodian); optional.
	State func() Heartbeat
	// OnCosigned is told each new checkpoint the server co-signed (signature already checked
	// with the pinned key), e.g. to hand it to ledger.SetCosigned; optional. An error stops
	// the round and is shown as an alarm.
	OnCosigned func(cp ledger.Checkpoint, serverSig []byte) error
	// Outputs is the folder of the stamped files the workstation wrote for itself (DATA/stamped).
	// Each one whose result the server accepted is deleted (Store.spendOutput): at once while
	// nobody is logged in, else at logout, so the custodian who made it can still verify or
	// print it. The server holds it, the ledger its hash. Files elsewhere (--out) are kept.
	Outputs string
	// Now is the workstation's clock: sent in the heartbeat, and the clock the documents are
	// judged by (ticket expiry, listing time, eviction); nil means time.Now.
	Now func() time.Time
}

// Status is what the status bar shows about the link to the server.
type Status struct {
	Online      bool      // the last round reached the server
	Syncing     bool      // a round is running
	LastContact time.Time // when the server last answered
	LastError   string    // why the last round failed ("" if it did not)
	// Alarm is set when the server and the workstation disagree about the ledger (fork,
	// rollback): stamping may go on, but the administrator must look.
	Alarm    string
	Unsynced uint64 // ledger records the server does not hold yet
	Outbox   int    // results and files waiting to go up
	Pending  int    // documents waiting to be stamped
	NextTry  time.Time
}

// Syncer is the sync loop: push the ledger, push the outbox, pull approvals, seal list and
// roster, fetch document bytes. Everything it learns goes into the Store, so a restart goes on
// where it stopped.
type Syncer struct {
	c   *Client
	st  *Store
	opt SyncOptions

	trigger chan struct{}
	round   sync.Mutex // one round at a time

	mu      sync.Mutex
	status  Status
	subs    map[chan Status]struct{}
	onRound []func(ctx context.Context, online bool)
}

// OnRound has f run at the end of every round, online or not, before SyncOnce returns: the
// workstation's own work that follows the server's (allowances for extra copies, the monthly
// table), so the window's loop and a command's sync do it in one place.
func (s *Syncer) OnRound(f func(ctx context.Context, online bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onRound = append(s.onRound, f)
}

// NewSyncer makes a sync loop; call Run in a goroutine, or SyncOnce.
func NewSyncer(c *Client, st *Store, opt SyncOptions) *Syncer {
	if opt.PullEvery <= 0 {
		opt.PullEvery = time.Minute
	}
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = time.Second
	}
	if opt.MaxBackoff < opt.MinBackoff {
		opt.MaxBackoff = max(5*time.Minute, opt.MinBackoff)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Batch <= 0 || opt.Batch > MaxLedgerBatch {
		opt.Batch = 1000
	}
	s := &Syncer{c: c, st: st, opt: opt, trigger: make(chan struct{}, 1), subs: map[chan Status]struct{}{}}
	s.status.LastContact, _ = st.LastContact()
	st.setOutputs(opt.Outputs)
	return s
}

// Status is the current status.
func (s *Syncer) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Watch returns a channel that always holds the latest status after a change (older ones are
// dropped, so a slow reader never blocks the loop), and a function to stop watching.
func (s *Syncer) Watch() (<-chan Status, func()) {
	ch := make(chan Status, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	ch <- s.status
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}
}

func (s *Syncer) update(f func(*Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.status
	f(&s.status)
	if s.status == old {
		return
	}
	for ch := range s.subs {
		select {
		case <-ch:
		default:
		}
		ch <- s.status
	}
}

// Trigger asks the loop to sync now (the custodian pressed "refresh", or a stamp was queued).
func (s *Syncer) Trigger() {
	select {
	case s.trigger <- struct{}{}:
	default:
	}
}

// Run syncs until ctx ends: every PullEvery while online, with back-off and jitter while not.
func (s *Syncer) Run(ctx context.Context) error {
	backoff := s.opt.MinBackoff
	for {
		err := s.SyncOnce(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := s.opt.PullEvery
		if err != nil && retryable(err) {
			wait = jitter(backoff)
			backoff = min(backoff*2, s.opt.MaxBackoff)
		} else {
			backoff = s.opt.MinBackoff
		}
		s.update(func(st *Status) { st.NextTry = time.Now().Add(wait).Truncate(time.Second) })
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-s.trigger:
			t.Stop()
		case <-t.C:
		}
	}
}

func jitter(d time.Duration) time.Duration {
	return d*3/4 + rand.N(d/2+1)
}

// retryable: the network, the server's own trouble, or garbage; not a refusal or an alarm.
func retryable(err error) bool {
	var se *ServerError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	return errors.Is(err, ErrOffline) || errors.Is(err, ErrBadResponse)
}

// ErrLedgerAlarm marks a disagreement between the local ledger and the server's copy.
var ErrLedgerAlarm = errors.New("ledger alarm")

// SyncOnce runs one round. It returns the first error that stopped the round; what was done
// before it stays done.
func (s *Syncer) SyncOnce(ctx context.Context) error {
	s.round.Lock()
	defer s.round.Unlock()
	s.update(func(st *Status) { st.Syncing = true })
	err := s.syncOnce(ctx)
	if ctx.Err() != nil {
		// Stopped by the caller (quitting): that says nothing about the server.
		s.update(func(st *Status) { st.Syncing = false })
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	// Online means the round completed: the server took the ledger and results and gave a fresh
	// seal list and queue. A refusal (any 4xx, a garbled answer, a TLS failure) is not: online
	// lifts the offline limits on stamping, so it must never rest on an answer that could come
	// from anything but the enrolled hub doing its job.
	online := err == nil
	if online {
		_ = s.st.putMeta(mSeen, now)
	}
	counts := s.counts()
	s.update(func(st *Status) {
		st.Syncing, st.Online = false, online
		if online {
			st.LastContact = now
		}
		st.LastError = ""
		if err != nil {
			st.LastError = err.Error()
		}
		if errors.Is(err, ErrLedgerAlarm) {
			st.Alarm = err.Error()
		} else if err == nil {
			st.Alarm = ""
		}
		st.Unsynced, st.Outbox, st.Pending = counts.unsynced, counts.outbox, counts.pending
	})
	s.mu.Lock()
	hooks := s.onRound
	s.mu.Unlock()
	for _, f := range hooks {
		f(ctx, online)
	}
	return err
}

type counts struct {
	unsynced      uint64
	outbox        int
	pending       int
	offlineStamps int
	size          uint64
}

func (s *Syncer) counts() counts {
	var c counts
	if s.opt.Ledger != nil {
		c.size = s.opt.Ledger.Size()
		pushed, _ := s.st.Pushed()
		if c.size > pushed {
			c.unsynced = c.size - pushed
		}
	}
	ob, _ := s.st.Outbox()
	c.outbox = len(ob)
	c.pending = s.st.pendingCount()
	c.offlineStamps, _ = s.st.OfflineStamps()
	return c
}

func (s *Syncer) syncOnce(ctx context.Context) error {
	// Custody changes go first, before the heartbeat names the new custodian or the ledger
	// and results carry their stampings.
	if err := s.pushHandovers(ctx); err != nil {
		return err
	}
	var hb Heartbeat
	if s.opt.State != nil {
		hb = s.opt.State()
	}
	c := s.counts()
	hb.Time, hb.LedgerSize, hb.Unsynced, hb.Outbox, hb.OfflineStamps = s.opt.Now().UTC(), c.size, c.unsynced, c.outbox, c.offlineStamps
	reply, err := s.c.Heartbeat(ctx, hb)
	if err != nil {
		return err
	}
	if !reply.Time.IsZero() {
		if err := s.st.putMeta(mClock, ServerClock{Server: reply.Time.UTC(), Local: hb.Time}); err != nil {
			return err
		}
	}
	if err := s.pushLedger(ctx); err != nil {
		return err
	}
	waiting, err := s.pushOutbox(ctx)
	if err != nil {
		return err
	}
	if err := s.Pull(ctx); err != nil {
		return err
	}
	if waiting {
		return nil // stamped files wait, encrypted, for a login: not everything is up yet
	}
	// Reaching here means the server has everything made offline.
	return s.st.putMeta(mOffN, 0)
}

// pushLedger sends what the server lacks, starting from the server's own head, so that lost or
// stale answers only ever cause a record to be sent again (which the server acknowledges).
func (s *Syncer) pushLedger(ctx context.Context) error {
	if s.opt.Ledger == nil {
		return nil
	}
	local := s.opt.Ledger.Size()
	head, err := s.c.LedgerHead(ctx)
	if err != nil {
		return err
	}
	if err := s.accept(head); err != nil {
		return err
	}
	if head.Size > local {
		return fmt.Errorf("%w: the server holds %d ledger records from this workstation but the local ledger has only %d; the ledger may have been rolled back or replaced", ErrLedgerAlarm, head.Size, local)
	}
	if head.Size > 0 {
		envs, err := envelopes(s.opt.Ledger, head.Size, 1)
		if err != nil || len(envs) != 1 {
			return fmt.Errorf("reading local ledger record %d: %v", head.Size, err)
		}
		h := envs[0].Hash()
		if hex.EncodeToString(h[:]) != head.Head {
			return fmt.Errorf("%w: ledger fork at record %d: the server holds another record than this workstation", ErrLedgerAlarm, head.Size)
		}
	}
	next := head.Size + 1
	// Each push either advances or is refused; the bound only stops a server that keeps
	// acknowledging without advancing.
	limit := int((local-head.Size)/uint64(s.opt.Batch)) + 20
	for i := 0; next <= local; i++ {
		if i >= limit {
			return fmt.Errorf("%w: ledger push does not advance past record %d", ErrBadResponse, next)
		}
		envs, err := envelopes(s.opt.Ledger, next, s.opt.Batch)
		if err != nil {
			return fmt.Errorf("reading the local ledger from record %d: %w", next, err)
		}
		if len(envs) == 0 {
			return fmt.Errorf("the local ledger says %d records but returns none from %d", local, next)
		}
		h, err := s.c.PushLedger(ctx, envs)
		var se *ServerError
		if errors.As(err, &se) {
			switch se.Body.Code {
			case CodeGap:
				if se.Body.ExpectedSeq == 0 || se.Body.ExpectedSeq > local+1 {
					return fmt.Errorf("%w: %v", ErrLedgerAlarm, se)
				}
				next = se.Body.ExpectedSeq
				continue
			case CodeFork, CodeBadChain:
				return fmt.Errorf("%w: %v", ErrLedgerAlarm, se)
			}
		}
		if err != nil {
			return err
		}
		if err := s.accept(h); err != nil {
			return err
		}
		next = h.Size + 1
	}
	return nil
}

func (s *Syncer) accept(h *LedgerHead) error {
	if h.Checkpoint != nil {
		old, err := s.st.Cosigned()
		if err != nil {
			return err
		}
		if err := s.st.setCosigned(h.Checkpoint); err != nil {
			return err
		}
		if s.opt.OnCosigned != nil && (old == nil || old.Size < h.Checkpoint.Size) {
			cp, err := h.Checkpoint.Checkpoint()
			if err != nil {
				return err
			}
			if err := s.opt.OnCosigned(cp, h.Checkpoint.Signature); err != nil {
				return fmt.Errorf("%w: keeping the server's checkpoint: %v", ErrLedgerAlarm, err)
			}
		}
	}
	return s.st.putMeta(mPushed, h.Size)
}

// pushOutbox sends waiting results oldest first, each stamped file before its result. It stops,
// reporting waiting, at the first whose stamped file is kept encrypted while nobody is logged
// in: the rest waits for a login, in order.
func (s *Syncer) pushOutbox(ctx context.Context) (waiting bool, err error) {
	items, err := s.st.Outbox()
	if err != nil {
		return false, err
	}
	for _, it := range items {
		err := s.sendItem(ctx, it)
		if errors.Is(err, ErrStampedLocked) {
			return true, nil
		}
		if err == nil {
			if err := s.st.outboxDone(it.ID); err != nil {
				return false, err
			}
			if it.File != "" && s.opt.Outputs != "" && filepath.Dir(it.File) == filepath.Clean(s.opt.Outputs) {
				if err := s.st.spendOutput(it.File); err != nil {
					return false, err
				}
			}
			if _, err := s.st.evict(s.opt.Now()); err != nil {
				return false, err
			}
			continue
		}
		_ = s.st.outboxFailed(it.ID, err)
		if retryable(err) {
			return false, err
		}
		// A refusal stays in the outbox with its reason for the custodian to see; the rest
		// of the queue goes on.
	}
	return false, nil
}

func (s *Syncer) sendItem(ctx context.Context, it OutboxItem) error {
	r := it.Result
	if it.File != "" {
		file, err := s.st.StampedFile(it.File)
		if err != nil {
			return err
		}
		sha, size, err := s.c.Upload(ctx, file)
		if err != nil {
			return err
		}
		r.OutputSHA256, r.OutputSize = sha, size
	}
	return s.c.PostResult(ctx, r)
}

// Pull fetches the seal list, the roster and the pending documents, then their bytes.
func (s *Syncer) Pull(ctx context.Context) error {
	seals, err := s.c.Seals(ctx)
	if err != nil {
		return err
	}
	if err := s.st.acceptSeals(seals, s.opt.Now()); err != nil {
		return err
	}
	roster, err := s.c.Roster(ctx)
	if err != nil {
		return err
	}
	if err := s.st.acceptRoster(roster, s.opt.Now()); err != nil {
		return err
	}
	if s.st.keys == nil {
		return nil // no ledger to encrypt documents with: none are kept (docs.go)
	}
	docs, err := s.c.Documents(ctx)
	if err != nil {
		return err
	}
	problems, err := s.checkTickets(docs)
	if err != nil {
		return err
	}
	if err := s.st.mergeDocuments(docs, problems, s.opt.Now().UTC()); err != nil {
		return err
	}
	if _, err := s.st.evict(s.opt.Now()); err != nil {
		return err
	}
	return s.fetchFiles(ctx)
}

// checkTickets verifies each listed document's approval ticket before it enters the queue
// (docs/rules.md 4): signed with the pinned key, for the listed bytes, seal and this workstation, not
// expired. Whether a ticket was used is checked at stamping, against the ledger.
func (s *Syncer) checkTickets(docs []Document) (map[string]string, error) {
	key := s.c.ServerKey()
	if key == nil {
		return nil, errors.New("no server key is pinned, so approvals cannot be checked; enrol the workstation first")
	}
	problems := map[string]string{}
	now := s.opt.Now()
	for _, d := range docs {
		var want ticket.Expect
		b, err := hex.DecodeString(d.SHA256)
		if err != nil || len(b) != 32 {
			problems[d.ID] = fmt.Sprintf("the server listed SHA-256 %q, which is not a SHA-256", d.SHA256)
			continue
		}
		copy(want.DocSHA256[:], b)
		want.DocumentID, want.SealID, want.Workstation, want.Now = d.ID, d.SealID, s.c.Workstation(), now
		if _, err := ticket.Verify(d.Ticket, key, want, notUsedYet{}); err != nil {
			problems[d.ID] = err.Error()
		}
	}
	return problems, nil
}

type notUsedYet struct{}

func (notUsedYet) TicketUsed(string) (bool, error) { return false, nil }

// fetchFiles downloads the bytes of pending documents into memory and stores them encrypted
// (docs.go); bytes already here (the same document approved twice) are not fetched again.
func (s *Syncer) fetchFiles(ctx context.Context) error {
	missing, err := s.st.missingFiles()
	if err != nil {
		return err
	}
	shas := make([]string, 0, len(missing))
	for sha := range missing {
		shas = append(shas, sha)
	}
	sort.Strings(shas)
	for _, sha := range shas {
		if have, err := s.st.haveFile(sha); err != nil || have {
			if err != nil {
				return err
			}
			continue
		}
		b, err := s.c.Fetch(ctx, sha, missing[sha])
		if err != nil {
			return fmt.Errorf("fetching document file %s: %w", sha[:min(16, len(sha))], err)
		}
		err = s.st.putFile(sha, b)
		clear(b)
		if err != nil {
			return err
		}
	}
	return nil
}

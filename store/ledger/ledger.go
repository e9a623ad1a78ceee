package ledger

import (
	"bytes"
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/tjfoc/gmsm/sm3"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
)

// File layout (one bbolt file, normally DATA/ledger.db)
//
//	meta        format → "sealkeeper-ledger/1"; workstation; created; keycheck; metamac; and
//	            macv, state, cpkeys, legacy, floor, cosigned (see meta.go)
//	slots       slot id → keyslot.Slot (JSON); public keys and wrapped data keys
//	records     seq (u64 big-endian) → Envelope.MarshalBinary()
//	checkpoints size (u64 big-endian) → SignedCheckpoint (JSON)
//	pending     u64 → ["SKP2" ‖ MAC] ‖ keyslot.Seal(record JSON): events written while locked
//	intents     seq → "" for each stamp.intent with no done/failed yet (under the meta MAC)
//	tickets     ticket id → seq of its stamp.intent: the used-ticket index (see tickets.go)
//
// Beside it: ledger.db.cosigned (last server co-signed checkpoint, see floor.go) and, while
// closed, ledger.db.digest (see check.go).
//
// Invariants, kept by appendTx and checked by scanner.run and Verify:
//   - records holds seq 1..Size with no gap; each value is one envelope whose Seq is its key
//     and whose PrevHash is the entry hash of seq-1 (zero for seq 1).
//   - every ciphertext is SM4-GCM under the data key, AD = seq ‖ prevHash.
//   - records are never rewritten or deleted; a group of records is one bbolt transaction,
//     committed with fdatasync before Append returns, together with the new state and metamac.
//   - every checkpoint's Head is the entry hash of record Size, signed by a pinned seal key
//     (meta cpkeys), and only over records this process has checked with the data key or
//     written itself (verifiedTo): a checkpoint never vouches for records nobody checked.
//   - Open checks the chain from genesis (hashes, no key); Unlock opens every record after the
//     newest trusted checkpoint with the data key. Together that is every record: the ones up
//     to the checkpoint through its signed head, the rest through their tags.
//   - the data key exists only in memory between Unlock and Lock/Close. Two keys derived from
//     it for one purpose each stay until Close (the closed-file digest's MAC, the pending
//     events' MAC); neither opens a record or a slot.
//
// Events while nobody is logged in (key inserted, failed login)
//
// Without a custodian's token nobody holds the data key, yet these events must be written at
// once. Note seals such an event to the public keys of all key slots (keyslot.Seal: a fresh
// content key wrapped for each slot, SM4-GCM) and stores it in the pending bucket, durably;
// no private key is needed. The next Unlock opens each pending event with the unlocking key
// and appends it to the chain (Record.SealedAt keeps when it happened), in one transaction that
// also deletes it from pending. Events the unlocking key cannot open (sealed before its slot
// existed) stay pending for the escrow key. Until folded, pending events are confidential but
// not chained: deleting one leaves no trace in the chain. We chose this over encrypting chain
// records with per-record keys because it keeps every chained record in the one envelope
// form the server verifies, and the window is short (until the next login).
//
// Sealing needs only public keys, and they sit in the file: anyone who can write the data dir
// can seal a pending event. So pending events carry no authority (foldTx):
//   - Note writes, and the fold takes, only LockedKinds (key inserted/removed, login failed,
//     document received, alarm); any other kind is refused at the fold and an alarm says so;
//   - a folded record is rebuilt from the event's descriptive fields only, with Intent empty,
//     SealedAt and Locked set: it never settles a stamp intent (Record.Settles);
//   - where something the data dir does not give away can vouch for an event, it does: after an
//     unlock in this run the ledger keeps subkey(data key, "pending mac") and Note puts an
//     HMAC over the pending seq and the sealed bytes in front ("SKP2"); such an event folds as
//     LockedAuthenticated, one without as LockedClaim, and one with a wrong MAC is refused.
//     (An authenticated event copied back after it was folded folds again: a duplicate with
//     the same sealed_at, visible to the auditor.)

var (
	bucketMeta        = []byte("meta")
	bucketSlots       = []byte("slots")
	bucketRecords     = []byte("records")
	bucketCheckpoints = []byte("checkpoints")
	bucketPending     = []byte("pending")
	bucketIntents     = []byte("intents")

	keyFormat      = []byte("format")
	keyWorkstation = []byte("workstation")
	keyCreated     = []byte("created")
	keyKeyCheck    = []byte("keycheck")
	keyMetaMAC     = []byte("metamac")
)

const (
	formatName   = "sealkeeper-ledger/1"
	keyCheckText = "sealkeeper ledger data key"
	pendingAD    = "sealkeeper ledger pending v1"
)

// FileName is the ledger's file name in the data dir.
const FileName = "ledger.db"

// Options configures an open ledger.
type Options struct {
	// Workstation names this workstation in checkpoints (Create stores it; Open reads it).
	Workstation string
	// Signer signs checkpoints (the seal key). Nil: no checkpoints are signed.
	Signer crypto.Signer
	// CheckpointEvery and CheckpointInterval: sign a checkpoint after this many records or
	// this much time with unsigned records (defaults 100 and 10 minutes), and at Close.
	CheckpointEvery    int
	CheckpointInterval time.Duration
	// Check runs the bbolt consistency check, in a child process (default DefaultCheck).
	Check func(path string) error
	// ServerKey is the pinned server key (upstream.server_key). With it, the co-signed floor
	// is checked against the server's signature on every Open and SetCosigned refuses what the
	// server did not sign; without it the floor is used as it is (store/upstream checks the
	// signature before it calls SetCosigned).
	ServerKey *ecdsa.PublicKey
}

func (o *Options) defaults() {
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = 100
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = 10 * time.Minute
	}
	if o.Check == nil {
		o.Check = DefaultCheck
	}
}

// Recipient is a public key to give a key slot.
type Recipient struct {
	Public crypto.PublicKey
	Role   keyslot.Role
	Label  string
}

// Ledger is an open ledger file. Its methods are safe for concurrent use.
type Ledger struct {
	path        string
	workstation string
	opts        Options
	db          *bolt.DB

	mu          sync.Mutex
	key         []byte      // nil while locked
	aead        cipher.AEAD // over key; used under mu only
	macKey      []byte      // subkey(key, metaMACInfo); nil while locked
	ticketKey   []byte      // subkey(key, ticketIndexInfo); nil while locked
	digestKey   []byte      // subkey(key, digestMACInfo); from the first unlock until Close
	pendingKey  []byte      // subkey(key, pendingMACInfo); from the first unlock until Close
	session     crypto.Signer
	size        uint64
	head        [HashSize]byte
	verifiedTo  uint64 // records up to here were checked with the data key or written here
	pins        []pinnedKey
	lastCP      uint64 // size of the newest trusted checkpoint
	lastCPTime  time.Time
	openDigest  *digestLine // the closed-file digest found at Open (nil: none)
	interrupted map[uint64]bool
	unreadable  int // pending events the unlocking key could not open
	closed      bool
	hooks       hooks // told of each Unlock and Lock (hooks.go)
	stop        chan struct{}
	done        chan struct{}
}

// Create makes a new ledger at path with a fresh data key wrapped for each recipient, and
// returns it open and unlocked. It refuses to touch an existing file, even an empty or
// damaged one: that is for a person to move away.
func Create(path string, recipients []Recipient, opts Options) (*Ledger, error) {
	opts.defaults()
	if len(recipients) == 0 {
		return nil, errors.New("creating a ledger: no key slots (give at least the escrow key)")
	}
	if opts.Workstation == "" {
		return nil, errors.New("creating a ledger: no workstation name")
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%w at %s; it was not touched. Move it away first if you really mean to start a new ledger", ErrExists, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	key, err := keyslot.NewKey()
	if err != nil {
		return nil, err
	}
	var slots []keyslot.Slot
	for _, r := range recipients {
		s, err := keyslot.Wrap(key, r.Public, r.Role, r.Label)
		if err != nil {
			return nil, fmt.Errorf("key slot for %s %q: %w", r.Role, r.Label, err)
		}
		slots = append(slots, s)
	}
	aead, err := keyslot.NewSM4GCM(key)
	if err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("creating ledger %s: %w", path, err)
	}
	l := &Ledger{path: path, workstation: opts.Workstation, opts: opts, db: db, key: key, aead: aead, interrupted: map[uint64]bool{},
		macKey: subkey(key, metaMACInfo), ticketKey: subkey(key, ticketIndexInfo), digestKey: subkey(key, digestMACInfo), pendingKey: subkey(key, pendingMACInfo)}
	var ids []string
	for _, s := range slots {
		ids = append(ids, fmt.Sprintf("%s %s %s", s.Role, s.ID, s.Label))
	}
	err = l.update(func(tx *bolt.Tx, c *chain) error {
		for _, b := range [][]byte{bucketMeta, bucketSlots, bucketRecords, bucketCheckpoints, bucketPending, bucketIntents, bucketTickets} {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		m := tx.Bucket(bucketMeta)
		if err := m.Put(keyTickets, ticketMark{}.bytes()); err != nil { // an empty index, under the MAC
			return err
		}
		nonce := make([]byte, NonceSize)
		rand.Read(nonce)
		check := append(nonce, aead.Seal(nil, nonce, []byte(keyCheckText), nil)...)
		for k, v := range map[string][]byte{string(keyFormat): []byte(formatName), string(keyWorkstation): []byte(opts.Workstation),
			string(keyCreated): []byte(time.Now().UTC().Format(time.RFC3339)), string(keyKeyCheck): check} {
			if err := m.Put([]byte(k), v); err != nil {
				return err
			}
		}
		for _, s := range slots {
			if err := putSlot(tx, s); err != nil {
				return err
			}
		}
		detail := "key slots: " + strings.Join(ids, "; ")
		// The seal key given at creation is the first pinned checkpoint key (meta.go). A key
		// that cannot sign checkpoints is not pinned (SignCheckpoint refuses it as well).
		if opts.Signer != nil {
			if pins, p, err := pinKey(tx, nil, opts.Signer.Public(), 0); err == nil {
				c.pins, c.meta = pins, true
				detail += "; checkpoint key: " + p.ID
			}
		}
		_, err := l.appendTx(tx, c, []Record{{Kind: KindCreated, Workstation: opts.Workstation, Detail: detail}})
		return err // update writes state and metamac (version 2) after it
	})
	if err != nil {
		db.Close()
		os.Remove(path)
		return nil, fmt.Errorf("creating ledger %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	l.start()
	return l, nil
}

// Open opens an existing ledger, locked. It refuses a missing or empty file, checks the file's
// structure in a child process, compares it with the digest of its last clean close, checks the
// chain from genesis and the newest checkpoint a pinned key signed, and the co-signed floor
// (with the server's key when Options.ServerKey is set): it refuses a ledger shorter than the
// floor or than its own recorded size. A file that fails any of these is moved aside
// (VerifyError.MovedTo), except on rollback, fork or a floor problem, where the records are
// good (perhaps old) and the file is left in place for a person to deal with.
func Open(path string, opts Options) (*Ledger, error) {
	opts.defaults()
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s. If this workstation never had one, create it with 'sealkeeper ledger --init'; if it had one, restore it from a backup: a new ledger is never made in its place by itself", ErrNotFound, path)
	}
	if err != nil {
		return nil, err
	}
	fail := func(e *VerifyError) (*Ledger, error) {
		switch e.Reason {
		case ReasonRollback, ReasonFork, ReasonCosigned:
		default:
			if moved, err := quarantine(path); err == nil {
				e.MovedTo = moved
			}
		}
		return nil, e
	}
	if st.Size() == 0 {
		return fail(structural(path, "the file is empty (0 bytes)"))
	}
	if err := opts.Check(path); err != nil {
		return fail(structural(path, "%v", err))
	}
	digest, err := checkDigest(path)
	if err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) {
			return fail(ve)
		}
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("ledger %s is in use by another SealKeeper process; close it first", path)
	}
	if err != nil {
		return fail(structural(path, "%v", err))
	}
	l := &Ledger{path: path, opts: opts, db: db, interrupted: map[uint64]bool{}, openDigest: digest}
	var mv metaView
	err = guard(path, func() error {
		return db.View(func(tx *bolt.Tx) error {
			l.workstation = string(tx.Bucket(bucketMeta).Get(keyWorkstation))
			var err error
			if mv, err = readMeta(path, tx); err != nil {
				return err
			}
			// The whole chain, from genesis: a checkpoint is no reason to skip records
			// (invariants at the top of this file). Without the key: hashes and links only.
			s := scanner{path: path}
			if l.size, l.head, err = s.run(tx, 1, [HashSize]byte{}); err != nil {
				return err
			}
			if err := mv.checkState(path, l.size, l.head); err != nil {
				return err
			}
			cp, err := trustedCheckpoint(path, tx, l.workstation, mv.pinDERs(), mv.legacy, l.size)
			if err != nil {
				return err
			}
			if cp != nil {
				l.lastCP, l.lastCPTime, l.verifiedTo = cp.Size, cp.Time, cp.Size
			}
			return tx.Bucket(bucketIntents).ForEach(func(k, _ []byte) error {
				if len(k) == 8 {
					l.interrupted[binary.BigEndian.Uint64(k)] = true
				}
				return nil
			})
		})
	})
	var fr floorResult
	if err == nil {
		fr, err = l.readFloor(mv)
	}
	if err == nil && fr.healInside {
		// The file is newer than the copy inside (a crash between the two writes of
		// SetCosigned, or a ledger from before the copy existed): bring the copy up to it.
		err = db.Update(func(tx *bolt.Tx) error { return putCosignedInside(tx, fr.best) })
	}
	if err != nil {
		db.Close()
		var ve *VerifyError
		if errors.As(err, &ve) {
			return fail(ve)
		}
		return nil, err
	}
	l.pins = mv.pins
	if err := removeDigest(path); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger %s: removing the closed-file digest before writing: %w", path, err)
	}
	l.start()
	return l, nil
}

func (l *Ledger) start() {
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.done)
		t := time.NewTicker(l.opts.CheckpointInterval)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				l.mu.Lock()
				if !l.closed && l.signer() != nil && time.Since(l.lastCPTime) >= l.opts.CheckpointInterval {
					_ = l.checkpointLocked()
				}
				l.mu.Unlock()
			}
		}
	}()
}

// Path is the ledger file.
func (l *Ledger) Path() string { return l.path }

// Workstation is the workstation name stored at creation.
func (l *Ledger) Workstation() string { return l.workstation }

// Size is the number of records; Head the entry hash of the last one.
func (l *Ledger) Size() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Head is the entry hash of the last record.
func (l *Ledger) Head() [HashSize]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head
}

// Slots lists the key slots.
func (l *Ledger) Slots() ([]keyslot.Slot, error) {
	var out []keyslot.Slot
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = readSlots(l.path, tx)
		return err
	})
	return out, err
}

func idOfSlot(s keyslot.Slot) (string, error) {
	pub, err := s.Recipient()
	if err != nil {
		return "", err
	}
	return keyslot.ID(pub)
}

func readSlots(path string, tx *bolt.Tx) ([]keyslot.Slot, error) {
	var out []keyslot.Slot
	err := tx.Bucket(bucketSlots).ForEach(func(k, v []byte) error {
		var s keyslot.Slot
		if err := json.Unmarshal(v, &s); err != nil {
			return &VerifyError{Path: path, Reason: ReasonBadSlot, Detail: fmt.Sprintf("key slot %q does not parse: %v", k, err)}
		}
		if id, err := idOfSlot(s); err != nil || id != string(k) || s.ID != id {
			return &VerifyError{Path: path, Reason: ReasonBadSlot, Detail: fmt.Sprintf("key slot %q does not match its public key", k)}
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

func putSlot(tx *bolt.Tx, s keyslot.Slot) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketSlots).Put([]byte(s.ID), b)
}

// Unlock opens a key slot with h (a custodian's token key or the escrow key), checks the
// metadata's MAC, the closed-file digest's MAC and, with the data key, every record after the
// newest trusted checkpoint (Open checked the chain before it), and then, in one transaction:
// pins the checkpoint signer (Options.Signer, SetSigner) if it is new, records the co-signed
// floor under the MAC, and folds pending events into the chain (foldTx). It returns
// keyslot.ErrNoSlot when no slot was made for h, and a *VerifyError when the file was changed
// by someone without the data key; the ledger then stays locked. Unlock (hooks.go) calls it,
// then the OnUnlock functions.
func (l *Ledger) unlock(h keyslot.Holder) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	var slots []keyslot.Slot
	var check []byte
	if err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		slots, err = readSlots(l.path, tx)
		check = append([]byte(nil), tx.Bucket(bucketMeta).Get(keyKeyCheck)...)
		return err
	}); err != nil {
		return err
	}
	key, _, err := keyslot.UnwrapAny(slots, h)
	if errors.Is(err, keyslot.ErrUnwrap) {
		return &VerifyError{Path: l.path, Reason: ReasonBadSlot, Detail: err.Error()}
	}
	if err != nil {
		return fmt.Errorf("unlocking ledger %s: %w", l.path, err)
	}
	aead, err := keyslot.NewSM4GCM(key)
	if err != nil {
		return err
	}
	if len(check) < NonceSize {
		return &VerifyError{Path: l.path, Reason: ReasonStructure, Detail: "the data key check value is missing"}
	}
	if pt, err := aead.Open(nil, check[:NonceSize], check[NonceSize:], nil); err != nil || string(pt) != keyCheckText {
		return &VerifyError{Path: l.path, Reason: ReasonBadTag, Detail: "the key slot opened, but the key does not match this ledger (slot replaced?)"}
	}
	mk, tk := subkey(key, metaMACInfo), subkey(key, ticketIndexInfo)
	var mv metaView
	indexed := false
	var trusted *SignedCheckpoint
	interrupted := map[uint64]bool{}
	err = guard(l.path, func() error {
		return l.db.View(func(tx *bolt.Tx) error {
			// From here on the metadata is authenticated: pinned keys, floor mark, state and
			// the open intents are the data key holder's.
			if err := checkMetaMAC(l.path, tx, mk); err != nil {
				return err
			}
			var err error
			if indexed, err = checkTicketIndex(l.path, tx, tk); err != nil {
				return err
			}
			if l.openDigest != nil {
				if _, err := l.openDigest.checkMAC(l.path, key); err != nil {
					return err
				}
			}
			if mv, err = readMeta(l.path, tx); err != nil {
				return err
			}
			if err := mv.checkState(l.path, l.size, l.head); err != nil {
				return err
			}
			// Open trusted a checkpoint by keys it could not authenticate: choose again.
			if trusted, err = trustedCheckpoint(l.path, tx, l.workstation, mv.pinDERs(), mv.legacy, l.size); err != nil {
				return err
			}
			from, prev := uint64(1), [HashSize]byte{}
			if trusted != nil {
				from, prev = trusted.Size+1, trusted.Head
			}
			s := scanner{path: l.path, newAEAD: func() (cipher.AEAD, error) { return keyslot.NewSM4GCM(key) }}
			if _, _, err := s.run(tx, from, prev); err != nil {
				return err
			}
			return tx.Bucket(bucketIntents).ForEach(func(k, _ []byte) error {
				if len(k) == 8 {
					interrupted[binary.BigEndian.Uint64(k)] = true
				}
				return nil
			})
		})
	})
	var fr floorResult
	if err == nil {
		fr, err = l.readFloor(mv) // again, now that the floor mark is authenticated
	}
	if err != nil {
		clear(key)
		return err
	}
	l.key, l.aead, l.macKey, l.ticketKey = key, aead, mk, tk
	l.digestKey, l.pendingKey = subkey(key, digestMACInfo), subkey(key, pendingMACInfo)
	l.verifiedTo, l.pins, l.interrupted = l.size, mv.pins, interrupted
	l.lastCP, l.lastCPTime = 0, time.Time{}
	if trusted != nil {
		l.lastCP, l.lastCPTime = trusted.Size, trusted.Time
	}
	return l.afterUnlock(h, mv, fr, !indexed)
}

// afterUnlock writes what the first keyed transaction of a login has to: the upgrade of a
// format-1 ledger, the used-ticket index of a ledger that has none (buildIndex), the checkpoint
// signer's pin, the floor mark, the pending events. Nothing is written when there is nothing
// to do.
func (l *Ledger) afterUnlock(h keyslot.Holder, mv metaView, fr floorResult, buildIndex bool) error {
	var signers []crypto.Signer
	for _, s := range []crypto.Signer{l.session, l.opts.Signer} {
		if s != nil && !isPinned(l.pins, s.Public()) {
			if _, err := checkpointKeyDER(s.Public()); err == nil {
				signers = append(signers, s)
			}
		}
	}
	raise := fr.best != nil && (mv.floor == nil || mv.floor.Size < fr.best.Checkpoint.Size)
	pending := 0
	l.db.View(func(tx *bolt.Tx) error { pending = tx.Bucket(bucketPending).Stats().KeyN; return nil })
	l.unreadable = 0
	if mv.v2 && len(signers) == 0 && !raise && pending == 0 && !buildIndex {
		return nil
	}
	err := l.update(func(tx *bolt.Tx, c *chain) error {
		m := tx.Bucket(bucketMeta)
		if !mv.v2 {
			// Format 1 had no pinned keys: its checkpoints up to here stay unverified (not
			// trusted, not refused); from now on metamac binds state, pins, floor, intents.
			if err := m.Put(keyLegacy, binary.BigEndian.AppendUint64(nil, l.size)); err != nil {
				return err
			}
			c.meta = true
		}
		if buildIndex {
			if err := l.buildTicketIndexTx(tx, c); err != nil {
				return err
			}
		}
		for _, s := range signers {
			if err := l.pinTx(tx, c, s); err != nil {
				return err
			}
		}
		if raise {
			best := sizeHead{fr.best.Checkpoint.Size, fr.best.Checkpoint.Head}
			if err := m.Put(keyFloor, best.bytes()); err != nil {
				return err
			}
			c.meta = true
		}
		return l.foldTx(tx, c, h)
	})
	if err != nil {
		return fmt.Errorf("ledger %s: after the login (pinning the seal key, folding events written while locked): %w", l.path, err)
	}
	return nil
}

// pinTx pins s's key as a checkpoint key, with a record in the chain saying so.
func (l *Ledger) pinTx(tx *bolt.Tx, c *chain, s crypto.Signer) error {
	cur := c.pins
	if cur == nil {
		cur = l.pins
	}
	pins, p, err := pinKey(tx, cur, s.Public(), c.size)
	if err != nil || p == nil {
		return err
	}
	c.pins, c.meta = pins, true
	_, err = l.appendTx(tx, c, []Record{{Kind: KindSettingsChanged, Setting: "checkpoint key", New: p.ID,
		Detail: "the seal key that signs this ledger's checkpoints from now on; checkpoints by any other key are refused"}})
	return err
}

// pendingMAC is the MAC Note puts in front of an event it seals while locked (see the top of
// this file): over the pending seq and the sealed bytes.
func pendingMAC(pk, seq, sealed []byte) []byte {
	m := hmac.New(sha256.New, pk)
	m.Write([]byte("sealkeeper pending v2"))
	m.Write(seq)
	m.Write(sealed)
	return m.Sum(nil)
}

const pendingMagic = "SKP2"

// lockedRecord is what a pending event may put in the chain: its descriptive fields, with the
// marks of where it came from. Intent, hashes of outputs, placements, handover, settings,
// checkpoint and slot fields are dropped (LockedKinds use none of them).
func lockedRecord(r Record, auth LockedAuth) Record {
	out := Record{Kind: r.Kind, Time: r.Time, Workstation: r.Workstation, Host: r.Host, IPs: r.IPs, Program: r.Program,
		Custodian: r.Custodian, Token: r.Token, SealID: r.SealID, CertSerial: r.CertSerial, DocID: r.DocID,
		DocTitle: r.DocTitle, TicketID: r.TicketID, InputHash: r.InputHash, Reason: r.Reason, Alarm: r.Alarm, Detail: r.Detail,
		SealedAt: r.SealedAt, Locked: auth}
	if out.SealedAt.IsZero() {
		out.SealedAt = time.Now().UTC()
	}
	return out
}

// foldTx appends the pending events h can open to the chain, by the rules at the top of this
// file, and deletes them from pending; refused ones leave an alarm record instead.
func (l *Ledger) foldTx(tx *bolt.Tx, c *chain, h keyslot.Holder) error {
	p := tx.Bucket(bucketPending)
	var recs []Record
	var keys [][]byte
	err := p.ForEach(func(k, v []byte) error {
		refuse := func(why string, pt []byte) {
			said := "(nothing readable)"
			if len(pt) > 512 {
				said = string(pt[:512]) + "…"
			} else if len(pt) > 0 {
				said = string(pt)
			}
			recs = append(recs, Record{Kind: KindAlarm, Alarm: "forged-locked-event",
				Detail: fmt.Sprintf("an event written while the ledger was locked was refused and removed: %s. It said: %s", why, said)})
			keys = append(keys, append([]byte(nil), k...))
		}
		auth, sealed := LockedClaim, v
		if bytes.HasPrefix(v, []byte(pendingMagic)) {
			if len(v) < len(pendingMagic)+sha256.Size {
				refuse("it is cut short", nil)
				return nil
			}
			mac := v[len(pendingMagic) : len(pendingMagic)+sha256.Size]
			sealed = v[len(pendingMagic)+sha256.Size:]
			if !hmac.Equal(mac, pendingMAC(l.pendingKey, k, sealed)) {
				refuse("it claims to be authenticated, but its MAC does not verify (SealKeeper did not write it)", nil)
				return nil
			}
			auth = LockedAuthenticated
		}
		pt, err := keyslot.Open(sealed, []byte(pendingAD), h)
		if err != nil {
			l.unreadable++ // sealed before this key had a slot: it waits for the escrow key
			return nil
		}
		r, err := decodeRecord(0, pt)
		switch {
		case err != nil:
			refuse("it is not a ledger record", pt)
		case !lockedKind(r.Kind):
			refuse(fmt.Sprintf("a %s cannot be written while nobody is logged in", r.Kind), pt)
		default:
			recs = append(recs, lockedRecord(r, auth))
			keys = append(keys, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil || len(recs) == 0 {
		return err
	}
	for _, k := range keys {
		if err := p.Delete(k); err != nil {
			return err
		}
	}
	_, err = l.appendTx(tx, c, recs)
	return err
}

// Lock forgets the data key and the signer given by SetSigner (logout, token removed), then
// calls the OnLock functions (hooks.go).
func (l *Ledger) Lock() {
	defer l.hooks.locked()
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.key)
	clear(l.macKey)
	clear(l.ticketKey)
	l.key, l.aead, l.macKey, l.ticketKey, l.session = nil, nil, nil, nil, nil
}

// SetSigner gives the ledger the logged-in custodian's seal key for checkpoints, until Lock or
// Close (Options.Signer is the one for the whole time the ledger is open). A key the ledger has
// not pinned yet is pinned now when the ledger is unlocked, otherwise at the next Unlock:
// checkpoints are signed only by pinned keys, and only a data key holder can pin one.
func (l *Ledger) SetSigner(s crypto.Signer) error {
	if _, err := checkpointKeyDER(s.Public()); err != nil {
		return fmt.Errorf("this seal key cannot sign the ledger's checkpoints: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.session = s
	if l.key == nil || isPinned(l.pins, s.Public()) {
		return nil
	}
	if err := l.update(func(tx *bolt.Tx, c *chain) error { return l.pinTx(tx, c, s) }); err != nil {
		return fmt.Errorf("pinning the seal key for the ledger's checkpoints: %w", err)
	}
	return nil
}

// signer is the key that signs checkpoints now (nil: none).
func (l *Ledger) signer() crypto.Signer {
	if l.session != nil {
		return l.session
	}
	return l.opts.Signer
}

// Unlocked reports whether the data key is in memory.
func (l *Ledger) Unlocked() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.key != nil
}

// PendingUnreadable is how many events written while locked the last Unlock could not open
// (sealed before its slot existed); they stay for the escrow key.
func (l *Ledger) PendingUnreadable() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.unreadable
}

// Append writes records as one transaction and returns their seqs. When it returns nil the
// records are on disk (fdatasync). It needs the ledger unlocked.
func (l *Ledger) Append(recs ...Record) ([]uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if l.aead == nil {
		return nil, ErrLocked
	}
	var seqs []uint64
	err := l.update(func(tx *bolt.Tx, c *chain) error {
		var err error
		seqs, err = l.appendTx(tx, c, recs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("appending to ledger %s: %w", l.path, err)
	}
	return seqs, nil
}

// chain is the in-memory tail of the ledger as a transaction builds it. It is applied to the
// Ledger only after the transaction commits, so a failed commit leaves memory as the file is.
type chain struct {
	size    uint64
	head    [HashSize]byte
	cp      uint64      // checkpoint signed in this transaction (0: none)
	opened  []uint64    // stamp intents added
	settled []uint64    // stamp intents answered
	pins    []pinnedKey // the pinned keys after this transaction (nil: unchanged)
	meta    bool        // something under metamac changed
}

func (l *Ledger) chain() *chain { return &chain{size: l.size, head: l.head} }

func (l *Ledger) apply(c *chain) {
	l.size, l.head = c.size, c.head
	l.verifiedTo = c.size // written here, with the data key
	if c.pins != nil {
		l.pins = c.pins
	}
	if c.cp != 0 {
		l.lastCP, l.lastCPTime = c.cp, time.Now()
	}
	for _, s := range c.opened {
		l.interrupted[s] = true
	}
	for _, s := range c.settled {
		delete(l.interrupted, s)
	}
}

// update runs f in a write transaction with a fresh chain and applies the chain if it commits.
// It needs the data key: every transaction it makes ends with state and metamac rewritten
// (meta.go) whenever f appended records or changed anything under the MAC.
func (l *Ledger) update(f func(tx *bolt.Tx, c *chain) error) error {
	if l.macKey == nil {
		return ErrLocked
	}
	c := l.chain()
	err := l.db.Update(func(tx *bolt.Tx) error {
		if err := f(tx, c); err != nil {
			return err
		}
		if c.size != l.size || c.meta || len(c.opened)+len(c.settled) > 0 {
			if err := putMetaMAC(l.path, tx, l.macKey, sizeHead{c.size, c.head}); err != nil {
				return err
			}
		}
		// A due checkpoint goes into the same transaction: one fsync, not two. Every record
		// in it was checked at Unlock or written by this ledger (verifiedTo == size before).
		pins := c.pins
		if pins == nil {
			pins = l.pins
		}
		s := l.signer()
		if s != nil && isPinned(pins, s.Public()) && l.verifiedTo == l.size && c.size > l.lastCP && (c.size-l.lastCP >= uint64(l.opts.CheckpointEvery) || time.Since(l.lastCPTime) >= l.opts.CheckpointInterval) {
			sc, err := SignCheckpoint(s, Checkpoint{Workstation: l.workstation, Size: c.size, Head: c.head})
			if err != nil {
				return nil // the records still go in; the checkpoint is retried at the next append, tick or Close
			}
			if err := putCheckpoint(tx, sc); err != nil {
				return err
			}
			c.cp = c.size
		}
		return nil
	})
	if err != nil {
		return err
	}
	l.apply(c)
	return nil
}

func putCheckpoint(tx *bolt.Tx, sc SignedCheckpoint) error {
	b, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], sc.Size)
	return tx.Bucket(bucketCheckpoints).Put(k[:], b)
}

// appendTx chains and encrypts recs into tx, advancing c.
func (l *Ledger) appendTx(tx *bolt.Tx, c *chain, recs []Record) ([]uint64, error) {
	b := tx.Bucket(bucketRecords)
	// Keys only ever grow: fill pages completely instead of splitting them half full (bbolt's
	// advice for append-only buckets); this halves the file and the pages verify must read.
	b.FillPercent = 1.0
	in := tx.Bucket(bucketIntents)
	seqs := make([]uint64, 0, len(recs))
	// Per batch, not per record: one read of the random source for every nonce, one JSON
	// encoder and one hash state reused across records. Each envelope is built in one
	// allocation (bbolt keeps the value until commit) and sealed in place behind its header.
	nonces := make([]byte, NonceSize*len(recs))
	if _, err := rand.Read(nonces); err != nil {
		return nil, err
	}
	var enc recordEncoder
	h := sm3.New()
	overhead := l.aead.Overhead()
	for i := range recs {
		r := recs[i]
		if r.Workstation == "" {
			r.Workstation = l.workstation
		}
		pt, err := enc.encode(&r)
		if err != nil {
			return nil, err
		}
		seq := c.size + 1
		n := len(pt) + overhead
		if n > MaxCiphertext {
			return nil, fmt.Errorf("ledger record %d: ciphertext of %d bytes is over the %d-byte limit", seq, n, MaxCiphertext)
		}
		nonce := nonces[i*NonceSize : (i+1)*NonceSize]
		raw := appendEnvelopeHeader(make([]byte, 0, envelopeHead+n), seq, &c.head, nonce, n)
		// Sealed in place behind the header; the AD it reads lies before what Seal writes.
		raw = l.aead.Seal(raw, nonce, pt, envelopeAD(raw))
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], seq)
		if err := b.Put(k[:], raw); err != nil {
			return nil, err
		}
		switch r.Kind {
		case KindStampIntent:
			if err := in.Put(k[:], nil); err != nil {
				return nil, err
			}
			if r.TicketID != "" { // used once: refused here if an earlier intent named it
				if err := useTicketTx(l.path, tx, l.ticketKey, r.TicketID, seq); err != nil {
					return nil, err
				}
				c.meta = true
			}
			c.opened = append(c.opened, seq)
		case KindStampDone, KindStampFailed:
			if r.Settles() != 0 { // never a record folded in from a locked-time event
				var ik [8]byte
				binary.BigEndian.PutUint64(ik[:], r.Intent)
				if err := in.Delete(ik[:]); err != nil {
					return nil, err
				}
				c.settled = append(c.settled, r.Intent)
			}
		}
		c.size = seq
		entryHashOf(h, raw, &c.head)
		seqs = append(seqs, seq)
	}
	return seqs, nil
}

// Note writes one event whether or not anyone is logged in: appended to the chain when the
// ledger is unlocked, otherwise sealed to the key slots' public keys and kept in the pending
// area until the next Unlock (see the comment at the top of this file). Durable on return.
// While locked only LockedKinds may be written; others return ErrNotWhileLocked.
func (l *Ledger) Note(r Record) error {
	l.mu.Lock()
	unlocked := l.aead != nil
	l.mu.Unlock()
	if unlocked {
		_, err := l.Append(r)
		if !errors.Is(err, ErrLocked) {
			return err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if !lockedKind(r.Kind) {
		return fmt.Errorf("ledger %s: %s: %w; log in with a custodian's key, then write it", l.path, r.Kind, ErrNotWhileLocked)
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.SealedAt = r.Time.UTC()
	if r.Workstation == "" {
		r.Workstation = l.workstation
	}
	pt, err := r.encode()
	if err != nil {
		return err
	}
	return l.db.Update(func(tx *bolt.Tx) error {
		slots, err := readSlots(l.path, tx)
		if err != nil {
			return err
		}
		var pubs []crypto.PublicKey
		for _, s := range slots {
			p, err := s.Recipient()
			if err != nil {
				return err
			}
			pubs = append(pubs, p)
		}
		msg, err := keyslot.Seal(pt, []byte(pendingAD), pubs)
		if err != nil {
			return err
		}
		p := tx.Bucket(bucketPending)
		n, err := p.NextSequence()
		if err != nil {
			return err
		}
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], n)
		if l.pendingKey != nil { // someone logged in earlier in this run: vouch for it
			msg = append(append([]byte(pendingMagic), pendingMAC(l.pendingKey, k[:], msg)...), msg...)
		}
		return p.Put(k[:], msg)
	})
}

// Pending is how many sealed events wait to be folded into the chain.
func (l *Ledger) Pending() int {
	n := 0
	l.db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucketPending).Stats().KeyN; return nil })
	return n
}

// Interrupted returns the stamp intents with no done or failed record: stampings a crash or
// power loss cut short. The caller reconciles each (does the output exist and verify?) and
// appends a stamp.done or stamp.failed naming it in Record.Intent.
func (l *Ledger) Interrupted() ([]Record, error) {
	l.mu.Lock()
	seqs := make([]uint64, 0, len(l.interrupted))
	for s := range l.interrupted {
		seqs = append(seqs, s)
	}
	l.mu.Unlock()
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	out := make([]Record, 0, len(seqs))
	for _, s := range seqs {
		r, err := l.Get(s)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (l *Ledger) readAEAD() (cipher.AEAD, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if l.key == nil {
		return nil, ErrLocked
	}
	return keyslot.NewSM4GCM(l.key)
}

// Get decrypts one record.
func (l *Ledger) Get(seq uint64) (Record, error) {
	aead, err := l.readAEAD()
	if err != nil {
		return Record{}, err
	}
	var r Record
	err = l.db.View(func(tx *bolt.Tx) error {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], seq)
		v := tx.Bucket(bucketRecords).Get(k[:])
		if v == nil {
			return fmt.Errorf("ledger %s has no record %d (it has %d)", l.path, seq, l.size)
		}
		var e Envelope
		if err := e.UnmarshalBinary(v); err != nil {
			return &VerifyError{Path: l.path, Seq: seq, Reason: ReasonMalformed, Detail: err.Error()}
		}
		pt, err := aead.Open(nil, e.Nonce[:], e.Ciphertext, e.AssociatedData())
		if err != nil {
			return &VerifyError{Path: l.path, Seq: seq, Reason: ReasonBadTag}
		}
		r, err = decodeRecord(seq, pt)
		if err != nil {
			return &VerifyError{Path: l.path, Seq: seq, Reason: ReasonMalformed, Detail: err.Error()}
		}
		return nil
	})
	return r, err
}

// Records decrypts records from seq from on, in order, checking the chain as it goes, and
// calls fn for each.
func (l *Ledger) Records(from uint64, fn func(Record) error) error {
	if _, err := l.readAEAD(); err != nil {
		return err
	}
	l.mu.Lock()
	key := append([]byte(nil), l.key...)
	l.mu.Unlock()
	if from == 0 {
		from = 1
	}
	return guard(l.path, func() error {
		return l.db.View(func(tx *bolt.Tx) error {
			var prev [HashSize]byte
			if from > 1 {
				prev, _ = entryHashAt(tx, from-1)
			}
			s := scanner{path: l.path, full: true, newAEAD: func() (cipher.AEAD, error) { return keyslot.NewSM4GCM(key) },
				visit: func(_ uint64, _ [HashSize]byte, _ Kind, _ uint64, r *Record) error { return fn(*r) }}
			_, _, err := s.run(tx, from, prev)
			return err
		})
	})
}

// Envelopes calls fn with the stored envelopes from seq from on (no key needed): what sync
// pushes upstream.
func (l *Ledger) Envelopes(from uint64, fn func(Envelope) error) error {
	return l.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRecords).Cursor()
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], from)
		for k, v := c.Seek(k[:]); k != nil; k, v = c.Next() {
			var e Envelope
			if err := e.UnmarshalBinary(v); err != nil {
				return &VerifyError{Path: l.path, Seq: binary.BigEndian.Uint64(k), Reason: ReasonMalformed, Detail: err.Error()}
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeriveKey derives a key for another store (e.g. "cache") from the data key, so that
// everything the workstation keeps opens with the same key slots.
func (l *Ledger) DeriveKey(purpose string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.key == nil {
		return nil, ErrLocked
	}
	if strings.HasPrefix(purpose, "ledger") {
		// The ledger's own subkeys ("sealkeeper ledger …": meta MAC, digest MAC, pending MAC).
		return nil, fmt.Errorf("DeriveKey(%q): purposes beginning with \"ledger\" are the ledger's own", purpose)
	}
	return hkdf.Key(sha256.New, l.key, nil, "sealkeeper "+purpose, keyslot.KeySize)
}

// ChangeSlots adds and removes key slots and appends recs, all in one transaction, with a
// slot.added or slot.removed record for each change. Handover adds the new custodian and
// removes the old one. The ledger always keeps at least one slot.
func (l *Ledger) ChangeSlots(add []Recipient, remove []string, recs ...Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.key == nil {
		return ErrLocked
	}
	err := l.update(func(tx *bolt.Tx, c *chain) error {
		slots, err := readSlots(l.path, tx)
		if err != nil {
			return err
		}
		have := map[string]keyslot.Slot{}
		for _, s := range slots {
			have[s.ID] = s
		}
		var log []Record
		for _, r := range add {
			s, err := keyslot.Wrap(l.key, r.Public, r.Role, r.Label)
			if err != nil {
				return fmt.Errorf("key slot for %q: %w", r.Label, err)
			}
			if _, dup := have[s.ID]; dup {
				return fmt.Errorf("key %s (%s) already has a slot", s.ID, r.Label)
			}
			have[s.ID] = s
			if err := putSlot(tx, s); err != nil {
				return err
			}
			log = append(log, Record{Kind: KindSlotAdded, Slot: s.ID, Custodian: s.Label, Detail: string(s.Role)})
		}
		for _, id := range remove {
			s, ok := have[id]
			if !ok {
				return fmt.Errorf("no key slot %s to remove", id)
			}
			delete(have, id)
			if err := tx.Bucket(bucketSlots).Delete([]byte(id)); err != nil {
				return err
			}
			log = append(log, Record{Kind: KindSlotRemoved, Slot: id, Custodian: s.Label, Detail: string(s.Role)})
		}
		if len(have) == 0 {
			return errors.New("that would remove the last key slot, and nobody could open the ledger again")
		}
		c.meta = true // update rewrites metamac over the new slots
		_, err = l.appendTx(tx, c, append(log, recs...))
		return err
	})
	if err != nil {
		return fmt.Errorf("changing key slots: %w", err)
	}
	return nil
}

// Checkpoint signs {size, head} now (if there is anything new since the last one).
func (l *Ledger) Checkpoint() (*SignedCheckpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if err := l.checkpointLocked(); err != nil {
		return nil, err
	}
	var c *SignedCheckpoint
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		c, err = lastCheckpoint(tx)
		return err
	})
	return c, err
}

func (l *Ledger) checkpointLocked() error {
	s := l.signer()
	if s == nil {
		return errors.New("no signer for checkpoints (the seal key is not available)")
	}
	if l.size == l.lastCP {
		return nil
	}
	if !isPinned(l.pins, s.Public()) {
		return errors.New("the seal key is not pinned in this ledger yet: it is pinned at the first login with it (Unlock)")
	}
	if l.verifiedTo != l.size {
		return fmt.Errorf("records %d to %d have not been checked with the data key yet: log in first", l.verifiedTo+1, l.size)
	}
	sc, err := SignCheckpoint(s, Checkpoint{Workstation: l.workstation, Size: l.size, Head: l.head})
	if err != nil {
		return err
	}
	err = l.db.Update(func(tx *bolt.Tx) error { return putCheckpoint(tx, sc) })
	if err != nil {
		return fmt.Errorf("storing checkpoint: %w", err)
	}
	l.lastCP, l.lastCPTime = sc.Size, time.Now()
	return nil
}

// Checkpoints lists the signed checkpoints, oldest first.
func (l *Ledger) Checkpoints() ([]SignedCheckpoint, error) {
	var out []SignedCheckpoint
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCheckpoints).ForEach(func(_, v []byte) error {
			var c SignedCheckpoint
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// SetCosigned stores the server's co-signature of a checkpoint of this ledger: in the file
// PATH.cosigned first, then inside the ledger, and, when the ledger is unlocked, as the floor
// mark under the MAC (floor.go). The ledger will from then on refuse to open with fewer records
// than cp.Size, or without the file. With Options.ServerKey the signature is checked first.
// Checkpoints older than the stored one are ignored.
func (l *Ledger) SetCosigned(cp SignedCheckpoint, serverSig []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	c := Cosigned{Checkpoint: cp, ServerSignature: serverSig, Stored: time.Now().UTC()}
	if l.opts.ServerKey != nil {
		if err := verifyCosigned(&c, l.opts.ServerKey); err != nil {
			return fmt.Errorf("refusing the co-signed checkpoint of %d records: %w", cp.Size, err)
		}
	}
	if cp.Workstation != l.workstation {
		return fmt.Errorf("refusing a checkpoint co-signed for workstation %q: this ledger is %q's", cp.Workstation, l.workstation)
	}
	if cp.Size > l.size {
		return fmt.Errorf("the server co-signed %d records, this ledger has %d", cp.Size, l.size)
	}
	var h [HashSize]byte
	var ok bool
	var inside *Cosigned
	l.db.View(func(tx *bolt.Tx) error {
		h, ok = entryHashAt(tx, cp.Size)
		mv, err := readMeta(l.path, tx)
		inside = mv.cosigned
		return err
	})
	if !ok || !bytes.Equal(h[:], cp.Head[:]) {
		return &VerifyError{Path: l.path, Seq: cp.Size, Reason: ReasonFork, Detail: "the server co-signed another record at this size"}
	}
	old, err := ReadCosigned(l.path)
	if err != nil {
		return err
	}
	if old == nil || old.Checkpoint.Size < cp.Size {
		// The file first (floor.go): it is then never older than the copy inside.
		if err := writeCosigned(l.path, c); err != nil {
			return err
		}
	} else {
		c = *old
	}
	if inside != nil && inside.Checkpoint.Size >= c.Checkpoint.Size {
		return nil
	}
	if l.macKey == nil {
		err = l.db.Update(func(tx *bolt.Tx) error { return putCosignedInside(tx, &c) })
	} else {
		err = l.update(func(tx *bolt.Tx, ch *chain) error {
			if err := putCosignedInside(tx, &c); err != nil {
				return err
			}
			ch.meta = true
			return tx.Bucket(bucketMeta).Put(keyFloor, sizeHead{c.Checkpoint.Size, c.Checkpoint.Head}.bytes())
		})
	}
	if err != nil {
		return fmt.Errorf("storing the co-signed checkpoint inside the ledger: %w", err)
	}
	return nil
}

// Close signs a last checkpoint (when there is a signer and something new), closes the file,
// writes the closed-file digest and forgets the key.
func (l *Ledger) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	var cpErr error
	if l.signer() != nil {
		cpErr = l.checkpointLocked()
	}
	l.closed = true
	dk := l.digestKey
	for _, k := range [][]byte{l.key, l.macKey, l.pendingKey} {
		clear(k)
	}
	l.key, l.aead, l.macKey, l.pendingKey, l.digestKey, l.session = nil, nil, nil, nil, nil, nil
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	if err := l.db.Close(); err != nil {
		return err
	}
	err := writeDigest(l.path, dk, l.openDigest)
	clear(dk)
	if err != nil {
		return fmt.Errorf("ledger closed, but writing its digest failed: %w", err)
	}
	if cpErr != nil {
		return fmt.Errorf("ledger closed, but the final checkpoint was not signed: %w", cpErr)
	}
	return nil
}

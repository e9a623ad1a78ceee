package ledger

import (
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
)

// File layout (one bbolt file, normally DATA/ledger.db)
//
//	meta        format → "sealkeeper-ledger/1"; workstation; created; keycheck; metamac; and
//	            macv, state, cpkeys, legacy, floor, cosigned (see meta.go); slotlabels,
//	            openintents (sealed under the data key, see sealed.go)
//	slots       slot id → keyslot.Slot (JSON) without its label: public keys and wrapped data keys
//	records     seq (u64 big-endian) → Envelope.MarshalBinary(); the plaintext padded (pad.go)
//	checkpoints size (u64 big-endian) → SignedCheckpoint (JSON)
//	pending     u64 → ["SKP2" ‖ MAC] ‖ keyslot.Seal(record JSON, padded): events written while locked
//	intents     empty; in a file from before openintents, seq → "" for each open stamp.intent
//	            (moved into openintents at the first login, see sealed.go)
//	tickets     ticket id → seq of its stamp.intent: the used-ticket index (see tickets.go)
//
// Without a key one reads: the workstation name, creation time, the slots' roles, public keys
// and dates, the number of records and of checkpoints (signed heads, public by design: the
// server checks them), how many events wait in pending, and the used-ticket index's ticket ids
// (tickets.go). Not the records' contents or kinds (padded), the custodians' names, or which
// stampings were interrupted.
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
		labels := map[string]string{}
		for _, s := range slots {
			if err := putSlot(tx, s); err != nil {
				return err
			}
			labels[s.ID] = s.Label
		}
		if err := putLabels(tx, aead, labels); err != nil {
			return err
		}
		c.intents = true // an empty openintents, under the MAC from the start
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
			return nil // the open intents are sealed: Unlock reads them (sealed.go)
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

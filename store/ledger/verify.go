package ledger

import (
	"crypto/cipher"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
)

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// Check runs the bbolt consistency check (default DefaultCheck, in a child process).
	Check func(path string) error
	// Visit, when set (and the ledger is decrypted), gets every record in seq order.
	Visit func(Record) error
}

// Report is what Verify found in a ledger that verifies.
type Report struct {
	Path        string
	Workstation string
	Bytes       int64 // file size
	Records     uint64
	Head        [HashSize]byte
	Decrypted   bool // every record was opened with the data key (a slot opened)
	Slot        string
	Slots       []keyslot.Slot
	Checkpoints int
	LastSigned  uint64 // size of the newest signed checkpoint
	Cosigned    uint64 // size the server co-signed (0: none stored)
	Kinds       map[Kind]int
	Unknown     int      // records of kinds or schema versions this program does not know
	Interrupted []uint64 // stamp intents with no done/failed
	Pending     int      // sealed events not yet folded into the chain
	Digest      bool     // the closed-file digest was present and matched
	Duration    time.Duration
}

// Verify checks a ledger file from genesis without changing it: file structure (in a child
// process), every record's place in the chain, every tag when h opens a key slot (h may be nil:
// then only what the server can check), every signed checkpoint, the co-signed size stored
// beside it and the digest of its last clean close. It returns the first problem as a
// *VerifyError naming the seq and reason.
func Verify(path string, h keyslot.Holder, opts VerifyOptions) (*Report, error) {
	t0 := time.Now()
	if opts.Check == nil {
		opts.Check = DefaultCheck
	}
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s", ErrNotFound, path)
	}
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 {
		return nil, structural(path, "the file is empty (0 bytes)")
	}
	// The digest of the last clean close reads the file with read(2), not through the memory
	// map, so it may run beside the child's check and the scan; its verdict is taken last, so a
	// problem in the chain is still the one reported first.
	type digestResult struct {
		present bool
		err     error
	}
	digest := make(chan digestResult, 1)
	go func() {
		present, err := checkDigest(path)
		digest <- digestResult{present, err}
	}()
	if err := opts.Check(path); err != nil {
		return nil, structural(path, "%v", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("ledger %s is in use by SealKeeper; verify it from the running program, or close the program first", path)
	}
	if err != nil {
		return nil, structural(path, "%v", err)
	}
	defer db.Close()
	rep := &Report{Path: path, Bytes: st.Size(), Kinds: map[Kind]int{}}
	err = guard(path, func() error {
		return db.View(func(tx *bolt.Tx) error { return verifyTx(tx, path, h, opts, rep) })
	})
	if err != nil {
		return nil, err
	}
	if c, err := ReadCosigned(path); err != nil {
		return nil, err
	} else if c != nil {
		rep.Cosigned = c.Checkpoint.Size
		if c.Checkpoint.Size > rep.Records {
			return nil, &VerifyError{Path: path, Seq: rep.Records + 1, Reason: ReasonRollback,
				Detail: fmt.Sprintf("the server co-signed %d records, the file has %d (older copy, or records removed)", c.Checkpoint.Size, rep.Records)}
		}
		var hh [HashSize]byte
		db.View(func(tx *bolt.Tx) error { hh, _ = entryHashAt(tx, c.Checkpoint.Size); return nil })
		if hh != c.Checkpoint.Head {
			return nil, &VerifyError{Path: path, Seq: c.Checkpoint.Size, Reason: ReasonFork, Detail: "this record differs from the one the server co-signed"}
		}
	}
	d := <-digest
	if d.err != nil {
		return nil, d.err
	}
	rep.Digest = d.present
	rep.Duration = time.Since(t0)
	return rep, nil
}

func verifyTx(tx *bolt.Tx, path string, h keyslot.Holder, opts VerifyOptions, rep *Report) error {
	rep.Workstation = string(tx.Bucket(bucketMeta).Get(keyWorkstation))
	slots, err := readSlots(path, tx)
	if err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) {
			ve.Path = path
			return ve
		}
		return structural(path, "%v", err)
	}
	rep.Slots = slots
	rep.Pending = tx.Bucket(bucketPending).Stats().KeyN
	s := scanner{path: path}
	if h != nil {
		key, slot, err := keyslot.UnwrapAny(slots, h)
		if errors.Is(err, keyslot.ErrUnwrap) {
			return &VerifyError{Path: path, Reason: ReasonBadSlot, Detail: err.Error()}
		}
		if err != nil {
			return fmt.Errorf("ledger %s: %w: this copy cannot be read with this key (slots: %d)", path, err, len(slots))
		}
		aead, err := keyslot.NewSM4GCM(key)
		if err != nil {
			return err
		}
		check := tx.Bucket(bucketMeta).Get(keyKeyCheck)
		if len(check) < NonceSize {
			return structural(path, "the data key check value is missing")
		}
		if pt, err := aead.Open(nil, check[:NonceSize], check[NonceSize:], nil); err != nil || string(pt) != keyCheckText {
			return &VerifyError{Path: path, Reason: ReasonBadTag, Detail: fmt.Sprintf("slot %s opened, but its key does not match this ledger (slot replaced?)", slot.ID)}
		}
		if err := checkMetaMAC(path, tx, key); err != nil {
			return err
		}
		rep.Decrypted, rep.Slot = true, slot.ID
		s.newAEAD = func() (cipher.AEAD, error) { return keyslot.NewSM4GCM(key) }
		s.full = opts.Visit != nil
	}
	// Checkpoints: every one must be signed, and its head must be a record's hash.
	type cpAt struct {
		c   SignedCheckpoint
		key uint64
	}
	var cps []cpAt
	if err := tx.Bucket(bucketCheckpoints).ForEach(func(k, v []byte) error {
		var c SignedCheckpoint
		if err := json.Unmarshal(v, &c); err != nil || len(k) != 8 {
			seq := uint64(0)
			if len(k) == 8 {
				seq = binary.BigEndian.Uint64(k)
			}
			return &VerifyError{Path: path, Seq: seq, Reason: ReasonBadCheckpoint, Detail: "stored checkpoint does not parse"}
		}
		cps = append(cps, cpAt{c, binary.BigEndian.Uint64(k)})
		return nil
	}); err != nil {
		return err
	}
	want := map[uint64]bool{}
	for _, c := range cps {
		want[c.c.Size] = true
	}
	hashes := map[uint64][HashSize]byte{}
	open := map[uint64]bool{}
	s.visit = func(seq uint64, hash [HashSize]byte, kind Kind, intent uint64, r *Record) error {
		if want[seq] {
			hashes[seq] = hash
		}
		if rep.Decrypted {
			rep.Kinds[kind]++
			if !knownKinds[kind] || (r != nil && r.Schema > SchemaVersion) {
				rep.Unknown++
			}
			switch kind {
			case KindStampIntent:
				open[seq] = true
			case KindStampDone, KindStampFailed:
				delete(open, intent)
			}
			if opts.Visit != nil && r != nil {
				return opts.Visit(*r)
			}
		}
		return nil
	}
	last, head, err := s.run(tx, 1, [HashSize]byte{})
	if err != nil {
		return err
	}
	rep.Records, rep.Head = last, head
	for _, c := range cps {
		bad := func(r Reason, f string, a ...any) error {
			return &VerifyError{Path: path, Seq: c.c.Size, Reason: r, Detail: fmt.Sprintf(f, a...)}
		}
		if c.key != c.c.Size {
			return bad(ReasonBadCheckpoint, "checkpoint stored under size %d", c.key)
		}
		if err := c.c.VerifySignature(); err != nil {
			return bad(ReasonBadCheckpoint, "%v", err)
		}
		if c.c.Workstation != rep.Workstation {
			return bad(ReasonBadCheckpoint, "signed for workstation %q, ledger is %q's", c.c.Workstation, rep.Workstation)
		}
		if c.c.Size > last {
			return bad(ReasonRollback, "a signed checkpoint says the ledger had %d records, it has %d (records removed from the end, or an older copy)", c.c.Size, last)
		}
		if hashes[c.c.Size] != c.c.Head {
			return bad(ReasonBadCheckpoint, "the record at the checkpoint's size has another hash than the signed head")
		}
		rep.Checkpoints++
		rep.LastSigned = c.c.Size
	}
	for s := range open {
		rep.Interrupted = append(rep.Interrupted, s)
	}
	sort.Slice(rep.Interrupted, func(i, j int) bool { return rep.Interrupted[i] < rep.Interrupted[j] })
	return nil
}

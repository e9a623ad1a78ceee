package ledger

import (
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"maps"
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
	// ServerKey is the pinned server key: with it the co-signed floor's signature is checked;
	// without it the report says it was not.
	ServerKey *ecdsa.PublicKey
	// SealKeys are seal certificates' public keys whose checkpoints are trusted (what the
	// server knows). With a key holder they count besides the keys pinned in the ledger;
	// without one (h == nil) they replace those, which nobody can authenticate without the
	// data key.
	SealKeys []crypto.PublicKey
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
	Slots       []keyslot.Slot // labels only when a slot opened (sealed.go)
	Checkpoints int            // checkpoints signed by a trusted key, all checked
	LastSigned  uint64         // size of the newest of them
	Cosigned    uint64         // size the server co-signed (0: none stored)
	Kinds       map[Kind]int
	Unknown     int      // records of kinds or schema versions this program does not know
	Interrupted []uint64 // stamp intents with no done/failed
	Pending     int      // sealed events not yet folded into the chain
	// Digest: the closed-file digest was present, matched, and its MAC verified with the data
	// key, so the file is byte for byte the one SealKeeper closed. A plain hash anyone could
	// recompute does not count (Unchecked says so).
	Digest bool
	// Unchecked says in plain words what this verification could not check (no key, no
	// server key, no authenticated digest, checkpoints from before keys were pinned).
	Unchecked []string
	Duration  time.Duration
}

// Verify checks a ledger file from genesis without changing it: file structure (in a child
// process), every record's place in the chain, every tag, the metadata's MAC and the ledger's
// recorded size when h opens a key slot (h may be nil: then only what the server can check),
// every checkpoint against the pinned keys (or opts.SealKeys), the co-signed floor (against
// opts.ServerKey) and the digest of its last clean close. It returns the first problem as a
// *VerifyError naming the seq and reason; Report.Unchecked lists what it could not check.
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
		line *digestLine
		err  error
	}
	digest := make(chan digestResult, 1)
	go func() {
		line, err := checkDigest(path)
		digest <- digestResult{line, err}
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
	var vs verifyState
	err = guard(path, func() error {
		return db.View(func(tx *bolt.Tx) error { return verifyTx(tx, path, h, opts, rep, &vs) })
	})
	if err != nil {
		return nil, err
	}
	file, err := ReadCosigned(path)
	if err != nil {
		return nil, &VerifyError{Path: path, Reason: ReasonCosigned, Detail: err.Error()}
	}
	var fr floorResult
	err = guard(path, func() error {
		return db.View(func(tx *bolt.Tx) error {
			var err error
			fr, err = checkFloor(path, rep.Workstation, file, vs.mv.cosigned, vs.mv.floor, opts.ServerKey, rep.Records, func(s uint64) ([HashSize]byte, bool) { return entryHashAt(tx, s) })
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	if fr.best != nil {
		rep.Cosigned = fr.best.Checkpoint.Size
	}
	if fr.note != "" {
		rep.Unchecked = append(rep.Unchecked, fr.note)
	}
	d := <-digest
	if d.err != nil {
		return nil, d.err
	}
	switch {
	case d.line == nil:
		rep.Unchecked = append(rep.Unchecked, "there is no closed-file digest (the ledger was not closed cleanly, or the digest was removed): free pages and slack were not checked")
	case vs.key == nil:
		rep.Unchecked = append(rep.Unchecked, "the closed-file digest's plain SHA-256 matched, but anyone can recompute that; its MAC needs the data key")
	default:
		ok, err := d.line.checkMAC(path, vs.key)
		if err != nil {
			return nil, err
		}
		if !ok {
			rep.Unchecked = append(rep.Unchecked, "the closed-file digest has no MAC (the ledger was last closed by a run that never unlocked it, or someone recomputed the digest): it matched, but that proves nothing")
		}
		rep.Digest = ok
	}
	rep.Duration = time.Since(t0)
	return rep, nil
}

type verifyState struct {
	key []byte // the data key (nil: no slot opened)
	mv  metaView
}

func verifyTx(tx *bolt.Tx, path string, h keyslot.Holder, opts VerifyOptions, rep *Report, vs *verifyState) error {
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
	if vs.mv, err = readMeta(path, tx); err != nil {
		return err
	}
	s := scanner{path: path}
	var aead cipher.AEAD // the data key's, when a slot opened
	if h != nil {
		key, slot, err := keyslot.UnwrapAny(slots, h)
		if errors.Is(err, keyslot.ErrUnwrap) {
			return &VerifyError{Path: path, Reason: ReasonBadSlot, Detail: err.Error()}
		}
		if err != nil {
			return fmt.Errorf("ledger %s: %w: this copy cannot be read with this key (slots: %d)", path, err, len(slots))
		}
		if aead, err = keyslot.NewSM4GCM(key); err != nil {
			return err
		}
		check := tx.Bucket(bucketMeta).Get(keyKeyCheck)
		if len(check) < NonceSize {
			return structural(path, "the data key check value is missing")
		}
		if pt, err := aead.Open(nil, check[:NonceSize], check[NonceSize:], nil); err != nil || string(pt) != keyCheckText {
			return &VerifyError{Path: path, Reason: ReasonBadTag, Detail: fmt.Sprintf("slot %s opened, but its key does not match this ledger (slot replaced?)", slot.ID)}
		}
		if err := checkMetaMAC(path, tx, subkey(key, metaMACInfo)); err != nil {
			return err
		}
		if _, err := checkTicketIndex(path, tx, subkey(key, ticketIndexInfo)); err != nil {
			return err
		}
		labels, _, err := readLabels(path, tx, aead, slots)
		if err != nil {
			return err
		}
		rep.Slots = withLabels(slots, labels)
		vs.key = key
		rep.Decrypted, rep.Slot = true, slot.ID
		s.newAEAD = func() (cipher.AEAD, error) { return keyslot.NewSM4GCM(key) }
		s.full = opts.Visit != nil
	} else {
		rep.Unchecked = append(rep.Unchecked, "without the data key: the records' contents, and the metadata's MAC over the ledger's size, key slots, checkpoint keys, floor mark and open stampings; a cut tail is found without it only against the server's co-signed floor")
	}
	// The keys whose checkpoints count (judgeCheckpoint): never the one a checkpoint carries.
	var keys [][]byte
	if h != nil || len(opts.SealKeys) == 0 {
		keys = vs.mv.pinDERs()
		if h == nil && len(keys) > 0 {
			rep.Unchecked = append(rep.Unchecked, "checkpoints were checked against the keys pinned in the file, which only the data key can authenticate (give the seal certificates to check them against those)")
		}
	}
	for _, p := range opts.SealKeys {
		der, err := checkpointKeyDER(p)
		if err != nil {
			return fmt.Errorf("VerifyOptions.SealKeys: %w", err)
		}
		keys = append(keys, der)
	}
	type cpAt struct {
		c       SignedCheckpoint
		trusted bool
	}
	var cps []cpAt
	unverified := 0
	if err := tx.Bucket(bucketCheckpoints).ForEach(func(k, v []byte) error {
		c, trusted, err := judgeCheckpoint(path, k, v, rep.Workstation, keys, vs.mv.legacy)
		if err != nil {
			return err
		}
		if !trusted {
			unverified++
		}
		cps = append(cps, cpAt{c, trusted})
		return nil
	}); err != nil {
		return err
	}
	if unverified > 0 {
		rep.Unchecked = append(rep.Unchecked, fmt.Sprintf("%d checkpoints from before this ledger pinned its checkpoint keys were not checked", unverified))
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
				delete(open, intent) // 0 for folded records: they settle nothing
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
		if !c.trusted {
			continue
		}
		bad := func(r Reason, f string, a ...any) error {
			return &VerifyError{Path: path, Seq: c.c.Size, Reason: r, Detail: fmt.Sprintf(f, a...)}
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
	if err := vs.mv.checkState(path, last, head); err != nil {
		return err
	}
	for s := range open {
		rep.Interrupted = append(rep.Interrupted, s)
	}
	sort.Slice(rep.Interrupted, func(i, j int) bool { return rep.Interrupted[i] < rep.Interrupted[j] })
	if aead != nil {
		// The index Unlock uses must say what the records say (sealed.go).
		index, _, err := readOpenIntents(path, tx, aead)
		if err != nil {
			return err
		}
		if !maps.Equal(index, open) {
			return &VerifyError{Path: path, Reason: ReasonMetaChanged,
				Detail: fmt.Sprintf("the %s lists %v, the records leave %v open: an interrupted stamping would be hidden or invented at the next login. Keep the file for the auditor and restore the ledger from a backup", intentsWhat, sortedSeqs(index), rep.Interrupted)}
		}
	}
	return nil
}

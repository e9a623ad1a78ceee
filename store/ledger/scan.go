package ledger

import (
	"bytes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"runtime"
	"strings"
	"sync"

	"github.com/tjfoc/gmsm/sm3"
	bolt "go.etcd.io/bbolt"
)

// scanner walks the records bucket in seq order and checks, for every record, the invariants
// the ledger keeps:
//
//  1. the bbolt key is seq as 8 bytes big-endian, and seqs run from 1 with no gap;
//  2. the value is exactly one envelope (UnmarshalBinary's rules) whose Seq is its key;
//  3. PrevHash is the entry hash of the record before (zero for seq 1);
//  4. with the data key: the ciphertext opens under SM4-GCM with AssociatedData as AD, and the
//     plaintext is a JSON record with a kind;
//  5. a stamp.done or stamp.failed settles the intent it names only if it was not folded in
//     from an event written while locked (sealed_at or locked set): such an event is a claim
//     that anyone with the file's public keys could have made (Record.Settles).
//
// Hashing and decryption run on all cores; the order checks run in one goroutine, so the first
// bad seq is the one reported.
type scanner struct {
	path    string
	newAEAD func() (cipher.AEAD, error) // nil: chain only (no key)
	full    bool                        // decode whole records for visit
	visit   func(seq uint64, hash [HashSize]byte, kind Kind, intent uint64, rec *Record) error
}

type scanItem struct {
	key, raw []byte
	seq      uint64
	prev     [HashSize]byte
	hash     [HashSize]byte
	kind     Kind
	intent   uint64
	rec      *Record
	parsed   bool // the envelope header parsed (seq and prev are set)
	reason   Reason
	detail   string
}

type scanWorker struct {
	aead cipher.AEAD
	h    hash.Hash
	buf  []byte
}

func (w *scanWorker) do(it *scanItem, s *scanner) {
	if len(it.key) != 8 {
		it.reason, it.detail = ReasonMalformed, fmt.Sprintf("stored under a %d-byte key", len(it.key))
		return
	}
	v, err := parseEnvelope(it.raw)
	if err != nil {
		it.reason, it.detail = ReasonMalformed, strings.TrimPrefix(err.Error(), ErrMalformedEnvelope.Error()+": ")
		return
	}
	it.seq, it.parsed = v.seq, true
	copy(it.prev[:], v.prev)
	entryHashOf(w.h, it.raw, &it.hash)
	if w.aead == nil {
		return
	}
	pt, err := w.aead.Open(w.buf[:0], v.nonce, v.ciphertext, v.ad)
	if err != nil {
		it.reason, it.detail = ReasonBadTag, "SM4-GCM authentication failed: the record was changed, or was written with another data key"
		return
	}
	w.buf = pt
	if s.full {
		r, err := decodeRecord(it.seq, pt)
		if err != nil {
			it.reason, it.detail = ReasonMalformed, "decrypted, but is not a record: "+err.Error()
			return
		}
		it.rec, it.kind, it.intent = &r, r.Kind, r.Settles()
		return
	}
	// Fast path: this program writes {"v":1,"kind":"…", and only done/failed carry an intent.
	// Anything else (other writers, newer versions) goes through encoding/json. The tag already
	// proved the plaintext is what a key holder wrote; show and export parse it in full.
	if k, ok := quickKind(pt); ok && k != KindStampDone && k != KindStampFailed {
		it.kind = k
		return
	}
	var m struct {
		Kind     Kind   `json:"kind"`
		Intent   uint64 `json:"intent"`
		SealedAt string `json:"sealed_at"`
		Locked   string `json:"locked"`
	}
	if err := json.Unmarshal(pt, &m); err != nil || m.Kind == "" {
		it.reason, it.detail = ReasonMalformed, "decrypted, but is not a record"
		return
	}
	it.kind = m.Kind
	if m.SealedAt == "" && m.Locked == "" { // invariant 5
		it.intent = m.Intent
	}
}

var kindPrefix = []byte(`{"v":1,"kind":"`)

func quickKind(pt []byte) (Kind, bool) {
	if !bytes.HasPrefix(pt, kindPrefix) {
		return "", false
	}
	rest := pt[len(kindPrefix):]
	end := bytes.IndexByte(rest, '"')
	if end <= 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return "", false
	}
	return Kind(rest[:end]), true
}

// run scans records from seq from (prev is the hash of record from-1) to the end and returns
// the last seq and its hash.
func (s *scanner) run(tx *bolt.Tx, from uint64, prev [HashSize]byte) (last uint64, head [HashSize]byte, err error) {
	b := tx.Bucket(bucketRecords)
	if b == nil {
		return 0, prev, structural(s.path, "records bucket is missing")
	}
	nw := runtime.GOMAXPROCS(0)
	if nw > 4 {
		nw = 4
	}
	workers := make([]*scanWorker, nw)
	for i := range workers {
		w := &scanWorker{h: sm3.New()}
		if s.newAEAD != nil {
			if w.aead, err = s.newAEAD(); err != nil {
				return 0, prev, err
			}
		}
		workers[i] = w
	}
	// Batches are pipelined: the workers hash and open batch k+1 while this goroutine runs
	// the order checks on batch k and gathers batch k+2, so no core waits on the serial part.
	// The workers always finish before run returns (their items point into the memory map).
	const batch = 4096
	bufs := [2][]scanItem{make([]scanItem, 0, batch), make([]scanItem, 0, batch)}
	cur := 0 // index of the buffer being gathered
	var inflight []scanItem
	var wg sync.WaitGroup
	start := func(items []scanItem) {
		for wi, w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := wi; i < len(items); i += nw {
					w.do(&items[i], s)
				}
			}()
		}
	}
	expect, head := from, prev
	const releaseEvery = 8 // batches between releases of the memory map's pages
	checked := 0
	serial := func(items []scanItem) error {
		for i := range items {
			it := &items[i]
			if len(it.key) == 8 {
				k := binary.BigEndian.Uint64(it.key)
				if k > expect {
					return &VerifyError{Path: s.path, Seq: expect, Reason: ReasonGap, Detail: fmt.Sprintf("the next record stored is %d", k)}
				}
				if k < expect {
					return &VerifyError{Path: s.path, Seq: k, Reason: ReasonWrongSeq, Detail: "stored out of order"}
				}
			}
			if !it.parsed {
				return &VerifyError{Path: s.path, Seq: expect, Reason: it.reason, Detail: it.detail}
			}
			if it.seq != expect {
				return &VerifyError{Path: s.path, Seq: expect, Reason: ReasonWrongSeq, Detail: fmt.Sprintf("the envelope stored here says it is record %d (moved, reordered or replayed)", it.seq)}
			}
			if it.prev != head {
				return &VerifyError{Path: s.path, Seq: expect, Reason: ReasonBrokenChain, Detail: "its previous-hash is not the hash of the record before it"}
			}
			if it.reason != "" {
				return &VerifyError{Path: s.path, Seq: expect, Reason: it.reason, Detail: it.detail}
			}
			if s.visit != nil {
				if err := s.visit(it.seq, it.hash, it.kind, it.intent, it.rec); err != nil {
					return err
				}
			}
			head, last = it.hash, it.seq
			expect++
		}
		// The records checked so far will not be read again by this scan: every few batches,
		// let their pages of the memory map go, so a scan's resident memory stays at a few
		// batches' pages (about 10 MB) instead of growing to the size of the file. (A page
		// the workers still read is faulted in again: slower, never wrong.)
		if checked++; checked%releaseEvery == 0 {
			releaseMapped(tx)
		}
		return nil
	}
	// flush hands the gathered batch to the workers and checks the one they finished.
	flush := func() error {
		wg.Wait()
		done := inflight
		inflight = bufs[cur]
		start(inflight)
		cur = 1 - cur
		bufs[cur] = bufs[cur][:0]
		if done == nil {
			return nil
		}
		return serial(done)
	}
	defer wg.Wait()
	c := b.Cursor()
	var first [8]byte
	binary.BigEndian.PutUint64(first[:], from)
	for k, v := c.Seek(first[:]); k != nil; k, v = c.Next() {
		if v == nil {
			wg.Wait()
			if inflight != nil {
				if err := serial(inflight); err != nil {
					return 0, prev, err
				}
			}
			return 0, prev, &VerifyError{Path: s.path, Seq: expect, Reason: ReasonMalformed, Detail: "a nested bucket where a record should be"}
		}
		bufs[cur] = append(bufs[cur], scanItem{key: k, raw: v})
		if len(bufs[cur]) == batch {
			if err := flush(); err != nil {
				return 0, prev, err
			}
		}
	}
	if err := flush(); err != nil { // the last partial batch goes in, the one before is checked
		return 0, prev, err
	}
	wg.Wait()
	if err := serial(inflight); err != nil {
		return 0, prev, err
	}
	if last == 0 {
		last = from - 1
	}
	return last, head, nil
}

// entryHashAt returns the entry hash of the record stored at seq.
func entryHashAt(tx *bolt.Tx, seq uint64) ([HashSize]byte, bool) {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	v := tx.Bucket(bucketRecords).Get(k[:])
	if v == nil {
		return [HashSize]byte{}, false
	}
	var out [HashSize]byte
	entryHashOf(sm3.New(), v, &out)
	return out, true
}

// lastCheckpoint returns the newest stored checkpoint, or nil.
func lastCheckpoint(tx *bolt.Tx) (*SignedCheckpoint, error) {
	k, v := tx.Bucket(bucketCheckpoints).Cursor().Last()
	if k == nil {
		return nil, nil
	}
	var c SignedCheckpoint
	if err := json.Unmarshal(v, &c); err != nil {
		return nil, fmt.Errorf("checkpoint does not parse: %v", err)
	}
	if len(k) != 8 || binary.BigEndian.Uint64(k) != c.Size {
		return nil, fmt.Errorf("checkpoint stored under the wrong key")
	}
	return &c, nil
}

// judgeCheckpoint parses the checkpoint stored under k and says whether it is trusted: signed
// by one of keys (VerifyBy), for this workstation. One that no key of keys signed is refused,
// unless it is from before the ledger pinned keys (Size <= legacy): then it is neither trusted
// nor refused. Whether its size and head fit the records is for the caller.
func judgeCheckpoint(path string, k, v []byte, workstation string, keys [][]byte, legacy uint64) (c SignedCheckpoint, trusted bool, err error) {
	seq := uint64(0)
	if len(k) == 8 {
		seq = binary.BigEndian.Uint64(k)
	}
	bad := func(f string, a ...any) (SignedCheckpoint, bool, error) {
		return c, false, &VerifyError{Path: path, Seq: seq, Reason: ReasonBadCheckpoint, Detail: fmt.Sprintf(f, a...)}
	}
	if err := json.Unmarshal(v, &c); err != nil || len(k) != 8 {
		return bad("stored checkpoint does not parse")
	}
	if c.Size != seq {
		return bad("checkpoint for size %d stored under size %d", c.Size, seq)
	}
	ok, err := c.VerifyBy(keys)
	switch {
	case err != nil:
		return bad("%v", err)
	case !ok && c.Size <= legacy:
		return c, false, nil
	case !ok:
		return bad("signed by a key this ledger never pinned (not the seal key of a custodian who logged in): made by someone else. Keep the file for the auditor and restore the ledger from a backup")
	}
	if c.Workstation != workstation {
		return bad("signed for workstation %q, this ledger is %q's", c.Workstation, workstation)
	}
	return c, true, nil
}

// trustedCheckpoint returns the newest checkpoint a pinned key signed whose head is the record
// at its size (nil: none), looking from the newest down. A newer one that is refused is an
// error. Invariant: Open and Unlock start their record checks after this checkpoint and no
// other, and only after checking the chain from genesis up to it (its signed head then stands
// for every record before it).
func trustedCheckpoint(path string, tx *bolt.Tx, workstation string, keys [][]byte, legacy, size uint64) (*SignedCheckpoint, error) {
	cur := tx.Bucket(bucketCheckpoints).Cursor()
	for k, v := cur.Last(); k != nil; k, v = cur.Prev() {
		c, trusted, err := judgeCheckpoint(path, k, v, workstation, keys, legacy)
		if err != nil {
			return nil, err
		}
		if !trusted {
			continue
		}
		if c.Size > size {
			return nil, &VerifyError{Path: path, Seq: size + 1, Reason: ReasonRollback,
				Detail: fmt.Sprintf("a signed checkpoint says the ledger had %d records, it has %d (records removed from the end, or an older copy)", c.Size, size)}
		}
		if h, ok := entryHashAt(tx, c.Size); !ok || !bytes.Equal(h[:], c.Head[:]) {
			return nil, &VerifyError{Path: path, Seq: c.Size, Reason: ReasonBadCheckpoint, Detail: "the record at the checkpoint's size has another hash than the signed head"}
		}
		return &c, nil
	}
	return nil, nil
}

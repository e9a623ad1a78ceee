package ledger

import (
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
)

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

// Interrupted returns the stamp intents with no done or failed record: stampings a crash or
// power loss cut short. The caller reconciles each (does the output exist and verify?) and
// appends a stamp.done or stamp.failed naming it in Record.Intent.
// It needs the ledger unlocked: the open intents are sealed (sealed.go), read at Unlock.
func (l *Ledger) Interrupted() ([]Record, error) {
	if _, err := l.readAEAD(); err != nil {
		return nil, err
	}
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

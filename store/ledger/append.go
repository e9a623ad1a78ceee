package ledger

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"maps"
	"time"

	"github.com/tjfoc/gmsm/sm3"
	bolt "go.etcd.io/bbolt"
)

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
	intents bool        // openintents must be written even if no intent opened or settled
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
		if c.intents || len(c.opened)+len(c.settled) > 0 {
			// The open intents after this transaction, as apply will leave l.interrupted.
			open := maps.Clone(l.interrupted)
			for _, s := range c.opened {
				open[s] = true
			}
			for _, s := range c.settled {
				delete(open, s)
			}
			if err := putOpenIntents(tx, l.aead, open); err != nil {
				return err
			}
		}
		if c.size != l.size || c.meta || c.intents || len(c.opened)+len(c.settled) > 0 {
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

// appendTx chains and encrypts recs into tx, advancing c.
func (l *Ledger) appendTx(tx *bolt.Tx, c *chain, recs []Record) ([]uint64, error) {
	b := tx.Bucket(bucketRecords)
	// Keys only ever grow: fill pages completely instead of splitting them half full (bbolt's
	// advice for append-only buckets); this halves the file and the pages verify must read.
	b.FillPercent = 1.0
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
		if n := len(pt) + overhead; n > MaxCiphertext {
			return nil, fmt.Errorf("ledger record %d: ciphertext of %d bytes is over the %d-byte limit", seq, n, MaxCiphertext)
		}
		pt = pad(pt, MaxCiphertext-overhead) // pad.go: the size does not tell the kind
		n := len(pt) + overhead
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
			if r.TicketID != "" { // used once: refused here if an earlier intent named it
				if err := useTicketTx(l.path, tx, l.ticketKey, r.TicketID, seq); err != nil {
					return nil, err
				}
				c.meta = true
			}
			c.opened = append(c.opened, seq)
		case KindStampDone, KindStampFailed:
			if r.Settles() != 0 { // never a record folded in from a locked-time event
				c.settled = append(c.settled, r.Intent)
			}
		}
		c.size = seq
		entryHashOf(h, raw, &c.head)
		seqs = append(seqs, seq)
	}
	return seqs, nil
}

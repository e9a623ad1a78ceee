package ledger

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"

	bolt "go.etcd.io/bbolt"
)

// The used-ticket index: which approval tickets this ledger has a stamp intent for
//
//	tickets (bucket)    ticket id → seq of the first stamp.intent that names it (u64 big-endian)
//	meta tickets        count u64be ‖ sum[32]: the number of entries and the XOR over every entry
//	                    of HMAC-SHA256(subkey(data key, ticketIndexInfo), len ‖ id ‖ seq)
//
// Invariants:
//   - an entry is written in the same transaction as the stamp.intent that names the ticket,
//     and only there (appendTx), or when the index is built from the records of a ledger that
//     had none (buildTicketIndexTx, with the data key, at the first login); never removed.
//   - appendTx refuses a stamp.intent for a ticket that has an entry (ErrTicketUsed): a ticket
//     is used once per ledger, whatever another store (sync.db) says.
//   - the meta value is under metamac once present (meta.go), and Unlock and a keyed Verify
//     recompute count and sum from the bucket: an entry removed, added or changed without the
//     data key is ReasonMetaChanged. The sum is keyed, so nobody without the data key can add
//     entries that cancel a removed one. Checking costs one HMAC per entry at login, less than
//     the chain check from genesis that Open already makes.

var (
	bucketTickets = []byte("tickets")
	keyTickets    = []byte("tickets")
)

const ticketIndexInfo = "sealkeeper ledger ticket index"

// ErrTicketUsed: the ledger already has a stamp intent for this approval ticket.
var ErrTicketUsed = errors.New("this approval was already used to stamp on this workstation (the ledger has a stamping for it); stamping again needs a new approval (重印流程)")

// TicketUsedError names the ticket and the intent that used it. errors.Is(err, ErrTicketUsed).
type TicketUsedError struct {
	Path   string
	Ticket string
	Intent uint64 // seq of the stamp.intent that used it
}

func (e *TicketUsedError) Error() string {
	return fmt.Sprintf("ledger %s: approval ticket %s: %v (record %d)", e.Path, e.Ticket, ErrTicketUsed, e.Intent)
}

func (e *TicketUsedError) Unwrap() error { return ErrTicketUsed }

type ticketMark struct {
	n   uint64
	sum [sha256.Size]byte
}

func (m ticketMark) bytes() []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+sha256.Size), m.n), m.sum[:]...)
}

func parseTicketMark(b []byte) (ticketMark, bool) {
	var m ticketMark
	if len(b) != 8+sha256.Size {
		return m, false
	}
	m.n = binary.BigEndian.Uint64(b)
	copy(m.sum[:], b[8:])
	return m, true
}

// add folds one entry (id → seq) into the mark; mac is HMAC-SHA256 under the index key, reused
// across entries.
func (m *ticketMark) add(mac hash.Hash, id, seq []byte) {
	mac.Reset()
	mac.Write(binary.BigEndian.AppendUint32(nil, uint32(len(id))))
	mac.Write(id)
	mac.Write(seq)
	for i, b := range mac.Sum(nil) {
		m.sum[i] ^= b
	}
	m.n++
}

// useTicketTx enters ticket id as used by the intent at seq, or refuses a ticket used before.
func useTicketTx(path string, tx *bolt.Tx, tk []byte, id string, seq uint64) error {
	b := tx.Bucket(bucketTickets)
	mv := tx.Bucket(bucketMeta).Get(keyTickets)
	m, ok := parseTicketMark(mv)
	if b == nil || !ok || tk == nil {
		return &VerifyError{Path: path, Reason: ReasonMetaChanged, Detail: "the index of used approval tickets is missing; log in again, which rebuilds it"}
	}
	if v := b.Get([]byte(id)); v != nil {
		return &TicketUsedError{Path: path, Ticket: id, Intent: binary.BigEndian.Uint64(v)}
	}
	k := binary.BigEndian.AppendUint64(nil, seq)
	if err := b.Put([]byte(id), k); err != nil {
		return err
	}
	m.add(hmac.New(sha256.New, tk), []byte(id), k)
	return tx.Bucket(bucketMeta).Put(keyTickets, m.bytes())
}

// checkTicketIndex recomputes the mark from the bucket and compares it with the one under the
// MAC (checked by the caller in the same transaction). It reports whether the ledger has an
// index at all (one made before the index existed has none until its first login).
func checkTicketIndex(path string, tx *bolt.Tx, tk []byte) (bool, error) {
	mv := tx.Bucket(bucketMeta).Get(keyTickets)
	if mv == nil {
		return false, nil
	}
	want, ok := parseTicketMark(mv)
	b := tx.Bucket(bucketTickets)
	if !ok || b == nil {
		return true, &VerifyError{Path: path, Reason: ReasonMetaChanged, Detail: "the index of used approval tickets is damaged or missing"}
	}
	var got ticketMark
	mac := hmac.New(sha256.New, tk)
	err := b.ForEach(func(k, v []byte) error {
		if len(v) != 8 {
			return &VerifyError{Path: path, Reason: ReasonMetaChanged, Detail: fmt.Sprintf("the entry for approval ticket %q in the index of used tickets is damaged", k)}
		}
		got.add(mac, k, v)
		return nil
	})
	if err != nil {
		return true, err
	}
	if got != want {
		return true, &VerifyError{Path: path, Reason: ReasonMetaChanged,
			Detail: fmt.Sprintf("the index of used approval tickets has %d entries that do not match the %d the ledger wrote: an entry was removed, added or changed without the data key (a used approval made to look unused?). Keep the file for the auditor and restore the ledger from a backup", got.n, want.n)}
	}
	return true, nil
}

// buildTicketIndexTx makes the index from every record (a ledger from before the index; the
// data key in hand, inside the first keyed transaction after Unlock). The first intent that
// names a ticket is the one entered.
func (l *Ledger) buildTicketIndexTx(tx *bolt.Tx, c *chain) error {
	b, err := tx.CreateBucketIfNotExists(bucketTickets)
	if err != nil {
		return err
	}
	var m ticketMark
	mac := hmac.New(sha256.New, l.ticketKey)
	err = tx.Bucket(bucketRecords).ForEach(func(k, v []byte) error {
		var e Envelope
		if err := e.UnmarshalBinary(v); err != nil {
			return &VerifyError{Path: l.path, Seq: binary.BigEndian.Uint64(k), Reason: ReasonMalformed, Detail: err.Error()}
		}
		pt, err := l.aead.Open(nil, e.Nonce[:], e.Ciphertext, e.AssociatedData())
		if err != nil {
			return &VerifyError{Path: l.path, Seq: e.Seq, Reason: ReasonBadTag}
		}
		var r struct {
			Kind   Kind   `json:"kind"`
			Ticket string `json:"ticket"`
		}
		if json.Unmarshal(pt, &r) != nil || r.Kind != KindStampIntent || r.Ticket == "" || b.Get([]byte(r.Ticket)) != nil {
			return nil // records that do not parse are kept as they are (Record.Raw); none is an intent we wrote
		}
		seq := append([]byte(nil), k...)
		if err := b.Put([]byte(r.Ticket), seq); err != nil {
			return err
		}
		m.add(mac, []byte(r.Ticket), seq)
		return nil
	})
	if err != nil {
		return err
	}
	c.meta = true
	return tx.Bucket(bucketMeta).Put(keyTickets, m.bytes())
}

// TicketUsed reports whether the ledger has a stamp intent for the approval ticket id
// (ticket.UsedSet). It needs the ledger unlocked: the index is authenticated at Unlock.
func (l *Ledger) TicketUsed(id string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false, ErrClosed
	}
	if l.key == nil {
		return false, ErrLocked
	}
	used := false
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTickets)
		if b == nil {
			return &VerifyError{Path: l.path, Reason: ReasonMetaChanged, Detail: "the index of used approval tickets is missing; log in again, which rebuilds it"}
		}
		used = b.Get([]byte(id)) != nil
		return nil
	})
	return used, err
}

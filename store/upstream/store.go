package upstream

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Store is the client's sync state in its own bbolt file: the approved documents, encrypted
// (docs.go), the seal list and roster, the outbox, the ledger push cursor and last co-signed
// checkpoint, used tickets and the offline-stamp count.
type Store struct {
	db   *bolt.DB
	keys DocumentKeys

	mu         sync.Mutex
	plain      map[string]*os.File // SHA-256 (or "output\x00" path) → decrypted bytes in memory (memFile), while unlocked
	sealedLeft int                 // entries the last login could not open
	outputs    string              // SyncOptions.Outputs, cleaned: the stamped files kept encrypted
}

var (
	sMeta   = []byte("meta")
	sDocs   = []byte("documents")
	sOutbox = []byte("outbox")
	sUsed   = []byte("usedtickets")
	sBkts   = [][]byte{sMeta, sDocs, sOutbox, sUsed, sFiles, sSpent, sOutputs}
	mSeals  = []byte("seals")
	mRoster = []byte("roster")
	mCosig  = []byte("cosigned")
	mPushed = []byte("pushed")
	mOffN   = []byte("offlinestamps")
	mPull   = []byte("lastpull")
	mSeen   = []byte("lastcontact")
)

// MaxOutbox bounds the outbox: past it, new work is refused until the server is reached.
const MaxOutbox = 10000

// ErrOutboxFull is returned by Enqueue when MaxOutbox items wait.
var ErrOutboxFull = errors.New("the upload queue is full: connect the workstation to the seal-management server so it can drain before stamping more")

// OpenStore opens (or creates) the client store at path. Documents are encrypted with keys
// (the ledger; see docs.go); with nil keys none can be kept. A "files" folder beside it, where
// an older version kept documents in clear, is deleted, and so are listings that version wrote
// in clear: the next sync fetches them again.
func OpenStore(path string, keys DocumentKeys) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("sync state %s is in use by another SealKeeper; close it first", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening sync state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range sBkts {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return dropClearListings(tx.Bucket(sDocs))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sync state %s: %w", path, err)
	}
	if err := os.RemoveAll(filepath.Join(filepath.Dir(path), "files")); err != nil {
		db.Close()
		return nil, fmt.Errorf("removing the documents an older version kept in clear: %w", err)
	}
	s := &Store{db: db, keys: keys}
	if err := s.removeSpent(); err != nil { // a run that ended without Close
		db.Close()
		return nil, err
	}
	if keys != nil {
		keys.OnUnlock(s.unsealAll)
		keys.OnLock(s.locked)
	}
	return s, nil
}

// dropClearListings deletes the entries an older version wrote in clear, but keeps a finished
// one's state, so that it is not taken for a new approval.
func dropClearListings(b *bolt.Bucket) error {
	old := map[string]docHead{}
	err := b.ForEach(func(k, v []byte) error {
		var c docHead // an old entry's state, sha256 and size have the same names
		if json.Unmarshal(v, &c) == nil && c.V != headVersion {
			old[string(k)] = docHead{V: headVersion, State: c.State, SHA256: c.SHA256, Size: c.Size}
		}
		return nil
	})
	for k, hd := range old {
		switch {
		case err != nil:
		case hd.State == DocDone:
			err = setJSON(b, []byte(k), hd)
		default:
			err = b.Delete([]byte(k))
		}
	}
	return err
}

// Close closes the store as a logout does (the program ends): it forgets the decrypted
// documents and deletes the stamped files the server accepted.
func (s *Store) Close() error {
	s.locked()
	return s.db.Close()
}

// States of a cached document.
const (
	DocPending   = "pending"   // approved, waiting to be stamped
	DocWithdrawn = "withdrawn" // no longer listed by the server
	DocDone      = "done"      // stamped or rejected here
	DocRefused   = "refused"   // its approval ticket failed the check; Problem says why
)

// CachedDocument is an approved document as the workstation holds it.
type CachedDocument struct {
	Document
	State     string    `json:"state"`
	FetchedAt time.Time `json:"fetchedAt"` // when the server last listed it
	// Have: its bytes are here (encrypted). File names them decrypted in memory, set by
	// Document only, and valid until logout.
	Have bool   `json:"have"`
	File string `json:"-"`
	// Problem is why a refused document cannot be stamped (for the custodian and the server
	// administrator).
	Problem string `json:"problem,omitempty"`
}

func getJSON(b *bolt.Bucket, k []byte, v any) (bool, error) {
	raw := b.Get(k)
	if raw == nil {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}

func setJSON(b *bolt.Bucket, k []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, raw)
}

// mergeDocuments records a complete listing: listed documents are (re)confirmed now; pending
// ones the server no longer lists are marked withdrawn. Listings are written encrypted (seal).
func (s *Store) mergeDocuments(docs []Document, problems map[string]string, at time.Time) error {
	bodies := make([][]byte, len(docs))
	for i, d := range docs {
		pt, err := json.Marshal(docBody{Document: d, Problem: problems[d.ID]})
		if err != nil {
			return err
		}
		if bodies[i], err = s.seal(adMeta+d.ID, pt); err != nil {
			return fmt.Errorf("keeping the listing of document %s: %w", d.ID, err)
		}
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(sDocs)
		listed := make(map[string]bool, len(docs))
		for i, d := range docs {
			listed[d.ID] = true
			hd, _, err := readHead(b, []byte(d.ID))
			if err != nil {
				return err
			}
			if hd.State == DocDone {
				continue
			}
			if hd.SHA256 != d.SHA256 {
				hd.Have = false // new bytes: fetch again
			}
			hd.V, hd.State, hd.SHA256, hd.Size, hd.Expires, hd.FetchedAt, hd.Body = headVersion, DocPending, d.SHA256, d.Size, d.Expires, at, bodies[i]
			if _, bad := problems[d.ID]; bad {
				hd.State, hd.Have = DocRefused, false
			} else if !hd.Have {
				hd.Have = tx.Bucket(sFiles).Get([]byte(d.SHA256)) != nil // the same bytes approved twice
			}
			if err := setJSON(b, []byte(d.ID), hd); err != nil {
				return err
			}
		}
		var gone [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if !listed[string(k)] {
				gone = append(gone, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range gone {
			hd, ok, err := readHead(b, k)
			if err != nil {
				return err
			}
			if ok && hd.State == DocPending {
				hd.State = DocWithdrawn
				if err := setJSON(b, k, hd); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(sMeta).Put(mPull, []byte(at.UTC().Format(time.RFC3339Nano)))
	})
}

// MarkDone takes a document out of the queue after it was stamped or rejected here.
func (s *Store) MarkDone(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(sDocs)
		hd, ok, err := readHead(b, []byte(id))
		if err != nil {
			return err
		}
		if !ok || hd.Body == nil {
			return fmt.Errorf("document %s is not in the queue", id)
		}
		hd.State = DocDone
		return setJSON(b, []byte(id), hd)
	})
}

// SealList returns the cached seal status list and when it was pulled (zero if never).
func (s *Store) SealList() (SealList, error) {
	var l SealList
	err := s.db.View(func(tx *bolt.Tx) error { _, err := getJSON(tx.Bucket(sMeta), mSeals, &l); return err })
	return l, err
}

// maxListSkew is how far ahead of this clock a list's asOf may be.
const maxListSkew = 5 * time.Minute

// checkAsOf refuses a list older than the one held (a server rolled back, or an old answer),
// or dated ahead of this clock, which would make every later list look old.
func checkAsOf(what string, got, held, now time.Time) error {
	if got.IsZero() || got.After(now.Add(maxListSkew)) {
		return fmt.Errorf("%w: the %s is dated %s, not a time up to now (%s); it was not used", ErrBadResponse, what, got.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	if got.Before(held) {
		return fmt.Errorf("%w: the server sent a %s as of %s, older than the one held (as of %s); the held one stays (was the server restored from an old backup?)", ErrBadResponse, what, got.Format(time.RFC3339), held.Format(time.RFC3339))
	}
	return nil
}

// acceptSeals keeps a seal list fetched at now unless checkAsOf refuses it. A seal revoked on
// the held list stays revoked whatever the new list says (docs/rules.md 11: never used again).
func (s *Store) acceptSeals(l *SealList, now time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		var held SealList
		if _, err := getJSON(tx.Bucket(sMeta), mSeals, &held); err != nil {
			return err
		}
		if err := checkAsOf("seal list", l.AsOf, held.AsOf, now); err != nil {
			return err
		}
		for _, old := range held.Seals {
			if old.Status != SealRevoked {
				continue
			}
			i := slices.IndexFunc(l.Seals, func(n SealStatus) bool { return n.ID == old.ID })
			switch {
			case i < 0:
				l.Seals = append(l.Seals, old)
			case l.Seals[i].Status != SealRevoked:
				l.Seals[i] = old
			}
		}
		return setJSON(tx.Bucket(sMeta), mSeals, l)
	})
}

func (s *Store) putMeta(k []byte, v any) error {
	return s.db.Update(func(tx *bolt.Tx) error { return setJSON(tx.Bucket(sMeta), k, v) })
}

// TicketUsed implements ticket.UsedSet.
func (s *Store) TicketUsed(id string) (bool, error) {
	var used bool
	err := s.db.View(func(tx *bolt.Tx) error { used = tx.Bucket(sUsed).Get([]byte(id)) != nil; return nil })
	return used, err
}

// MarkTicketUsed records that a ticket was used (at the stamp intent, before signing).
func (s *Store) MarkTicketUsed(id string, at time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(sUsed).Put([]byte(id), []byte(at.UTC().Format(time.RFC3339)))
	})
}

// OutboxItem is work waiting to go upstream: a result, with the stamped file to upload first.
type OutboxItem struct {
	ID     uint64    `json:"id"` // queue order
	Queued time.Time `json:"queued"`
	Result Result    `json:"result"`
	// File is the stamped PDF to upload before the result; "" for a rejection.
	File     string `json:"file,omitempty"`
	Attempts int    `json:"attempts"`
	LastErr  string `json:"lastError,omitempty"`
}

// Enqueue adds a result (and its stamped file) to the outbox. The file must stay where it is
// until the item is sent.
func (s *Store) Enqueue(r Result, file string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(sOutbox)
		if b.Stats().KeyN >= MaxOutbox {
			return ErrOutboxFull
		}
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		return setJSON(b, binary.BigEndian.AppendUint64(nil, n), OutboxItem{ID: n, Queued: time.Now().UTC(), Result: r, File: file})
	})
}

// Outbox lists waiting items, oldest first.
func (s *Store) Outbox() ([]OutboxItem, error) {
	var out []OutboxItem
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(sOutbox).ForEach(func(_, v []byte) error {
			var it OutboxItem
			if err := json.Unmarshal(v, &it); err != nil {
				return err
			}
			out = append(out, it)
			return nil
		})
	})
	return out, err
}

func (s *Store) outboxDone(id uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(sOutbox).Delete(binary.BigEndian.AppendUint64(nil, id)) })
}

func (s *Store) outboxFailed(id uint64, err error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(sOutbox)
		k := binary.BigEndian.AppendUint64(nil, id)
		var it OutboxItem
		ok, gerr := getJSON(b, k, &it)
		if gerr != nil || !ok {
			return gerr
		}
		it.Attempts++
		it.LastErr = err.Error()
		return setJSON(b, k, it)
	})
}

// Cosigned is the last checkpoint the server co-signed (nil if none). Its Size is the floor
// below which the local ledger must never shrink.
func (s *Store) Cosigned() (*CosignedCheckpoint, error) {
	var c *CosignedCheckpoint
	err := s.db.View(func(tx *bolt.Tx) error {
		var x CosignedCheckpoint
		ok, err := getJSON(tx.Bucket(sMeta), mCosig, &x)
		if ok {
			c = &x
		}
		return err
	})
	return c, err
}

// setCosigned keeps the larger checkpoint: an old answer arriving late must not lower it.
func (s *Store) setCosigned(c *CosignedCheckpoint) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(sMeta)
		var old CosignedCheckpoint
		if ok, err := getJSON(m, mCosig, &old); err != nil {
			return err
		} else if ok && old.Size >= c.Size {
			return nil
		}
		return setJSON(m, mCosig, c)
	})
}

// Pushed is how many ledger records the server acknowledged.
func (s *Store) Pushed() (uint64, error) {
	var n uint64
	err := s.db.View(func(tx *bolt.Tx) error { _, err := getJSON(tx.Bucket(sMeta), mPushed, &n); return err })
	return n, err
}

// OfflineStamps is how many stamps were made since the server was last reached.
func (s *Store) OfflineStamps() (int, error) {
	var n int
	err := s.db.View(func(tx *bolt.Tx) error { _, err := getJSON(tx.Bucket(sMeta), mOffN, &n); return err })
	return n, err
}

// CountStamp records a stamp; offline ones count against Policy.MaxStamps until the next
// successful sync.
func (s *Store) CountStamp(offline bool) error {
	if !offline {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(sMeta)
		var n int
		if _, err := getJSON(m, mOffN, &n); err != nil {
			return err
		}
		return setJSON(m, mOffN, n+1)
	})
}

// LastContact is when the server last answered (zero if never).
func (s *Store) LastContact() (time.Time, error) {
	var t time.Time
	err := s.db.View(func(tx *bolt.Tx) error { _, err := getJSON(tx.Bucket(sMeta), mSeen, &t); return err })
	return t, err
}

// LastPull is when the document listing was last pulled completely (zero if never).
func (s *Store) LastPull() (time.Time, error) {
	var t time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(sMeta).Get(mPull); v != nil {
			var perr error
			t, perr = time.Parse(time.RFC3339Nano, string(v))
			return perr
		}
		return nil
	})
	return t, err
}

// ServerClock is the server's time as its last heartbeat reply gave it, beside this
// workstation's clock when the request was sent: evidence of how late it is at least, for the
// workstation's clock checks (a clock set behind the server's time was set back).
type ServerClock struct {
	Server time.Time `json:"server"`
	Local  time.Time `json:"local"`
}

var mClock = []byte("serverclock")

// ServerClock is the last heartbeat's times (zero if the server never answered one).
func (s *Store) ServerClock() (ServerClock, error) {
	var c ServerClock
	err := s.db.View(func(tx *bolt.Tx) error { _, err := getJSON(tx.Bucket(sMeta), mClock, &c); return err })
	return c, err
}

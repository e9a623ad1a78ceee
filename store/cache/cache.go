// Package cache keeps the approved documents and their approval tickets on the workstation,
// encrypted, so that the custodian can stamp while offline. One bbolt file (DATA/cache.db).
//
// Every entry is SM4-GCM under a key derived from the ledger's data key (ledger.DeriveKey
// ("cache")), with "sealkeeper cache v1" ‖ 0x00 ‖ id as associated data, so an entry cannot be
// read without a key slot and cannot be moved to another id. An entry leaves the cache once it
// is settled (stamped or rejected) or expired, and its outcome was synced upstream.
//
// Nothing uses it yet: the documents the sync loop fetches are kept by upstream.Store, in plain
// files (issue 15: one cache, encrypted).
package cache

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
)

// FileName is the cache's file name in the data dir.
const FileName = "cache.db"

// State is where a document is in its life on the workstation.
type State string

const (
	Pending  State = "pending"  // approved, waiting to be stamped
	Stamped  State = "stamped"  // stamped; the output is in the outbox
	Rejected State = "rejected" // returned with a reason
)

// Entry is one approved document.
type Entry struct {
	ID       string    `json:"id"`
	Title    string    `json:"title"`
	SealID   string    `json:"seal"`
	Ticket   []byte    `json:"ticket"`   // the server's signed approval ticket, as received
	Document []byte    `json:"document"` // the PDF bytes the approval binds
	Received time.Time `json:"received"`
	Expires  time.Time `json:"expires"` // the approval's expiry; zero: none
	State    State     `json:"state"`
	Synced   bool      `json:"synced"` // the outcome reached the server
}

// Settled reports whether the entry may leave the cache at now.
func (e Entry) Settled(now time.Time) bool {
	done := e.State == Stamped || e.State == Rejected || (!e.Expires.IsZero() && now.After(e.Expires))
	return done && e.Synced
}

var (
	bucketDocs = []byte("docs")
	adPrefix   = "sealkeeper cache v1\x00"

	// ErrNotFound: no entry with that id.
	ErrNotFound = errors.New("document is not in the cache")
)

// Cache is an open cache file. Safe for concurrent use.
type Cache struct {
	db   *bolt.DB
	path string
	mu   sync.Mutex
	aead cipher.AEAD
}

// Open opens (or creates: the cache holds nothing that cannot be fetched again) the cache at
// path with key (16 bytes, from ledger.DeriveKey("cache")).
func Open(path string, key []byte) (*Cache, error) {
	aead, err := keyslot.NewSM4GCM(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening document cache %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucketDocs); return err }); err != nil {
		db.Close()
		return nil, err
	}
	return &Cache{db: db, path: path, aead: aead}, nil
}

// Close closes the file.
func (c *Cache) Close() error { return c.db.Close() }

func (c *Cache) seal(e Entry) ([]byte, error) {
	pt, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.aead.Seal(nonce, nonce, pt, []byte(adPrefix+e.ID)), nil
}

func (c *Cache) open(id string, v []byte) (Entry, error) {
	n := c.aead.NonceSize()
	if len(v) < n {
		return Entry{}, fmt.Errorf("cache entry %s is damaged", id)
	}
	c.mu.Lock()
	pt, err := c.aead.Open(nil, v[:n], v[n:], []byte(adPrefix+id))
	c.mu.Unlock()
	if err != nil {
		return Entry{}, fmt.Errorf("cache entry %s does not decrypt (damaged, moved, or another key); fetch it from the server again", id)
	}
	var e Entry
	if err := json.Unmarshal(pt, &e); err != nil {
		return Entry{}, fmt.Errorf("cache entry %s: %v", id, err)
	}
	return e, nil
}

// Put stores or replaces an entry (durable on return).
func (c *Cache) Put(e Entry) error {
	if e.ID == "" {
		return errors.New("cache entry without id")
	}
	if e.State == "" {
		e.State = Pending
	}
	if e.Received.IsZero() {
		e.Received = time.Now().UTC()
	}
	v, err := c.seal(e)
	if err != nil {
		return err
	}
	return c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketDocs).Put([]byte(e.ID), v) })
}

// Get returns one entry.
func (c *Cache) Get(id string) (Entry, error) {
	var v []byte
	c.db.View(func(tx *bolt.Tx) error {
		v = append([]byte(nil), tx.Bucket(bucketDocs).Get([]byte(id))...)
		return nil
	})
	if len(v) == 0 {
		return Entry{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return c.open(id, v)
}

// List returns every entry, documents included, in id order.
func (c *Cache) List() ([]Entry, error) {
	var out []Entry
	err := c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDocs).ForEach(func(k, v []byte) error {
			e, err := c.open(string(k), v)
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// Update changes one entry in place (e.g. State, Synced).
func (c *Cache) Update(id string, f func(*Entry)) error {
	e, err := c.Get(id)
	if err != nil {
		return err
	}
	f(&e)
	e.ID = id
	return c.Put(e)
}

// Evict removes the entries settled at now (stamped, rejected or expired, and synced) and
// returns their ids.
func (c *Cache) Evict(now time.Time) ([]string, error) {
	var gone []string
	err := c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDocs)
		var del [][]byte
		if err := b.ForEach(func(k, v []byte) error {
			e, err := c.open(string(k), v)
			if err != nil {
				return err
			}
			if e.Settled(now) {
				del = append(del, append([]byte(nil), k...))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range del {
			if err := b.Delete(k); err != nil {
				return err
			}
			gone = append(gone, string(k))
		}
		return nil
	})
	return gone, err
}

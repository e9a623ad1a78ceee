package cache_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/cache"
	"github.com/sealkeeper/sealkeeper/store/keyslot"
)

func TestCacheLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), cache.FileName)
	key, _ := keyslot.NewKey()
	c, err := cache.Open(path, key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	doc := []byte("%PDF-1.7 secret contract text")
	for _, e := range []cache.Entry{
		{ID: "a", Title: "合同", Document: doc, Ticket: []byte("ticket-a")},
		{ID: "b", Title: "expired", Expires: now.Add(-time.Hour)},
		{ID: "c", Title: "rejected", State: cache.Rejected},
	} {
		if err := c.Put(e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.Get("a")
	if err != nil || !bytes.Equal(got.Document, doc) || got.State != cache.Pending {
		t.Fatalf("%+v %v", got, err)
	}
	// Nothing is evicted before its outcome is synced.
	if gone, _ := c.Evict(now); len(gone) != 0 {
		t.Fatalf("evicted unsynced %v", gone)
	}
	c.Update("a", func(e *cache.Entry) { e.State = cache.Stamped; e.Synced = true })
	c.Update("b", func(e *cache.Entry) { e.Synced = true })
	gone, err := c.Evict(now)
	if err != nil || len(gone) != 2 {
		t.Fatalf("evicted %v %v", gone, err)
	}
	if _, err := c.Get("a"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("a still there: %v", err)
	}
	c.Close()

	// The document is not in the file in the clear, and another key cannot read it.
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte("rejected")) || bytes.Contains(raw, []byte("secret contract")) {
		t.Fatal("plaintext in the cache file")
	}
	other, _ := keyslot.NewKey()
	c2, err := cache.Open(path, other)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Get("c"); err == nil {
		t.Fatal("read with another key")
	}
}

package ledger_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
	"unsafe"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// leafElementOf finds the bbolt leaf element whose key is key (in a page or in an inline
// bucket's page) by looking for a 16-byte element header whose pos leads to the key. It returns
// the header's offset in the file.
func leafElementOf(t *testing.T, file []byte, key []byte) int {
	t.Helper()
	at := bytes.Index(file, key)
	if at < 0 {
		t.Fatalf("key %q not in the file", key)
	}
	le := binary.LittleEndian
	for q := at - 16; q >= at&^4095 && q >= 0; q-- {
		if le.Uint32(file[q:]) <= 1 && int(le.Uint32(file[q+4:])) == at-q && int(le.Uint32(file[q+8:])) == len(key) {
			return q
		}
	}
	t.Fatalf("no element header for key %q", key)
	return 0
}

// TestElementOutsideItsPage is the case behind a race report in TestFlipEveryByte: one changed
// byte in the size of the "workstation" value of the ledger's meta bucket (an inline bucket, so
// the value lies inside another value, which bbolt may copy to Go's heap) made bbolt hand back a
// slice reaching past its page into other memory. bbolt's tx.Check does not look at element
// sizes, so the child check used to pass it. Now the child refuses the file before this process
// maps it: CheckFile names the page and element, Verify and Open report a structure problem.
func TestElementOutsideItsPage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		field int    // offset in the element header: 4 pos, 12 vsize
		add   uint32 // added to the field
	}{
		{"value size +0xff00", 12, 0xff00},
		{"value size +1 page", 12, 4096},
		{"value size +0xff000000", 12, 0xff000000},
		{"key position +0xff00", 4, 0xff00},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := newLedger(t, 6)
			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			e := leafElementOf(t, file, []byte("workstation"))
			v := binary.LittleEndian.Uint32(file[e+tc.field:])
			binary.LittleEndian.PutUint32(file[e+tc.field:], v+tc.add)
			os.WriteFile(path, file, 0o600)
			os.Remove(path + ".digest") // as after a crash: the structure must stand on its own

			err = ledger.CheckFile(path)
			if err == nil || !strings.Contains(err.Error(), "outside its page") || !strings.Contains(err.Error(), "page ") {
				t.Fatalf("CheckFile: %v, want the page and element named", err)
			}
			_, err = ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{})
			var ve *ledger.VerifyError
			if !errors.As(err, &ve) || ve.Reason != ledger.ReasonStructure {
				t.Fatalf("Verify: %v, want a structure error", err)
			}
			_, err = ledger.Open(path, options())
			if !errors.As(err, &ve) || ve.Reason != ledger.ReasonStructure || ve.MovedTo == "" {
				t.Fatalf("Open: %v, want the file refused and moved aside", err)
			}
		})
	}
}

// bboltReadsInside opens a file that passed CheckFile with bbolt and walks every bucket: every
// key and value bbolt returns from a bucket with pages of its own must lie inside the file's
// memory map (inline buckets' contents may be copies on the heap; their bounds are what
// TestElementOutsideItsPage checks). A failure here is a read outside the file.
func bboltReadsInside(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return // refused by bbolt itself: nothing was read
	}
	defer db.Close()
	lo := db.Info().Data
	hi := lo + uintptr(st.Size())
	inside := func(b []byte) bool {
		if len(b) == 0 {
			return true
		}
		p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		return p >= lo && p+uintptr(len(b)) <= hi
	}
	var walk func(b *bolt.Bucket, depth int)
	walk = func(b *bolt.Bucket, depth int) {
		st := b.Stats()
		paged := st.LeafPageN+st.BranchPageN > 0 // an inline bucket has no pages of its own
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if paged && (!inside(k) || !inside(v)) {
				t.Fatalf("bbolt returned a key or value outside the file's map (key %x…)", k[:min(len(k), 8)])
			}
			if v == nil && depth < 8 {
				if sub := b.Bucket(k); sub != nil {
					walk(sub, depth+1)
				}
			}
		}
	}
	db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if !inside(name) {
				t.Fatalf("bbolt returned a bucket name outside the file's map")
			}
			walk(b, 1)
			return nil
		})
	})
}

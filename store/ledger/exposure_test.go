package ledger_test

// What someone with the file and no key can read (issue 16, "Low"): the rest of the attacks
// are in attack_test.go. Each test reads the file straight through bbolt, as that person would.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// peek runs f over the closed ledger file, read-only, as someone without a key.
func peek(t *testing.T, path string, f func(tx *bolt.Tx)) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error { f(tx); return nil })
}

// ciphertextSizes lists each stored record's ciphertext length, by seq.
func ciphertextSizes(t *testing.T, path string) map[uint64]int {
	out := map[uint64]int{}
	peek(t, path, func(tx *bolt.Tx) {
		tx.Bucket([]byte("records")).ForEach(func(k, v []byte) error {
			var e ledger.Envelope
			if err := e.UnmarshalBinary(v); err != nil {
				t.Fatal(err)
			}
			out[e.Seq] = len(e.Ciphertext)
			return nil
		})
	})
	return out
}

// TestRecordSizesPadded: a short alarm and a long stamp intent (title, hashes, placements, the
// output's path) have ciphertexts of one size, a record over 4 KiB one of a 4 KiB step, and
// every record reads back as it was written, without the padding.
func TestRecordSizesPadded(t *testing.T) {
	path := filepath.Join(t.TempDir(), ledger.FileName)
	l, err := ledger.Create(path, recipients(), options())
	if err != nil {
		t.Fatal(err)
	}
	alarm := ledger.Record{Kind: ledger.KindAlarm, Alarm: "pin", Detail: "3 wrong PINs"}
	intent := ledger.Record{Kind: ledger.KindStampIntent, DocID: "doc-2026-0042", DocTitle: strings.Repeat("关于印发会议纪要的通知", 4),
		SealID: "seal-1", TicketID: "b3c1d2e4f5a6978812345678", CertSerial: "1234567890123456789",
		InputHash: strings.Repeat("3f2a9c1d", 8), Detail: "/home/custodian/Documents/SealKeeper/stamped/doc-2026-0042.pdf",
		Placements: []ledger.Placement{{Page: 1, X: 400, Y: 100, W: 119, H: 119}, {Page: 3, X: 420, Y: 90, W: 119, H: 119}}}
	big := ledger.Record{Kind: ledger.KindSettingsChanged, Detail: strings.Repeat("x", 5000)}
	seqs, err := l.Append(alarm, intent, big)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []ledger.Record{alarm, intent, big} {
		got, err := l.Get(seqs[i])
		if err != nil {
			t.Fatal(err)
		}
		if got.Kind != want.Kind || got.Detail != want.Detail || got.DocTitle != want.DocTitle || len(got.Placements) != len(want.Placements) {
			t.Fatalf("record %d read back as %+v", seqs[i], got)
		}
		if bytes.HasSuffix(got.Raw, []byte(" ")) || !json.Valid(got.Raw) {
			t.Fatalf("record %d: Raw keeps the padding: %q", seqs[i], got.Raw)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	sizes := ciphertextSizes(t, path)
	if sizes[seqs[0]] != sizes[seqs[1]] || sizes[1] != sizes[seqs[0]] {
		t.Fatalf("ciphertext sizes tell the kinds apart: genesis %d, alarm %d, stamp intent %d", sizes[1], sizes[seqs[0]], sizes[seqs[1]])
	}
	if sizes[seqs[0]] != 1024+16 || sizes[seqs[2]] != 8192+16 {
		t.Fatalf("ciphertext sizes %v; want 1 KiB (+16-byte tag) for ordinary records, 8 KiB for one of 5,000 bytes", sizes)
	}
	if _, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}

// format2 copies testdata/format2 (a ledger written by the format before padding, sealed
// labels and the sealed intent index: see its README) into a temporary dir and returns the
// ledger's path and its custodian's key.
func format2(t *testing.T) (string, keyslot.Holder) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{ledger.FileName, ledger.FileName + ".digest"} {
		copyFile(t, filepath.Join("testdata/format2", f), filepath.Join(dir, f))
	}
	b, err := os.ReadFile("testdata/format2/custodian.pem")
	if err != nil {
		t.Fatal(err)
	}
	h, err := keyslot.ParsePrivateKeyPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, ledger.FileName), h
}

// TestFormat2FileReadable: a ledger from before padding opens, unlocks and verifies; its
// unpadded records decode, its interrupted stamping is still open, and records appended to
// it are padded.
func TestFormat2FileReadable(t *testing.T) {
	path, h := format2(t)
	l, err := ledger.Open(path, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(h); err != nil {
		t.Fatal(err)
	}
	in, err := l.Interrupted()
	if err != nil || len(in) != 1 || in[0].Seq != 5 || in[0].DocID != "doc-2" {
		t.Fatalf("interrupted stampings %+v (%v), want record 5 (doc-2)", in, err)
	}
	if r, err := l.Get(4); err != nil || r.Kind != ledger.KindAlarm || r.Detail != "3 wrong PINs" {
		t.Fatalf("record 4: %+v %v", r, err)
	}
	seqs, err := l.Append(ledger.Record{Kind: ledger.KindLoginOK, Custodian: "张三"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	sizes := ciphertextSizes(t, path)
	if sizes[4] >= 1024 || sizes[seqs[0]] != 1024+16 {
		t.Fatalf("ciphertext sizes %v: want the old records as they were, the new one padded to 1 KiB", sizes)
	}
	rep, err := ledger.Verify(path, h, ledger.VerifyOptions{})
	if err != nil || rep.Records != seqs[0] || len(rep.Interrupted) != 1 || rep.Interrupted[0] != 5 {
		t.Fatalf("%+v %v", rep, err)
	}
}

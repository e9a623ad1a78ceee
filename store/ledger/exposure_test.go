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

// openUnlockWith opens the ledger at path and unlocks it with h, or fails the test.
func openUnlockWith(t *testing.T, path string, h keyslot.Holder) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(path, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(h); err != nil {
		l.Close()
		t.Fatal(err)
	}
	return l
}

// TestFormat2FileReadable: a ledger from before padding opens, unlocks and verifies; its
// unpadded records decode, its interrupted stamping is still open, and records appended to
// it are padded.
func TestFormat2FileReadable(t *testing.T) {
	path, h := format2(t)
	l := openUnlockWith(t, path, h)
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

// TestSlotLabelsUnreadableWithoutKey: the custodians' names given to their key slots are
// nowhere in the file in clear, not in a new ledger, not after a handover adds a slot, and not
// in the live slots of a file from before once it was unlocked; with the key they are there,
// and Unlock finds the token's slot by its public key alone.
func TestSlotLabelsUnreadableWithoutKey(t *testing.T) {
	inFile := func(t *testing.T, path string, names ...string) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("%q is readable in the file without a key", n)
			}
		}
	}
	liveSlots := func(t *testing.T, path string, names ...string) {
		t.Helper()
		peek(t, path, func(tx *bolt.Tx) {
			tx.Bucket([]byte("slots")).ForEach(func(k, v []byte) error {
				var s keyslot.Slot
				if err := json.Unmarshal(v, &s); err != nil {
					t.Fatal(err)
				}
				if s.Label != "" || bytes.Contains(v, []byte(`"label"`)) {
					t.Errorf("slot %s keeps its label in clear: %s", k, v)
				}
				return nil
			})
			tx.Bucket([]byte("meta")).ForEach(func(k, v []byte) error {
				for _, n := range names {
					if bytes.Contains(v, []byte(n)) {
						t.Errorf("meta %s shows %q", k, n)
					}
				}
				return nil
			})
		})
	}
	labelsOf := func(slots []keyslot.Slot) map[string]string {
		out := map[string]string{}
		for _, s := range slots {
			out[s.ID] = s.Label
		}
		return out
	}
	custodianID, _ := keyslot.ID(testKeys.custodian.Public())
	successorID, _ := keyslot.ID(testKeys.stranger.Public())

	t.Run("new_ledger_and_handover", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), ledger.FileName)
		l, err := ledger.Create(path, recipients(), options())
		if err != nil {
			t.Fatal(err)
		}
		if err := l.ChangeSlots([]ledger.Recipient{{Public: testKeys.stranger.Public(), Role: keyslot.RoleCustodian, Label: "李四"}}, nil); err != nil {
			t.Fatal(err)
		}
		slots, err := l.Slots()
		if got := labelsOf(slots); err != nil || got[custodianID] != "张三" || got[successorID] != "李四" {
			t.Fatalf("unlocked, the slots' labels are %v (%v)", got, err)
		}
		l.Lock()
		slots, err = l.Slots()
		if got := labelsOf(slots); err != nil || len(slots) != 3 || got[custodianID] != "" {
			t.Fatalf("locked, the slots are %v (%v): want three, without labels", got, err)
		}
		if err := l.Unlock(testKeys.stranger); err != nil { // the new slot, found by its key
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		inFile(t, path, "张三", "李四")
		liveSlots(t, path, "张三", "李四")
		rep, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{})
		if got := labelsOf(rep.Slots); err != nil || got[successorID] != "李四" {
			t.Fatalf("a keyed Verify reports the labels %v (%v)", got, err)
		}
		rep, err = ledger.Verify(path, nil, ledger.VerifyOptions{})
		if got := labelsOf(rep.Slots); err != nil || got[successorID] != "" {
			t.Fatalf("a Verify without the key reports the labels %v (%v)", got, err)
		}
	})
	t.Run("format2_upgraded_at_login", func(t *testing.T) {
		path, h := format2(t)
		l := openUnlockWith(t, path, h)
		slots, err := l.Slots()
		id, _ := keyslot.ID(h.Public())
		if got := labelsOf(slots); err != nil || got[id] != "张三" {
			t.Fatalf("after the upgrade the labels are %v (%v)", got, err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		liveSlots(t, path, "张三")
		openUnlockWith(t, path, h).Close() // the upgraded file opens and unlocks again
	})
}

// wantMetaChangedAfter makes mallory's change f to the closed ledger at path (and recomputes
// its digest), then wants the custodian's login and a keyed Verify to find a metadata change.
func wantMetaChangedAfter(t *testing.T, path string, f func(tx *bolt.Tx) error) {
	t.Helper()
	mallory(t, path, f)
	recomputeDigest(t, path)
	_, err := openUnlock(path, options())
	wantReason(t, "open and unlock", err, ledger.ReasonMetaChanged)
	_, err = ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{})
	wantReason(t, "keyed verify", err, ledger.ReasonMetaChanged)
}

// TestSlotLabelsEditedWithoutKey: the sealed labels removed, or a name written back into a
// slot in clear, is a change under the meta MAC.
func TestSlotLabelsEditedWithoutKey(t *testing.T) {
	for name, f := range map[string]func(tx *bolt.Tx) error{
		"fail_labels_deleted": func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Delete([]byte("slotlabels")) },
		"fail_name_in_clear": func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("slots"))
			id, _ := keyslot.ID(testKeys.custodian.Public())
			var s keyslot.Slot
			if err := json.Unmarshal(b.Get([]byte(id)), &s); err != nil {
				return err
			}
			s.Label = "Mallory"
			v, _ := json.Marshal(s)
			return b.Put([]byte(id), v)
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := newLedger(t, 2)
			wantMetaChangedAfter(t, path, f)
		})
	}
}

// TestIntentIndexEditedWithoutKey: the open stampings are sealed (no seq of an interrupted
// stamping in clear), and every way to hide one without the key is found at the login and by
// a keyed Verify: the index deleted, a byte of it changed, an older copy (from before the
// intent) put back, and, in a file from before the sealed index, its entry in the clear
// intents bucket deleted.
func TestIntentIndexEditedWithoutKey(t *testing.T) {
	t.Run("sealed", func(t *testing.T) {
		path, _ := interruptedLedger(t)
		peek(t, path, func(tx *bolt.Tx) {
			if n := tx.Bucket([]byte("intents")).Stats().KeyN; n != 0 {
				t.Fatalf("the clear intents bucket has %d entries", n)
			}
		})
		l, err := openUnlock(path, options())
		if err != nil {
			t.Fatal(err)
		}
		in, err := l.Interrupted()
		l.Close()
		if err != nil || len(in) != 1 {
			t.Fatalf("interrupted %v %v", in, err)
		}
	})
	for name, f := range map[string]func(tx *bolt.Tx) error{
		"fail_index_deleted": func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Delete([]byte("openintents")) },
		"fail_index_byte_changed": func(tx *bolt.Tx) error {
			v := append([]byte(nil), tx.Bucket([]byte("meta")).Get([]byte("openintents"))...)
			v[len(v)-20] ^= 1
			return tx.Bucket([]byte("meta")).Put([]byte("openintents"), v)
		},
	} {
		t.Run(name, func(t *testing.T) {
			path, _ := interruptedLedger(t)
			wantMetaChangedAfter(t, path, f)
		})
	}
	t.Run("fail_older_copy_put_back", func(t *testing.T) {
		// The index as it was before the intent, sealed with this ledger's own key.
		path := newLedger(t, 1)
		var before []byte
		peek(t, path, func(tx *bolt.Tx) {
			before = append([]byte(nil), tx.Bucket([]byte("meta")).Get([]byte("openintents"))...)
		})
		l, err := openUnlock(path, options())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(ledger.Record{Kind: ledger.KindStampIntent, DocID: "d1"}); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		wantMetaChangedAfter(t, path, func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("openintents"), before) })
	})
	t.Run("fail_format2_bucket_entry_deleted", func(t *testing.T) {
		path, h := format2(t)
		mallory(t, path, func(tx *bolt.Tx) error { return tx.Bucket([]byte("intents")).Delete(seqKey(5)) })
		recomputeDigest(t, path)
		l, err := ledger.Open(path, ledger.Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = l.Unlock(h)
		l.Close()
		wantReason(t, "unlock", err, ledger.ReasonMetaChanged)
		_, err = ledger.Verify(path, h, ledger.VerifyOptions{})
		wantReason(t, "keyed verify", err, ledger.ReasonMetaChanged)
	})
}

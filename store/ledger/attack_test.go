package ledger_test

// Attacks from issue 16 by someone who can write the data dir and holds no token, no seal key
// and no escrow key: each test makes the change straight through bbolt (or the file system),
// recomputes what anyone can recompute (the closed-file digest's plain SHA-256), and then the
// custodian opens, unlocks and verifies as usual. Each subtest named fail_* is one such file.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// testServer stands for the hub's co-signing key (upstream.server_key on the workstation).
var testServer, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

func serverOptions() ledger.Options {
	o := options()
	o.ServerKey = &testServer.PublicKey
	return o
}

// cosign is what the hub does on sync: ECDSA P-256 over SHA-256 of the checkpoint's bytes.
func cosign(l *ledger.Ledger) (ledger.SignedCheckpoint, []byte) {
	cp := ledger.Checkpoint{Workstation: l.Workstation(), Size: l.Size(), Head: l.Head()}
	d := sha256.Sum256(cp.SignedBytes())
	sig, err := ecdsa.SignASN1(rand.Reader, testServer, d[:])
	if err != nil {
		panic(err)
	}
	return ledger.SignedCheckpoint{Checkpoint: cp}, sig
}

// mallory changes the file as someone with write access and no key would.
func mallory(t *testing.T, path string, f func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(f); err != nil {
		t.Fatal(err)
	}
}

// recomputeDigest writes PATH.digest for the file as it is now, in the form of the ledger's
// closed-file digest line: SHA-256 and size, which anyone can compute.
func recomputeDigest(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, _ := io.Copy(h, f)
	line := fmt.Sprintf("sha256:%s size:%d\n", hex.EncodeToString(h.Sum(nil)), n)
	if err := os.WriteFile(path+".digest", []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
}

func storedHash(t *testing.T, tx *bolt.Tx, seq uint64) [ledger.HashSize]byte {
	t.Helper()
	var e ledger.Envelope
	if err := e.UnmarshalBinary(tx.Bucket([]byte("records")).Get(seqKey(seq))); err != nil {
		t.Fatal(err)
	}
	return e.Hash()
}

// openUnlock is the custodian's next login: Open, then Unlock with the token's key.
func openUnlock(path string, opts ledger.Options) (*ledger.Ledger, error) {
	l, err := ledger.Open(path, opts)
	if err != nil {
		return nil, err
	}
	if err := l.Unlock(testKeys.custodian); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func wantReason(t *testing.T, what string, err error, reasons ...ledger.Reason) {
	t.Helper()
	var ve *ledger.VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("%s: got %v, want a VerifyError %v", what, err, reasons)
	}
	if !slices.Contains(reasons, ve.Reason) {
		t.Fatalf("%s: got %q (%v), want %v", what, ve.Reason, err, reasons)
	}
}

func mentions(list []string, word string) bool {
	for _, s := range list {
		if strings.Contains(s, word) {
			return true
		}
	}
	return false
}

// TestRollbackWithoutToken cuts the last records of a closed ledger, with the checkpoints that
// name them, and recomputes the digest. Nothing outside the file knows the old size (never
// synced), so only what the data key authenticates inside it can tell.
func TestRollbackWithoutToken(t *testing.T) {
	cut := func(t *testing.T, rewriteState bool) string {
		path := newLedger(t, 10) // records 1..11; checkpoints at 1, 6 and 11
		mallory(t, path, func(tx *bolt.Tx) error {
			for s := uint64(9); s <= 11; s++ {
				tx.Bucket([]byte("records")).Delete(seqKey(s))
			}
			c := tx.Bucket([]byte("checkpoints"))
			for s := uint64(9); s <= 11; s++ {
				c.Delete(seqKey(s))
			}
			if rewriteState {
				// The ledger's own note of its size is plain too: write the cut one.
				h := storedHash(t, tx, 8)
				tx.Bucket([]byte("meta")).Put([]byte("state"), append(binary.BigEndian.AppendUint64(nil, 8), h[:]...))
			}
			return nil
		})
		recomputeDigest(t, path)
		return path
	}
	t.Run("fail_tail_cut", func(t *testing.T) {
		path := cut(t, false)
		_, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{})
		wantVerifyError(t, err, 9, ledger.ReasonRollback)
		_, err = openUnlock(path, options())
		wantVerifyError(t, err, 9, ledger.ReasonRollback)
		if _, err := os.Stat(path); err != nil {
			t.Fatal("a cut ledger must stay in place (its records are good, only some are missing)")
		}
	})
	t.Run("fail_tail_cut_state_rewritten", func(t *testing.T) {
		path := cut(t, true)
		_, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{})
		wantReason(t, "verify with the key", err, ledger.ReasonMetaChanged)
		_, err = openUnlock(path, options())
		wantReason(t, "open and unlock", err, ledger.ReasonMetaChanged)
		// Without the key this cannot be told from a shorter ledger: the report must say so.
		rep, err := ledger.Verify(path, nil, ledger.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !mentions(rep.Unchecked, "size") {
			t.Fatalf("verify without a key claims more than it checked: %q", rep.Unchecked)
		}
	})
}

// TestSealKeysWithoutDataKey: without the data key, checkpoints are checked against the seal
// certificates given, and the report says what it could not check.
func TestSealKeysWithoutDataKey(t *testing.T) {
	path := newLedger(t, 10)
	rep, err := ledger.Verify(path, nil, ledger.VerifyOptions{SealKeys: []crypto.PublicKey{testKeys.seal.Public()}})
	if err != nil || rep.Checkpoints != 3 || rep.LastSigned != 11 || mentions(rep.Unchecked, "pinned in the file") || !mentions(rep.Unchecked, "MAC") {
		t.Fatalf("%+v %v", rep, err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, err = ledger.Verify(path, nil, ledger.VerifyOptions{SealKeys: []crypto.PublicKey{other.Public()}})
	wantVerifyError(t, err, 1, ledger.ReasonBadCheckpoint) // checkpoints at 1, 6, 11: the first is refused
}

// TestForgedCheckpoint puts a checkpoint signed by a fresh key into a closed ledger: once to
// make Open and Unlock skip a deleted record, once in place of the real last checkpoint.
func TestForgedCheckpoint(t *testing.T) {
	forge := func(t *testing.T, path string, deleteSeq uint64) {
		fresh, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		mallory(t, path, func(tx *bolt.Tx) error {
			if deleteSeq != 0 {
				tx.Bucket([]byte("records")).Delete(seqKey(deleteSeq))
			}
			sc, err := ledger.SignCheckpoint(fresh, ledger.Checkpoint{Workstation: "ws-test", Size: 11, Head: storedHash(t, tx, 11)})
			if err != nil {
				return err
			}
			b, _ := json.Marshal(sc)
			return tx.Bucket([]byte("checkpoints")).Put(seqKey(11), b)
		})
		recomputeDigest(t, path)
	}
	t.Run("fail_skips_deleted_record", func(t *testing.T) {
		path := newLedger(t, 10)
		forge(t, path, 4)
		_, err := openUnlock(path, options())
		wantVerifyError(t, err, 4, ledger.ReasonGap)
	})
	t.Run("fail_replaces_real_checkpoint", func(t *testing.T) {
		path := newLedger(t, 10)
		forge(t, path, 0)
		_, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{})
		wantVerifyError(t, err, 11, ledger.ReasonBadCheckpoint)
		// The server's check: no data key, the seal certificate's key.
		_, err = ledger.Verify(path, nil, ledger.VerifyOptions{SealKeys: []crypto.PublicKey{testKeys.seal.Public()}})
		wantVerifyError(t, err, 11, ledger.ReasonBadCheckpoint)
		_, err = openUnlock(path, options())
		wantVerifyError(t, err, 11, ledger.ReasonBadCheckpoint)
	})
}

// TestCosignedFloorDeleted removes or edits the server's co-signed floor, with and without
// putting back an older copy of the ledger taken after the first sync.
func TestCosignedFloorDeleted(t *testing.T) {
	setup := func(t *testing.T) (path, old string) {
		path = filepath.Join(t.TempDir(), ledger.FileName)
		l, err := ledger.Create(path, recipients(), serverOptions())
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 4; i++ {
			l.Append(sampleRecord(i))
		}
		if err := l.SetCosigned(cosign(l)); err != nil { // first sync: 5 records
			t.Fatal(err)
		}
		l.Close()
		old = filepath.Join(t.TempDir(), "old.db")
		copyFile(t, path, old)
		if l, err = openUnlock(path, serverOptions()); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 4; i++ {
			l.Append(sampleRecord(i))
		}
		if err := l.SetCosigned(cosign(l)); err != nil { // second sync: 9 records
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		return path, old
	}
	check := func(t *testing.T, path string, reasons ...ledger.Reason) {
		t.Helper()
		recomputeDigest(t, path)
		_, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{ServerKey: &testServer.PublicKey})
		wantReason(t, "verify", err, reasons...)
		_, err = openUnlock(path, serverOptions())
		wantReason(t, "open and unlock", err, reasons...)
	}
	t.Run("fail_floor_deleted", func(t *testing.T) {
		path, _ := setup(t)
		os.Remove(path + ".cosigned")
		check(t, path, ledger.ReasonCosigned)
	})
	t.Run("fail_old_copy_floor_deleted", func(t *testing.T) {
		path, old := setup(t)
		copyFile(t, old, path)
		os.Remove(path + ".cosigned")
		check(t, path, ledger.ReasonCosigned)
	})
	t.Run("fail_old_copy_floor_edited", func(t *testing.T) {
		path, old := setup(t)
		copyFile(t, old, path)
		// Lower the floor to what the old copy has, keeping the server's signature of 9.
		c, err := ledger.ReadCosigned(path)
		if err != nil || c == nil {
			t.Fatal(c, err)
		}
		mallory(t, path, func(tx *bolt.Tx) error {
			c.Checkpoint.Size, c.Checkpoint.Head = 5, storedHash(t, tx, 5)
			return nil
		})
		b, _ := json.Marshal(c)
		os.WriteFile(path+".cosigned", b, 0o600)
		check(t, path, ledger.ReasonCosigned)
	})
	t.Run("fail_records_cut_floor_deleted", func(t *testing.T) {
		path, _ := setup(t)
		mallory(t, path, func(tx *bolt.Tx) error {
			for s := uint64(6); s <= 10; s++ {
				tx.Bucket([]byte("records")).Delete(seqKey(s))
				tx.Bucket([]byte("checkpoints")).Delete(seqKey(s))
			}
			h := storedHash(t, tx, 5)
			return tx.Bucket([]byte("meta")).Put([]byte("state"), append(binary.BigEndian.AppendUint64(nil, 5), h[:]...))
		})
		os.Remove(path + ".cosigned")
		check(t, path, ledger.ReasonCosigned, ledger.ReasonRollback, ledger.ReasonMetaChanged)
	})
	t.Run("intact", func(t *testing.T) {
		path, _ := setup(t)
		rep, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{ServerKey: &testServer.PublicKey})
		if err != nil || rep.Cosigned != 9 || mentions(rep.Unchecked, "floor") {
			t.Fatalf("%+v %v", rep, err)
		}
		l, err := openUnlock(path, serverOptions())
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
	})
}

// TestClosedDigestRecomputed changes a closed ledger where no record check looks (an unused
// key in the meta bucket) and recomputes the digest.
func TestClosedDigestRecomputed(t *testing.T) {
	change := func(t *testing.T) (path, oldLine string) {
		path = newLedger(t, 3)
		b, _ := os.ReadFile(path + ".digest")
		mallory(t, path, func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("x"), []byte("y")) })
		return path, string(b)
	}
	t.Run("fail_plain_digest_recomputed", func(t *testing.T) {
		path, _ := change(t)
		recomputeDigest(t, path)
		for _, h := range []keyslot.Holder{testKeys.escrow, nil} {
			rep, err := ledger.Verify(path, h, ledger.VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Digest || !mentions(rep.Unchecked, "digest") {
				t.Fatalf("key %v: the report says the closed file is unchanged: digest %v, unchecked %q", h != nil, rep.Digest, rep.Unchecked)
			}
		}
	})
	t.Run("fail_digest_recomputed_mac_kept", func(t *testing.T) {
		path, oldLine := change(t)
		recomputeDigest(t, path)
		line, _ := os.ReadFile(path + ".digest")
		if i := strings.Index(oldLine, " mac:"); i >= 0 {
			os.WriteFile(path+".digest", []byte(strings.TrimSpace(string(line))+strings.TrimSpace(oldLine[i:])+"\n"), 0o600)
		} else {
			t.Fatalf("the closed-file digest has no MAC: %q", oldLine)
		}
		_, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{})
		wantReason(t, "verify", err, ledger.ReasonChanged)
		_, err = openUnlock(path, options())
		wantReason(t, "open and unlock", err, ledger.ReasonChanged)
	})
	t.Run("open_close_keeps_mac", func(t *testing.T) {
		// A session that writes nothing and never unlocks keeps the authenticated digest.
		path := newLedger(t, 3)
		l, err := ledger.Open(path, options())
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		rep, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{})
		if err != nil || !rep.Digest {
			t.Fatalf("%+v %v", rep, err)
		}
	})
}

// forgePending writes a pending event as Note does while locked: sealed to the key slots'
// public keys, which anyone can read in the file.
func forgePending(t *testing.T, path string, r ledger.Record) {
	t.Helper()
	r.Schema = 1
	pt, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	mallory(t, path, func(tx *bolt.Tx) error {
		var pubs []crypto.PublicKey
		tx.Bucket([]byte("slots")).ForEach(func(_, v []byte) error {
			var s keyslot.Slot
			json.Unmarshal(v, &s)
			p, err := s.Recipient()
			if err != nil {
				t.Fatal(err)
			}
			pubs = append(pubs, p)
			return nil
		})
		msg, err := keyslot.Seal(pt, []byte("sealkeeper ledger pending v1"), pubs)
		if err != nil {
			return err
		}
		p := tx.Bucket([]byte("pending"))
		n, _ := p.NextSequence()
		return p.Put(seqKey(n), msg)
	})
}

func allRecords(t *testing.T, l *ledger.Ledger) []ledger.Record {
	t.Helper()
	var out []ledger.Record
	if err := l.Records(1, func(r ledger.Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// interruptedLedger is a closed ledger whose last record is a stamp intent with no result.
func interruptedLedger(t *testing.T) (path string, intent uint64) {
	path = filepath.Join(t.TempDir(), ledger.FileName)
	l, err := ledger.Create(path, recipients(), options())
	if err != nil {
		t.Fatal(err)
	}
	seqs, err := l.Append(ledger.Record{Kind: ledger.KindStampIntent, DocID: "d1", TicketID: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path, seqs[0]
}

// TestForgedLockedEventCannotSettleIntent forges events "written while locked": a stamp.done
// that would settle a real interrupted stamping, a handover, and an allowed kind carrying an
// intent. At the next login none may settle the intent or reach the chain as what it claims.
func TestForgedLockedEventCannotSettleIntent(t *testing.T) {
	path, intent := interruptedLedger(t)
	forgePending(t, path, ledger.Record{Kind: ledger.KindStampDone, Intent: intent, DocID: "d1", OutputHash: "ff"})
	forgePending(t, path, ledger.Record{Kind: ledger.KindHandover, From: "张三", To: "Mallory"})
	forgePending(t, path, ledger.Record{Kind: ledger.KindKeyInserted, Token: "T-9", Intent: intent})
	recomputeDigest(t, path)

	l, err := openUnlock(path, options())
	if err != nil {
		t.Fatal(err)
	}
	in, err := l.Interrupted()
	if err != nil || len(in) != 1 || in[0].Seq != intent {
		t.Fatalf("interrupted after the login: %v %v; the forged stamp.done settled the intent", in, err)
	}
	var alarms, inserted int
	for _, r := range allRecords(t, l) {
		switch r.Kind {
		case ledger.KindStampDone, ledger.KindHandover:
			t.Fatalf("a forged %s was chained: %s", r.Kind, r.Raw)
		case ledger.KindAlarm:
			alarms++
		case ledger.KindKeyInserted:
			inserted++
			if r.Intent != 0 || r.Locked != ledger.LockedClaim || r.SealedAt.IsZero() {
				t.Fatalf("folded key.inserted: intent %d, locked %q, sealed %v", r.Intent, r.Locked, r.SealedAt)
			}
		}
	}
	if alarms != 2 || inserted != 1 || l.Pending() != 0 {
		t.Fatalf("%d alarms for 2 refused events, %d key.inserted, %d still pending", alarms, inserted, l.Pending())
	}
	// Writing such a kind while locked is refused at once.
	l.Lock()
	if err := l.Note(ledger.Record{Kind: ledger.KindStampDone, Intent: intent}); !errors.Is(err, ledger.ErrNotWhileLocked) {
		t.Fatalf("Note(stamp.done) while locked: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{})
	if err != nil || !slices.Equal(rep.Interrupted, []uint64{intent}) {
		t.Fatalf("verify: interrupted %v, %v", rep.Interrupted, err)
	}
}

// TestLockedEventsMarked: events this program writes while locked, after an unlock in the same
// run, carry a MAC and are folded as authenticated; a forged one beside them is a claim, and
// one that copies the authenticated form with a wrong MAC is refused.
func TestLockedEventsMarked(t *testing.T) {
	path := newLedger(t, 2)
	l, err := openUnlock(path, options())
	if err != nil {
		t.Fatal(err)
	}
	l.Lock()
	if err := l.Note(ledger.Record{Kind: ledger.KindKeyRemoved, Token: "T-0001"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	forgePending(t, path, ledger.Record{Kind: ledger.KindLoginFailed, Reason: "wrong PIN"})
	mallory(t, path, func(tx *bolt.Tx) error {
		// A copy of the authenticated event with its MAC bytes changed.
		p := tx.Bucket([]byte("pending"))
		_, v := p.Cursor().First()
		v = append([]byte(nil), v...)
		v[5] ^= 1
		n, _ := p.NextSequence()
		return p.Put(seqKey(n), v)
	})
	recomputeDigest(t, path)
	if l, err = openUnlock(path, options()); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := map[ledger.Kind]ledger.LockedAuth{}
	for _, r := range allRecords(t, l) {
		if r.Locked != "" || r.Kind == ledger.KindAlarm {
			got[r.Kind] = r.Locked
		}
	}
	want := map[ledger.Kind]ledger.LockedAuth{ledger.KindKeyRemoved: ledger.LockedAuthenticated, ledger.KindLoginFailed: ledger.LockedClaim, ledger.KindAlarm: ""}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("folded %v, want %v", got, want)
	}
}

// TestIntentDeletedWithoutKey removes an interrupted stamping from the index of open
// stampings (sealed now; the other edits are in TestIntentIndexEditedWithoutKey).
func TestIntentDeletedWithoutKey(t *testing.T) {
	path, intent := interruptedLedger(t)
	mallory(t, path, func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Delete([]byte("openintents")) })
	recomputeDigest(t, path)
	l, err := openUnlock(path, options())
	if err == nil {
		in, _ := l.Interrupted()
		l.Close()
		t.Fatalf("the login went through with interrupted stampings %v (want %d)", in, intent)
	}
	wantReason(t, "open and unlock", err, ledger.ReasonMetaChanged)
}

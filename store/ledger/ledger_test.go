package ledger_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
)

func TestRoundTrip(t *testing.T) {
	path := newLedger(t, 12)
	l, err := ledger.Open(path, options())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ledger.Record{Kind: ledger.KindAlarm}); !errors.Is(err, ledger.ErrLocked) {
		t.Fatalf("append while locked: %v, want ErrLocked", err)
	}
	// Events while nobody is logged in go to the pending area, sealed to the slots.
	if err := l.Note(ledger.Record{Kind: ledger.KindKeyInserted, Token: "T-0001"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Note(ledger.Record{Kind: ledger.KindLoginFailed, Reason: "wrong PIN"}); err != nil {
		t.Fatal(err)
	}
	if l.Pending() != 2 || l.Size() != 13 {
		t.Fatalf("pending %d size %d", l.Pending(), l.Size())
	}
	if err := l.Unlock(testKeys.stranger); !errors.Is(err, keyslot.ErrNoSlot) {
		t.Fatalf("stranger unlocked: %v", err)
	}
	if err := l.Unlock(testKeys.custodian); err != nil {
		t.Fatal(err)
	}
	if l.Pending() != 0 || l.Size() != 15 {
		t.Fatalf("after unlock: pending %d size %d", l.Pending(), l.Size())
	}
	seqs, err := l.Append(ledger.Record{Kind: ledger.KindStampIntent, DocID: "d9"}, ledger.Record{Kind: "future.kind", Schema: 7, Detail: "from a newer version"})
	if err != nil || len(seqs) != 2 || seqs[0] != 16 {
		t.Fatalf("append group: %v %v", seqs, err)
	}
	var kinds []ledger.Kind
	if err := l.Records(1, func(r ledger.Record) error { kinds = append(kinds, r.Kind); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(kinds) != 17 || kinds[0] != ledger.KindCreated || kinds[13] != ledger.KindKeyInserted || kinds[16] != "future.kind" {
		t.Fatalf("kinds %v", kinds)
	}
	r, err := l.Get(15)
	if err != nil || r.SealedAt.IsZero() || r.Reason != "wrong PIN" {
		t.Fatalf("folded record %+v %v", r, err)
	}
	fut, _ := l.Get(17)
	if fut.Known() || !strings.Contains(string(fut.Raw), `"v":7`) {
		t.Fatalf("unknown kind not kept as written: %s", fut.Raw)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen: the intent has no result, so it is reported as interrupted.
	l, err = ledger.Open(path, options())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(testKeys.escrow); err != nil {
		t.Fatal(err)
	}
	in, err := l.Interrupted()
	if err != nil || len(in) != 1 || in[0].Seq != 16 {
		t.Fatalf("interrupted %v %v", in, err)
	}
	if _, err := l.Append(ledger.Record{Kind: ledger.KindStampFailed, Intent: 16, Reason: "interrupted: no output on disk"}); err != nil {
		t.Fatal(err)
	}
	if in, _ := l.Interrupted(); len(in) != 0 {
		t.Fatalf("still interrupted: %v", in)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 18 || !rep.Decrypted || !rep.Digest || rep.Unknown != 1 || len(rep.Interrupted) != 0 || rep.LastSigned != 18 {
		t.Fatalf("report %+v", rep)
	}
}

func TestHandover(t *testing.T) {
	path := newLedger(t, 3)
	l, err := ledger.Open(path, options())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Unlock(testKeys.custodian); err != nil {
		t.Fatal(err)
	}
	oldID, _ := keyslot.ID(testKeys.custodian.Public())
	err = l.ChangeSlots([]ledger.Recipient{{Public: testKeys.stranger.Public(), Role: keyslot.RoleCustodian, Label: "李四"}}, []string{oldID},
		ledger.Record{Kind: ledger.KindHandover, From: "张三", To: "李四"})
	if err != nil {
		t.Fatal(err)
	}
	l.Lock()
	if err := l.Unlock(testKeys.custodian); !errors.Is(err, keyslot.ErrNoSlot) {
		t.Fatalf("old custodian still opens: %v", err)
	}
	if err := l.Unlock(testKeys.stranger); err != nil {
		t.Fatalf("new custodian: %v", err)
	}
	escrowID, _ := keyslot.ID(testKeys.escrow.Public())
	newID, _ := keyslot.ID(testKeys.stranger.Public())
	if err := l.ChangeSlots(nil, []string{escrowID, newID}); err == nil {
		t.Fatal("removed the last slot")
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ledger.FileName)
	if _, err := ledger.Open(path, options()); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Open created a file")
	}
	os.WriteFile(path, nil, 0o600)
	_, err := ledger.Open(path, options())
	var ve *ledger.VerifyError
	if !errors.As(err, &ve) || ve.Reason != ledger.ReasonStructure || ve.MovedTo == "" {
		t.Fatalf("empty file: %v", err)
	}
	if _, err := os.Stat(ve.MovedTo); err != nil {
		t.Fatalf("not moved aside: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("empty file still in place or recreated")
	}
	// Create never writes over anything.
	os.WriteFile(path, []byte("junk"), 0o600)
	if _, err := ledger.Create(path, recipients(), options()); !errors.Is(err, ledger.ErrExists) {
		t.Fatalf("create over a file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "junk" {
		t.Fatal("create touched the file")
	}
	// A broken file is reported by the child check and moved aside.
	_, err = ledger.Open(path, options())
	if !errors.As(err, &ve) || ve.Reason != ledger.ReasonStructure || ve.MovedTo == "" {
		t.Fatalf("junk file: %v", err)
	}
}

func TestNoSlotForCaller(t *testing.T) {
	path := newLedger(t, 4)
	cp := filepath.Join(t.TempDir(), "copied.db")
	b, _ := os.ReadFile(path)
	os.WriteFile(cp, b, 0o600)
	if _, err := ledger.Verify(cp, testKeys.stranger, ledger.VerifyOptions{}); !errors.Is(err, keyslot.ErrNoSlot) {
		t.Fatalf("verify with a stranger's key: %v", err)
	}
	l, err := ledger.Open(cp, options())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Unlock(testKeys.stranger); !errors.Is(err, keyslot.ErrNoSlot) {
		t.Fatalf("unlock with a stranger's key: %v", err)
	}
	if err := l.Records(1, func(ledger.Record) error { return nil }); !errors.Is(err, ledger.ErrLocked) {
		t.Fatalf("read without a key: %v", err)
	}
	// Without any key the chain still verifies (what the server checks).
	if rep, err := ledger.Verify(path, nil, ledger.VerifyOptions{}); err != nil || rep.Decrypted || rep.Records != 5 {
		t.Fatalf("chain-only verify: %+v %v", rep, err)
	}
}

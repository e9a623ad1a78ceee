package ledger_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/ledger"
)

func intentFor(ticket string) ledger.Record {
	return ledger.Record{Kind: ledger.KindStampIntent, DocID: "doc-" + ticket, TicketID: ticket, SealID: "seal-1", InputHash: "ab12"}
}

// wantUsed checks TicketUsed and that a second intent naming the ticket is refused with nothing
// appended.
func wantUsed(t *testing.T, l *ledger.Ledger, ticket string, intent uint64) {
	t.Helper()
	if used, err := l.TicketUsed(ticket); err != nil || !used {
		t.Fatalf("TicketUsed(%s) = %v, %v", ticket, used, err)
	}
	size := l.Size()
	_, err := l.Append(ledger.Record{Kind: ledger.KindLoginOK}, intentFor(ticket))
	var te *ledger.TicketUsedError
	if !errors.Is(err, ledger.ErrTicketUsed) || !errors.As(err, &te) || te.Intent != intent || te.Ticket != ticket {
		t.Fatalf("a second intent for %s: %v", ticket, err)
	}
	if l.Size() != size {
		t.Fatalf("the refused group was appended in part: size %d, was %d", l.Size(), size)
	}
}

// A ticket is used once per ledger: the first intent that names it enters it in the index, in
// the same transaction; any later intent naming it is refused, also after a restart, and also
// within one group. An intent that failed still used its ticket.
func TestTicketUsedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), ledger.FileName)
	l, err := ledger.Create(path, recipients(), options())
	if err != nil {
		t.Fatal(err)
	}
	if used, err := l.TicketUsed("t1"); err != nil || used {
		t.Fatalf("fresh ledger: %v, %v", used, err)
	}
	seqs, err := l.Append(intentFor("t1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ledger.Record{Kind: ledger.KindStampFailed, Intent: seqs[0], TicketID: "t1", Reason: "key removed"}); err != nil {
		t.Fatal(err)
	}
	wantUsed(t, l, "t1", seqs[0])
	if _, err := l.Append(intentFor("t2"), intentFor("t2")); !errors.Is(err, ledger.ErrTicketUsed) {
		t.Fatalf("one group naming a ticket twice: %v", err)
	}
	if used, _ := l.TicketUsed("t2"); used {
		t.Fatal("the refused group left its ticket in the index")
	}
	l.Lock()
	if _, err := l.TicketUsed("t1"); !errors.Is(err, ledger.ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = openUnlock(path, options())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	wantUsed(t, l, "t1", seqs[0])
}

// Issue 16, "used once lives only in the plain sync.db", on the ledger's side: removing a used
// ticket from the ledger's own index, without the data key, is found at the next login and by
// a keyed verify, so the index cannot be made to forget a ticket either.
func TestUsedTicketRemovedFromLedgerIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), ledger.FileName)
	l, err := ledger.Create(path, recipients(), options())
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range []string{"t1", "t2"} {
		if _, err := l.Append(intentFor(tk)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	mallory(t, path, func(tx *bolt.Tx) error { return tx.Bucket([]byte("tickets")).Delete([]byte("t1")) })
	recomputeDigest(t, path)
	if _, err := ledger.Verify(path, testKeys.custodian, ledger.VerifyOptions{Check: ledger.CheckFile}); err == nil {
		t.Fatal("keyed verify passed with a used ticket removed from the index")
	} else {
		wantReason(t, "keyed verify", err, ledger.ReasonMetaChanged)
	}
	_, err = openUnlock(path, options())
	if err == nil {
		t.Fatal("the login went through with a used ticket removed from the index")
	}
	wantReason(t, "open and unlock", err, ledger.ReasonMetaChanged)
}

// A ledger from before the index gets one at the first login, built from its records: the
// tickets its intents named are used, and its MAC still verified before that.
func TestTicketIndexBuiltAtFirstLogin(t *testing.T) {
	path := filepath.Join(t.TempDir(), ledger.FileName)
	l, err := ledger.Create(path, recipients(), options())
	if err != nil {
		t.Fatal(err)
	}
	var first uint64
	for i, tk := range []string{"t1", "t2"} {
		seqs, err := l.Append(sampleRecord(i), intentFor(tk))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = seqs[1]
		}
	}
	if err := l.DropTicketIndex(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.TicketUsed("t1"); err == nil {
		t.Fatal("the index is still there")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = openUnlock(path, options())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	wantUsed(t, l, "t1", first)
	if used, err := l.TicketUsed("t3"); err != nil || used {
		t.Fatalf("an unused ticket: %v, %v", used, err)
	}
	if _, err := l.Append(intentFor("t3")); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkUnlockTicketIndex is the price of the used-ticket index at login: Unlock of a ledger
// of 100,000 records after genesis, once with no stampings and once with 50,000 stampings
// (intent and failed), each naming its own ticket: 50,000 entries to check against the mark.
func BenchmarkUnlockTicketIndex(b *testing.B) {
	const total, batch = 100_000, 10_000
	for _, intents := range []bool{false, true} {
		b.Run(fmt.Sprintf("intents=%v", intents), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), ledger.FileName)
			l, err := ledger.Create(path, recipients(), ledger.Options{Workstation: "bench", Signer: testKeys.seal, CheckpointEvery: batch})
			if err != nil {
				b.Fatal(err)
			}
			recs := make([]ledger.Record, batch)
			for n := 0; n < total; n += batch {
				for i := range recs {
					switch {
					case !intents:
						recs[i] = ledger.Record{Kind: ledger.KindLoginOK, Custodian: "张三"}
					case i%2 == 0:
						recs[i] = intentFor(fmt.Sprintf("%032x", n+i))
					default: // settled, so that only the index differs, not the open intents
						recs[i] = ledger.Record{Kind: ledger.KindStampFailed, Intent: l.Size() + uint64(i), Reason: "bench"}
					}
				}
				if _, err := l.Append(recs...); err != nil {
					b.Fatal(err)
				}
			}
			if in, _ := l.Interrupted(); len(in) != 0 {
				b.Fatalf("%d intents left open", len(in))
			}
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			l, err = ledger.Open(path, ledger.Options{Check: func(string) error { return nil }})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.ResetTimer()
			for range b.N {
				if err := l.Unlock(testKeys.custodian); err != nil {
					b.Fatal(err)
				}
				l.Lock()
			}
		})
	}
}

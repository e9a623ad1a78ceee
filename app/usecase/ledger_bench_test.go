package usecase_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// emptyBenchLedger is a new ledger, unlocked, closed when the benchmark ends.
func emptyBenchLedger(b *testing.B) *ledger.Ledger {
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	led, err := ledger.Create(filepath.Join(b.TempDir(), ledger.FileName), []ledger.Recipient{{Public: key.PublicKey(), Role: keyslot.RoleEscrow, Label: "bench"}},
		ledger.Options{Workstation: "bench", Check: ledger.CheckFile})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { led.Close() })
	return led
}

// benchLedger is a ledger of n stamping records (intent, done), with an alarm every 1,000.
func benchLedger(b *testing.B, n int) *ledger.Ledger {
	led := emptyBenchLedger(b)
	batch := make([]ledger.Record, 0, 100)
	for i := 0; i < n; i++ {
		kind := ledger.KindStampIntent
		if i%2 == 1 {
			kind = ledger.KindStampDone
		}
		batch = append(batch, ledger.Record{Kind: kind, Time: time.Now(), Custodian: "张伟", SealID: "SEAL-1", DocID: fmt.Sprintf("D%08d", i/2),
			DocTitle: "关于办公用品采购的通知", InputHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Copies: 2})
		if i%1000 == 999 {
			batch = append(batch, ledger.Record{Kind: ledger.KindAlarm, Alarm: usecase.AlarmOutOfHours, Detail: "bench"})
		}
		if len(batch) >= 100 {
			if _, err := led.Append(batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if _, err := led.Append(batch...); err != nil && len(batch) > 0 {
		b.Fatal(err)
	}
	return led
}

// BenchmarkLedgerView measures what the ledger screen does on each refresh over a ledger of
// 10,000 stamping records: the filtered list (every record decrypted and chained), and the list
// with the chain status (the same scan, plus the checkpoints).
//
//	go test -run XXX -bench LedgerView -benchtime 5x ./app/usecase
func BenchmarkLedgerView(b *testing.B) {
	const n = 10000
	led := benchLedger(b, n)
	v := usecase.NewLedgerView(led)
	b.Run("records", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			es, err := v.Records(usecase.LedgerFilter{Kinds: []string{"stamp.done"}})
			if err != nil || len(es) != n/2 {
				b.Fatal(len(es), err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/n, "µs/record")
	})
	b.Run("read", func(b *testing.B) { // what the screen does: records and status in one pass
		for i := 0; i < b.N; i++ {
			es, st, err := v.Read(usecase.LedgerFilter{Kinds: []string{"stamp.done"}})
			if err != nil || len(es) != n/2 || st.VerifiedTo != led.Size() {
				b.Fatal(len(es), st, err)
			}
		}
	})
}

// BenchmarkCustodyCheck measures the custody check a process makes at the command line's login
// and before each recorded act, over a ledger of 10,000 stamping records: with no delegation
// (no delegate slot) it reads only the key slots; with one, a process reads the records once.
//
//	go test -run XXX -bench CustodyCheck -benchtime 5x ./app/usecase
func BenchmarkCustodyCheck(b *testing.B) {
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	led, err := ledger.Create(filepath.Join(b.TempDir(), ledger.FileName), []ledger.Recipient{{Public: key.PublicKey(), Role: keyslot.RoleEscrow, Label: "bench"}},
		ledger.Options{Workstation: "bench", Check: ledger.CheckFile})
	if err != nil {
		b.Fatal(err)
	}
	defer led.Close()
	const n = 10000
	batch := make([]ledger.Record, 0, 100)
	for i := 0; i < n; i++ {
		batch = append(batch, ledger.Record{Kind: ledger.KindStampDone, Time: time.Now(), Custodian: "张伟", SealID: "SEAL-1", DocID: fmt.Sprintf("D%08d", i)})
		if len(batch) == cap(batch) {
			if _, err := led.Append(batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.Run("no-delegation", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := usecase.NewCustody(usecase.CustodyConfig{Ledger: led, SealID: "SEAL-1"}).Enforce(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/check")
	})
	b.Run("first-read", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if ds, err := usecase.NewCustody(usecase.CustodyConfig{Ledger: led, SealID: "SEAL-1"}).Delegations(); err != nil || len(ds) != 0 {
				b.Fatal(ds, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/read")
	})
}

// BenchmarkAlarms measures what the status bar costs over a ledger of 10,000 stamping records
// with 10 open alarms: the first read after a login (every record decrypted and chained), and a
// later read after one more record (only that one is read).
//
//	go test -run XXX -bench Alarms -benchtime 5x ./app/usecase
func BenchmarkAlarms(b *testing.B) {
	led := benchLedger(b, 10000)
	b.Run("first", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if open, err := usecase.NewAlarms(led, nil).Open(); err != nil || len(open) != 10 {
				b.Fatal(len(open), err)
			}
		}
	})
	a := usecase.NewAlarms(led, nil)
	if _, err := a.Open(); err != nil {
		b.Fatal(err)
	}
	b.Run("next", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer() // the append (an fsync) is not the status bar's
			if _, err := led.Append(ledger.Record{Kind: ledger.KindLoginOK}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if open, err := a.Open(); err != nil || len(open) != 10 {
				b.Fatal(len(open), err)
			}
		}
	})
}

// copiesLedger is a ledger of n records: stampings (approved for 3 copies), each followed by
// a print job of one copy (intent, done).
func copiesLedger(b *testing.B, n int) *ledger.Ledger {
	led := emptyBenchLedger(b)
	for i := 0; led.Size() < uint64(n); i++ {
		doc, sha := fmt.Sprintf("D%08d", i), fmt.Sprintf("%064x", i)
		seqs, err := led.Append(ledger.Record{Kind: ledger.KindStampDone, Time: time.Now(), Custodian: "张伟", SealID: "SEAL-1", DocID: doc,
			DocTitle: "关于办公用品采购的通知", OutputHash: sha, Copies: 3})
		if err != nil {
			b.Fatal(err)
		}
		in, err := led.Append(ledger.Record{Kind: ledger.KindPrintIntent, Time: time.Now(), DocID: doc, OutputHash: sha, Copies: 1, Intent: seqs[0], Printer: "p"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := led.Append(ledger.Record{Kind: ledger.KindPrintDone, Time: time.Now(), DocID: doc, OutputHash: sha, Copies: 1, CopiesDone: 1, Intent: in[0]}); err != nil {
			b.Fatal(err)
		}
	}
	return led
}

// BenchmarkAllowance measures what a print or the result screen asks of the ledger over 10,000
// records: "first" is a desk's first Allowance (the index is built: one scan of every record),
// "next" an Allowance after one new record was written (only it is read).
//
//	go test -run XXX -bench Allowance -benchtime 5x ./app/usecase
func BenchmarkAllowance(b *testing.B) {
	const n = 10000
	led := copiesLedger(b, n)
	check := func(desk *usecase.Desk) {
		a, err := desk.Allowance("D00000007")
		if err != nil || a.Approved != 3 || a.Printed != 1 || a.Left != 2 {
			b.Fatal(a, err)
		}
	}
	b.Run("first", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			check(usecase.NewDesk(usecase.DeskConfig{Ledger: led}))
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/call")
	})
	b.Run("next", func(b *testing.B) {
		desk := usecase.NewDesk(usecase.DeskConfig{Ledger: led})
		check(desk)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			if _, err := led.Append(ledger.Record{Kind: ledger.KindAlarm, Time: time.Now(), Alarm: usecase.AlarmOutOfHours, Detail: "bench"}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			check(desk)
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/call")
	})
}

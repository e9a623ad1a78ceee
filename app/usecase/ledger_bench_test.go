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

// BenchmarkLedgerView measures what the ledger screen does on each refresh over a ledger of
// 10,000 stamping records: the filtered list (every record decrypted and chained), and the list
// with the chain status (the same scan, plus the checkpoints).
//
//	go test -run XXX -bench LedgerView -benchtime 5x ./app/usecase
func BenchmarkLedgerView(b *testing.B) {
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
		kind := ledger.KindStampIntent
		if i%2 == 1 {
			kind = ledger.KindStampDone
		}
		batch = append(batch, ledger.Record{Kind: kind, Time: time.Now(), Custodian: "张伟", SealID: "SEAL-1", DocID: fmt.Sprintf("D%08d", i/2),
			DocTitle: "关于办公用品采购的通知", InputHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Copies: 2})
		if len(batch) == cap(batch) {
			if _, err := led.Append(batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
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
			if err != nil || len(es) != n/2 || st.VerifiedTo != n+1 {
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

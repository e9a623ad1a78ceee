package ledger_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// BenchmarkAppendVsRaw measures durable appends (fsync on every commit) through the ledger and,
// interleaved in the same run, raw bbolt commits of the same records' JSON unencrypted under the
// same keys: the ledger's cost of encryption, chaining and checkpoints. Each op is one commit of
// 1 or 100 records on each side.
//
//	go test -run XXX -bench AppendVsRaw -benchtime 300x ./store/ledger
func BenchmarkAppendVsRaw(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			dir := b.TempDir()
			l, err := ledger.Create(filepath.Join(dir, "ledger.db"), recipients(), ledger.Options{Workstation: "bench", Signer: testKeys.seal})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			raw, err := bolt.Open(filepath.Join(dir, "raw.db"), 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer raw.Close()
			raw.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("records")); return err })
			recs := make([]ledger.Record, batch)
			for i := range recs {
				recs[i] = sampleRecord(i)
				recs[i].Time = time.Now()
			}
			var tLedger, tRaw time.Duration
			seq := uint64(0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := l.Append(recs...); err != nil {
					b.Fatal(err)
				}
				tLedger += time.Since(t0)
				t0 = time.Now()
				err := raw.Update(func(tx *bolt.Tx) error {
					bk := tx.Bucket([]byte("records"))
					for _, r := range recs {
						seq++
						v, _ := json.Marshal(r)
						if err := bk.Put(binary.BigEndian.AppendUint64(nil, seq), v); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				tRaw += time.Since(t0)
			}
			n := float64(b.N * batch)
			b.ReportMetric(n/tLedger.Seconds(), "ledger-rec/s")
			b.ReportMetric(n/tRaw.Seconds(), "raw-rec/s")
			b.ReportMetric(100*(tLedger.Seconds()/tRaw.Seconds()-1), "overhead-%")
		})
	}
}

// BenchmarkVerify1M builds a 1,000,000-record ledger (sampleRecord's mix: login, document
// received with a Chinese title, stamp done with hashes and a placement, key removed; written
// 10,000 per transaction) and verifies it from genesis with the data key, the consistency check
// in a child process included. It needs SEALKEEPER_BENCH_1M=1 and about 1 GB of disk:
//
//	SEALKEEPER_BENCH_1M=1 go test -run XXX -bench Verify1M -benchtime 1x -timeout 30m ./store/ledger
func BenchmarkVerify1M(b *testing.B) {
	if os.Getenv("SEALKEEPER_BENCH_1M") != "1" {
		b.Skip("set SEALKEEPER_BENCH_1M=1 to build and verify a 1,000,000-record ledger")
	}
	const total, batch = 1_000_000, 10_000
	path := filepath.Join(b.TempDir(), ledger.FileName)
	t0 := time.Now()
	l, err := ledger.Create(path, recipients(), ledger.Options{Workstation: "bench", Signer: testKeys.seal, CheckpointEvery: 10_000})
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]ledger.Record, batch)
	for n := 1; n < total; n += batch {
		k := min(batch, total-n)
		for i := range recs[:k] {
			recs[i] = sampleRecord(n + i)
		}
		if _, err := l.Append(recs[:k]...); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	st, _ := os.Stat(path)
	b.Logf("built %d records in %v; file %.1f MB", total, time.Since(t0).Round(time.Second), float64(st.Size())/1e6)
	t1 := time.Now()
	if err := ledger.DefaultCheck(path); err != nil {
		b.Fatal(err)
	}
	tCheck := time.Since(t1)
	t1 = time.Now()
	if _, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{Check: func(string) error { return nil }}); err != nil {
		b.Fatal(err)
	}
	b.Logf("parts: consistency check in the child %v; chain, tags, checkpoints and digest in this process %v", tCheck.Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	runtime.GC()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		rep, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		b.ReportMetric(d.Seconds(), "verify-s")
		b.ReportMetric(float64(after.Sys)/1e6, "go-sys-MB")
		b.ReportMetric(float64(ru.Maxrss)/1e3, "maxrss-MB")
		b.ReportMetric(float64(st.Size())/1e6, "file-MB")
		b.Logf("verified %d records in %v (child check included); Go memory from the OS %.0f MB (heap in use %.0f MB); max RSS %.0f MB incl. the file's mapped pages",
			rep.Records, d.Round(time.Millisecond), float64(after.Sys)/1e6, float64(after.HeapInuse)/1e6, float64(ru.Maxrss)/1e3)
	}
}

package ledger_test

import (
	"crypto/ecdh"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// BenchmarkAppendVsRaw measures durable appends (fsync on every commit) through the ledger and,
// interleaved in the same run, raw bbolt commits of the same records' JSON unencrypted under the
// same keys: the ledger's cost of encryption, chaining and checkpoints. Each op is one commit of
// 1, 2 (a stamp intent with its result is written as 2), 10 or 100 records on each side.
//
//	go test -run XXX -bench AppendVsRaw -benchtime 300x ./store/ledger
func BenchmarkAppendVsRaw(b *testing.B) {
	for _, batch := range []int{1, 2, 10, 100} {
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
			// The file's bytes per record (padding included, pad.go) beside raw bbolt's.
			for name, unit := range map[string]string{"ledger.db": "ledger-file-B/rec", "raw.db": "raw-file-B/rec"} {
				if st, err := os.Stat(filepath.Join(dir, name)); err == nil {
					b.ReportMetric(float64(st.Size())/n, unit)
				}
			}
		})
	}
}

// BenchmarkVerify1M builds a 1,000,000-record ledger (sampleRecord's mix: login, document
// received with a Chinese title, stamp done with hashes and a placement, key removed; written
// 10,000 per transaction) and verifies it from genesis with the data key, the consistency check
// in a child process included. It needs SEALKEEPER_BENCH_1M=1 and about 1 GB of disk:
//
//	SEALKEEPER_BENCH_1M=1 go test -run XXX -bench Verify1M -benchtime 1x -timeout 30m ./store/ledger
//
// With SEALKEEPER_BENCH_1M_FILE=PATH the ledger is built at PATH the first time and reused by
// later runs (building it takes much longer than verifying it); delete PATH to rebuild. The
// test keys are new in every run, so the escrow key that opens the file is kept in PATH.escrow.
//
// Memory: maxrss-MB is the peak resident size of this process during the timed Verify alone
// (Linux: the peak is reset just before it, /proc/self/clear_refs), so building the file in the
// same process does not count; it includes the file's memory-mapped pages that are resident.
// child-maxrss-MB is the largest child's peak: the consistency check's process.
func BenchmarkVerify1M(b *testing.B) {
	if os.Getenv("SEALKEEPER_BENCH_1M") != "1" {
		b.Skip("set SEALKEEPER_BENCH_1M=1 to build and verify a 1,000,000-record ledger")
	}
	const total, batch = 1_000_000, 10_000
	path := os.Getenv("SEALKEEPER_BENCH_1M_FILE")
	if path == "" {
		path = filepath.Join(b.TempDir(), ledger.FileName)
	}
	escrow := testKeys.escrow
	if _, err := os.Stat(path); err == nil {
		kb, err := os.ReadFile(path + ".escrow")
		if err == nil {
			escrow, err = ecdh.P256().NewPrivateKey(kb)
		}
		if err != nil {
			b.Fatalf("reusing %s: its escrow key: %v (delete the file to rebuild)", path, err)
		}
		b.Logf("reusing %s (delete it to rebuild)", path)
	} else {
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
				os.Remove(path)
				b.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			os.Remove(path)
			b.Fatal(err)
		}
		if err := os.WriteFile(path+".escrow", escrow.Bytes(), 0o600); err != nil {
			b.Fatal(err)
		}
		b.Logf("built %d records in %v", total, time.Since(t0).Round(time.Second))
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("file %.1f MB", float64(st.Size())/1e6)
	t1 := time.Now()
	if err := ledger.DefaultCheck(path); err != nil {
		b.Fatal(err)
	}
	tCheck := time.Since(t1)
	t1 = time.Now()
	if _, err := ledger.Verify(path, escrow, ledger.VerifyOptions{Check: func(string) error { return nil }}); err != nil {
		b.Fatal(err)
	}
	b.Logf("parts: consistency check in the child %v; chain, tags, checkpoints and digest in this process %v", tCheck.Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		debug.FreeOSMemory() // return what building and the warm-up run left to the OS
		resetPeakRSS := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		t0 := time.Now()
		rep, err := ledger.Verify(path, escrow, ledger.VerifyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		peak := peakRSS()
		if !resetPeakRSS || peak == 0 {
			peak = maxRSS(b, false) // the process's peak, building included
			b.Logf("could not reset the peak RSS: maxrss-MB includes building the file")
		}
		child := maxRSS(b, true)
		b.ReportMetric(d.Seconds(), "verify-s")
		b.ReportMetric(float64(after.Sys)/1e6, "go-sys-MB")
		b.ReportMetric(peak, "maxrss-MB")
		b.ReportMetric(child, "child-maxrss-MB")
		b.ReportMetric(float64(st.Size())/1e6, "file-MB")
		b.Logf("verified %d records in %v (child check included); Go memory from the OS %.0f MB (heap in use %.0f MB); peak RSS during Verify %.0f MB incl. the file's mapped pages; child check peak RSS %.0f MB",
			rep.Records, d.Round(time.Millisecond), float64(after.Sys)/1e6, float64(after.HeapInuse)/1e6, peak, child)
	}
}

// peakRSS returns VmHWM from /proc/self/status in MB, or 0 where there is none.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0
			}
			return kb / 1e3
		}
	}
	return 0
}

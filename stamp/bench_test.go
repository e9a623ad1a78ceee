package stamp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/pades/padestest"
	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
)

// BenchmarkStampSign is inspect + stamp + sign in memory with a software RSA-2048 key (no token
// time), for 1, 20, 300 and 2000 pages.
func BenchmarkStampSign(b *testing.B) {
	id := padestest.NewIdentity(b, padestest.RSA)
	for _, n := range []int{1, 20, 300, 2000} {
		data := pdftest.PDF(pdftest.Options{Pages: n, XRefStream: n >= 300})
		b.Run(fmt.Sprintf("pages=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				doc, err := pdftest.Inspect("bench.pdf", data)
				if err != nil {
					b.Fatal(err)
				}
				p := doc.Pages[0].Page
				pl, _ := placement.AtViewMM(p, 150, 230, placement.Size{W: 119, H: 119})
				if _, err := stamp.Sign(context.Background(), doc, bytes.NewReader(data), request(id, pl)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestBenchTable prints stamping time next to poppler's pdfsig -add-signature (same RSA-2048
// key, through an NSS database made here) on the same files, and for a file over 100 MB the
// time against hashing the file once. Run by stamp/bench.sh (SEALKEEPER_BENCH=1).
func TestBenchTable(t *testing.T) {
	if os.Getenv("SEALKEEPER_BENCH") == "" {
		t.Skip("set SEALKEEPER_BENCH=1 (or run stamp/bench.sh)")
	}
	runs := benchRuns()
	id, nss, nick := pdfsigIdentity(t)
	dir := t.TempDir()
	median := func(f func()) time.Duration { return medianTime(timeRuns(t, runs, nil, f)) }
	fmt.Printf("\n%-26s %9s %14s %12s %8s %12s %8s %10s\n", "file", "size MB", "sealkeeper ms", "pdfsig ms", "ratio", "hash-once ms", "ratio", "heap MB")
	floor := ""
	for i, f := range benchFiles {
		in := filepath.Join(dir, fmt.Sprintf("in%d.pdf", i))
		if err := os.WriteFile(in, pdftest.PDF(f.o), 0o644); err != nil {
			t.Fatal(err)
		}
		// The input is a file that has been on disk a while (as a custodian's documents are),
		// not 100 MB of dirty pages whose writeback would share the disk with the timed runs.
		syncDisks(t)
		st, _ := os.Stat(in)
		ours := filepath.Join(dir, fmt.Sprintf("ours%d.pdf", i))
		theirs := filepath.Join(dir, fmt.Sprintf("pdfsig%d.pdf", i))
		var peak uint64
		// The placement comes from the page, as the custodian's drag on the preview does;
		// stamping is SignFile: it reads the file on demand, has pdfcpu validate it, hashes,
		// stamps, reads back, signs and writes.
		doc, err := pdfinspect.OpenFile(in)
		if err != nil {
			t.Fatal(err)
		}
		req := request(id, placement.Placement{})
		req.Placement, _ = placement.AtViewMM(doc.Pages[0].Page, 150, 230, sealSize(t))
		tOurs := median(func() {
			os.Remove(ours)
			if _, err := stamp.SignFile(context.Background(), in, ours, true, req); err != nil {
				t.Fatal(err)
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapSys)
		})
		tPdfsig := median(func() {
			os.Remove(theirs)
			if b, err := pdftest.PdfsigSignCmd(t, nss, nick, in, theirs).CombinedOutput(); err != nil {
				t.Fatalf("pdfsig: %v %s", err, b)
			}
		})
		hashCol, hashRatio := "", ""
		if f.big {
			tHash := median(func() {
				fh, err := os.Open(in)
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.New()
				io.Copy(h, fh)
				fh.Close()
			})
			hashCol = fmt.Sprintf("%.0f", ms(tHash))
			hashRatio = fmt.Sprintf("%.2fx", ms(tOurs)/ms(tHash))
			// The floor under any atomic stamping on this disk: a durable copy of the file
			// (kernel copy + fsync), with no PDF work at all.
			cp := filepath.Join(dir, "copy.pdf")
			tCopy := median(func() {
				src, err := os.Open(in)
				if err != nil {
					t.Fatal(err)
				}
				dst, err := os.Create(cp)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(dst, src)
				dst.Sync()
				dst.Close()
				src.Close()
				os.Remove(cp)
			})
			floor = fmt.Sprintf("%s: durable copy of the file alone (copy_file_range + fsync) %.0f ms = %.2fx hashing it once.", f.name, ms(tCopy), ms(tCopy)/ms(tHash))
		}
		fmt.Printf("%-26s %9.1f %14.0f %12.0f %7.2fx %12s %8s %10.0f\n", f.name, float64(st.Size())/1e6, ms(tOurs), ms(tPdfsig), ms(tOurs)/ms(tPdfsig), hashCol, hashRatio, float64(peak)/1e6)
		checkAll(t, ours, 1, id.Root)
	}
	fmt.Println("\nsealkeeper: SignFile (read on demand, pdfcpu validation, hash, stamp, read back, sign with a software RSA-2048 key, atomic write with fsync), in process; the placement is computed before timing, as the custodian's drag on the preview gives it.")
	fmt.Println("pdfsig: poppler pdfsig -add-signature, same RSA-2048 key in an NSS database, one process per run (its start-up included).")
	fmt.Println(floor)
	fmt.Printf("median of %d runs each; %d CPUs (GOMAXPROCS %d)\n", runs, runtime.NumCPU(), runtime.GOMAXPROCS(0))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// benchRuns is how many times each figure is measured: SEALKEEPER_BENCH_RUNS, default 3.
func benchRuns() int {
	runs, _ := strconv.Atoi(os.Getenv("SEALKEEPER_BENCH_RUNS"))
	if runs <= 0 {
		runs = 3
	}
	return runs
}

// benchFile is one input of the benchmark tables; big marks the file over 100 MB (hashed once
// for comparison by TestBenchTable, left out of TestBenchProcess).
type benchFile struct {
	name string
	o    pdftest.Options
	big  bool
}

var benchFiles = []benchFile{
	{"1 page", pdftest.Options{Pages: 1}, false},
	{"20 pages", pdftest.Options{Pages: 20}, false},
	{"300 pages", pdftest.Options{Pages: 300}, false},
	{"2000 pages", pdftest.Options{Pages: 2000}, false},
	{"2000 pages, xref stream", pdftest.Options{Pages: 2000, XRefStream: true}, false},
	{"scanned 2000 pages", pdftest.Options{Pages: 2000, Scanned: true, ScanBytes: 52000}, true},
}

// pdfsigIdentity is the software RSA-2048 identity the tables sign with in process, and the NSS
// database holding the same key for pdfsig -add-signature, with the key's nickname.
func pdfsigIdentity(t testing.TB) (id *padestest.Identity, nssdir, nick string) {
	t.Helper()
	id = padestest.NewIdentity(t, padestest.RSA)
	nssdir, nick = pdftest.NSSDB(t, id.Signer, id.Chain)
	return id, nssdir, nick
}

// timeRuns runs f n times, each after setup (untimed; nil for none), a GC and a sync (no
// garbage or writeback left from the run before, and the inputs on disk), and returns the
// times sorted, fastest first.
func timeRuns(tb testing.TB, n int, setup, f func()) []time.Duration {
	var d []time.Duration
	for i := 0; i < n; i++ {
		if setup != nil {
			setup()
		}
		runtime.GC()
		syncDisks(tb)
		start := time.Now()
		f()
		d = append(d, time.Since(start))
	}
	slices.Sort(d)
	return d
}

// medianTime is the median of times sorted by timeRuns.
func medianTime(d []time.Duration) time.Duration { return d[len(d)/2] }

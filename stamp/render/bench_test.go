package render_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/stamp/render"
)

// benchPages is a 20-page contract; the benchmarks cycle through its pages so each
// render loads its page afresh, as paging through a preview does.
func benchPages(b testing.TB, n int) []byte {
	pages := make([]testPage, n)
	for i := range pages {
		pages[i] = contractPage(b)
	}
	return makePDF(b, pages)
}

// BenchmarkRenderPage100DPI: one A4 page at 100 DPI (827×1170 pixels) with a warm
// Renderer, including the copy out of WebAssembly memory.
func BenchmarkRenderPage100DPI(b *testing.B) {
	d := open(b, benchPages(b, 20))
	if _, err := d.Render(1, 100); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, err := d.Render(i%20+1, 100); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkThumbnail: one page fitted into 120×170 pixels.
func BenchmarkThumbnail(b *testing.B) {
	d := open(b, benchPages(b, 20))
	i := 0
	for b.Loop() {
		if _, err := d.Thumbnails([]int{i%20 + 1}, 120, 170); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkFindText20Pages: the keyword search over a 20-page document.
func BenchmarkFindText20Pages(b *testing.B) {
	d := open(b, benchPages(b, 20))
	for b.Loop() {
		hits, err := d.FindText("盖章处")
		if err != nil || len(hits) != 20 {
			b.Fatalf("%d hits, %v", len(hits), err)
		}
	}
}

// BenchmarkColdStart: from New to the first page on screen (start PDFium, open,
// render page 1 at 100 DPI), with no compilation cache and with a filled one.
func BenchmarkColdStart(b *testing.B) {
	pdf := benchPages(b, 1)
	first := func(b *testing.B, opts render.Options) {
		r := render.New(opts)
		defer r.Close()
		d, err := r.Open("contract.pdf", pdf)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.Render(1, 100); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("without-cache", func(b *testing.B) {
		for b.Loop() {
			first(b, render.Options{})
		}
	})
	b.Run("with-cache", func(b *testing.B) {
		dir := b.TempDir()
		first(b, render.Options{CacheDir: dir}) // fills the cache
		for b.Loop() {
			first(b, render.Options{CacheDir: dir})
		}
	})
}

// TestWriteBenchPDF writes the benchmark document for bench.sh to compare with mutool.
func TestWriteBenchPDF(t *testing.T) {
	out := os.Getenv("SEALKEEPER_RENDER_BENCH_PDF")
	if out == "" {
		t.Skip("set SEALKEEPER_RENDER_BENCH_PDF to a path (bench.sh does)")
	}
	if err := os.WriteFile(out, benchPages(t, 20), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLargeFilePeakMemory opens a 2000-page document, renders every page at 100 DPI,
// makes thumbnails and searches it, and checks the process's peak resident memory.
// Opt-in (about a minute on two cores): SEALKEEPER_RENDER_2000=1.
func TestLargeFilePeakMemory(t *testing.T) {
	if os.Getenv("SEALKEEPER_RENDER_2000") == "" {
		t.Skip("set SEALKEEPER_RENDER_2000=1 to run the 2000-page memory test")
	}
	pdf := benchPages(t, 2000)
	t.Logf("document: 2000 pages, %.1f MB", float64(len(pdf))/1e6)
	path := filepath.Join(t.TempDir(), "big.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	pdf = nil
	d, err := shared.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.NumPages() != 2000 {
		t.Fatalf("%d pages", d.NumPages())
	}
	for p := 1; p <= d.NumPages(); p++ {
		if _, err := d.Render(p, 100); err != nil {
			t.Fatal(err)
		}
		if p%50 == 0 {
			if _, err := d.Thumbnails([]int{p - 3, p - 2, p - 1, p}, 120, 170); err != nil {
				t.Fatal(err)
			}
		}
	}
	hits, err := d.FindText("盖章处")
	if err != nil || len(hits) != 2000 {
		t.Fatalf("%d hits, %v", len(hits), err)
	}
	peak := peakRSS(t)
	t.Logf("peak resident memory (VmHWM): %d MB", peak>>20)
	if peak > 300<<20 {
		t.Errorf("peak resident memory %d MB, want under 300 MB", peak>>20)
	}
}

func peakRSS(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal(fmt.Errorf("no VmHWM in /proc/self/status"))
	return 0
}

// BenchmarkStartWithCache: Start alone (load the compiled PDFium from the cache,
// start one instance), what an app pays at launch.
func BenchmarkStartWithCache(b *testing.B) {
	dir := b.TempDir()
	r := render.New(render.Options{CacheDir: dir})
	if err := r.Start(); err != nil {
		b.Fatal(err)
	}
	r.Close()
	for b.Loop() {
		r := render.New(render.Options{CacheDir: dir})
		if err := r.Start(); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

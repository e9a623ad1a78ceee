package stamp_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/pades/padestest"
	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
)

// startRuns is how many times `sealkeeper help` (and the other pieces of the 1-page split) is
// timed: a start-up is short, so it takes more runs than a stamp for a steady median.
const startRuns = 30

// TestBenchProcess prints whole-process figures: the sealkeeper CLI, built here from ./app,
// stamping with the seal key on a SoftHSM2 demo workspace's token, next to poppler's
// pdfsig -add-signature (RSA-2048 in an NSS database, as in TestBenchTable) on the same files,
// one process per run, start-up and exit included; and `sealkeeper help` alone, the start-up
// every command pays. Figures only, never asserted. Run by stamp/bench.sh (SEALKEEPER_BENCH=1).
func TestBenchProcess(t *testing.T) {
	if os.Getenv("SEALKEEPER_BENCH") == "" {
		t.Skip("set SEALKEEPER_BENCH=1 (or run stamp/bench.sh)")
	}
	pdftest.RequireTool(t, "pdfsig")
	pdftest.RequireTool(t, "softhsm2-util")
	runs := benchRuns()
	_, nss, nick := pdfsigIdentity(t)
	dir := t.TempDir()

	// Every process gets a home of its own (one per kind of command, kept across its runs, as a
	// user's is): nothing read from or left in the real one, and no user configuration or demo
	// workspace that sealkeeper would find there.
	envs := map[string][]string{}
	env := func(kind string) []string {
		if e, ok := envs[kind]; ok {
			return e
		}
		home := filepath.Join(dir, "home-"+kind)
		e := []string{"HOME=" + home}
		for _, x := range []struct{ name, sub string }{
			{"XDG_CONFIG_HOME", ".config"}, {"XDG_DATA_HOME", ".local/share"}, {"XDG_STATE_HOME", ".local/state"},
			{"XDG_CACHE_HOME", ".cache"}, {"XDG_RUNTIME_DIR", "run"},
		} {
			if err := os.MkdirAll(filepath.Join(home, x.sub), 0o700); err != nil {
				t.Fatal(err)
			}
			e = append(e, x.name+"="+filepath.Join(home, x.sub))
		}
		for _, kv := range os.Environ() {
			if k, _, _ := strings.Cut(kv, "="); k != "HOME" && !strings.HasPrefix(k, "XDG_") && k != "SOFTHSM2_CONF" {
				e = append(e, kv)
			}
		}
		envs[kind] = e
		return e
	}
	// proc is the command of one run, in its kind's home: stdout discarded, stderr kept for
	// the error.
	type proc struct {
		cmd    *exec.Cmd
		stderr *bytes.Buffer
	}
	mk := func(kind string, cmd *exec.Cmd) proc {
		cmd.Env, cmd.Dir = env(kind), dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		return proc{cmd, &stderr}
	}
	// timeProc times n whole processes: before (removing the last output) and making the
	// command happen outside the timing, before the sync; the timing is the process's start,
	// run and exit.
	timeProc := func(n int, what string, before func(), newProc func() proc) []time.Duration {
		var p proc
		var failed error
		var stderr string
		d := timeRuns(t, n, func() {
			if before != nil {
				before()
			}
			p = newProc()
		}, func() {
			if failed != nil {
				return
			}
			if err := p.cmd.Run(); err != nil {
				failed, stderr = err, p.stderr.String()
			}
		})
		if failed != nil {
			if regexp.MustCompile(`(?i)approv|polic|ticket`).MatchString(stderr) {
				t.Fatalf("%s was refused (approval/policy?), not worked around: %v\n%s", what, failed, stderr)
			}
			t.Fatalf("%s: %v\n%s", what, failed, stderr)
		}
		return d
	}

	// The CLI, built from the module root as a user builds it.
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		t.Fatalf("go env GOMOD: %q %v", gomod, err)
	}
	bin := filepath.Join(dir, "bin", "sealkeeper")
	build := exec.Command("go", "build", "-o", bin, "./app")
	build.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	buildStart := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -o %s ./app: %v\n%s", bin, err, out)
	}
	t.Logf("built %s in %.1f s", bin, time.Since(buildStart).Seconds())

	ws := filepath.Join(dir, "ws")
	prov := mk("provision", exec.Command(bin, "demo", "provision", "--dir", ws))
	var provOut bytes.Buffer
	prov.cmd.Stdout = &provOut
	if err := prov.cmd.Run(); err != nil {
		t.Fatalf("sealkeeper demo provision --dir %s: %v\n%s%s", ws, err, provOut.String(), prov.stderr)
	}
	cfg := filepath.Join(ws, "config.toml")
	caPEM, err := os.ReadFile(filepath.Join(ws, "ca.pem"))
	if err != nil {
		t.Fatalf("the demo workspace has no CA: %v", err)
	}
	blk, _ := pem.Decode(caPEM)
	if blk == nil {
		t.Fatal("the demo workspace's ca.pem holds no certificate")
	}
	demoCA, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}

	stampArgs := func(in, out string) []string {
		return []string{"stamp", "--config", cfg, "--in", in, "--out", out, "--page", "1", "--at", "100,150"}
	}
	fmt.Printf("\nWhole process, one per run: sealkeeper stamp (SoftHSM2 demo token) vs pdfsig -add-signature (NSS)\n")
	fmt.Printf("%-26s %6s %10s %14s %10s %8s\n", "file", "pages", "size", "sealkeeper ms", "pdfsig ms", "ratio")
	var oneIn string
	for i, f := range benchFiles {
		if f.big {
			continue
		}
		in := filepath.Join(dir, fmt.Sprintf("in%d.pdf", i))
		if err := os.WriteFile(in, pdftest.PDF(f.o), 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(in)
		if err != nil {
			t.Fatal(err)
		}
		ours := filepath.Join(dir, fmt.Sprintf("ours%d.pdf", i))
		theirs := filepath.Join(dir, fmt.Sprintf("pdfsig%d.pdf", i))
		tOurs := medianTime(timeProc(runs, "sealkeeper stamp "+f.name, func() { os.Remove(ours) }, func() proc {
			return mk("stamp", exec.Command(bin, stampArgs(in, ours)...))
		}))
		tPdfsig := medianTime(timeProc(runs, "pdfsig -add-signature "+f.name, func() { os.Remove(theirs) }, func() proc {
			return mk("pdfsig", pdftest.PdfsigSignCmd(t, nss, nick, in, theirs))
		}))
		fmt.Printf("%-26s %6d %10s %14.0f %10.0f %7.2fx\n", f.name, f.o.Pages, size(st.Size()), ms(tOurs), ms(tPdfsig), ms(tOurs)/ms(tPdfsig))
		checkAll(t, ours, 1, demoCA)
		if f.o.Pages == 1 && !f.o.XRefStream {
			oneIn = in
		}
	}

	help := timeProc(startRuns, "sealkeeper help", nil, func() proc { return mk("help", exec.Command(bin, "help")) })
	fmt.Printf("\nsealkeeper help (start-up and exit alone): median %.1f ms, min %.1f ms over %d runs\n", ms(medianTime(help)), ms(help[0]), len(help))

	// The 1-page stamp split, from separate measurements (approximate): start-up, what
	// `token list` adds to it (configuration, loading the PKCS#11 module, finding the token and
	// its certificates), the document work in process (SignFile with the same seal image and
	// placement and a software key of the demo key's type, P-256), and the rest. Each is the
	// fastest of startRuns runs, the figure least moved by whatever else the machine is doing,
	// so that the pieces add up.
	if oneIn != "" {
		out := filepath.Join(dir, "split.pdf")
		whole := timeProc(startRuns, "sealkeeper stamp (1 page, split)", func() { os.Remove(out) }, func() proc {
			return mk("stamp", exec.Command(bin, stampArgs(oneIn, out)...))
		})[0]
		tok := timeProc(startRuns, "sealkeeper token list", nil, func() proc {
			return mk("token", exec.Command(bin, "token", "list", "--config", cfg))
		})[0]
		img, err := stamp.LoadImage(filepath.Join(ws, "seal.png"))
		if err != nil {
			t.Fatal(err)
		}
		sz, err := placement.SealSize(42, img.Bounds().Dx(), img.Bounds().Dy())
		if err != nil {
			t.Fatal(err)
		}
		doc, err := pdfinspect.OpenFile(oneIn)
		if err != nil {
			t.Fatal(err)
		}
		pl, err := placement.AtViewMM(doc.Pages[0].Page, 100, 150, sz)
		if err != nil {
			t.Fatal(err)
		}
		ec := padestest.NewIdentity(t, padestest.ECDSA)
		sign := timeRuns(t, startRuns, func() { os.Remove(out) }, func() {
			if _, err := stamp.SignFile(context.Background(), oneIn, out, true, stamp.Request{Placement: pl, Image: img, Signer: ec.Signer, Chain: ec.Chain}); err != nil {
				t.Fatal(err)
			}
		})[0]
		start := help[0]
		fmt.Printf("1-page stamp split (fastest of %d runs of each, separate measurements, approximate):\n", startRuns)
		for _, row := range []struct {
			what string
			d    time.Duration
		}{
			{"  start-up and exit (sealkeeper help)", start},
			{"+ config, PKCS#11 module load, token and certificates (token list - help)", tok - start},
			{"+ SignFile in process, software P-256 key", sign},
			{"+ the rest (PIN login, key lookup, token signature, seal image, placement)", whole - tok - sign},
			{"= whole sealkeeper stamp, 1 page", whole},
		} {
			fmt.Printf("  %-76s %6.1f ms\n", row.what, ms(row.d))
		}
	}
	fmt.Println("\nsealkeeper: the CLI built from ./app (go build), sealkeeper stamp --config WS/config.toml --in IN --out OUT --page 1 --at 100,150 on a demo workspace (SoftHSM2 token, P-256 seal key, demo PIN), output checked afterwards.")
	fmt.Println("pdfsig: poppler pdfsig -add-signature -digest SHA256, RSA-2048 key in an NSS database. Each process has its own HOME/XDG dirs; inputs synced before each run.")
	fmt.Printf("median of %d runs each (SEALKEEPER_BENCH_RUNS); %d CPUs\n", runs, runtime.NumCPU())
}

// size is a file size for the table: KB below a megabyte, else MB.
func size(n int64) string {
	if n < 1e6 {
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/workspace"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// TestStampKilled kills `sealkeeper stamp --batch` with SIGKILL at a random moment, several
// times, and each time checks that the ledger tells the truth: it verifies; at the next login
// every interrupted intent is settled (done when its output exists and verifies, failed when
// not); every intent ends with exactly one result; every done names an output that verifies
// and begins with the approved bytes. The moments come from the test's seed (SEALKEEPER_SEED).
func TestStampKilled(t *testing.T) {
	needSoftHSM(t)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SEALKEEPER_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SEALKEEPER_SEED=%q is not a number", v)
		}
		seed = s
	}
	t.Logf("seed %d (SEALKEEPER_SEED=%d repeats this run)", seed, seed)
	if p := os.Getenv("SEALKEEPER_SEED_LOG"); p != "" {
		// The test command prints this file: go test shows a passing test's log only with -v.
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(f, "app %s: seed %d\n", t.Name(), seed)
			f.Close()
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
	demo := filepath.Join(dir, "demo")
	if _, err := workspace.ProvisionDemo(demo, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(demo, config.FileName)
	cfg, err := workspace.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	sk := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(append(args, "--config", cfgPath), &out, &errb)
		return code, out.String(), errb.String()
	}
	// Seed the demo hub's documents into the queue.
	if code, _, errs := sk("queue"); code != 0 {
		t.Fatalf("queue: %s", errs)
	}
	addDocs := func(n int) []string {
		h, err := hub.Open(cfg.Resolve(cfg.Demo.HubData), hub.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		var ids []string
		for i := range n {
			d, err := h.AddDocument(hub.NewDocument{Title: fmt.Sprint("文件 ", i), Department: "办公室", Requester: upstream.Person{ID: "u1", Name: "陈静"},
				SealID: hub.DemoSeal, Workstation: cfg.Workstation, Copies: 1, PDF: hub.SamplePDF("kill test", "", 1+i%3)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, d.ID)
		}
		return ids
	}

	const trials = 6
	killed, reconciled := 0, 0
	var full time.Duration
	for trial := range trials {
		ids := addDocs(4)
		if code, _, errs := sk("queue"); code != 0 {
			t.Fatalf("queue: %s", errs)
		}
		cmd := exec.Command(os.Args[0], "stamp", "--config", cfgPath, "--batch", strings.Join(ids, ","))
		cmd.Env = append(os.Environ(), "SEALKEEPER_TEST_AS_PROGRAM=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		t0 := time.Now()
		switch {
		case trial == 0:
			// A whole run, to learn how long one takes.
			if err := <-done; err != nil {
				t.Fatalf("trial 0: %v\n%s", err, out.String())
			}
			full = time.Since(t0)
			t.Logf("trial 0: the batch took %v", full)
		case trial == 1:
			// The moment the output's temporary file appears the intent is on disk and the key
			// is about to sign: kill there.
			stamped := filepath.Join(cfg.Data(), "stamped")
			for hit := false; !hit; {
				select {
				case err := <-done:
					t.Fatalf("trial 1: finished before its output file was seen (%v)", err)
				default:
				}
				ents, _ := os.ReadDir(stamped)
				for _, e := range ents {
					if strings.Contains(e.Name(), ".tmp") {
						hit = true
					}
				}
				time.Sleep(200 * time.Microsecond)
			}
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			killed++
			t.Logf("trial 1: killed while signing, after %v", time.Since(t0))
		default:
			wait := time.Duration(rng.Int64N(int64(full)))
			select {
			case err := <-done:
				t.Logf("trial %d: finished before the kill at %v (%v)", trial, wait, err)
			case <-time.After(wait):
				cmd.Process.Signal(syscall.SIGKILL)
				<-done
				killed++
				t.Logf("trial %d: killed after %v; it had printed %d stamping(s)", trial, wait, strings.Count(out.String(), "Stamped "))
			}
		}
		// The ledger verifies as it was left (no clean close).
		if code, _, errs := sk("ledger", "verify"); code != 0 {
			t.Fatalf("trial %d: the ledger does not verify after the kill: %s", trial, errs)
		}
		// The next login settles what the kill interrupted; rejecting one document is a
		// login like any other.
		left := addDocs(1)
		if code, _, errs := sk("queue"); code != 0 {
			t.Fatalf("queue: %s", errs)
		}
		if code, _, errs := sk("reject", "--doc", left[0], "--reason", "测试"); code != 0 {
			t.Fatalf("trial %d: reject after the kill: %s", trial, errs)
		}
		reconciled = checkLedgerTruth(t, sk, cfg.Resolve(cfg.Demo.HubData)) // all the ledger holds so far
		if trial == 1 && reconciled == 0 {
			t.Fatal("trial 1 was killed while signing, but the next login reconciled nothing")
		}
	}
	t.Logf("%d trials, %d killed mid-way, %d interrupted stampings reconciled", trials, killed, reconciled)
}

// checkLedgerTruth: every intent has exactly one done or failed; every done's output verifies
// and its hash is the one recorded, or, once the hub in hubDir accepted it (and the workstation
// removed its copy), the hub holds a stamped result with that hash. It returns how many results
// were reconciliations.
func checkLedgerTruth(t *testing.T, sk func(args ...string) (int, string, string), hubDir string) (reconciled int) {
	t.Helper()
	code, out, errs := sk("ledger", "export")
	if code != 0 {
		t.Fatalf("ledger export: %s", errs)
	}
	intents := map[uint64]ledger.Record{}
	results := map[uint64][]ledger.Record{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Seq    uint64        `json:"seq"`
			Record ledger.Record `json:"record"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		r := line.Record
		r.Seq = line.Seq
		switch r.Kind {
		case ledger.KindStampIntent:
			intents[r.Seq] = r
		case ledger.KindStampDone, ledger.KindStampFailed:
			results[r.Intent] = append(results[r.Intent], r)
		}
	}
	for seq, in := range intents {
		rs := results[seq]
		if len(rs) != 1 {
			t.Fatalf("intent %d (%s) has %d results: %+v", seq, in.DocID, len(rs), rs)
		}
		if strings.Contains(rs[0].Reason, "interrupt") {
			reconciled++
		}
		if rs[0].Kind != ledger.KindStampDone {
			continue
		}
		if _, err := os.Stat(in.Output); errors.Is(err, os.ErrNotExist) {
			if !hubHolds(t, hubDir, in.DocID, rs[0].OutputHash) {
				t.Fatalf("intent %d: done, its output %s is gone, and the hub has no stamped result with its hash", seq, in.Output)
			}
			continue
		}
		rep, err := verify.File(in.Output, verify.Options{})
		if err != nil || !rep.Valid {
			t.Fatalf("intent %d: done, but its output %s does not verify: %v", seq, in.Output, err)
		}
		b, _ := os.ReadFile(in.Output)
		if got := sha256Hex(b); got != rs[0].OutputHash {
			t.Fatalf("intent %d: output hash %s, recorded %s", seq, got, rs[0].OutputHash)
		}
	}
	for seq := range results {
		if _, ok := intents[seq]; !ok {
			t.Fatalf("a result names intent %d, which is not a stamp intent", seq)
		}
	}
	return reconciled
}

// hubHolds tells whether the hub in dir accepted a stamped result for doc with output hash sum
// (it verified the file's signature before accepting it).
func hubHolds(t *testing.T, dir, doc, sum string) bool {
	t.Helper()
	h, err := hub.Open(dir, hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	got, err := h.Received()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		for _, res := range r.Results {
			if res.DocumentID == doc && res.Outcome == upstream.OutcomeStamped && res.OutputSHA256 == sum {
				return true
			}
		}
	}
	return false
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

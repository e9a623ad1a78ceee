package ledger_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
)

func seqKey(s uint64) []byte { return binary.BigEndian.AppendUint64(nil, s) }

// edit changes the records bucket behind the ledger's back, as an attacker with the file would.
func edit(t *testing.T, path string, f func(b *bolt.Bucket)) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { f(tx.Bucket([]byte("records"))); return nil }); err != nil {
		t.Fatal(err)
	}
	db.Close()
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func wantVerifyError(t *testing.T, err error, seq uint64, reasons ...ledger.Reason) {
	t.Helper()
	var ve *ledger.VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a VerifyError", err)
	}
	if ve.Seq != seq || !containsReason(reasons, ve.Reason) {
		t.Fatalf("got seq %d %q (%v), want seq %d %v", ve.Seq, ve.Reason, err, seq, reasons)
	}
}

func containsReason(rs []ledger.Reason, r ledger.Reason) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// TestTamper deletes, reorders, replays and truncates records, and rolls the file back; each
// must be reported, by seq where there is one. The closed-file digest is removed first, so
// that the chain checks (not the digest) must find the change.
func TestTamper(t *testing.T) {
	cases := []struct {
		name    string
		f       func(b *bolt.Bucket)
		seq     uint64
		reasons []ledger.Reason
	}{
		{"delete middle", func(b *bolt.Bucket) { b.Delete(seqKey(5)) }, 5, []ledger.Reason{ledger.ReasonGap}},
		{"delete last", func(b *bolt.Bucket) { b.Delete(seqKey(11)) }, 11, []ledger.Reason{ledger.ReasonRollback}},
		{"swap two", func(b *bolt.Bucket) {
			a, c := append([]byte(nil), b.Get(seqKey(3))...), append([]byte(nil), b.Get(seqKey(4))...)
			b.Put(seqKey(3), c)
			b.Put(seqKey(4), a)
		}, 3, []ledger.Reason{ledger.ReasonWrongSeq}},
		{"replay at end", func(b *bolt.Bucket) { b.Put(seqKey(12), append([]byte(nil), b.Get(seqKey(6))...)) }, 12, []ledger.Reason{ledger.ReasonWrongSeq}},
		{"replace by older copy of itself", func(b *bolt.Bucket) {
			v := append([]byte(nil), b.Get(seqKey(7))...)
			v[len(v)-1] ^= 1
			b.Put(seqKey(7), v)
		}, 7, []ledger.Reason{ledger.ReasonBadTag}},
		{"renumber", func(b *bolt.Bucket) {
			v := append([]byte(nil), b.Get(seqKey(8))...)
			binary.BigEndian.PutUint64(v[4:], 9)
			b.Put(seqKey(8), v)
		}, 8, []ledger.Reason{ledger.ReasonWrongSeq}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := newLedger(t, 10)
			os.Remove(path + ".digest")
			edit(t, path, c.f)
			_, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{})
			wantVerifyError(t, err, c.seq, c.reasons...)
			if c.reasons[0] != ledger.ReasonBadTag {
				// The server's check (no key) finds the same.
				_, err = ledger.Verify(path, nil, ledger.VerifyOptions{})
				wantVerifyError(t, err, c.seq, c.reasons...)
			}
		})
	}
	t.Run("truncate", func(t *testing.T) {
		path := newLedger(t, 10)
		st, _ := os.Stat(path)
		os.Truncate(path, st.Size()/2)
		_, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{})
		wantVerifyError(t, err, 0, ledger.ReasonStructure)
		_, err = ledger.Open(path, options())
		wantVerifyError(t, err, 0, ledger.ReasonStructure)
	})
	t.Run("digest", func(t *testing.T) {
		path := newLedger(t, 10)
		l, err := ledger.Open(path, options())
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		// A change that only the digest sees: add an unused key to the meta bucket.
		db, _ := bolt.Open(path, 0o600, nil)
		db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("x"), []byte("y")) })
		db.Close()
		_, err = ledger.Verify(path, nil, ledger.VerifyOptions{})
		wantVerifyError(t, err, 0, ledger.ReasonChanged)
	})
}

// TestRollback restores an older copy of the file after the server co-signed a newer state.
func TestRollback(t *testing.T) {
	path := newLedger(t, 5)
	old := filepath.Join(t.TempDir(), "old.db")
	copyFile(t, path, old)
	copyFile(t, path+".digest", old+".digest")
	l, err := ledger.Open(path, options())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(testKeys.custodian); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		l.Append(sampleRecord(i))
	}
	cp, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetCosigned(*cp, []byte("server signature")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	copyFile(t, old, path)
	copyFile(t, old+".digest", path+".digest")
	_, err = ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{})
	wantVerifyError(t, err, 7, ledger.ReasonRollback)
	_, err = ledger.Open(path, options())
	wantVerifyError(t, err, 7, ledger.ReasonRollback)
	if _, err := os.Stat(path); err != nil {
		t.Fatal("a good but old copy must stay in place for a person to deal with")
	}
}

// TestFlipEveryByte flips bytes of a small, cleanly closed ledger one at a time: every byte of
// each page's first 64 bytes (page, element and meta headers) and a stride through the rest,
// once for each phase chosen: a random one (from the test's seed), and the phases of the meta
// bucket's "workstation" element header, where a flip once sent bbolt outside the file (see
// TestElementOutsideItsPage). SEALKEEPER_FLIP_PHASES=all runs every phase of the stride (every
// byte of the file, as SEALKEEPER_FLIP_EVERY_BYTE=1 does in one go); SEALKEEPER_FLIP_PHASES=3,17
// runs those. The consistency check runs in child processes (a flipped page may crash the
// reader); Verify must then report an error, never success, and never crash this process, and
// bbolt must return nothing from outside the file. The same is done without the closed-file
// digest (as after a crash): then a flip may only pass if it changed no data (free pages, slack),
// and every record must have been reported by seq for some flip of its bytes.
func TestFlipEveryByte(t *testing.T) {
	path := newLedger(t, 6)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	stride, head := 64, 64
	if testing.Short() {
		stride, head = 251, 32
	}
	rng := rand.New(rand.NewPCG(seed(t), 0))
	e := leafElementOf(t, orig, []byte("workstation"))
	phases := []int{rng.IntN(stride), (e + 4) % stride, (e + 12) % stride}
	switch v := os.Getenv("SEALKEEPER_FLIP_PHASES"); {
	case os.Getenv("SEALKEEPER_FLIP_EVERY_BYTE") == "1":
		phases = []int{-1}
	case v == "all":
		phases = nil
		for p := range stride {
			phases = append(phases, p)
		}
	case v != "":
		phases = nil
		for _, f := range strings.Split(v, ",") {
			p, err := strconv.Atoi(f)
			if err != nil || p < 0 || p >= stride {
				t.Fatalf("SEALKEEPER_FLIP_PHASES: %q is not a phase 0..%d", f, stride-1)
			}
			phases = append(phases, p)
		}
	}
	base, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	baseRecs := export(t, path)
	digest, _ := os.ReadFile(path + ".digest")
	named := map[uint64]bool{}
	t0 := time.Now()
	slices.Sort(phases)
	phases = slices.Compact(phases)
	// The page headers once, then each phase's stride through the rest.
	runs := map[string][]int{}
	var names []string
	for _, phase := range append([]int{-2}, phases...) {
		name := fmt.Sprintf("phase=%d", phase)
		switch phase {
		case -2:
			name = "page-headers"
		case -1:
			name = "every-byte"
		}
		for off := range orig {
			inHead := off%4096 < head
			if phase == -1 && !inHead || phase == -2 && inHead || phase >= 0 && !inHead && off%stride == phase {
				runs[name] = append(runs[name], off)
			}
		}
		names = append(names, name)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			flipEach(t, orig, runs[name], digest, base, baseRecs, named)
			t.Logf("%d-byte file, %d bytes flipped (stride %d)", len(orig), len(runs[name]), stride)
		})
	}
	t.Logf("%d phase(s) %v and the page headers in %v", len(phases), phases, time.Since(t0))
	noteRun(t, "stride %d, phases %v and the page headers, %v", stride, phases, time.Since(t0).Round(time.Millisecond))
	for s := uint64(1); s <= base.Records; s++ {
		if !named[s] {
			t.Errorf("no flip was reported as a problem of record %d", s)
		}
	}
}

// flipEach runs the flip test for the given offsets of orig, noting in named the seqs reported.
func flipEach(t *testing.T, orig []byte, offsets []int, digest []byte, base *ledger.Report, baseRecs []string, named map[uint64]bool) {
	path := filepath.Join(t.TempDir(), "orig.db")
	os.WriteFile(path, orig, 0o600)
	checks := childChecks(t, path, offsets)
	flipped := filepath.Join(t.TempDir(), "flipped.db")
	var current int
	check := func(string) error { return checks[current] }
	var dead, crashed int
	reasons := map[ledger.Reason]int{}
	for i, off := range offsets {
		current = i
		buf := append([]byte(nil), orig...)
		buf[off] ^= 0xff
		if err := os.WriteFile(flipped, buf, 0o600); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(fmt.Sprint(checks[i]), "crashed") {
			crashed++
		}
		if checks[i] == nil {
			bboltReadsInside(t, flipped)
		}
		// With the digest of the clean close: always an error.
		os.WriteFile(flipped+".digest", digest, 0o600)
		_, err := ledger.Verify(flipped, testKeys.escrow, ledger.VerifyOptions{Check: check})
		if err == nil {
			t.Fatalf("byte %d flipped: verify reported success", off)
		}
		var ve *ledger.VerifyError
		if !errors.As(err, &ve) {
			t.Fatalf("byte %d flipped: %v is not a VerifyError", off, err)
		}
		reasons[ve.Reason]++
		// Without it: an error, or the exact same ledger content.
		os.Remove(flipped + ".digest")
		rep, err := ledger.Verify(flipped, testKeys.escrow, ledger.VerifyOptions{Check: check})
		if err == nil {
			if rep.Records != base.Records || rep.Head != base.Head || !reflect.DeepEqual(export(t, flipped), baseRecs) {
				t.Fatalf("byte %d flipped: verify passed but the content changed", off)
			}
			dead++
			continue
		}
		if errors.As(err, &ve) && ve.Seq != 0 {
			named[ve.Seq] = true
		}
	}
	t.Logf("with digest: %v; without digest %d flips touched no data; the child check refused %d crashed on %d",
		reasons, dead, countErrs(checks), crashed)
}

func countErrs(errs []error) (n int) {
	for _, e := range errs {
		if e != nil {
			n++
		}
	}
	return n
}

// seed returns the seed of a randomised test: SEALKEEPER_SEED when set, otherwise a new one.
// Either way it is logged, and noted (see noteRun), so a failing run can be repeated exactly.
func seed(t testing.TB) uint64 {
	t.Helper()
	if v := os.Getenv("SEALKEEPER_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SEALKEEPER_SEED=%q is not a number", v)
		}
		t.Logf("seed %d (from SEALKEEPER_SEED)", s)
		noteRun(t, "seed %d (from SEALKEEPER_SEED)", s)
		return s
	}
	s := rand.Uint64()
	t.Logf("seed %d (SEALKEEPER_SEED=%d repeats this run)", s, s)
	noteRun(t, "seed %d", s)
	return s
}

// noteRun appends a line about this run of t (its seed, the phases it flipped) to the file
// SEALKEEPER_SEED_LOG names, if any: the test command prints it, since go test shows a passing
// test's log only with -v.
func noteRun(t testing.TB, format string, args ...any) {
	p := os.Getenv("SEALKEEPER_SEED_LOG")
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Logf("SEALKEEPER_SEED_LOG: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "store/ledger %s: %s\n", t.Name(), fmt.Sprintf(format, args...))
}

// childChecks runs the consistency check on every flipped copy in child processes, restarting
// after a crash, and returns each one's verdict.
// silence is how long childChecks waits for the child's next line. While a flip is checked
// (cur >= 0) a short wait stands for ChildCheck's time-out on a looping check; before the first
// flip or between two (cur < 0) the child is starting or moving on, which on a loaded machine
// under -race takes seconds, and the wait only catches a child that hangs.
func silence(cur int) time.Duration {
	if cur >= 0 {
		return 1500 * time.Millisecond
	}
	return 2 * time.Minute
}

func childChecks(t *testing.T, path string, offsets []int) []error {
	t.Helper()
	var list strings.Builder
	for _, o := range offsets {
		fmt.Fprintln(&list, o)
	}
	listFile := filepath.Join(t.TempDir(), "offsets")
	os.WriteFile(listFile, []byte(list.String()), 0o600)
	out := make([]error, len(offsets))
	for from := 0; from < len(offsets); {
		cmd := exec.Command(os.Args[0], "ledger", "check-flips", path, listFile, strconv.Itoa(from))
		cmd.Env = append(os.Environ(), "GOTRACEBACK=none")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		cur := -1
		hung := false
	read:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					break read
				}
				f := strings.Fields(line)
				i, _ := strconv.Atoi(f[0])
				switch f[1] {
				case "start":
					cur = i
				case "bad":
					out[i] = errors.New("bbolt consistency check failed")
					cur = -1
				case "ok":
					cur = -1
				}
				from = i + 1
			case <-time.After(silence(cur)):
				// A flipped page can make the check loop; ChildCheck has a time-out for this.
				hung = true
				cmd.Process.Kill()
				for range lines {
				}
				break read
			}
		}
		if hung && cur >= 0 {
			cmd.Wait()
			out[cur] = fmt.Errorf("the consistency check did not finish")
			from = cur + 1
			continue
		}
		err := cmd.Wait()
		if cur >= 0 {
			out[cur] = fmt.Errorf("the consistency check crashed: %v", err)
			from = cur + 1
			continue
		}
		if err != nil {
			t.Fatalf("check child: %v %s", err, stderr.String())
		}
	}
	return out
}

func export(t *testing.T, path string) []string {
	var out []string
	_, err := ledger.Verify(path, testKeys.escrow, ledger.VerifyOptions{Check: func(string) error { return nil }, Visit: func(r ledger.Record) error {
		out = append(out, string(r.Raw))
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKillDuringAppends SIGKILLs a helper process at random points while it appends 1,000
// records; every reopen must verify and hold every acknowledged record.
func TestKillDuringAppends(t *testing.T) {
	trials, perTrial := 50, 1000
	if testing.Short() {
		trials = 10
	}
	dir := t.TempDir()
	path := filepath.Join(dir, ledger.FileName)
	keyFile := filepath.Join(dir, "custodian.pem")
	pemKey, _ := keyslot.MarshalPrivateKeyPEM(testKeys.custodian)
	os.WriteFile(keyFile, pemKey, 0o600)
	l, err := ledger.Create(path, recipients(), ledger.Options{Workstation: "ws-test", Signer: testKeys.custodian})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	acked := uint64(1)
	rng := rand.New(rand.NewPCG(seed(t), 0))
	start := time.Now()
	for trial := 0; trial < trials; trial++ {
		killAfter := 1 + rng.IntN(perTrial-1)
		cmd := exec.Command(os.Args[0], path, keyFile, strconv.Itoa(perTrial))
		cmd.Env = append(os.Environ(), "SEALKEEPER_LEDGER_HELPER=append")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		n := 0
		for sc.Scan() {
			s, err := strconv.ParseUint(sc.Text(), 10, 64)
			if err != nil {
				t.Fatalf("helper said %q", sc.Text())
			}
			acked = max(acked, s)
			n++
			if n == killAfter {
				// Let it get into the next append (somewhere inside the commit), then kill.
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		err := cmd.Wait()
		if n != killAfter && err != nil {
			t.Fatalf("trial %d: helper failed: %v\n%s", trial, err, stderr.String())
		}
		rep, err := ledger.Verify(path, testKeys.custodian, ledger.VerifyOptions{})
		if err != nil {
			t.Fatalf("trial %d (killed after %d acks): %v", trial, killAfter, err)
		}
		if rep.Records < acked {
			t.Fatalf("trial %d: %d records on disk, %d were acknowledged", trial, rep.Records, acked)
		}
		if testing.Verbose() && trial%10 == 0 {
			t.Logf("trial %d: killed after %d acks; %d records, %d interrupted", trial, killAfter, rep.Records, len(rep.Interrupted))
		}
	}
	t.Logf("%d trials, %d records acknowledged in all, %v", trials, acked, time.Since(start))
}

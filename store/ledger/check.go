package ledger

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/atomic"
)

// Checking a file before using it
//
// bbolt does not checksum its pages, and reading a corrupt page can crash the reading process
// (an out-of-range page id faults inside the memory map, which Go cannot recover from). So a
// ledger file is first checked by a child process: the program runs itself again as
// `sealkeeper ledger check-file PATH` (tests run their own binary, whose TestMain calls
// CheckFileMain). The child opens the file read-only and runs bbolt's tx.Check over every
// page; exit status 0 means the structure is sound, 1 lists the problems on stderr, and a
// crash or a time-out means the file is corrupt. Only then does this process map the file,
// and even then record reads run with debug.SetPanicOnFault and recover (guard).
//
// tx.Check alone is not enough: it trusts the offsets and sizes inside pages, so a file it
// passes can still send a reader outside the map. The child therefore first runs checkLayout
// (layout.go), which reads the file with read(2) and refuses it unless every page, element,
// key and value bbolt can reach lies inside the file and inside its page.
//
// Digest of a cleanly closed file
//
// Free pages and the unused tail of pages hold bytes that no check can judge (old versions of
// pages, by bbolt's design). At a clean Close the ledger writes to PATH.digest the SHA-256 and
// size of the whole file and, when it has the key for it, a MAC over both:
//
//	sha256:HEX size:N mac:HEX
//
// The MAC is HMAC-SHA256 under subkey(data key, "sealkeeper ledger closed-file digest"), over
// "sealkeeper closed ledger v1" ‖ HEX ‖ N. Open compares the hash when a digest is present, and
// removes the file before anything is written; Unlock and a keyed Verify check the MAC.
//
// Invariants:
//   - the plain hash proves nothing against a person (anyone can recompute it): only a digest
//     whose MAC verifies counts as "closed file unchanged" (Report.Digest); one without a MAC
//     is reported as not authenticated, and a wrong MAC is ReasonChanged;
//   - the MAC key is derived at Unlock (or Create) and kept until Close, also after Lock (the
//     window logs out before it closes); it can only make digests. A run that never unlocks
//     keeps the last MAC when the file is byte for byte the one it described, and otherwise
//     writes a digest without one;
//   - after a crash there is no digest, and the structural and chain checks stand alone.

// CheckFile checks the bbolt structure of a ledger file in this process. Run it in a child
// (see ChildCheck); a corrupt file can crash the process that reads it.
func CheckFile(path string) (err error) {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Size() == 0 {
		return fmt.Errorf("the file is empty (0 bytes)")
	}
	if err := checkLayout(path); err != nil {
		return fmt.Errorf("the file's page layout is damaged: %w", err)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("reading the file crashed: %v", r)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("not a readable bbolt file: %w", err)
	}
	defer db.Close()
	var problems []string
	err = db.View(func(tx *bolt.Tx) error {
		// tx.Check reads every page once: let the pages it has read go from this process
		// every so often, so checking a large ledger does not keep the whole file resident
		// (see releaseMapped; a page read again is faulted in from the page cache).
		// The releaser has stopped before the transaction ends: advice on an address range
		// that is no longer this file's map could drop other memory.
		done, stopped := make(chan struct{}), make(chan struct{})
		defer func() { close(done); <-stopped }()
		go func() {
			defer close(stopped)
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					releaseMapped(tx)
				}
			}
		}()
		for e := range tx.Check() {
			problems = append(problems, e.Error())
			if len(problems) >= 20 {
				break
			}
		}
		if len(problems) > 0 {
			return nil
		}
		meta := tx.Bucket(bucketMeta)
		if meta == nil || !bytes.Equal(meta.Get(keyFormat), []byte(formatName)) {
			problems = append(problems, "not a SealKeeper ledger (no format marker)")
			return nil
		}
		for _, b := range [][]byte{bucketSlots, bucketRecords, bucketCheckpoints, bucketPending, bucketIntents} {
			if tx.Bucket(b) == nil {
				problems = append(problems, fmt.Sprintf("bucket %q is missing", b))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// CheckFileMain is the body of the hidden `sealkeeper ledger check-file PATH` command: it checks
// one file and exits 0 (sound) or 1 (problems on stderr).
func CheckFileMain(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: sealkeeper ledger check-file PATH")
		return 2
	}
	if err := CheckFile(args[0]); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}

// CheckTimeout bounds the child check; a corrupt file can make the check loop.
var CheckTimeout = 2 * time.Minute

// ChildCheck returns a checker that runs `exe args... PATH` (normally the program itself with
// "ledger", "check-file") and reads its verdict. Anything but exit status 0 is a failed check.
func ChildCheck(exe string, args ...string) func(path string) error {
	return ChildCheckCommand(func(ctx context.Context, path string) *exec.Cmd {
		return exec.CommandContext(ctx, exe, append(append([]string{}, args...), path)...)
	})
}

// ChildCheckCommand is ChildCheck with the command made by the caller (to set argv[0] or the
// environment of the child).
func ChildCheckCommand(command func(ctx context.Context, path string) *exec.Cmd) func(path string) error {
	return func(path string) error {
		ctx, cancel := context.WithTimeout(context.Background(), CheckTimeout)
		defer cancel()
		cmd := command(ctx, path)
		var out bytes.Buffer
		cmd.Stderr = &out
		cmd.Stdout = io.Discard
		err := cmd.Run()
		if err == nil {
			return nil
		}
		msg := strings.TrimSpace(out.String())
		if ctx.Err() != nil {
			return fmt.Errorf("the consistency check did not finish in %v", CheckTimeout)
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ee.ExitCode() == 1 && msg != "" {
				return errors.New(msg)
			}
			if len(msg) > 300 {
				msg = msg[:300] + "…"
			}
			return fmt.Errorf("the consistency check crashed (%v): %s", ee.ProcessState, msg)
		}
		return fmt.Errorf("running the consistency check %s: %w", cmd.Path, err)
	}
}

// DefaultCheck runs the consistency check in a child: this executable with "ledger check-file".
func DefaultCheck(path string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program to run the consistency check: %w", err)
	}
	return ChildCheck(exe, "ledger", "check-file")(path)
}

// guard runs f with memory faults turned into panics and recovers them: a second line of
// defence behind the child check.
func guard(path string, f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = structural(path, "reading the file failed: %v", r)
		}
	}()
	return f()
}

func digestPath(path string) string { return path + ".digest" }

// digestLine is one closed-file digest: the file's SHA-256 (hex) and size, and the MAC (nil:
// none).
type digestLine struct {
	sum  string
	size int64
	mac  []byte
}

func (d digestLine) plain() string {
	return "sha256:" + d.sum + " size:" + strconv.FormatInt(d.size, 10)
}

func (d digestLine) String() string {
	if d.mac == nil {
		return d.plain()
	}
	return d.plain() + " mac:" + hex.EncodeToString(d.mac)
}

func parseDigestLine(s string) (digestLine, bool) {
	var d digestLine
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return d, false
	}
	sum, ok1 := strings.CutPrefix(f[0], "sha256:")
	size, ok2 := strings.CutPrefix(f[1], "size:")
	n, err := strconv.ParseInt(size, 10, 64)
	if !ok1 || !ok2 || err != nil || len(sum) != 64 {
		return d, false
	}
	d.sum, d.size = sum, n
	if len(f) == 3 {
		m, ok := strings.CutPrefix(f[2], "mac:")
		if d.mac, err = hex.DecodeString(m); !ok || err != nil || len(d.mac) != sha256.Size {
			return d, false
		}
	}
	return d, true
}

func (d digestLine) macUnder(dk []byte) []byte {
	m := hmac.New(sha256.New, dk)
	m.Write([]byte("sealkeeper closed ledger v1"))
	m.Write([]byte(d.plain()))
	return m.Sum(nil)
}

// checkMAC checks the digest's MAC with the data key; ok is false when it has none.
func (d digestLine) checkMAC(path string, key []byte) (ok bool, err error) {
	if d.mac == nil {
		return false, nil
	}
	if !hmac.Equal(d.mac, d.macUnder(subkey(key, digestMACInfo))) {
		return false, &VerifyError{Path: path, Reason: ReasonChanged,
			Detail: "the file was changed while SealKeeper was closed, and its digest recomputed by someone without the data key (the digest's MAC does not verify). Keep the file for the auditor and restore the ledger from a backup"}
	}
	return true, nil
}

func fileDigest(path string) (digestLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return digestLine{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return digestLine{}, err
	}
	return digestLine{sum: hex.EncodeToString(h.Sum(nil)), size: n}, nil
}

// checkDigest compares the file with the digest written at its last clean close and returns
// that digest (nil: none). Only the hash and size are compared here; the MAC needs the key.
func checkDigest(path string) (*digestLine, error) {
	want, err := os.ReadFile(digestPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	line := strings.TrimSpace(string(want))
	d, ok := parseDigestLine(line)
	if !ok {
		return nil, &VerifyError{Path: path, Reason: ReasonChanged, Detail: fmt.Sprintf("the closed-file digest %s does not parse (%q)", digestPath(path), line)}
	}
	got, err := fileDigest(path)
	if err != nil {
		return nil, err
	}
	if got.plain() != d.plain() {
		return nil, &VerifyError{Path: path, Reason: ReasonChanged,
			Detail: fmt.Sprintf("the file is not the one SealKeeper closed (digest file says %s, file is %s)", d.plain(), got.plain())}
	}
	return &d, nil
}

// writeDigest writes the closed-file digest: with a MAC under dk (the digest key) when there
// is one, or the MAC of last, the digest found at Open, when the file is still that one.
func writeDigest(path string, dk []byte, last *digestLine) error {
	d, err := fileDigest(path)
	if err != nil {
		return err
	}
	switch {
	case dk != nil:
		d.mac = d.macUnder(dk)
	case last != nil && last.plain() == d.plain():
		d.mac = last.mac
	}
	return atomic.WriteFile(digestPath(path), []byte(d.String()+"\n"), 0o600)
}

func removeDigest(path string) error {
	err := os.Remove(digestPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		syncDir(filepath.Dir(path))
	}
	return err
}

// quarantine moves a bad ledger file aside (never deletes it) so that nothing writes to it and
// nothing silently replaces it. The digest moves with it.
func quarantine(path string) (string, error) {
	dst := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405Z"))
	if err := os.Rename(path, dst); err != nil {
		return "", fmt.Errorf("moving the damaged ledger aside: %w", err)
	}
	_ = os.Rename(digestPath(path), digestPath(dst))
	syncDir(filepath.Dir(path))
	return dst, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

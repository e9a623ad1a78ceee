package permtest_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/sealkeeper/sealkeeper/store/permtest"
)

// TestIs: a 0600 file is 0600 and not 0644 (on Windows: writable, so 0600 and 0644 both hold,
// and a read-only one is not); a 0700 folder is 0700.
func TestIs(t *testing.T) {
	dir := t.TempDir()
	rw := filepath.Join(dir, "rw")
	if err := os.WriteFile(rw, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ro := filepath.Join(dir, "ro")
	if err := os.WriteFile(ro, nil, 0o400); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	st := func(p string) os.FileInfo {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	if !permtest.Is(st(rw), 0o600) || permtest.Is(st(rw), 0o400) || !permtest.Is(st(ro), 0o400) || permtest.Is(st(ro), 0o600) {
		t.Errorf("rw %v, ro %v", st(rw).Mode(), st(ro).Mode())
	}
	if !permtest.Is(st(sub), 0o700) || !permtest.Private(st(rw)) {
		t.Errorf("sub %v, rw %v", st(sub).Mode(), st(rw).Mode())
	}
	if runtime.GOOS == "windows" {
		return // Windows' bits say nothing about others: see permtest.Is
	}
	if permtest.Is(st(rw), 0o644) || permtest.Is(st(sub), 0o755) {
		t.Errorf("rw %v, sub %v", st(rw).Mode(), st(sub).Mode())
	}
	if err := os.Chmod(rw, 0o640); err != nil {
		t.Fatal(err)
	}
	if permtest.Private(st(rw)) {
		t.Errorf("a 0640 file counted as private")
	}
}

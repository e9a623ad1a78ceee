package pinages_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/pinages"
)

// TestAgesFile: a recorded change survives a reload, the file holds dates only and is private,
// and a damaged file is refused with what to do.
func TestAgesFile(t *testing.T) {
	dir := t.TempDir()
	ages, err := pinages.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ages.LastChanged("A1"); ok {
		t.Fatal("a change is known before any was recorded")
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	if err := ages.Record("A1", now); err != nil {
		t.Fatal(err)
	}
	again, err := pinages.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if last, ok := again.LastChanged("A1"); !ok || !last.Equal(now) {
		t.Errorf("reloaded: %v %v", last, ok)
	}
	path := filepath.Join(dir, pinages.FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if !strings.Contains(string(b), `"A1"`) || strings.Contains(string(b), "pin\":") {
		t.Errorf("file: %s", b)
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pinages.Load(dir); err == nil || !strings.Contains(err.Error(), "move it aside") {
		t.Errorf("damaged file: %v", err)
	}
}

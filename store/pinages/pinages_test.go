package pinages_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/permtest"
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
	if fi, _ := os.Stat(path); !permtest.Is(fi, 0o600) {
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

// TestWrongPINsCount: wrong PINs add up across loads of the file (separate runs), per token,
// keep the change dates, and a login ends the count.
func TestWrongPINsCount(t *testing.T) {
	dir := t.TempDir()
	first, err := pinages.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	if err := first.Record("A1", when); err != nil {
		t.Fatal(err)
	}
	second, err := pinages.Load(dir) // another run, loaded before the first counts
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		ages   *pinages.Ages
		serial string
		want   int
	}{{first, "A1", 1}, {second, "A1", 2}, {second, "B2", 1}, {first, "A1", 3}} {
		if n, err := c.ages.WrongPIN(c.serial); err != nil || n != c.want {
			t.Fatalf("try %d on %s: %d, %v; want %d", i+1, c.serial, n, err, c.want)
		}
	}
	if err := second.LoggedIn("A1"); err != nil {
		t.Fatal(err)
	}
	third, err := pinages.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if last, ok := third.LastChanged("A1"); !ok || !last.Equal(when) {
		t.Fatalf("the change date after counting: %v %v", last, ok)
	}
	if n, _ := third.WrongPIN("A1"); n != 1 {
		t.Fatalf("after a login the next wrong PIN is number %d", n)
	}
	if n, _ := third.WrongPIN("B2"); n != 2 {
		t.Fatalf("another token's count after A1's login: %d", n)
	}
}

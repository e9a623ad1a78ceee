package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFiles loads every testdata/good_*.toml (must load) and fail_*.toml (must fail with the
// message in the file's first line, after "# error: ").
func TestFiles(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	files, _ := filepath.Glob("testdata/*.toml")
	if len(files) == 0 {
		t.Fatal("no test files")
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			c, err := Load(f)
			switch {
			case strings.HasPrefix(name, "good_"):
				if err != nil {
					t.Fatal(err)
				}
				if c.Device.PollInterval.Duration <= 0 || c.Device.PINMaxAgeDays <= 0 || c.Seal.SizeMM <= 0 {
					t.Errorf("defaults not applied: %+v", c.Device)
				}
			case strings.HasPrefix(name, "fail_"):
				b, _ := os.ReadFile(f)
				want := strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "# error: ")
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v, want one containing %q", err, want)
				}
			}
		})
	}
}

func TestSaveLoadRoundTripAndResolve(t *testing.T) {
	dir := t.TempDir()
	c := &Config{DataDir: "data", Language: "zh-CN"}
	c.Device.PollInterval.Duration = 2 * time.Second
	c.Defaults()
	p := filepath.Join(dir, FileName)
	if err := c.Save(p); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v, want 0600", fi.Mode().Perm())
	}
	back, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if back.Language != "zh-CN" || back.Device.PollInterval.Duration != 2*time.Second || back.Data() != filepath.Join(dir, "data") {
		t.Errorf("round trip: %+v, data %s", back, back.Data())
	}
	if got := back.Resolve("/abs/x"); got != "/abs/x" {
		t.Errorf("absolute path resolved to %s", got)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); err == nil || !strings.Contains(err.Error(), "no configuration file") {
		t.Errorf("missing file: %v", err)
	}
}

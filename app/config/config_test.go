package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/permtest"
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
	if fi, _ := os.Stat(p); !permtest.Is(fi, 0o600) {
		t.Errorf("config mode %v, want 0600", fi.Mode().Perm())
	}
	back, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if back.Language != "zh-CN" || back.Device.PollInterval.Duration != 2*time.Second || back.Data() != filepath.Join(dir, "data") {
		t.Errorf("round trip: %+v, data %s", back, back.Data())
	}
	// An absolute path of this OS (on Windows "/abs/x" is relative to the current drive).
	if abs := filepath.Join(dir, "abs", "x"); back.Resolve(abs) != abs {
		t.Errorf("absolute path %s resolved to %s", abs, back.Resolve(abs))
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); err == nil || !strings.Contains(err.Error(), "no configuration file") {
		t.Errorf("missing file: %v", err)
	}
}

// TestSetLanguageWritesOnlyThat: saving the language from the window changes that setting and
// nothing else; the defaults Load fills in (host name, user, the known keys) stay out of the file.
func TestSetLanguageWritesOnlyThat(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	os.WriteFile(path, []byte("custodian = \"张敏\"\n[device]\nmodules = [\"/usr/lib/x.so\"]\n"), 0o600)
	if err := SetLanguage(path, "en"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	text := string(b)
	for _, absent := range []string{"workstation", "known_keys", "vid", "pin_max_age_days"} {
		if strings.Contains(text, absent) {
			t.Errorf("the saved file gained %q:\n%s", absent, text)
		}
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Language != "en" || c.Custodian != "张敏" || len(c.Device.Modules) != 1 || c.Device.Modules[0] != "/usr/lib/x.so" {
		t.Fatalf("after saving the language: %+v", c)
	}
	if fi, _ := os.Stat(path); !permtest.Is(fi, 0o600) {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
}

func TestSM2Tables(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	c, err := Load("testdata/good_full.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := SM2Mechanisms{Module: "/usr/lib/libupkcs11.so", Vendor: "Sansec", KeyType: 0x80000004, KeyGen: 0x80008001,
		SignWithZ: []uint{0x80008103, 0x80008102}, SignRaw: []uint{0x80008104}, Decrypt: []uint{0x80008200}}
	if len(c.Device.SM2) != 1 || !reflect.DeepEqual(c.Device.SM2[0], want) {
		t.Fatalf("[[device.sm2]] read as %+v, want %+v", c.Device.SM2, want)
	}
}

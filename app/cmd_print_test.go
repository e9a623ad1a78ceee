package main

import (
	"bytes"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/workspace"
	"github.com/sealkeeper/sealkeeper/device/cups/cupstest"
)

// TestPrintCommands: on a demo workspace, a stamped queue document is printed from the command
// line on a real CUPS queue within its approved copies, the next copy is refused, and verify
// --printout accepts the printed code and refuses a changed one.
func TestPrintCommands(t *testing.T) {
	q := cupstest.New(t)
	dir, cfg := demoWorkspace(t)
	sk := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errs := sk("stamp", "--config", cfg, "--doc", "D00000001", "--page", "1", "--at", "150,230"); code != 0 {
		t.Fatalf("stamp: %d\n%s%s", code, out, errs)
	}
	if code, out, errs := sk("print", "--config", cfg, "--printers"); code != 0 || !strings.Contains(out, q.Name) {
		t.Fatalf("print --printers: %d\n%s%s", code, out, errs)
	}
	code, out, errs := sk("print", "--config", cfg, "--doc", "D00000001", "--allowance")
	if code != 0 || !strings.Contains(out, "1 copies approved (0 extra), 0 printed, 1 left") {
		t.Fatalf("print --allowance: %d\n%s%s", code, out, errs)
	}
	code, out, errs = sk("print", "--config", cfg, "--doc", "D00000001", "--printer", q.Name, "--copies", "1")
	if code != 0 || !strings.Contains(out, "completed, 1 of 1 copies") {
		t.Fatalf("print: %d\n%s%s", code, out, errs)
	}
	q.Next(t)
	mark := regexp.MustCompile(`SKP1/\S+`).FindString(out)
	if mark == "" {
		t.Fatalf("print names no code:\n%s", out)
	}
	if code, out, errs := sk("print", "--config", cfg, "--doc", "D00000001", "--printer", q.Name); code != 1 || !strings.Contains(errs, "0 of the 1 approved are left") {
		t.Fatalf("a copy past the approval: %d\n%s%s", code, out, errs)
	}
	if code, out, errs := sk("verify", "--printout", mark, "--config", cfg); code != 0 || !strings.Contains(out, "Genuine printout") || !strings.Contains(out, "copy 1 of 1") {
		t.Fatalf("verify --printout: %d\n%s%s", code, out, errs)
	}
	// Extra copies: asked for, listed and approved with the hub's admin command, then allowed.
	code, out, errs = sk("print", "--config", cfg, "--doc", "D00000001", "--request", "2", "--reason", "存档需要")
	if code != 0 || !strings.Contains(out, "pending") {
		t.Fatalf("print --request: %d\n%s%s", code, out, errs)
	}
	hubDir := filepath.Join(dir, "demo", "hub")
	code, out, errs = sk("hub", "copies", "--data", hubDir)
	req := regexp.MustCompile(`(?m)^(C[0-9a-f]+)  pending .* D00000001  2 copies`).FindStringSubmatch(out)
	if code != 0 || req == nil {
		t.Fatalf("hub copies: %d\n%s%s", code, out, errs)
	}
	if code, out, errs := sk("hub", "copies", "--data", hubDir, "--approve", req[1], "--approver", "王主任"); code != 0 || !strings.Contains(out, "approved: 2 extra copies") {
		t.Fatalf("hub copies --approve: %d\n%s%s", code, out, errs)
	}
	code, out, errs = sk("print", "--config", cfg, "--doc", "D00000001", "--allowance")
	if code != 0 || !strings.Contains(out, "3 copies approved (2 extra), 1 printed, 2 left") {
		t.Fatalf("print --allowance after the approval: %d\n%s%s", code, out, errs)
	}

	// The month's table: the printed copy beside the stampings.
	code, out, errs = sk("ledger", "report", "--config", cfg, "--format", "usage-csv")
	if code != 0 || !regexp.MustCompile(`(?m)^合计 Total,,,\d+,\d+,1,0,1$`).MatchString(out) {
		t.Fatalf("ledger report --format usage-csv: %d\n%s%s", code, out, errs)
	}
	forged := mark[:len(mark)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(mark, "A")]
	if code, out, errs := sk("verify", "--config", cfg, "--printout", forged); code != 1 || !strings.Contains(errs, "NOT a genuine printout") {
		t.Fatalf("verify --printout of a changed code: %d\n%s%s", code, out, errs)
	}
}

// demoWorkspace makes a demo workspace (on the SoftHSM demo token) in a temporary folder with its
// own HOME, and returns the folder and its configuration file.
func demoWorkspace(t *testing.T) (dir, cfg string) {
	t.Helper()
	needSoftHSM(t)
	dir = t.TempDir()
	// No user configuration: commands without --config find none.
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "home", ".config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "home", ".local", "share"))
	if _, err := workspace.ProvisionDemo(filepath.Join(dir, "demo"), io.Discard); err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(dir, "demo", config.FileName)
}

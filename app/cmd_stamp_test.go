package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/workspace"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
)

// stamp and verify from the command line against a demo workspace's SoftHSM token: no PIN
// prompt, certify, riding seam, refusal to overwrite, JSON output, and exit codes.
func TestStampVerifyCommands(t *testing.T) {
	// No user configuration: verify without --config has no trust anchors.
	dir, cfg := demoWorkspace(t)
	in := filepath.Join(dir, "in.pdf")
	os.WriteFile(in, pdftest.PDF(pdftest.Options{Pages: 4, Rotate: []int{0, 90}}), 0o644)
	one, two := filepath.Join(dir, "one.pdf"), filepath.Join(dir, "two.pdf")

	sk := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errs := sk("stamp", "--config", cfg, "--in", in, "--out", one, "--page", "2", "--at", "100,120", "--certify"); code != 0 {
		t.Fatalf("stamp: %d\n%s%s", code, out, errs)
	}
	if code, _, errs := sk("stamp", "--config", cfg, "--in", in, "--out", one); code == 0 || !strings.Contains(errs, "already exists") {
		t.Fatalf("overwrote without --force: %d %s", code, errs)
	}
	if code, out, errs := sk("stamp", "--config", cfg, "--in", one, "--out", two, "--riding-seam", "right", "--pages", "1-4"); code != 0 {
		t.Fatalf("riding seam: %d\n%s%s", code, out, errs)
	}
	code, out, errs := sk("verify", two, "--config", cfg, "--json", "--require-trust")
	if code != 0 {
		t.Fatalf("verify: %d\n%s%s", code, out, errs)
	}
	var rep verify.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) != 2 || rep.Signatures[0].DocMDP != 2 || !rep.Signatures[1].RidingSeam || len(rep.Signatures[1].Widgets) != 4 || !rep.Trusted {
		t.Fatalf("unexpected report: %s", out)
	}
	if code, out, _ := sk("verify", two); code != 0 || !strings.Contains(out, "every signature is intact and valid") {
		t.Fatalf("human verify: %d\n%s", code, out)
	}
	// Without the workspace's trust anchors the signatures stay valid but untrusted.
	if code, _, errs := sk("verify", "--require-trust", two); code != 1 || !strings.Contains(errs, "trust anchor") {
		t.Fatalf("untrusted chain passed --require-trust: %s", errs)
	}
	// A flipped byte makes verify exit 1, naming the signature.
	data, _ := os.ReadFile(two)
	data[len(data)/3] ^= 1
	bad := filepath.Join(dir, "bad.pdf")
	os.WriteFile(bad, data, 0o644)
	if code, _, errs := sk("verify", bad, "--config", cfg); code != 1 || !strings.Contains(errs, "Seal1") {
		t.Fatalf("tampered file: exit %d: %s", code, errs)
	}
	// An unsigned file is not sealed.
	if code, _, _ := sk("verify", in, "--config", cfg); code != 1 {
		t.Fatalf("unsigned file: exit %d", code)
	}
	if code, _, errs := sk("stamp", "--config", cfg, "--in", two, "--out", filepath.Join(dir, "three.pdf"), "--certify"); code == 0 || !strings.Contains(errs, "first seal") {
		t.Fatalf("second certification: %d %s", code, errs)
	}
}

// TestStampLocalFileNeedsPolicy: on a workspace whose policy does not allow unapproved files
// (the default), `stamp --in` is refused before the key is touched and nothing is signed; on the
// demo it is allowed and leaves intent, done and an alarm in the ledger.
func TestStampLocalFileNeedsPolicy(t *testing.T) {
	needSoftHSM(t)
	dir := t.TempDir()
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "home", ".local", "share"))
	if _, err := workspace.ProvisionDemo(filepath.Join(dir, "demo"), io.Discard); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "demo", config.FileName)
	in := filepath.Join(dir, "in.pdf")
	os.WriteFile(in, pdftest.PDF(pdftest.Options{Pages: 2}), 0o600)
	sk := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	ledgerText := func() string {
		code, out, errs := sk("ledger", "show", "--config", cfgPath)
		if code != 0 {
			t.Fatalf("ledger show: %s", errs)
		}
		return out
	}

	c, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c.Policy.AllowUnapprovedFiles = false
	if err := c.Save(cfgPath); err != nil {
		t.Fatal(err)
	}
	before := ledgerText()
	code, _, errs := sk("stamp", "--config", cfgPath, "--in", in, "--out", filepath.Join(dir, "out.pdf"))
	if code != 1 || !strings.Contains(errs, "no approval ticket") {
		t.Fatalf("unapproved file on a real policy: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.pdf")); err == nil {
		t.Fatal("a stamped file was written")
	}
	if after := ledgerText(); after != before {
		t.Fatalf("the refusal touched the key or the ledger:\n%s", after)
	}

	c.Policy.AllowUnapprovedFiles = true
	if err := c.Save(cfgPath); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := sk("stamp", "--config", cfgPath, "--in", in, "--out", filepath.Join(dir, "out.pdf")); code != 0 {
		t.Fatalf("demo policy: exit %d: %s%s", code, out, errs)
	}
	after := ledgerText()
	for _, want := range []string{"stamp.intent", "stamp.done", "alarm", "no approval ticket"} {
		if !strings.Contains(after, want) {
			t.Errorf("ledger lacks %q:\n%s", want, after)
		}
	}
}

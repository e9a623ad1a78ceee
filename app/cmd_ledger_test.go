package main

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/workspace"
	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
)

func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestLedgerCommands runs `sealkeeper ledger` against a ledger opened with an escrow key file:
// --init, verify (the file check runs in a child: this test binary as "sealkeeper"), show,
// export, report as CSV and PDF, and a damaged file.
func TestLedgerCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	escrow, _ := ecdh.P256().GenerateKey(rand.Reader)
	priv, _ := keyslot.MarshalPrivateKeyPEM(escrow)
	pub, _ := keyslot.MarshalPublicKeyPEM(escrow.Public())
	keyFile, pubFile := filepath.Join(dir, "escrow.pem"), filepath.Join(dir, "escrow.pub")
	os.WriteFile(keyFile, priv, 0o600)
	os.WriteFile(pubFile, pub, 0o644)

	if _, stderr, code := runCmd(t, "ledger", "verify", "--data", data); code != 1 || !strings.Contains(stderr, "no ledger file") {
		t.Fatalf("missing ledger: %d %s", code, stderr)
	}
	if out, stderr, code := runCmd(t, "ledger", "--init", "--data", data, "--escrow-public", pubFile); code != 0 {
		t.Fatalf("init: %d %s %s", code, out, stderr)
	}
	if _, stderr, code := runCmd(t, "ledger", "--init", "--data", data, "--escrow-public", pubFile); code == 0 || !strings.Contains(stderr, "already exists") {
		t.Fatalf("second init: %d %s", code, stderr)
	}
	// Add records through the library, as the program does.
	path := filepath.Join(data, ledger.FileName)
	l, err := ledger.Open(path, ledger.Options{Check: workspace.LedgerCheck})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(escrow); err != nil {
		t.Fatal(err)
	}
	l.Append(ledger.Record{Kind: ledger.KindStampDone, SealID: "公章", Custodian: "张三", Copies: 2, DocTitle: "关于召开年度工作会议的通知"},
		ledger.Record{Kind: ledger.KindRejected, SealID: "公章", Custodian: "张三", Reason: "附件缺页"})
	l.Close()

	out, stderr, code := runCmd(t, "ledger", "verify", "--data", data, "--escrow-key", keyFile)
	if code != 0 || !strings.Contains(out, "records       3") || !strings.Contains(out, "decrypted     every record") {
		t.Fatalf("verify: %d\n%s\n%s", code, out, stderr)
	}
	out, _, code = runCmd(t, "ledger", "show", "--data", data, "--escrow-key", keyFile, "--kind", "doc.rejected")
	if code != 0 || !strings.Contains(out, "附件缺页") || strings.Contains(out, "stamp.done") {
		t.Fatalf("show: %d\n%s", code, out)
	}
	out, _, code = runCmd(t, "ledger", "export", "--data", data, "--escrow-key", keyFile)
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, `{"seq":2,"record":{"v":1,"kind":"stamp.done"`) {
		t.Fatalf("export: %d\n%s", code, out)
	}
	out, _, code = runCmd(t, "ledger", "report", "--data", data, "--escrow-key", keyFile, "--seal", "公章")
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, "关于召开年度工作会议的通知") {
		t.Fatalf("report csv: %d\n%s", code, out)
	}
	pdf := filepath.Join(dir, "summary.pdf")
	if _, stderr, code := runCmd(t, "ledger", "report", "--data", data, "--escrow-key", keyFile, "--format", "pdf", "--out", pdf); code != 0 {
		t.Fatalf("report pdf: %d %s", code, stderr)
	}
	if _, err := exec.LookPath("pdftotext"); err == nil {
		txt, _ := exec.Command("pdftotext", pdf, "-").Output()
		if !strings.Contains(string(txt), "印章使用汇总表") || !strings.Contains(string(txt), "张三") {
			t.Fatalf("pdf text:\n%s", txt)
		}
	}
	// Without a key, show refuses and verify checks what it can.
	if _, stderr, code := runCmd(t, "ledger", "show", "--data", data); code == 0 || !strings.Contains(stderr, "--escrow-key") {
		t.Fatalf("show without key: %d %s", code, stderr)
	}
	// A damaged file is reported with the record's seq.
	b, _ := os.ReadFile(path)
	for i := 0; ; i++ { // every copy of every record (bbolt keeps old page copies)
		j := bytes.Index(b[i:], []byte("SKE1"))
		if j < 0 {
			break
		}
		i += j
		b[i+70] ^= 0xff
	}
	os.WriteFile(path, b, 0o600)
	os.Remove(path + ".digest")
	_, stderr, code = runCmd(t, "ledger", "verify", "--data", data, "--escrow-key", keyFile)
	if code != 1 || !strings.Contains(stderr, "record") {
		t.Fatalf("damaged: %d %s", code, stderr)
	}
}

// TestDemoLedger provisions a demo workspace and its ledger; the ledger commands then open the
// token's key slot with the demo PIN, with no key file given.
func TestDemoLedger(t *testing.T) {
	if _, err := os.Stat(config.SoftHSMModule); err != nil {
		t.Skip("SoftHSM2 not installed")
	}
	dir := t.TempDir()
	var out bytes.Buffer
	if _, err := workspace.ProvisionDemo(dir, &out); err != nil {
		t.Fatal(err)
	}
	if err := workspace.InitDemoLedger(mustLoad(t, filepath.Join(dir, config.FileName)), &out); err == nil {
		t.Fatal("a second demo ledger was made over the first")
	}
	cfgPath := filepath.Join(dir, config.FileName)
	o, stderr, code := runCmd(t, "ledger", "show", "--config", cfgPath)
	if code != 0 || !strings.Contains(o, "login.ok") {
		t.Fatalf("show: %d\n%s\n%s", code, o, stderr)
	}
	o, stderr, code = runCmd(t, "ledger", "verify", "--config", cfgPath)
	if code != 0 || !strings.Contains(o, "last at 4") || !strings.Contains(o, "decrypted     every record") {
		t.Fatalf("verify: %d\n%s\n%s", code, o, stderr)
	}
}

func mustLoad(t *testing.T, path string) *config.Config {
	t.Helper()
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

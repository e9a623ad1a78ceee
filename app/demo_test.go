package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/workspace"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/store/permtest"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// These tests set SOFTHSM2_CONF (process-global): no t.Parallel.

func needSoftHSM(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(config.SoftHSMModule); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("SoftHSM2 is required in CI: %v", err)
		}
		t.Skipf("SoftHSM2 is not installed (%s missing): apt-get install softhsm2", config.SoftHSMModule)
	}
	t.Setenv("SOFTHSM2_CONF", os.Getenv("SOFTHSM2_CONF")) // restored when the test ends
}

func TestDemoProvisionAndTokenList(t *testing.T) {
	needSoftHSM(t)
	dir := filepath.Join(t.TempDir(), "demo")
	var out, errOut bytes.Buffer
	if code := run([]string{"demo", "provision", "--dir", dir}, &out, &errOut); code != 0 {
		t.Fatalf("demo provision: exit %d: %s", code, errOut.String())
	}
	cfgPath := filepath.Join(dir, config.FileName)
	for _, want := range []string{config.SoftHSMModule, cfgPath, "SealKeeper Demo", "Initial PIN:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	pinBytes, err := os.ReadFile(filepath.Join(dir, "demo-pin"))
	if err != nil {
		t.Fatal(err)
	}
	pin := strings.TrimSpace(string(pinBytes))
	if !strings.Contains(out.String(), pin) {
		t.Error("the printed PIN is not the one in demo-pin")
	}
	for name, mode := range map[string]os.FileMode{"demo-pin": 0o600, "ca-key.pem": 0o600, "config.toml": 0o600} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || !permtest.Is(fi, mode) {
			t.Errorf("%s: %v %v", name, fi, err)
		}
	}
	for _, name := range []string{"ca.pem", "seal.png", "softhsm2.conf", "tokens", "data"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	cfgText, _ := os.ReadFile(cfgPath)
	if strings.Contains(string(cfgText), pin) {
		t.Error("the PIN is in the configuration file")
	}

	c, err := workspace.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Demo.Enabled || c.Data() != filepath.Join(dir, "data") || len(c.Seal.TrustAnchors) != 1 {
		t.Errorf("config: %+v", c)
	}
	if p, ok := workspace.DemoPIN(c); !ok || p != pin {
		t.Errorf("workspace.DemoPIN = %q %v", p, ok)
	}

	// The workspace is refused a second time, and replaced with --force.
	out.Reset()
	errOut.Reset()
	if code := run([]string{"demo", "provision", "--dir", dir}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "--force") {
		t.Errorf("second provision: exit %d: %s", code, errOut.String())
	}

	// token list --json shows the token and its seal certificate, issued by the demo CA.
	out.Reset()
	if code := run([]string{"token", "list", "--json", "--config", cfgPath}, &out, &errOut); code != 0 {
		t.Fatalf("token list: exit %d: %s", code, errOut.String())
	}
	var list struct {
		Modules []struct {
			Path   string
			Error  string
			Tokens []struct {
				Label, Serial string
				Flags         string
				FlagWords     []string `json:"flag_words"`
				PIN           device.PINState
				Certificates  []device.CertSummary
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	if len(list.Modules) != 1 || len(list.Modules[0].Tokens) != 1 {
		t.Fatalf("token list: %s", out.String())
	}
	tok := list.Modules[0].Tokens[0]
	if tok.Label != "SealKeeper Demo" || tok.Serial == "" || !strings.Contains(tok.Flags, "login required") || len(tok.FlagWords) == 0 {
		t.Errorf("token: %+v", tok)
	}
	if len(tok.Certificates) != 1 {
		t.Fatalf("certificates: %+v", tok.Certificates)
	}
	cert := tok.Certificates[0]
	if cert.KeyAlgorithm != "ECDSA P-256" || !strings.Contains(cert.Issuer, "SealKeeper Demo CA") || cert.ID != c.Seal.KeyID || cert.NotAfter.IsZero() {
		t.Errorf("certificate: %+v", cert)
	}

	// The token logs in with the PIN and signs with the key the config names.
	m, err := device.OpenModule(config.SoftHSMModule)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	toks, err := m.Tokens()
	if err != nil || len(toks) != 1 {
		t.Fatal(toks, err)
	}
	s, err := m.Login(toks[0], pin)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := s.Seals()
	s.Close()
	if err != nil || len(keys) != 1 || keys[0].Cert == nil {
		t.Fatalf("seals: %+v %v", keys, err)
	}
	m.Close()

	out.Reset()
	errOut.Reset()
	if code := run([]string{"demo", "provision", "--dir", dir, "--force"}, &out, &errOut); code != 0 {
		t.Fatalf("provision --force: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "moved to") {
		t.Errorf("--force did not say where the old data went:\n%s", out.String())
	}
	newPIN, _ := os.ReadFile(filepath.Join(dir, "demo-pin"))
	if strings.TrimSpace(string(newPIN)) == pin {
		t.Error("--force kept the old PIN")
	}
}

func TestTokenListText(t *testing.T) {
	needSoftHSM(t)
	dir := filepath.Join(t.TempDir(), "demo")
	if _, err := workspace.ProvisionDemo(dir, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"token", "list", "--config", filepath.Join(dir, config.FileName)}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{`Token "SealKeeper Demo"`, "flags:  initialised, login required", "PIN:    PIN ok", "issuer:  CN=SealKeeper Demo CA", "key:     ECDSA P-256"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lacks %q:\n%s", want, out.String())
		}
	}
}

func TestTokenListBadModule(t *testing.T) {
	dir := t.TempDir()
	c := &config.Config{DataDir: filepath.Join(dir, "data")}
	c.Device.Modules = []string{filepath.Join(dir, "missing.so")}
	if err := c.Save(filepath.Join(dir, config.FileName)); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run([]string{"token", "list", "--config", filepath.Join(dir, config.FileName)}, &out, &errOut)
	if code != 1 || !strings.Contains(out.String(), "could not be loaded") || !strings.Contains(errOut.String(), "check [device] modules") {
		t.Errorf("exit %d\nout: %s\nerr: %s", code, out.String(), errOut.String())
	}
}

// TestDemoPinsItsHubKey: the demo workspace pins its hub's ticket key when it is made, as
// enrolment does, so its ledger checks the hub's co-signed floor; a hub with another key is
// refused by name.
func TestDemoPinsItsHubKey(t *testing.T) {
	needSoftHSM(t)
	dir := t.TempDir()
	if _, err := workspace.ProvisionDemo(dir, io.Discard); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, config.FileName)
	cfg := mustLoad(t, cfgPath)
	pinned, err := workspace.PinnedServerKey(cfg)
	if err != nil || pinned == nil {
		t.Fatalf("pinned key %v, %v", pinned, err)
	}
	if o, stderr, code := runCmd(t, "queue", "--config", cfgPath); code != 0 {
		t.Fatalf("queue: %d\n%s\n%s", code, o, stderr)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := upstream.PinServerKey(workspace.Credentials(cfg).ServerKey, &other.PublicKey); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runCmd(t, "queue", "--config", cfgPath); code == 0 || !strings.Contains(stderr, "another key than the one pinned") {
		t.Fatalf("a demo hub with another key: %d\n%s", code, stderr)
	}
}

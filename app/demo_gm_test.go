package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/workspace"
	"github.com/sealkeeper/sealkeeper/device/gmtoken/gmtokentest"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
)

// The GM demo's day in one process: `demo provision --gm` on our GM token module, a queue
// document stamped under its approval with the token's SM2 key; the stamped file parses in
// pdfsig, mutool and qpdf (which know no SM2, so they list the field), our verifier finds the
// GB/T 38540 seal signature valid and trusted under the demo SM2 CA, and a flipped byte fails it.
func TestGMDemoStampedPDF(t *testing.T) {
	t.Setenv("SEALKEEPER_GMTOKEN_MODULE", gmtokentest.Module())
	t.Setenv(workspace.GMTokenDirEnv, os.Getenv(workspace.GMTokenDirEnv)) // restored when the test ends
	dir := filepath.Join(t.TempDir(), "demo")
	cfgPath := filepath.Join(dir, config.FileName)
	var o, e bytes.Buffer
	if code := run([]string{"demo", "provision", "--gm", "--dir", dir}, &o, &e); code != 0 {
		t.Fatalf("demo provision --gm: exit %d\n%s%s", code, o.String(), e.String())
	}
	out := filepath.Join(t.TempDir(), "d1.pdf")
	o.Reset()
	e.Reset()
	if code := run([]string{"stamp", "--config", cfgPath, "--doc", "D00000001", "--out", out}, &o, &e); code != 0 {
		t.Fatalf("stamp: exit %d\n%s%s", code, o.String(), e.String())
	}
	if !strings.Contains(o.String(), "Sent to the server.") {
		t.Errorf("the stamping did not reach the demo hub:\n%s", o.String())
	}
	if _, total, s := pdftest.Pdfsig(t, out); total != 1 {
		t.Errorf("pdfsig lists %d signatures, want 1\n%s", total, s)
	}
	if _, total, s := pdftest.MutoolVerify(t, out); total != 1 {
		t.Errorf("mutool lists %d signatures, want 1\n%s", total, s)
	}
	pdftest.QpdfCheck(t, out)

	c, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	opts := verify.Options{GMRoots: workspace.GMTrustAnchors(c)}
	if len(opts.GMRoots) != 1 {
		t.Fatalf("the GM demo's trust anchors: %d SM2 CAs, want the demo SM2 CA", len(opts.GMRoots))
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Bytes("d1.pdf", data, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) != 1 {
		t.Fatalf("%d signatures, want 1", len(rep.Signatures))
	}
	s := rep.Signatures[0]
	if !s.Valid || !s.Intact || !s.CoversFile || !s.Trusted || !strings.Contains(s.Format, "GB/T 38540") || s.Seal == nil {
		t.Fatalf("the GM seal: valid %v, intact %v, covers %v, trusted %v (%s), format %q, seal %v; problems %v",
			s.Valid, s.Intact, s.CoversFile, s.Trusted, s.TrustError, s.Format, s.Seal, s.Problems)
	}
	// A byte inside the signed range (the first range is the file up to /Contents).
	data[s.ByteRange[1]/2] ^= 1
	rep, err = verify.Bytes("flipped.pdf", data, opts)
	if err == nil && len(rep.Signatures) == 1 && rep.Signatures[0].Intact {
		t.Fatal("a flipped byte in the signed range still verifies")
	}
}

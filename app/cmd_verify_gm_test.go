package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tjfoc/gmsm/sm2"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/workspace"
	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
)

// A GM seal configured per seal ([seal] gm_mode, gm_seal; the SM2 CA among trust_anchors),
// stamped with the demo seal maker's seal, then `sealkeeper verify`: a PAdES seal and a GM seal
// side by side with the same words, both trusted; a flipped byte fails the GM one.
func TestVerifyGMSealCommand(t *testing.T) {
	dir := t.TempDir()
	key, _ := sm2.GenerateKey(rand.Reader)
	g, err := workspace.MakeGMDemoSeal(dir, key, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"ses", "cms"} {
		t.Run(mode, func(t *testing.T) {
			c := &config.Config{DataDir: filepath.Join(dir, "data")}
			c.Seal = config.Seal{GMMode: mode, GMSeal: "gm-seal.esl", TrustAnchors: []string{"gm-ca.pem"}}
			cfgPath := filepath.Join(dir, mode+".toml")
			if err := c.Save(cfgPath); err != nil {
				t.Fatal(err)
			}
			c, err := config.Load(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			gm, err := workspace.GMSeal(c, g.CertDER)
			if err != nil {
				t.Fatal(err)
			}
			in := filepath.Join(dir, mode+"-in.pdf")
			os.WriteFile(in, pdftest.PDF(pdftest.Options{Pages: 1}), 0o644)
			doc, err := pdfinspect.OpenFile(in)
			if err != nil {
				t.Fatal(err)
			}
			p := doc.Pages[0].Page
			size, _ := placement.SealSize(42, 300, 300)
			pl, err := placement.AtViewMM(p, 100, 100, size)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, mode+".pdf")
			if _, err := stamp.SignFile(context.Background(), in, out, false, stamp.Request{Placement: pl, Image: pdftest.Seal(300), Signer: key, GM: gm}); err != nil {
				t.Fatal(err)
			}
			var o, e bytes.Buffer
			code := run([]string{"verify", out, "--config", cfgPath, "--require-trust"}, &o, &e)
			if code != 0 {
				t.Fatalf("verify: exit %d\n%s%s", code, o.String(), e.String())
			}
			want := map[string]string{"ses": "holding a GB/T 38540 seal signature (SM2/SM3)", "cms": "holding a GM/T 0010 CMS (SM2/SM3)"}[mode]
			for _, s := range []string{want, "integrity:  digest and signature correct", "trusted:    chains to a trust anchor", "every signature is intact and valid"} {
				if !strings.Contains(o.String(), s) {
					t.Errorf("verify output lacks %q:\n%s", s, o.String())
				}
			}
			if mode == "ses" && !strings.Contains(o.String(), "GM seal:    示范单位电子印章") {
				t.Errorf("the GM seal is not shown:\n%s", o.String())
			}
			data, _ := os.ReadFile(out)
			data[len(data)/4] ^= 1
			bad := filepath.Join(dir, mode+"-bad.pdf")
			os.WriteFile(bad, data, 0o644)
			o.Reset()
			e.Reset()
			if code := run([]string{"verify", bad, "--config", cfgPath}, &o, &e); code != 1 || !strings.Contains(e.String(), "Seal1") {
				t.Fatalf("tampered: exit %d\n%s%s", code, o.String(), e.String())
			}
		})
	}
}

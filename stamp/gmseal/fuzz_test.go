package gmseal_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
)

// FuzzParse feeds any bytes to the three parsers a verifier runs on what a PDF's /Contents
// holds: they must return an error, never panic or hang. Seeds: the vectors. The SM2 checks
// are left out: under the fuzzer's coverage instrumentation tjfoc's curve arithmetic makes an
// input take seconds (they run on every vector in TestVectors).
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*_*.*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		gmseal.Sniff(b)
		if s, err := gmseal.ParseSeal(b); err == nil {
			s.Lists(s.MakerCert)
			s.ValidAt(s.Created)
		}
		if g, err := gmseal.ParseSignature(b); err == nil {
			g.Seal.Lists(g.Cert)
		}
		gmseal.ParseCMS(b)
	})
}

package stamp_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/pades/padestest"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
)

// BenchmarkStampSignGM is BenchmarkStampSign for a GM seal (SES and CMS modes, tjfoc SM2
// software key) next to PAdES with a P-256 and an RSA-2048 software key, on the same files.
// Figures only (goal: GM within 1.2x of PAdES).
func BenchmarkStampSignGM(b *testing.B) {
	g := newGMIdentity(b)
	ec := padestest.NewIdentity(b, padestest.ECDSA)
	rsa := padestest.NewIdentity(b, padestest.RSA)
	for _, n := range []int{1, 20, 300} {
		data := pdftest.PDF(pdftest.Options{Pages: n, XRefStream: n >= 300})
		for _, kind := range []string{"pades-p256", "pades-rsa", "gm-ses", "gm-cms"} {
			b.Run(fmt.Sprintf("pages=%d/%s", n, kind), func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					doc, err := pdftest.Inspect("bench.pdf", data)
					if err != nil {
						b.Fatal(err)
					}
					pl, _ := placement.AtViewMM(doc.Pages[0].Page, 150, 230, placement.Size{W: 119, H: 119})
					var req stamp.Request
					switch kind {
					case "pades-p256":
						req = request(ec, pl)
					case "pades-rsa":
						req = request(rsa, pl)
					case "gm-ses":
						req = g.request(stamp.GMSES, stamp.Request{Placement: pl})
					case "gm-cms":
						req = g.request(stamp.GMCMS, stamp.Request{Placement: pl})
					}
					if _, err := stamp.Sign(context.Background(), doc, bytes.NewReader(data), req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

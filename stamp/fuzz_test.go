package stamp_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/pades/padestest"
	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
)

// FuzzInspectAndStamp feeds arbitrary bytes to inspection and stamping: nothing may panic, and
// whatever Sign accepts must come out as a file that reads back and verifies; SignFile's order
// (validation while hashing) signs nothing that validation first would refuse. The seed corpus
// is in testdata/fuzz/FuzzInspectAndStamp (generated PDFs, signed ones, damaged ones).
func FuzzInspectAndStamp(f *testing.F) {
	id := padestest.NewIdentity(f, padestest.ECDSA)
	f.Add(pdftest.PDF(pdftest.Options{}))
	f.Add(pdftest.PDF(pdftest.Options{XRefStream: true, Form: true}))
	img := pdftest.Seal(40)
	f.Fuzz(func(t *testing.T, data []byte) {
		// SignFile's order: open, then validate while hashing; whatever it signs, Read
		// (validation first) must accept too.
		signedByParse := false
		if doc, err := pdfinspect.Open("fuzz.pdf", bytes.NewReader(data), int64(len(data))); err == nil && len(doc.Pages) > 0 {
			if pl, ok := fuzzPlacement(doc); ok {
				res, err := stamp.SignValidating(context.Background(), doc, bytes.NewReader(data), stamp.Request{Placement: pl, Image: img, Signer: id.Signer, Chain: id.Chain})
				if err == nil {
					signedByParse = true
					checkFuzzOutput(t, data, res.Update)
				}
			}
		}
		doc, err := pdftest.Inspect("fuzz.pdf", data)
		if err != nil {
			if signedByParse {
				t.Fatalf("signed after validating concurrently a file that Read refuses: %v", err)
			}
			return
		}
		if len(doc.Pages) == 0 {
			t.Fatal("Read succeeded on a document without pages")
		}
		pl, ok := fuzzPlacement(doc)
		if !ok {
			return
		}
		res, err := stamp.Sign(context.Background(), doc, bytes.NewReader(data), stamp.Request{Placement: pl, Image: img, Signer: id.Signer, Chain: id.Chain})
		if err != nil {
			return
		}
		checkFuzzOutput(t, data, res.Update)
	})
}

func fuzzPlacement(doc *pdfinspect.Document) (placement.Placement, bool) {
	p := doc.Pages[0].Page
	cx, cy := p.Crop.Center()
	pl, err := placement.AtPoint(p, cx, cy, placement.Size{W: 50, H: 50}, 0)
	return pl, err == nil
}

// checkFuzzOutput checks that the input followed by the update reads back and verifies.
func checkFuzzOutput(t *testing.T, data, update []byte) {
	t.Helper()
	out := append(data[:len(data):len(data)], update...)
	if _, err := pdfinspect.Parse("stamped.pdf", bytes.NewReader(out), int64(len(out))); err != nil {
		t.Fatalf("the stamped file does not read back: %v", err)
	}
	rep, err := verify.Bytes("stamped.pdf", out, verify.Options{})
	if err != nil {
		t.Fatalf("the stamped file does not verify: %v", err)
	}
	if len(rep.Signatures) == 0 || !rep.Signatures[len(rep.Signatures)-1].Intact {
		t.Fatalf("the new signature is not intact: %+v", rep.Signatures)
	}
}

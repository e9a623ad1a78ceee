package render_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/stamp/render"
)

// checkDamaged opens, renders and searches a possibly damaged file: whatever PDFium
// makes of it, the calls return (no panic, no hang) and every error names the file.
func checkDamaged(t *testing.T, data []byte) {
	const name = "damaged.pdf"
	d, err := shared.Open(name, data)
	if err != nil {
		if !strings.Contains(err.Error(), name) {
			t.Fatalf("open error does not name the file: %v", err)
		}
		return
	}
	defer d.Close()
	if _, err := d.Render(1, 36); err != nil && !strings.Contains(err.Error(), name) {
		t.Fatalf("render error does not name the file: %v", err)
	}
	if _, err := d.FindText("Preview"); err != nil && !strings.Contains(err.Error(), name) {
		t.Fatalf("search error does not name the file: %v", err)
	}
}

// mutate damages a copy of pdf: flipped bytes, a cut, or a repeated chunk.
func mutate(rng *rand.Rand, pdf []byte) []byte {
	b := append([]byte(nil), pdf...)
	switch rng.IntN(3) {
	case 0:
		for range 1 + rng.IntN(8) {
			b[rng.IntN(len(b))] = byte(rng.IntN(256))
		}
	case 1:
		b = b[:rng.IntN(len(b))]
	default:
		i, j := rng.IntN(len(b)), rng.IntN(len(b))
		i, j = min(i, j), max(i, j)
		b = append(b[:j:j], append(b[i:j], b[j:]...)...)
	}
	return b
}

// damageable is a small file with most features (text, a Chinese font, an annotation, a
// signature widget, a rotated and cropped page). No embedded font: when the cross-reference
// table is damaged PDFium scans the whole file, which takes a second for a 3 MB font.
func damageable(t tb) []byte {
	crop := render.Rect{X0: 50, Y0: 40, X1: 350, Y1: 260}
	return makePDF(t, []testPage{{
		media:   render.Rect{X1: 300, Y1: 200},
		content: "1 0 0 rg 20 20 60 60 re f 0 g BT /F1 18 Tf 20 170 Td (Preview) Tj ET BT /F3 12 Tf 20 120 Td " + ucs2Text("盖章处") + " Tj ET",
		annots: []testAnnot{
			{sigWidget: true, rect: render.Rect{X0: 200, Y0: 100, X1: 260, Y1: 160}, ap: "0 0.6 0 rg 0 0 60 60 re f"},
			{rect: render.Rect{X0: 20, Y0: 90, X1: 80, Y1: 130}, ap: "/GS0 gs 1 0 1 rg 0 0 60 40 re f", alpha: 0.5},
		},
	}, {media: render.Rect{X1: 400, Y1: 300}, crop: &crop, rotate: 90, content: markers}})
}

// TestDamagedFilesFailCleanly feeds 300 damaged variants of a file through open, render
// and search. (A Go fuzz target is no better here: the fuzzer sees no coverage inside
// the WebAssembly and ran at under one input a second.)
func TestDamagedFilesFailCleanly(t *testing.T) {
	pdf := damageable(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		checkDamaged(t, mutate(rng, pdf))
	}
	// The shared Renderer still works afterwards.
	if img, err := open(t, drawing(t)).Render(1, 72); err != nil || !near(img.At(50, 150), red, 8) {
		t.Fatalf("render after the damaged files: %v", err)
	}
}

package render_test

import (
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sealkeeper/sealkeeper/stamp/render"
)

// contractPage is a typical page to stamp: Latin and CJK text, rules, a filled box and a
// comment annotation, on an A4 page.
func contractPage(t testing.TB) testPage {
	return testPage{
		media: render.Rect{X1: 595, Y1: 842},
		content: "0 g BT /F1 16 Tf 72 770 Td (Purchase agreement No. 2026-117) Tj ET " +
			"BT /F2 14 Tf 72 740 Td " + cjkText(t, "甲方：北京某某科技有限公司") + " Tj ET " +
			"BT /F2 14 Tf 72 716 Td " + cjkText(t, "乙方：上海某某贸易有限公司") + " Tj ET " +
			"0.2 G 1 w 72 700 m 523 700 l S " +
			"0.9 0.9 1 rg 72 400 451 250 re f 0 0 0.5 RG 2 w 72 400 451 250 re S " +
			"BT /F2 12 Tf 360 150 Td " + cjkText(t, "盖章处") + " Tj ET",
		annots: []testAnnot{{rect: render.Rect{X0: 380, Y0: 60, X1: 520, Y1: 140}, ap: "1 0 0 RG 3 w 2 2 136 76 re S"}},
	}
}

// TestRenderMatchesMutool renders the same page with PDFium and with MuPDF and
// compares the pixels: two independent renderers must agree except for anti-aliasing.
func TestRenderMatchesMutool(t *testing.T) {
	mutool, err := exec.LookPath("mutool")
	if err != nil {
		t.Skip("mutool (mupdf-tools) not installed")
	}
	dir := t.TempDir()
	pdf := makePDF(t, []testPage{contractPage(t)})
	in, out := filepath.Join(dir, "contract.pdf"), filepath.Join(dir, "mutool.png")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(mutool, "draw", "-q", "-r", "100", "-c", "rgb", "-o", out, in, "1").CombinedOutput(); err != nil {
		t.Fatalf("mutool draw: %v: %s", err, msg)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	img, err := open(t, pdf).Render(1, 100)
	if err != nil {
		t.Fatal(err)
	}
	rb, ib := ref.Bounds(), img.Bounds()
	if abs(rb.Dx()-ib.Dx()) > 1 || abs(rb.Dy()-ib.Dy()) > 1 {
		t.Fatalf("size %v, mutool %v", ib.Size(), rb.Size())
	}
	w, h := min(rb.Dx(), ib.Dx()), min(rb.Dy(), ib.Dy())
	var sum float64
	var differ, ink int
	for y := range h {
		for x := range w {
			r1, g1, b1, _ := img.At(x, y).RGBA()
			r2, g2, b2, _ := ref.At(rb.Min.X+x, rb.Min.Y+y).RGBA()
			d := (math.Abs(float64(r1>>8)-float64(r2>>8)) + math.Abs(float64(g1>>8)-float64(g2>>8)) + math.Abs(float64(b1>>8)-float64(b2>>8))) / 3
			sum += d
			if d > 64 {
				differ++
			}
			if r2>>8 < 200 {
				ink++
			}
		}
	}
	mean, share := sum/float64(w*h), float64(differ)/float64(w*h)
	t.Logf("mean difference %.2f/255, %.3f%% pixels differ by more than 64 (ink: %d pixels)", mean, 100*share, ink)
	if mean > 2 || share > 0.005 {
		t.Errorf("render differs from mutool's: mean %.2f/255, %.3f%% pixels off; want ≤ 2 and ≤ 0.5%%", mean, 100*share)
	}
	if ink < 5000 {
		t.Errorf("mutool's render has only %d ink pixels: the page is not what the test meant", ink)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

package render_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/sealkeeper/sealkeeper/stamp/placement"
	"github.com/sealkeeper/sealkeeper/stamp/render"
)

// shared is one Renderer for the tests, as the app has one. Its compilation cache lives
// in the temp folder so repeated test runs start in a fraction of a second.
var shared *render.Renderer

func TestMain(m *testing.M) {
	shared = render.New(render.Options{
		CacheDir: filepath.Join(os.TempDir(), "sealkeeper-render-test-cache"),
		Workers:  2,
	})
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

func open(t testing.TB, pdf []byte) *render.Document {
	t.Helper()
	d, err := shared.Open(t.Name()+".pdf", pdf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// near reports whether c is within tol of want on every channel.
func near(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(x uint32, y uint8) bool { return math.Abs(float64(int(x>>8)-int(y))) <= float64(tol) }
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

var (
	white = color.RGBA{255, 255, 255, 255}
	red   = color.RGBA{255, 0, 0, 255}
	blue  = color.RGBA{0, 0, 255, 255}
	green = color.RGBA{0, 153, 0, 255}
)

// colourAt checks the pixel under user-space point (x, y).
func colourAt(t *testing.T, img *image.RGBA, m render.Mapping, x, y float64, want color.RGBA, what string) {
	t.Helper()
	px, py := m.ToPixel(x, y)
	c := img.At(int(px), int(py))
	if !near(c, want, 8) {
		t.Errorf("%s: pixel (%d,%d) for user (%g,%g) is %v, want %v", what, int(px), int(py), x, y, c, want)
	}
}

// drawing: a 300×200 page with a red square, a blue bar and black text.
func drawing(t testing.TB) []byte {
	return makePDF(t, []testPage{{
		media: render.Rect{X1: 300, Y1: 200},
		content: "1 0 0 rg 20 20 60 60 re f " + // red square 20..80
			"0 0 1 rg 150 120 130 30 re f " + // blue bar 150..280 × 120..150
			"0 g BT /F1 18 Tf 20 170 Td (Preview) Tj ET",
	}})
}

func TestRenderDrawsTheKnownDrawing(t *testing.T) {
	d := open(t, drawing(t))
	info, err := d.Page(1)
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 300 || info.Height != 200 || info.Rotation != 0 || info.Box != (render.Rect{X1: 300, Y1: 200}) {
		t.Fatalf("page info %+v, want 300×200 unrotated", info)
	}
	img, err := d.Render(1, 72)
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Bounds().Size(); got != image.Pt(300, 200) {
		t.Fatalf("72 DPI image is %v, want 300×200", got)
	}
	m := info.Mapping(300, 200)
	colourAt(t, img, m, 50, 50, red, "red square")
	colourAt(t, img, m, 21, 79, red, "red square's top-left corner")
	colourAt(t, img, m, 215, 135, blue, "blue bar")
	colourAt(t, img, m, 100, 100, white, "empty middle")
	colourAt(t, img, m, 85, 50, white, "right of the square")
	// Top-left origin in pixels: the red square is at the bottom of the image.
	if c := img.At(50, 150); !near(c, red, 8) {
		t.Errorf("pixel (50,150) is %v, want red (square 20..80 from the bottom)", c)
	}
	// Text: some dark pixels in the word's box.
	dark := 0
	for y := 200 - 188; y < 200-168; y++ {
		for x := 20; x < 90; x++ {
			if r, _, _, _ := img.At(x, y).RGBA(); r>>8 < 100 {
				dark++
			}
		}
	}
	if dark < 50 {
		t.Errorf("only %d dark pixels where the text is", dark)
	}
}

func TestRenderAtDoubleDPIHasDoublePixels(t *testing.T) {
	d := open(t, drawing(t))
	info, _ := d.Page(1)
	for _, dpi := range []int{50, 100, 200} {
		img, err := d.Render(1, dpi)
		if err != nil {
			t.Fatal(err)
		}
		w, h := info.PixelSize(dpi)
		if img.Bounds().Dx() != w || img.Bounds().Dy() != h {
			t.Errorf("%d DPI: image %v, PixelSize says %d×%d", dpi, img.Bounds().Size(), w, h)
		}
		if want := int(math.Ceil(300 * float64(dpi) / 72)); img.Bounds().Dx() != want {
			t.Errorf("%d DPI: width %d, want %d", dpi, img.Bounds().Dx(), want)
		}
		m := info.Mapping(float64(img.Bounds().Dx()), float64(img.Bounds().Dy()))
		colourAt(t, img, m, 50, 50, red, fmt.Sprintf("%d DPI red square", dpi))
		colourAt(t, img, m, 215, 135, blue, fmt.Sprintf("%d DPI blue bar", dpi))
	}
	a, _ := d.Render(1, 100)
	b, _ := d.Render(1, 200)
	if b.Bounds().Dx() != 2*a.Bounds().Dx() || b.Bounds().Dy() != 2*a.Bounds().Dy() {
		t.Errorf("200 DPI image %v is not twice the 100 DPI image %v", b.Bounds().Size(), a.Bounds().Size())
	}
}

func TestRenderShowsAnnotationsAndSignatureAppearances(t *testing.T) {
	d := open(t, makePDF(t, []testPage{{
		media:   render.Rect{X1: 300, Y1: 200},
		content: "0 0 1 rg 0 0 300 20 re f",
		annots: []testAnnot{
			// An existing seal: a signature field's widget showing a green square.
			{sigWidget: true, rect: render.Rect{X0: 200, Y0: 100, X1: 260, Y1: 160}, ap: "0 0.6 0 rg 0 0 60 60 re f"},
			// A half-transparent comment box: drawn once, so it blends to light magenta.
			{rect: render.Rect{X0: 20, Y0: 90, X1: 80, Y1: 130}, ap: "/GS0 gs 1 0 1 rg 0 0 60 40 re f", alpha: 0.5},
		},
	}}))
	info, _ := d.Page(1)
	img, err := d.Render(1, 72)
	if err != nil {
		t.Fatal(err)
	}
	m := info.Mapping(float64(img.Bounds().Dx()), float64(img.Bounds().Dy()))
	colourAt(t, img, m, 230, 130, green, "signature widget appearance")
	colourAt(t, img, m, 50, 110, color.RGBA{255, 128, 255, 255}, "50% magenta annotation over white")
	colourAt(t, img, m, 150, 10, blue, "page content under the annotations")
	colourAt(t, img, m, 150, 130, white, "between the annotations")

	thumbs, err := d.Thumbnails([]int{1}, 150, 150)
	if err != nil {
		t.Fatal(err)
	}
	tm := info.Mapping(float64(thumbs[0].Bounds().Dx()), float64(thumbs[0].Bounds().Dy()))
	colourAt(t, thumbs[0], tm, 230, 130, green, "signature widget in the thumbnail")
}

// markers draws, inside the crop box (50,40)-(350,260) of a 400×300 media box, a red
// square near the box's bottom-left, a blue square near its top-right, and black
// outside the crop box so a wrong crop shows.
const markers = "0 g 0 0 400 300 re f 1 g 50 40 300 220 re f " +
	"1 0 0 rg 60 50 20 20 re f " + // red 60..80 × 50..70
	"0 0 1 rg 320 230 20 20 re f" // blue 320..340 × 230..250

// centroid is the mean pixel position of colour want, or ok=false if none.
func centroid(img *image.RGBA, want color.RGBA) (x, y float64, ok bool) {
	var sx, sy, n float64
	b := img.Bounds()
	for py := b.Min.Y; py < b.Max.Y; py++ {
		for px := b.Min.X; px < b.Max.X; px++ {
			if near(img.At(px, py), want, 30) {
				sx, sy, n = sx+float64(px)+0.5, sy+float64(py)+0.5, n+1
			}
		}
	}
	return sx / n, sy / n, n > 0
}

func TestRotatedAndCroppedPagesMapPixelsToUserSpace(t *testing.T) {
	crop := render.Rect{X0: 50, Y0: 40, X1: 350, Y1: 260}
	var pages []testPage
	for _, rot := range []int{0, 90, 180, 270, -90} {
		pages = append(pages, testPage{media: render.Rect{X1: 400, Y1: 300}, crop: &crop, rotate: rot, content: markers})
	}
	d := open(t, makePDF(t, pages))
	for i, wantRot := range []int{0, 90, 180, 270, 270} {
		page := i + 1
		info, err := d.Page(page)
		if err != nil {
			t.Fatal(err)
		}
		if info.Rotation != wantRot || info.Box != crop {
			t.Errorf("page %d: rotation %d box %v, want %d and %v", page, info.Rotation, info.Box, wantRot, crop)
		}
		wantW, wantH := 300.0, 220.0
		if wantRot%180 != 0 {
			wantW, wantH = wantH, wantW
		}
		if info.Width != wantW || info.Height != wantH {
			t.Errorf("page %d (%d°): size %gx%g, want %gx%g", page, wantRot, info.Width, info.Height, wantW, wantH)
		}
		img, err := d.Render(page, 144)
		if err != nil {
			t.Fatal(err)
		}
		if sz := img.Bounds().Size(); sz != image.Pt(int(wantW*2), int(wantH*2)) {
			t.Errorf("page %d (%d°): image %v, want %gx%g", page, wantRot, sz, wantW*2, wantH*2)
		}
		m := info.Mapping(float64(img.Bounds().Dx()), float64(img.Bounds().Dy()))
		// Where the markers really are in the image must be where Mapping puts them.
		for _, mk := range []struct {
			c    color.RGBA
			x, y float64
		}{{red, 70, 60}, {blue, 330, 240}} {
			gx, gy, ok := centroid(img, mk.c)
			if !ok {
				t.Errorf("page %d (%d°): marker %v not in the image", page, wantRot, mk.c)
				continue
			}
			px, py := m.ToPixel(mk.x, mk.y)
			if math.Hypot(gx-px, gy-py) > 1 {
				t.Errorf("page %d (%d°): marker %v drawn at pixel (%.1f,%.1f), Mapping says (%.1f,%.1f)", page, wantRot, mk.c, gx, gy, px, py)
			}
			ux, uy := m.ToPDF(gx, gy)
			if math.Hypot(ux-mk.x, uy-mk.y) > 0.5 {
				t.Errorf("page %d (%d°): ToPDF of the marker gives (%.2f,%.2f), want (%g,%g)", page, wantRot, ux, uy, mk.x, mk.y)
			}
		}
		// The stamp engine's geometry maps the same way (zoom 2 = 144 DPI)...
		g := info.Geometry()
		for _, pt := range [][2]float64{{70, 60}, {330, 240}, {50, 40}, {350, 260}} {
			ax, ay := m.ToPixel(pt[0], pt[1])
			bx, by := g.ToPixel(pt[0], pt[1], 2)
			if math.Hypot(ax-bx, ay-by) > 1e-9 {
				t.Errorf("page %d (%d°): user %v: Mapping gives pixel (%g,%g), placement (%g,%g)", page, wantRot, pt, ax, ay, bx, by)
			}
		}
		// ...so a seal dropped on the blue marker in the preview is centred on it in the PDF.
		gx, gy, _ := centroid(img, blue)
		ux, uy := m.ToPDF(gx, gy)
		pl, err := placement.AtPoint(g, ux, uy, placement.Size{W: placement.MM(42), H: placement.MM(42)}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if cx, cy := pl.Widgets[0].Rect.Center(); math.Hypot(cx-330, cy-240) > 0.5 {
			t.Errorf("page %d (%d°): seal dropped on the blue marker is centred at (%.2f,%.2f), want (330,240)", page, wantRot, cx, cy)
		}

		// A seal rectangle maps to pixels and back unchanged.
		seal := render.Rect{X0: 100, Y0: 80, X1: 213.4, Y1: 193.4}
		x0, y0, x1, y1 := m.RectToPixel(seal)
		if back := m.RectToPDF(x0, y0, x1, y1); math.Abs(back.X0-seal.X0)+math.Abs(back.Y0-seal.Y0)+math.Abs(back.X1-seal.X1)+math.Abs(back.Y1-seal.Y1) > 1e-9 {
			t.Errorf("page %d: rect round trip %v → %v", page, seal, back)
		}
	}
}

func TestFindTextFindsCJKKeywordWhereItWasPut(t *testing.T) {
	kw := cjkText(t, "盖章处")
	other := cjkText(t, "甲方：")
	d := open(t, makePDF(t, []testPage{
		{media: render.Rect{X1: 595, Y1: 842}, content: "BT /F1 12 Tf 72 760 Td (Contract, page one.) Tj ET"},
		{media: render.Rect{X1: 595, Y1: 842}, content: "BT /F2 14 Tf 72 700 Td " + other + " Tj ET BT /F2 20 Tf 400 120 Td " + kw + " Tj ET"},
		{media: render.Rect{X1: 595, Y1: 842}, rotate: 90, content: "BT /F2 10 Tf 50 50 Td " + kw + " Tj ET BT /F2 10 Tf 300 500 Td " + kw + " Tj ET"},
	}))
	hits, err := d.FindText("盖章处")
	if err != nil {
		t.Fatal(err)
	}
	type put struct {
		page       int
		x, y, size float64
	}
	want := []put{{2, 400, 120, 20}, {3, 50, 50, 10}, {3, 300, 500, 10}}
	if len(hits) != len(want) {
		t.Fatalf("got %d hits %v, want %d", len(hits), hits, len(want))
	}
	for i, w := range want {
		h := hits[i]
		// Three full-width glyphs, each one em wide, sitting on the baseline.
		if h.Page != w.page ||
			math.Abs(h.Rect.X0-w.x) > 0.15*w.size || math.Abs(h.Rect.X1-(w.x+3*w.size)) > 0.15*w.size ||
			h.Rect.Y0 < w.y-0.25*w.size || h.Rect.Y0 > w.y+0.1*w.size ||
			h.Rect.Y1 < w.y+0.7*w.size || h.Rect.Y1 > w.y+1.1*w.size {
			t.Errorf("hit %d: %+v, want page %d text at (%g,%g) size %g", i, h, w.page, w.x, w.y, w.size)
		}
	}

	// A hit goes straight into the stamp engine's keyword placement.
	pl, err := placement.AtKeyword(placement.Page{Number: 2, Crop: render.Rect{X1: 595, Y1: 842}}, hits[0].Rect, placement.Size{W: 119, H: 119})
	if err != nil {
		t.Fatal(err)
	}
	if cx, cy := pl.Widgets[0].Rect.Center(); math.Abs(cx-(400+30)) > 3 || math.Abs(cy-(120+7)) > 4 {
		t.Errorf("seal at the keyword is centred at (%.1f,%.1f), want about (430,127)", cx, cy)
	}

	latin, err := d.FindText("CONTRACT")
	if err != nil {
		t.Fatal(err)
	}
	if len(latin) != 1 || latin[0].Page != 1 || math.Abs(latin[0].Rect.X0-72) > 2 {
		t.Errorf("Latin keyword, any case: %+v, want one hit on page 1 at x≈72", latin)
	}
	none, err := d.FindText("骑缝章")
	if err != nil || len(none) != 0 {
		t.Errorf("absent keyword: %v, %v; want no hits and no error", none, err)
	}
	if _, err := d.FindText("  "); err == nil {
		t.Error("empty keyword: no error")
	}
}

// A font that is not embedded has no outlines in the sandbox; the keyword is still
// found, with the height of its line.
func TestFindTextWithANonEmbeddedChineseFont(t *testing.T) {
	d := open(t, makePDF(t, []testPage{{
		media:   render.Rect{X1: 595, Y1: 842},
		content: "BT /F3 16 Tf 72 640 Td " + ucs2Text("关于印发电子印章管理办法的通知") + " Tj ET",
	}}))
	hits, err := d.FindText("印章管理")
	if err != nil {
		t.Fatal(err)
	}
	// The seventh to tenth of 16-point full-width characters from x = 72; the descriptor's
	// descent and ascent are -120 and 880 thousandths.
	want := render.Rect{X0: 72 + 6*16, Y0: 640 - 0.12*16, X1: 72 + 10*16, Y1: 640 + 0.88*16}
	if len(hits) != 1 || hits[0].Page != 1 ||
		math.Abs(hits[0].Rect.X0-want.X0) > 0.5 || math.Abs(hits[0].Rect.X1-want.X1) > 0.5 ||
		math.Abs(hits[0].Rect.Y0-want.Y0) > 0.5 || math.Abs(hits[0].Rect.Y1-want.Y1) > 0.5 {
		t.Errorf("hits %v, want one on page 1 at %v", hits, want)
	}
}

func TestThumbnailsFitTheBox(t *testing.T) {
	d := open(t, makePDF(t, []testPage{
		{media: render.Rect{X1: 595, Y1: 842}, content: markers},
		{media: render.Rect{X1: 595, Y1: 842}, rotate: 90, content: markers},
	}))
	thumbs, err := d.Thumbnails([]int{1, 2}, 120, 120)
	if err != nil {
		t.Fatal(err)
	}
	if len(thumbs) != 2 {
		t.Fatalf("%d thumbnails, want 2", len(thumbs))
	}
	for i, th := range thumbs {
		s := th.Bounds().Size()
		if s.X > 120 || s.Y > 120 || max(s.X, s.Y) < 119 {
			t.Errorf("thumbnail %d is %v, want to fit 120×120 touching one side", i+1, s)
		}
	}
	if a, b := thumbs[0].Bounds().Size(), thumbs[1].Bounds().Size(); a.X >= a.Y || b.X <= b.Y {
		t.Errorf("portrait page thumbnail %v and its 90° rotation %v: want tall then wide", a, b)
	}
	if _, err := d.Thumbnails([]int{3}, 100, 100); err == nil || !strings.Contains(err.Error(), "no page 3") {
		t.Errorf("thumbnail of a missing page: %v", err)
	}
}

func TestBrokenInputGivesClearErrors(t *testing.T) {
	good := drawing(t)
	for name, data := range map[string][]byte{
		"garbage.pdf":   []byte("this is a spreadsheet, not a PDF"),
		"empty.pdf":     nil,
		"truncated.pdf": good[:40],
	} {
		_, err := shared.Open(name, data)
		if err == nil || !strings.Contains(err.Error(), name+" is not a readable PDF") {
			t.Errorf("%s: error %v, want one saying it is not a readable PDF", name, err)
		}
	}
	d := open(t, good)
	if _, err := d.Render(2, 72); err == nil || !strings.Contains(err.Error(), "no page 2") {
		t.Errorf("render of a missing page: %v", err)
	}
	if _, err := d.Render(1, 0); err == nil {
		t.Error("render at 0 DPI: no error")
	}
	if _, err := shared.OpenFile(filepath.Join(t.TempDir(), "missing.pdf")); err == nil || !strings.Contains(err.Error(), "missing.pdf") {
		t.Errorf("missing file: %v", err)
	}
	// A broken document does not disturb the next one.
	if _, err := d.Render(1, 72); err != nil {
		t.Errorf("render after the failures: %v", err)
	}
	d.Close()
	if _, err := d.Render(1, 72); err == nil {
		t.Error("render after Close: no error")
	}
}

func TestOpenFileAndConcurrentUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "contract.pdf")
	if err := os.WriteFile(path, drawing(t), 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			d, err := shared.OpenFile(path)
			if err != nil {
				errs <- err
				return
			}
			defer d.Close()
			for range 3 {
				img, err := d.Render(1, 72)
				if err != nil {
					errs <- err
					return
				}
				if c := img.At(50, 150); !near(c, red, 8) {
					errs <- fmt.Errorf("concurrent render: pixel %v, want red", c)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCacheDirIsFilledAndReused(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles PDFium (~5 s)")
	}
	dir := t.TempDir()
	for i := range 2 {
		r := render.New(render.Options{CacheDir: dir})
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
		d, err := r.Open("drawing.pdf", drawing(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Render(1, 72); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if _, err := d.Render(1, 72); err == nil {
			t.Errorf("run %d: render after the Renderer closed: no error", i)
		}
		n := 0
		filepath.WalkDir(dir, func(string, os.DirEntry, error) error { n++; return nil })
		if n < 2 {
			t.Errorf("run %d: cache folder has %d entries, want the compiled module", i, n)
		}
	}
}

func TestPasswordProtectedPDFIsRefusedWithReason(t *testing.T) {
	api.DisableConfigDir() // pdfcpu must not write a config folder in $HOME
	var enc bytes.Buffer
	if err := api.Encrypt(bytes.NewReader(drawing(t)), &enc, model.NewAESConfiguration("user-secret", "owner-secret", 256)); err != nil {
		t.Fatal(err)
	}
	_, err := shared.Open("secret.pdf", enc.Bytes())
	if err == nil || !strings.Contains(err.Error(), "secret.pdf is password-protected") {
		t.Errorf("encrypted file: %v, want a password-protected error naming it", err)
	}
}

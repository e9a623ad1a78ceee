package placement_test

import (
	"math"
	"testing"

	"github.com/sealkeeper/sealkeeper/stamp/placement"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

var crop = placement.Rect{X0: 20, Y0: 30, X1: 520, Y1: 830}

func TestViewRoundTrip(t *testing.T) {
	for _, rot := range []int{0, 90, 180, 270, -90, 450} {
		p := placement.Page{Number: 1, Crop: crop, Rotate: rot}
		for _, pt := range [][2]float64{{20, 30}, {100, 700}, {520, 830}, {300.5, 31}} {
			vx, vy := p.ToView(pt[0], pt[1])
			x, y := p.FromView(vx, vy)
			if !near(x, pt[0]) || !near(y, pt[1]) {
				t.Errorf("rotate %d: %v -> (%g,%g) -> (%g,%g)", rot, pt, vx, vy, x, y)
			}
			for _, zoom := range []float64{0.5, 1, 100.0 / 72, 3.7} {
				px, py := p.ToPixel(pt[0], pt[1], zoom)
				x, y := p.FromPixel(px, py, zoom)
				if !near(x, pt[0]) || !near(y, pt[1]) {
					t.Errorf("rotate %d zoom %g: pixel round trip of %v gives (%g,%g)", rot, zoom, pt, x, y)
				}
			}
		}
	}
}

// The shown top-left corner of the page maps to view (0,0) and the shown size is swapped for
// quarter turns.
func TestViewCorners(t *testing.T) {
	want := map[int][2]float64{0: {20, 830}, 90: {20, 30}, 180: {520, 30}, 270: {520, 830}}
	for rot, corner := range want {
		p := placement.Page{Crop: crop, Rotate: rot}
		x, y := p.FromView(0, 0)
		if !near(x, corner[0]) || !near(y, corner[1]) {
			t.Errorf("rotate %d: top-left is (%g,%g), want %v", rot, x, y, corner)
		}
		w, h := p.ViewSize()
		if (rot%180 == 0 && (w != 500 || h != 800)) || (rot%180 == 90 && (w != 800 || h != 500)) {
			t.Errorf("rotate %d: view size %gx%g", rot, w, h)
		}
	}
}

// The image matrix maps the seal's upright corners to the widget box so that, after the page's
// rotation, the image's top is at the top of the screen.
func TestImageMatrixUpright(t *testing.T) {
	s := placement.Size{W: 100, H: 60}
	for _, rot := range []int{0, 90, 180, 270} {
		p := placement.Page{Number: 1, Crop: crop, Rotate: rot}
		pl, err := placement.AtViewMM(p, 80, 90, s)
		if err != nil {
			t.Fatal(err)
		}
		w := pl.Widgets[0]
		m := w.ImageMatrix()
		// Image unit square corner (0,1) is the image's top-left; in view space it must be the
		// top-left of the seal's box, and (1,0) the bottom-right.
		toView := func(u, v float64) (float64, float64) {
			x, y := m.Apply(u, v)
			return p.ToView(w.Rect.X0+x, w.Rect.Y0+y)
		}
		cx, cy := placement.MM(80), placement.MM(90)
		tlx, tly := toView(0, 1)
		brx, bry := toView(1, 0)
		if !near(tlx, cx-50) || !near(tly, cy-30) || !near(brx, cx+50) || !near(bry, cy+30) {
			t.Errorf("rotate %d: image top-left at (%g,%g), bottom-right at (%g,%g); want (%g,%g) and (%g,%g)",
				rot, tlx, tly, brx, bry, cx-50, cy-30, cx+50, cy+30)
		}
	}
}

func TestRidingSeam(t *testing.T) {
	s := placement.Size{W: 119, H: 119}
	var pages []placement.Page
	for i := 1; i <= 7; i++ {
		pages = append(pages, placement.Page{Number: i, Crop: crop, Rotate: (i % 4) * 90})
	}
	for _, edge := range []placement.Edge{placement.Left, placement.Right} {
		pl, err := placement.RidingSeamOn(pages, edge, 100, s)
		if err != nil {
			t.Fatal(err)
		}
		if pl.Kind != placement.RidingSeam || len(pl.Widgets) != 7 {
			t.Fatalf("got %v with %d widgets", pl.Kind, len(pl.Widgets))
		}
		seen := map[int]bool{}
		total := 0.0
		for i, w := range pl.Widgets {
			v := pages[i].RectToView(w.Rect)
			vw, _ := pages[i].ViewSize()
			if (edge == placement.Right && !near(v.X1, vw)) || (edge == placement.Left && !near(v.X0, 0)) {
				t.Errorf("page %d: slice not on the edge: %+v", i+1, v)
			}
			if !near(v.Y0+v.H()/2, placement.MM(100)) {
				t.Errorf("page %d: slice centre %g from the top", i+1, v.Y0+v.H()/2)
			}
			seen[w.Slice] = true
			total += v.W()
		}
		if len(seen) != 7 || !near(total, s.W) {
			t.Errorf("slices %v add up to %g, want 7 distinct slices of %g", seen, total, s.W)
		}
	}
	if _, err := placement.RidingSeamOn(pages[:1], placement.Right, 100, s); err == nil {
		t.Error("a one-page riding seam was accepted")
	}
	if _, err := placement.RidingSeamOn(pages, placement.Right, 5, s); err == nil {
		t.Error("a seal sticking out of the page was accepted")
	}
}

func TestSealSize(t *testing.T) {
	s, err := placement.SealSize(42, 400, 200)
	if err != nil || !near(s.W, 42*72/25.4) || !near(s.H, s.W/2) {
		t.Errorf("got %+v, %v", s, err)
	}
	for _, mm := range []float64{0, -1, 1000, math.NaN()} {
		if _, err := placement.SealSize(mm, 10, 10); err == nil {
			t.Errorf("size %g accepted", mm)
		}
	}
}

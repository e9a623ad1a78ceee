// Package placement says where a seal goes: in PDF user space (what the signature widget needs),
// with the mapping to and from the page as it is shown (crop box, /Rotate) and to screen pixels
// at any zoom (what the preview needs). It knows nothing about PDF files.
//
// Three coordinate systems appear here:
//   - user space: PDF points, y up, as in the page's content and /Rect;
//   - view space: points on the page as displayed, origin at the shown top-left corner of the
//     crop box, y down, after /Rotate;
//   - pixels: view space times zoom (zoom = dpi/72).
package placement

import (
	"errors"
	"fmt"
	"math"
)

// PointsPerMM converts millimetres to PDF points.
const PointsPerMM = 72 / 25.4

// MM converts millimetres to points.
func MM(mm float64) float64 { return mm * PointsPerMM }

// Rect is a rectangle with X0 <= X1 and Y0 <= Y1.
type Rect struct{ X0, Y0, X1, Y1 float64 }

// W is the width.
func (r Rect) W() float64 { return r.X1 - r.X0 }

// H is the height.
func (r Rect) H() float64 { return r.Y1 - r.Y0 }

// Center is the midpoint.
func (r Rect) Center() (x, y float64) { return (r.X0 + r.X1) / 2, (r.Y0 + r.Y1) / 2 }

func normRect(x0, y0, x1, y1 float64) Rect {
	return Rect{math.Min(x0, x1), math.Min(y0, y1), math.Max(x0, x1), math.Max(y0, y1)}
}

// Page is one page's geometry: its visible box (the crop box, clipped to the media box) and its
// /Rotate (0, 90, 180 or 270: clockwise as displayed).
type Page struct {
	Number int // 1-based
	Crop   Rect
	Rotate int
}

// NormRotate brings any multiple of 90 into 0..270.
func NormRotate(r int) int { return ((r%360)+360)%360 - ((r%360)+360)%90 }

// ViewSize is the page's size as shown, in points.
func (p Page) ViewSize() (w, h float64) {
	if r := NormRotate(p.Rotate); r == 90 || r == 270 {
		return p.Crop.H(), p.Crop.W()
	}
	return p.Crop.W(), p.Crop.H()
}

// FromView maps a view-space point to user space.
func (p Page) FromView(vx, vy float64) (x, y float64) {
	c := p.Crop
	switch NormRotate(p.Rotate) {
	case 90:
		return c.X0 + vy, c.Y0 + vx
	case 180:
		return c.X1 - vx, c.Y0 + vy
	case 270:
		return c.X1 - vy, c.Y1 - vx
	}
	return c.X0 + vx, c.Y1 - vy
}

// ToView maps a user-space point to view space.
func (p Page) ToView(x, y float64) (vx, vy float64) {
	c := p.Crop
	switch NormRotate(p.Rotate) {
	case 90:
		return y - c.Y0, x - c.X0
	case 180:
		return c.X1 - x, y - c.Y0
	case 270:
		return c.Y1 - y, c.X1 - x
	}
	return x - c.X0, c.Y1 - y
}

// RectFromView maps a view-space rectangle to user space.
func (p Page) RectFromView(v Rect) Rect {
	x0, y0 := p.FromView(v.X0, v.Y0)
	x1, y1 := p.FromView(v.X1, v.Y1)
	return normRect(x0, y0, x1, y1)
}

// RectToView maps a user-space rectangle to view space.
func (p Page) RectToView(r Rect) Rect {
	x0, y0 := p.ToView(r.X0, r.Y0)
	x1, y1 := p.ToView(r.X1, r.Y1)
	return normRect(x0, y0, x1, y1)
}

// ToPixel maps a user-space point to pixels of the page rendered at zoom pixels per point.
func (p Page) ToPixel(x, y, zoom float64) (px, py float64) {
	vx, vy := p.ToView(x, y)
	return vx * zoom, vy * zoom
}

// FromPixel maps a pixel of the page rendered at zoom pixels per point to user space.
func (p Page) FromPixel(px, py, zoom float64) (x, y float64) {
	return p.FromView(px/zoom, py/zoom)
}

// Size is a seal's size as displayed, in points.
type Size struct{ W, H float64 }

// SealSize is the displayed size of a seal image of imgW×imgH pixels whose width is mm
// millimetres (a Chinese official seal is commonly 40-42 mm across).
func SealSize(mm float64, imgW, imgH int) (Size, error) {
	if !(mm > 0 && mm <= 300) {
		return Size{}, fmt.Errorf("seal size %.1f mm is out of range (1-300 mm)", mm)
	}
	if imgW <= 0 || imgH <= 0 {
		return Size{}, errors.New("the seal image is empty")
	}
	w := MM(mm)
	return Size{W: w, H: w * float64(imgH) / float64(imgW)}, nil
}

// Kind is what sort of stamping a Placement is.
type Kind int

// Kinds of placement.
const (
	Single     Kind = iota // one seal on one page
	MultiPage              // the same seal on several chosen pages (one signature)
	RidingSeam             // 骑缝章: one slice of the seal on the edge of each chosen page
	Keyword                // one seal centred on a keyword found in the page's text
)

func (k Kind) String() string {
	return [...]string{"single", "multi-page", "riding-seam", "keyword"}[k]
}

// Widget is one visible part of a seal: a signature widget annotation on a page.
type Widget struct {
	Page   int  // 1-based page number
	Rect   Rect // the widget's /Rect in user space
	Rotate int  // the page's /Rotate, so that the seal is upright as displayed
	// Angle turns the seal counter-clockwise as displayed, in degrees (whole seals only).
	Angle float64
	// Seal is the whole seal's displayed size.
	Seal Size
	// Slice and Slices: this widget shows slice number Slice (0 = leftmost as displayed) of a
	// seal cut into Slices vertical strips; Slices == 0 means the whole seal.
	Slice, Slices int
}

// Placement is a seal's placement: one signature, one or more widgets.
type Placement struct {
	Kind    Kind
	Widgets []Widget
}

// rotatedBox is the displayed bounding box of a w×h seal turned by angle degrees.
func rotatedBox(s Size, angle float64) (w, h float64) {
	a := angle * math.Pi / 180
	c, sn := math.Abs(math.Cos(a)), math.Abs(math.Sin(a))
	return s.W*c + s.H*sn, s.W*sn + s.H*c
}

func whole(p Page, cx, cy float64, s Size, angle float64) Widget {
	vx, vy := p.ToView(cx, cy)
	w, h := rotatedBox(s, angle)
	r := p.RectFromView(Rect{vx - w/2, vy - h/2, vx + w/2, vy + h/2})
	return Widget{Page: p.Number, Rect: r, Rotate: NormRotate(p.Rotate), Angle: angle, Seal: s}
}

func checkSize(s Size) error {
	if !(s.W > 0 && s.H > 0) || math.IsInf(s.W, 0) || math.IsInf(s.H, 0) {
		return errors.New("the seal size must be positive")
	}
	return nil
}

// AtPoint places one seal centred on the user-space point (cx, cy) of page p.
func AtPoint(p Page, cx, cy float64, s Size, angle float64) (Placement, error) {
	if err := checkSize(s); err != nil {
		return Placement{}, err
	}
	return Placement{Kind: Single, Widgets: []Widget{whole(p, cx, cy, s, angle)}}, nil
}

// AtViewMM places one seal centred x mm from the left and y mm from the top of the page as
// displayed (what a custodian measures on paper).
func AtViewMM(p Page, xmm, ymm float64, s Size) (Placement, error) {
	cx, cy := p.FromView(MM(xmm), MM(ymm))
	return AtPoint(p, cx, cy, s, 0)
}

// OnPages places the same seal on several pages, each centred x mm from the left and y mm
// from the top of that page as displayed.
func OnPages(pages []Page, xmm, ymm float64, s Size) (Placement, error) {
	if len(pages) == 0 {
		return Placement{}, errors.New("no pages chosen")
	}
	if err := checkSize(s); err != nil {
		return Placement{}, err
	}
	pl := Placement{Kind: MultiPage}
	if len(pages) == 1 {
		pl.Kind = Single
	}
	for _, p := range pages {
		cx, cy := p.FromView(MM(xmm), MM(ymm))
		pl.Widgets = append(pl.Widgets, whole(p, cx, cy, s, 0))
	}
	return pl, nil
}

// AtKeyword centres one seal on a keyword's box (user space, as found in the text layer).
func AtKeyword(p Page, hit Rect, s Size) (Placement, error) {
	cx, cy := hit.Center()
	pl, err := AtPoint(p, cx, cy, s, 0)
	pl.Kind = Keyword
	return pl, err
}

// Edge is the page edge of a riding-seam seal.
type Edge int

// Edges for RidingSeamOn.
const (
	Right Edge = iota
	Left
)

// RidingSeamOn cuts the seal into one vertical slice per page and puts each slice on the page's
// edge as displayed, its centre ymm millimetres from the top. Fanned out, the pages' edges show
// the whole seal: on the right edge page 1 carries the leftmost slice; on the left edge, the
// rightmost.
func RidingSeamOn(pages []Page, edge Edge, ymm float64, s Size) (Placement, error) {
	if len(pages) < 2 {
		return Placement{}, errors.New("a riding-seam seal needs at least 2 pages")
	}
	if err := checkSize(s); err != nil {
		return Placement{}, err
	}
	n := len(pages)
	sw := s.W / float64(n)
	pl := Placement{Kind: RidingSeam}
	vy := MM(ymm)
	for i, p := range pages {
		w, h := p.ViewSize()
		if vy-s.H/2 < 0 || vy+s.H/2 > h {
			return Placement{}, fmt.Errorf("page %d: a seal %.0f mm high centred %.0f mm from the top does not fit on a page %.0f mm high", p.Number, s.H/PointsPerMM, ymm, h/PointsPerMM)
		}
		v := Rect{w - sw, vy - s.H/2, w, vy + s.H/2}
		slice := i
		if edge == Left {
			v.X0, v.X1 = 0, sw
			slice = n - 1 - i
		}
		pl.Widgets = append(pl.Widgets, Widget{
			Page: p.Number, Rect: p.RectFromView(v), Rotate: NormRotate(p.Rotate),
			Seal: s, Slice: slice, Slices: n,
		})
	}
	return pl, nil
}

// Matrix is a PDF transformation matrix [a b c d e f].
type Matrix [6]float64

// Mul returns m then n (a point is transformed by m first).
func (m Matrix) Mul(n Matrix) Matrix {
	return Matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

// Apply transforms a point.
func (m Matrix) Apply(x, y float64) (float64, float64) {
	return m[0]*x + m[2]*y + m[4], m[1]*x + m[3]*y + m[5]
}

// ImageMatrix maps the image's unit square (as PDF draws images) into the widget's
// appearance space, whose origin is the /Rect's lower-left corner: the seal (or the shown
// slice of it) appears upright and unmirrored on the displayed page.
func (w Widget) ImageMatrix() Matrix {
	rw, rh := w.Rect.W(), w.Rect.H()
	// The box as displayed: size vw×vh, coordinates (u right, v up).
	vw, vh := rw, rh
	var toForm Matrix // displayed box -> appearance space
	switch NormRotate(w.Rotate) {
	case 90:
		vw, vh = rh, rw
		toForm = Matrix{0, 1, -1, 0, rw, 0}
	case 180:
		toForm = Matrix{-1, 0, 0, -1, rw, rh}
	case 270:
		vw, vh = rh, rw
		toForm = Matrix{0, -1, 1, 0, 0, rh}
	default:
		toForm = Matrix{1, 0, 0, 1, 0, 0}
	}
	var img Matrix // unit square -> displayed box
	if w.Slices > 0 {
		sw := w.Seal.W / float64(w.Slices)
		img = Matrix{w.Seal.W, 0, 0, vh, -float64(w.Slice) * sw, 0}
	} else {
		a := w.Angle * math.Pi / 180
		c, s := math.Cos(a), math.Sin(a)
		img = Matrix{w.Seal.W, 0, 0, w.Seal.H, -w.Seal.W / 2, -w.Seal.H / 2}.
			Mul(Matrix{c, s, -s, c, 0, 0}).
			Mul(Matrix{1, 0, 0, 1, vw / 2, vh / 2})
	}
	return img.Mul(toForm)
}

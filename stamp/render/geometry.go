package render

import (
	"math"

	"github.com/sealkeeper/sealkeeper/stamp/placement"
)

// Rect is a rectangle in PDF user space: points (1/72 inch), origin bottom-left, Y up,
// with X0 <= X1 and Y0 <= Y1. It is package placement's Rect, so a TextHit's Rect goes
// straight into placement.AtKeyword.
type Rect = placement.Rect

func normRect(r Rect) Rect {
	return Rect{X0: math.Min(r.X0, r.X1), Y0: math.Min(r.Y0, r.Y1), X1: math.Max(r.X0, r.X1), Y1: math.Max(r.Y0, r.Y1)}
}

func union(r, o Rect) Rect {
	return Rect{X0: math.Min(r.X0, o.X0), Y0: math.Min(r.Y0, o.Y0), X1: math.Max(r.X1, o.X1), Y1: math.Max(r.Y1, o.Y1)}
}

// PageInfo describes one page as the preview shows it.
type PageInfo struct {
	// Number is the 1-based page number.
	Number int
	// Box is the visible area in user space: the crop box clipped to the media box
	// (the media box when there is no crop box), as PDF viewers show it.
	Box Rect
	// Rotation is the page's /Rotate, normalised to 0, 90, 180 or 270 degrees clockwise.
	Rotation int
	// Width and Height are the displayed size in points, after rotation
	// (for a 90° or 270° page they are Box's height and width).
	Width, Height float64
}

// Geometry is the page as package placement describes it (Crop is Box, Rotate is
// Rotation), for placing a seal on it. placement.Page's pixel mapping with zoom dpi/72
// and Mapping agree; Mapping also absorbs Render's rounding up to whole pixels.
func (p PageInfo) Geometry() placement.Page {
	return placement.Page{Number: p.Number, Crop: p.Box, Rotate: p.Rotation}
}

// PixelSize is the size in pixels of the image Render returns for this page at dpi.
func (p PageInfo) PixelSize(dpi int) (width, height int) {
	s := float64(dpi) / 72
	return int(math.Ceil(p.Width * s)), int(math.Ceil(p.Height * s))
}

// Mapping returns the conversion between user space and the pixels of this page shown
// as an image of width×height pixels (top-left origin, Y down), e.g. the image Render
// returned, or that image scaled to any zoom. Pass the image's real size: Render rounds
// the size up to whole pixels and stretches the page over it, so the scale is
// width/Width, not exactly dpi/72.
func (p PageInfo) Mapping(width, height float64) Mapping {
	sx, sy := width/p.Width, height/p.Height
	b := p.Box
	// Pixel = M·(x, y, 1). Rotation is clockwise as displayed: the page's top edge
	// (y = Y1) ends on the right for 90°, at the bottom for 180°, on the left for 270°.
	var m Mapping
	switch p.Rotation {
	case 90:
		m = Mapping{a: 0, b: sx, c: -sx * b.Y0, d: sy, e: 0, f: -sy * b.X0}
	case 180:
		m = Mapping{a: -sx, b: 0, c: sx * b.X1, d: 0, e: sy, f: -sy * b.Y0}
	case 270:
		m = Mapping{a: 0, b: -sx, c: sx * b.Y1, d: -sy, e: 0, f: sy * b.X1}
	default:
		m = Mapping{a: sx, b: 0, c: -sx * b.X0, d: 0, e: -sy, f: sy * b.Y1}
	}
	return m
}

// Mapping is an affine map from PDF user space to image pixels and back, for one page
// at one image size. Pixel coordinates are continuous: pixel (i, j) covers
// [i, i+1)×[j, j+1), so its centre is (i+0.5, j+0.5).
type Mapping struct {
	// px = a·x + b·y + c; py = d·x + e·y + f
	a, b, c, d, e, f float64
}

// ToPixel converts a point in user space to image pixels.
func (m Mapping) ToPixel(x, y float64) (px, py float64) {
	return m.a*x + m.b*y + m.c, m.d*x + m.e*y + m.f
}

// ToPDF converts a point in image pixels to user space.
func (m Mapping) ToPDF(px, py float64) (x, y float64) {
	det := m.a*m.e - m.b*m.d
	u, v := px-m.c, py-m.f
	return (m.e*u - m.b*v) / det, (m.a*v - m.d*u) / det
}

// RectToPixel converts a user-space rectangle to the pixel rectangle it covers
// (min corner first), e.g. to draw a seal's outline over the preview.
func (m Mapping) RectToPixel(r Rect) (x0, y0, x1, y1 float64) {
	ax, ay := m.ToPixel(r.X0, r.Y0)
	bx, by := m.ToPixel(r.X1, r.Y1)
	return math.Min(ax, bx), math.Min(ay, by), math.Max(ax, bx), math.Max(ay, by)
}

// RectToPDF converts a pixel rectangle to the user-space rectangle it covers.
func (m Mapping) RectToPDF(x0, y0, x1, y1 float64) Rect {
	ax, ay := m.ToPDF(x0, y0)
	bx, by := m.ToPDF(x1, y1)
	return normRect(Rect{X0: ax, Y0: ay, X1: bx, Y1: by})
}

package assets

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"sync"

	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// SealRed is the red of a Chinese official seal's ink.
var SealRed = color.NRGBA{R: 0xE6, G: 0x00, B: 0x12, A: 0xFF}

var (
	boldOnce sync.Once
	boldFace *sfnt.Font
	boldErr  error
)

func bold() (*sfnt.Font, error) {
	boldOnce.Do(func() { boldFace, boldErr = sfnt.Parse(FontBold) })
	return boldFace, boldErr
}

// DemoSeal draws a round official seal the way Chinese organisations' seals look: a red ring,
// the organisation's name running clockwise along the top, a five-pointed star in the middle and
// the seal's purpose under it. px is the width and height; the background is transparent and the
// edges are anti-aliased, so the image can be put on a page as is. It is for demo workspaces
// only: a real seal image comes from the organisation.
func DemoSeal(org, purpose string, px int) (*image.NRGBA, error) {
	if px < 64 {
		return nil, fmt.Errorf("seal image of %d px is too small to draw; use at least 64", px)
	}
	f, err := bold()
	if err != nil {
		return nil, fmt.Errorf("loading the embedded seal font: %w", err)
	}
	s := float32(px)
	c := s / 2
	R := s / 2 * 0.97
	z := vector.NewRasterizer(px, px)

	// The ring: outer circle one way, inner circle the other, so the rasterizer's winding
	// leaves the inside empty.
	circle(z, c, c, R, false)
	circle(z, c, c, R*0.92, true)
	star(z, c, c, R*0.27)

	var buf sfnt.Buffer
	runes := []rune(org)
	if n := len(runes); n > 0 {
		size := R * 0.27
		if n > 12 {
			size = R * 0.27 * 12 / float32(n)
		}
		span := math.Min(240, float64(n)*24) * math.Pi / 180
		for i, r := range runes {
			theta := -span/2 + span*(float64(i)+0.5)/float64(n)
			if err := glyphOnArc(z, f, &buf, r, size, c, c, R*0.86-size, theta); err != nil {
				return nil, err
			}
		}
	}
	if p := []rune(purpose); len(p) > 0 {
		size := R * 0.17
		adv := make([]float32, len(p))
		var width float32
		for i, r := range p {
			gi, err := f.GlyphIndex(&buf, r)
			if err != nil {
				return nil, fmt.Errorf("the seal font has no glyph for %q: %w", r, err)
			}
			a, err := f.GlyphAdvance(&buf, gi, fixed.Int26_6(size*64), 0)
			if err != nil {
				return nil, fmt.Errorf("measuring %q: %w", r, err)
			}
			adv[i] = float32(a) / 64
			width += adv[i]
		}
		x := c - width/2
		for i, r := range p {
			if err := glyphAt(z, f, &buf, r, size, x, c+R*0.55); err != nil {
				return nil, err
			}
			x += adv[i]
		}
	}

	img := image.NewNRGBA(image.Rect(0, 0, px, px))
	mask := image.NewAlpha(img.Bounds())
	z.Draw(mask, mask.Bounds(), image.Opaque, image.Point{})
	// Straight (not premultiplied) alpha: every pixel is pure seal red and only its alpha
	// varies, so anti-aliased edges never darken when the image is composited on paper.
	for i, a := range mask.Pix {
		if a == 0 {
			continue
		}
		o := i * 4
		img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = SealRed.R, SealRed.G, SealRed.B, a
	}
	return img, nil
}

// circle adds a circle of four cubic arcs; reverse flips the winding.
func circle(z *vector.Rasterizer, cx, cy, r float32, reverse bool) {
	const k = 0.5522847498 // control distance for a quarter circle
	d := r * k
	if !reverse {
		z.MoveTo(cx+r, cy)
		z.CubeTo(cx+r, cy+d, cx+d, cy+r, cx, cy+r)
		z.CubeTo(cx-d, cy+r, cx-r, cy+d, cx-r, cy)
		z.CubeTo(cx-r, cy-d, cx-d, cy-r, cx, cy-r)
		z.CubeTo(cx+d, cy-r, cx+r, cy-d, cx+r, cy)
	} else {
		z.MoveTo(cx+r, cy)
		z.CubeTo(cx+r, cy-d, cx+d, cy-r, cx, cy-r)
		z.CubeTo(cx-d, cy-r, cx-r, cy-d, cx-r, cy)
		z.CubeTo(cx-r, cy+d, cx-d, cy+r, cx, cy+r)
		z.CubeTo(cx+d, cy+r, cx+r, cy+d, cx+r, cy)
	}
	z.ClosePath()
}

// star adds a five-pointed star with one point up, as a single outline.
func star(z *vector.Rasterizer, cx, cy, r float32) {
	inner := r * 0.382
	for i := 0; i < 10; i++ {
		rad := r
		if i%2 == 1 {
			rad = inner
		}
		a := float64(i)*math.Pi/5 - math.Pi/2
		x, y := cx+rad*float32(math.Cos(a)), cy+rad*float32(math.Sin(a))
		if i == 0 {
			z.MoveTo(x, y)
		} else {
			z.LineTo(x, y)
		}
	}
	z.ClosePath()
}

// glyphAt draws r upright with its baseline-left corner at (x, y).
func glyphAt(z *vector.Rasterizer, f *sfnt.Font, b *sfnt.Buffer, r rune, size, x, y float32) error {
	return drawGlyph(z, f, b, r, size, func(gx, gy float32) (float32, float32) { return x + gx, y + gy })
}

// glyphOnArc draws r centred at angle theta (radians clockwise from the top) with its baseline
// on a circle of radius base and its top pointing outwards, narrowed like seal lettering.
func glyphOnArc(z *vector.Rasterizer, f *sfnt.Font, b *sfnt.Buffer, r rune, size, cx, cy, base float32, theta float64) error {
	ux, uy := float32(math.Sin(theta)), -float32(math.Cos(theta)) // outwards
	tx, ty := float32(math.Cos(theta)), float32(math.Sin(theta))  // along the arc
	return drawGlyph(z, f, b, r, size, func(gx, gy float32) (float32, float32) {
		gx = (gx - size/2) * 0.8
		out := base - gy // gy is negative above the baseline
		return cx + ux*out + tx*gx, cy + uy*out + ty*gx
	})
}

func drawGlyph(z *vector.Rasterizer, f *sfnt.Font, b *sfnt.Buffer, r rune, size float32, at func(x, y float32) (float32, float32)) error {
	gi, err := f.GlyphIndex(b, r)
	if err != nil || gi == 0 {
		return fmt.Errorf("the seal font has no glyph for %q; use characters from GB2312", r)
	}
	segs, err := f.LoadGlyph(b, gi, fixed.Int26_6(size*64), nil)
	if err != nil {
		return fmt.Errorf("drawing %q: %w", r, err)
	}
	p := func(pt fixed.Point26_6) (float32, float32) {
		return at(float32(pt.X)/64, float32(pt.Y)/64)
	}
	for _, s := range segs {
		switch s.Op {
		case sfnt.SegmentOpMoveTo:
			z.MoveTo(p(s.Args[0]))
		case sfnt.SegmentOpLineTo:
			z.LineTo(p(s.Args[0]))
		case sfnt.SegmentOpQuadTo:
			x1, y1 := p(s.Args[0])
			x2, y2 := p(s.Args[1])
			z.QuadTo(x1, y1, x2, y2)
		case sfnt.SegmentOpCubeTo:
			x1, y1 := p(s.Args[0])
			x2, y2 := p(s.Args[1])
			x3, y3 := p(s.Args[2])
			z.CubeTo(x1, y1, x2, y2, x3, y3)
		}
	}
	z.ClosePath()
	return nil
}

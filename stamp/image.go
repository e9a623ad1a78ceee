package stamp

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // seal images may come as JPEG (then without transparency)
	_ "image/png"
	"os"
	"sync"
)

// LoadImage reads a seal image (PNG with transparency, or JPEG).
func LoadImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PNG or JPEG seal image: %w", path, err)
	}
	if b := img.Bounds(); b.Dx() > 6000 || b.Dy() > 6000 {
		return nil, fmt.Errorf("%s: the seal image is %dx%d pixels; use one under 6000 pixels a side", path, b.Dx(), b.Dy())
	}
	return &loadedImage{Image: img}, nil
}

// loadedImage is a seal image read by LoadImage, with its PDF encoding made once: every
// stamping with it (a batch, a day at the window) embeds the same image, and encoding a 512 px
// seal costs more than the rest of a stamping. Nobody outside this package can reach the
// pixels to change them, so the encoding stays the image's.
type loadedImage struct {
	image.Image
	once       sync.Once
	rgb, alpha []byte
	err        error
}

// encodeImage splits the seal into an RGB image and an alpha soft mask, both deflated. PDF
// composites with non-premultiplied colour, so colours are un-premultiplied; fully
// transparent pixels take the seal's average colour instead of their (often black) stored
// value, so that interpolation at the edges blends toward the seal's colour, not toward black:
// that is what makes a dark fringe.
func encodeImage(img image.Image) (rgb, alpha []byte, err error) {
	if li, ok := img.(*loadedImage); ok {
		// The callers embed the slices in the update as they are and never change them.
		li.once.Do(func() { li.rgb, li.alpha, li.err = encodePixels(li.Image) })
		return li.rgb, li.alpha, li.err
	}
	return encodePixels(img)
}

func encodePixels(img image.Image) (rgb, alpha []byte, err error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	px := make([]color.NRGBA, w*h)
	var sr, sg, sb, sa float64
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			px[y*w+x] = c
			a := float64(c.A)
			sr += float64(c.R) * a
			sg += float64(c.G) * a
			sb += float64(c.B) * a
			sa += a
		}
	}
	bleed := color.NRGBA{R: 0xd0, G: 0x20, B: 0x10}
	if sa > 0 {
		bleed = color.NRGBA{R: uint8(sr / sa), G: uint8(sg / sa), B: uint8(sb / sa)}
	}
	rgb = make([]byte, 0, 3*w*h)
	alpha = make([]byte, 0, w*h)
	for _, c := range px {
		if c.A == 0 {
			c.R, c.G, c.B = bleed.R, bleed.G, bleed.B
		}
		rgb = append(rgb, c.R, c.G, c.B)
		alpha = append(alpha, c.A)
	}
	if rgb, err = deflate(rgb); err != nil {
		return nil, nil, err
	}
	if alpha, err = deflate(alpha); err != nil {
		return nil, nil, err
	}
	return rgb, alpha, nil
}

func deflate(b []byte) ([]byte, error) {
	var out bytes.Buffer
	z := zlib.NewWriter(&out)
	if _, err := z.Write(b); err != nil {
		return nil, err
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

package main

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"os"
	"strings"
	"testing"
)

// The ICO made from the project's icon lists every size, and each entry points at a PNG of that
// size whose pixels are the icon's (the middle pixel of the seal drawing is not transparent).
func TestIconHoldsEverySize(t *testing.T) {
	src, err := os.ReadFile("../../../assets/icon.png")
	if err != nil {
		t.Fatal(err)
	}
	var ico bytes.Buffer
	if err := write(&ico, bytes.NewReader(src)); err != nil {
		t.Fatal(err)
	}
	b := ico.Bytes()
	le := binary.LittleEndian
	if le.Uint16(b[0:]) != 0 || le.Uint16(b[2:]) != 1 || int(le.Uint16(b[4:])) != len(sizes) {
		t.Fatalf("ICONDIR is %x, want reserved 0, type 1, %d images", b[:6], len(sizes))
	}
	orig, _ := png.Decode(bytes.NewReader(src))
	ob := orig.Bounds()
	_, _, _, wantA := orig.At(ob.Dx()/2, ob.Dy()/2).RGBA()
	for i, n := range sizes {
		e := b[6+16*i:]
		if side := int(e[0]); side != n%256 || e[1] != e[0] {
			t.Errorf("entry %d: %dx%d, want %d (0 for 256)", i, e[0], e[1], n%256)
		}
		size, off := le.Uint32(e[8:]), le.Uint32(e[12:])
		img, err := png.Decode(bytes.NewReader(b[off : off+size]))
		if err != nil {
			t.Fatalf("entry %d (%d px): %v", i, n, err)
		}
		if got := img.Bounds(); got != image.Rect(0, 0, n, n) {
			t.Errorf("entry %d: image is %v, want %dx%d", i, got, n, n)
		}
		if _, _, _, a := img.At(n/2, n/2).RGBA(); (a == 0) != (wantA == 0) {
			t.Errorf("entry %d: middle pixel alpha %d, the icon's is %d", i, a, wantA)
		}
	}
}

func TestNonSquareIconIsRefused(t *testing.T) {
	var p bytes.Buffer
	img := image.NewNRGBA(image.Rect(0, 0, 300, 200))
	img.Set(0, 0, color.White)
	if err := png.Encode(&p, img); err != nil {
		t.Fatal(err)
	}
	err := write(&bytes.Buffer{}, &p)
	if err == nil || !strings.Contains(err.Error(), "300x200") {
		t.Fatalf("want an error giving the size, got %v", err)
	}
}

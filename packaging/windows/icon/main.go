// Command icon writes the Windows icon (.ico) of the .exe files from assets/icon.png:
// scripts/release.sh compiles it with windres into a resource object (.syso) that the Go linker
// puts into sealkeeper.exe and sealkeeper-gui.exe, so Explorer and the taskbar show the seal.
// Each size is a PNG inside the ICO (Windows Vista and later read those); the sizes are the ones
// Explorer asks for. Same input, same bytes: the scaler is deterministic and PNG has no time.
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"

	"golang.org/x/image/draw"
)

// sizes are the square icon sizes written, largest first; 256 is the largest an ICO holds.
var sizes = []int{256, 48, 32, 16}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: icon PNG >sealkeeper.ico")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err == nil {
		defer f.Close()
		err = write(os.Stdout, f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "icon: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func write(w io.Writer, r io.Reader) error {
	src, err := png.Decode(r)
	if err != nil {
		return fmt.Errorf("not a PNG image: %w", err)
	}
	b := src.Bounds()
	if b.Dx() != b.Dy() || b.Dx() < sizes[0] {
		return fmt.Errorf("the icon must be square and at least %d pixels wide, it is %dx%d", sizes[0], b.Dx(), b.Dy())
	}
	var images [][]byte
	for _, n := range sizes {
		dst := image.NewNRGBA(image.Rect(0, 0, n, n))
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
		var p bytes.Buffer
		if err := png.Encode(&p, dst); err != nil {
			return err
		}
		images = append(images, p.Bytes())
	}
	// ICONDIR (reserved 0, type 1 = icon, count), then one 16-byte ICONDIRENTRY per image,
	// then the images; a width or height of 0 means 256.
	var out bytes.Buffer
	le := binary.LittleEndian
	out.Write(le.AppendUint16(le.AppendUint16(le.AppendUint16(nil, 0), 1), uint16(len(images))))
	offset := 6 + 16*len(images)
	for i, n := range sizes {
		side := byte(n % 256)
		e := []byte{side, side, 0, 0}
		e = le.AppendUint16(e, 1)  // colour planes
		e = le.AppendUint16(e, 32) // bits per pixel
		e = le.AppendUint32(e, uint32(len(images[i])))
		e = le.AppendUint32(e, uint32(offset))
		out.Write(e)
		offset += len(images[i])
	}
	for _, p := range images {
		out.Write(p)
	}
	_, err = w.Write(out.Bytes())
	return err
}

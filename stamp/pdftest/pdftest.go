// Package pdftest writes PDFs for tests: text, scanned-image, form, rotated, CJK, any page count,
// with a classic xref table or an xref stream with object streams. It writes every byte itself,
// so a test knows exactly what is in the file. It also draws a seal image with anti-aliased,
// semi-transparent edges.
package pdftest

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"strings"
	"unicode/utf16"
)

// A4 is the A4 page size in points.
var A4 = [2]float64{595.28, 841.89}

// Options describe the PDF to write. The zero value is one A4 text page with an xref table.
type Options struct {
	Pages int        // default 1
	Size  [2]float64 // media box width and height; default A4
	// Crop, when set, is the crop box [x0 y0 x1 y1] of every page.
	Crop *[4]float64
	// Rotate is cycled over the pages (e.g. {0, 90, 180, 270}).
	Rotate []int
	// XRefStream writes an xref stream and puts dictionaries in an object stream (PDF 1.5).
	XRefStream bool
	// CJK adds a line of Chinese text (STSong-Light, not embedded) to every page.
	CJK bool
	// Scanned draws a full-page grey image on every page instead of text: ScanBytes bytes of
	// pseudo-random (incompressible) pixels, default 20000.
	Scanned   bool
	ScanBytes int
	// Form adds an AcroForm with one text field on page 1.
	Form bool
	// Keyword is drawn on every page at KeywordAt (user space, text baseline start), 14 pt Helvetica.
	Keyword   string
	KeywordAt [2]float64
	// Seed makes the scanned pixels differ between files.
	Seed uint64
}

type writer struct {
	buf     bytes.Buffer
	offsets map[int]int // object -> byte offset (for objects outside object streams)
	inStm   map[int][2]int
	stm     []stmObj // objects deferred into the object stream
	useStm  bool
	next    int
}

type stmObj struct {
	n    int
	body string
}

func (w *writer) alloc() int { w.next++; return w.next }

func (w *writer) obj(n int, body string) {
	if w.useStm {
		w.stm = append(w.stm, stmObj{n, body})
		return
	}
	w.offsets[n] = w.buf.Len()
	fmt.Fprintf(&w.buf, "%d 0 obj\n%s\nendobj\n", n, body)
}

func (w *writer) stream(n int, dict string, data []byte) {
	w.offsets[n] = w.buf.Len()
	fmt.Fprintf(&w.buf, "%d 0 obj\n<<%s /Length %d>>\nstream\n", n, dict, len(data))
	w.buf.Write(data)
	w.buf.WriteString("\nendstream\nendobj\n")
}

func deflate(b []byte) []byte {
	var out bytes.Buffer
	z, _ := zlib.NewWriterLevel(&out, zlib.BestSpeed)
	z.Write(b)
	z.Close()
	return out.Bytes()
}

// PDF writes a PDF as described by o.
func PDF(o Options) []byte {
	if o.Pages <= 0 {
		o.Pages = 1
	}
	if o.Size == [2]float64{} {
		o.Size = A4
	}
	if o.ScanBytes <= 0 {
		o.ScanBytes = 20000
	}
	w := &writer{offsets: map[int]int{}, inStm: map[int][2]int{}, useStm: o.XRefStream}
	version := "1.4"
	if o.XRefStream {
		version = "1.5"
	}
	fmt.Fprintf(&w.buf, "%%PDF-%s\n%%\xe2\xe3\xcf\xd3\n", version)
	catalog, pagesN, helv := w.alloc(), w.alloc(), w.alloc()
	cjk := 0
	if o.CJK {
		cjk = w.alloc()
	}
	rng := rand.New(rand.NewPCG(o.Seed, 7))
	var kids []string
	var field int
	for i := 0; i < o.Pages; i++ {
		page, content := w.alloc(), w.alloc()
		kids = append(kids, fmt.Sprintf("%d 0 R", page))
		var res, cs strings.Builder
		res.WriteString(fmt.Sprintf("/Font <</F1 %d 0 R", helv))
		if cjk != 0 {
			res.WriteString(fmt.Sprintf(" /F2 %d 0 R", cjk))
		}
		res.WriteString(">>")
		if o.Scanned {
			img := w.alloc()
			side := int(math.Sqrt(float64(o.ScanBytes)))
			px := make([]byte, side*side)
			for j := range px {
				px[j] = byte(200 + rng.IntN(56))
			}
			w.stream(img, fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8", side, side), px)
			res.WriteString(fmt.Sprintf(" /XObject <</Scan %d 0 R>>", img))
			fmt.Fprintf(&cs, "q %g 0 0 %g 0 0 cm /Scan Do Q\n", o.Size[0], o.Size[1])
		}
		fmt.Fprintf(&cs, "BT /F1 12 Tf 72 %g Td (Page %d of %d) Tj ET\n", o.Size[1]-72, i+1, o.Pages)
		if !o.Scanned {
			cs.WriteString("BT /F1 11 Tf 72 700 Td 14 TL (SealKeeper test document. Lorem ipsum dolor sit amet,) Tj T* (consectetur adipiscing elit, sed do eiusmod tempor.) Tj ET\n")
		}
		if o.CJK {
			fmt.Fprintf(&cs, "BT /F2 16 Tf 72 640 Td <%s> Tj ET\n", ucs2Hex("关于印发电子印章管理办法的通知"))
		}
		if o.Keyword != "" {
			fmt.Fprintf(&cs, "BT /F1 14 Tf %g %g Td (%s) Tj ET\n", o.KeywordAt[0], o.KeywordAt[1], o.Keyword)
		}
		w.stream(content, " /Filter /FlateDecode", deflate([]byte(cs.String())))
		extra := ""
		if len(o.Rotate) > 0 {
			if r := o.Rotate[i%len(o.Rotate)]; r != 0 {
				extra += fmt.Sprintf(" /Rotate %d", r)
			}
		}
		if o.Crop != nil {
			extra += fmt.Sprintf(" /CropBox [%g %g %g %g]", o.Crop[0], o.Crop[1], o.Crop[2], o.Crop[3])
		}
		if o.Form && i == 0 {
			field = w.alloc()
			extra += fmt.Sprintf(" /Annots [%d 0 R]", field)
			w.obj(field, fmt.Sprintf("<</Type /Annot /Subtype /Widget /FT /Tx /T (name) /V (Zhang San) /Rect [72 500 300 520] /P %d 0 R /F 4 /DA (/F1 12 Tf 0 g)>>", page))
		}
		w.obj(page, fmt.Sprintf("<</Type /Page /Parent %d 0 R /MediaBox [0 0 %g %g] /Resources <<%s>> /Contents %d 0 R%s>>",
			pagesN, o.Size[0], o.Size[1], res.String(), content, extra))
	}
	w.obj(helv, "<</Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding>>")
	if cjk != 0 {
		desc := w.alloc()
		w.obj(cjk, fmt.Sprintf("<</Type /Font /Subtype /Type0 /BaseFont /STSong-Light-UniGB-UCS2-H /Encoding /UniGB-UCS2-H /DescendantFonts [%d 0 R]>>", desc))
		w.obj(desc, "<</Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo <</Registry (Adobe) /Ordering (GB1) /Supplement 4>> /FontDescriptor <</Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 80>> /DW 1000>>")
	}
	w.obj(pagesN, fmt.Sprintf("<</Type /Pages /Count %d /Kids [%s]>>", o.Pages, strings.Join(kids, " ")))
	acro := ""
	if field != 0 {
		acro = fmt.Sprintf(" /AcroForm <</Fields [%d 0 R] /DA (/Helv 0 Tf 0 g) /DR <</Font <</Helv %d 0 R>>>>>>", field, helv)
	}
	w.obj(catalog, fmt.Sprintf("<</Type /Catalog /Pages %d 0 R%s>>", pagesN, acro))
	info := w.alloc()
	w.useStm = false
	w.obj(info, "<</Producer (SealKeeper pdftest) /Title (Test document)>>")
	id := fmt.Sprintf("<%032x>", rng.Uint64())
	if !o.XRefStream {
		xref := w.buf.Len()
		fmt.Fprintf(&w.buf, "xref\n0 %d\n0000000000 65535 f\r\n", w.next+1)
		for n := 1; n <= w.next; n++ {
			fmt.Fprintf(&w.buf, "%010d 00000 n\r\n", w.offsets[n])
		}
		fmt.Fprintf(&w.buf, "trailer\n<</Size %d /Root %d 0 R /Info %d 0 R /ID [%s %s]>>\nstartxref\n%d\n%%%%EOF\n", w.next+1, catalog, info, id, id, xref)
		return w.buf.Bytes()
	}
	// Object stream with all dictionaries, then the xref stream.
	stmN := w.alloc()
	var head, body strings.Builder
	for i, so := range w.stm {
		w.inStm[so.n] = [2]int{stmN, i}
		fmt.Fprintf(&head, "%d %d ", so.n, body.Len())
		body.WriteString(so.body)
		body.WriteString("\n")
	}
	data := head.String() + body.String()
	w.stream(stmN, fmt.Sprintf(" /Type /ObjStm /N %d /First %d /Filter /FlateDecode", len(w.stm), head.Len()), deflate([]byte(data)))
	xrefN := w.alloc()
	xref := w.buf.Len()
	w.offsets[xrefN] = xref
	var rows bytes.Buffer
	rows.Write([]byte{0, 0, 0, 0, 0, 0xff, 0xff})
	for n := 1; n <= w.next; n++ {
		if s, ok := w.inStm[n]; ok {
			rows.Write([]byte{2, byte(s[0] >> 24), byte(s[0] >> 16), byte(s[0] >> 8), byte(s[0]), byte(s[1] >> 8), byte(s[1])})
			continue
		}
		off := w.offsets[n]
		rows.Write([]byte{1, byte(off >> 24), byte(off >> 16), byte(off >> 8), byte(off), 0, 0})
	}
	w.stream(xrefN, fmt.Sprintf(" /Type /XRef /Size %d /W [1 4 2] /Root %d 0 R /Info %d 0 R /ID [%s %s] /Filter /FlateDecode", w.next+1, catalog, info, id, id), deflate(rows.Bytes()))
	fmt.Fprintf(&w.buf, "startxref\n%d\n%%%%EOF\n", xref)
	return w.buf.Bytes()
}

func ucs2Hex(s string) string {
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	return b.String()
}

// SealRed is the colour of the test seal.
var SealRed = color.NRGBA{R: 0xd8, G: 0x1e, B: 0x06, A: 0xff}

// Seal draws a round red seal (ring, star, inner ring) of size×size pixels on a transparent
// background, with anti-aliased edges: partially transparent pixels carry the full red, as a
// non-premultiplied image should.
func Seal(size int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	c := float64(size) / 2
	const ss = 4 // supersampling per axis
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			hits := 0
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					px := (float64(x) + (float64(sx)+0.5)/ss - c) / c
					py := (float64(y) + (float64(sy)+0.5)/ss - c) / c
					if inSeal(px, py) {
						hits++
					}
				}
			}
			if hits > 0 {
				col := SealRed
				col.A = uint8(hits * 255 / (ss * ss))
				img.SetNRGBA(x, y, col)
			}
		}
	}
	return img
}

// inSeal reports whether the point (-1..1, y down) is inked.
func inSeal(x, y float64) bool {
	r := math.Hypot(x, y)
	if r > 0.86 && r < 0.97 {
		return true
	}
	if r > 0.70 && r < 0.72 {
		return true
	}
	return inStar(x, y+0.05, 0.32)
}

func inStar(x, y, R float64) bool {
	// A five-pointed star, point up: inside if inside the pentagram polygon.
	var pts [10][2]float64
	for i := 0; i < 10; i++ {
		rad := R
		if i%2 == 1 {
			rad = R * 0.382
		}
		a := -math.Pi/2 + float64(i)*math.Pi/5
		pts[i] = [2]float64{rad * math.Cos(a), rad * math.Sin(a)}
	}
	in := false
	for i, j := 0, 9; i < 10; j, i = i, i+1 {
		if (pts[i][1] > y) != (pts[j][1] > y) && x < (pts[j][0]-pts[i][0])*(y-pts[i][1])/(pts[j][1]-pts[i][1])+pts[i][0] {
			in = !in
		}
	}
	return in
}

// SealPNG is Seal encoded as PNG.
func SealPNG(size int) []byte {
	var b bytes.Buffer
	png.Encode(&b, Seal(size))
	return b.Bytes()
}

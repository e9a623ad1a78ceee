package report

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"strings"
)

// PrintSheet is one printed page: a rendered page of the stamped document with a line and a
// QR code in its bottom margin that name the stamping and the copy (RULES.md 17).
type PrintSheet struct {
	// Page indexes PrintPages.Images: the rendered page drawn on this sheet.
	Page int
	// Line is the margin line; QR the code's modules (true = dark), quiet zone included.
	Line string
	QR   [][]bool
}

// PrintPages is a printout: the rendered pages once, and the sheets that draw them.
type PrintPages struct {
	Images []image.Image
	// W and H are each page's size in points.
	W, H   []float64
	Sheets []PrintSheet
	Title  string
}

// MarkHeight is the strip at the bottom of each sheet that the line and the QR code cover.
const MarkHeight = 62.0

// WritePrintout writes the printout as a PDF made only for the printer: each sheet is the page
// as rendered (an image, so nothing of the stamped file's structure or signature is copied),
// with a white strip at the bottom holding the margin line as searchable text and the QR code
// drawn as squares.
func WritePrintout(w io.Writer, pp PrintPages, fonts Fonts) error {
	reg, err := newFace("NotoSansSC-Regular", fonts.Regular)
	if err != nil {
		return err
	}
	doc := &pdf{}
	catalog, pagesObj := doc.reserve(), doc.reserve()
	imgs := make([]int, len(pp.Images))
	for i, im := range pp.Images {
		var j bytes.Buffer
		if err := jpeg.Encode(&j, im, &jpeg.Options{Quality: 88}); err != nil {
			return fmt.Errorf("encoding page %d for printing: %w", i+1, err)
		}
		imgs[i] = doc.reserve()
		b := im.Bounds()
		doc.objs[imgs[i]-1] = fmt.Appendf(nil, "<</Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length %d>>\nstream\n%s\nendstream",
			b.Dx(), b.Dy(), j.Len(), j.Bytes())
	}
	var kids []string
	type built struct {
		po, co int
		body   string
		w, h   float64
		img    int
	}
	var sheets []built
	for _, s := range pp.Sheets {
		if s.Page < 0 || s.Page >= len(pp.Images) {
			return fmt.Errorf("printout sheet names page %d of %d", s.Page+1, len(pp.Images))
		}
		W, H := pp.W[s.Page], pp.H[s.Page]
		pg := &page{reg: reg, pageW: W, pageH: H}
		fmt.Fprintf(&pg.b, "q %.2f 0 0 %.2f 0 0 cm /Im%d Do Q\n", W, H, s.Page)
		pg.fill(0, 0, W, MarkHeight, 1)
		const qrSide = MarkHeight - 6
		size := 7.5
		pg.text(reg, size, 18, MarkHeight/2-3, fit(reg, s.Line, size, W-18-qrSide-24), 'l')
		if n := len(s.QR); n > 0 {
			m := qrSide / float64(n)
			x0, y0 := W-qrSide-12, 3.0
			var sb strings.Builder
			for r, row := range s.QR {
				for c, dark := range row {
					if dark {
						fmt.Fprintf(&sb, "%.3f %.3f %.3f %.3f re\n", x0+float64(c)*m, y0+float64(n-1-r)*m, m, m)
					}
				}
			}
			pg.b.WriteString("0 g\n" + sb.String() + "f\n")
		}
		sheets = append(sheets, built{po: doc.reserve(), co: doc.reserve(), body: pg.b.String(), w: W, h: H, img: s.Page})
	}
	f1 := doc.font(reg)
	for _, s := range sheets {
		kids = append(kids, fmt.Sprintf("%d 0 R", s.po))
		doc.stream(s.co, "", []byte(s.body))
		doc.set(s.po, fmt.Sprintf("<</Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Resources <</Font <</F1 %d 0 R>> /XObject <</Im%d %d 0 R>>>> /Contents %d 0 R>>",
			pagesObj, s.w, s.h, f1, s.img, imgs[s.img], s.co))
	}
	doc.set(pagesObj, fmt.Sprintf("<</Type /Pages /Kids [%s] /Count %d>>", strings.Join(kids, " "), len(sheets)))
	info := doc.reserve()
	doc.set(info, fmt.Sprintf("<</Title <%s> /Producer (SealKeeper printout: a copy, not the sealed original)>>", utf16Hex(pp.Title)))
	doc.set(catalog, fmt.Sprintf("<</Type /Catalog /Pages %d 0 R>>", pagesObj))
	return doc.write(w, catalog, info)
}

// utf16Hex is a PDF text string in UTF-16BE with its byte order mark, as hex.
func utf16Hex(s string) string {
	var b strings.Builder
	b.WriteString("FEFF")
	for _, r := range s {
		if r > 0xffff {
			r = '?'
		}
		fmt.Fprintf(&b, "%04X", r)
	}
	return b.String()
}

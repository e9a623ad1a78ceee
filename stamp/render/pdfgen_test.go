package render_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"unicode/utf16"

	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"github.com/sealkeeper/sealkeeper/assets"
	"github.com/sealkeeper/sealkeeper/assets/cff"
	"github.com/sealkeeper/sealkeeper/stamp/render"
)

// The tests write their PDFs by hand so they know exactly what is where: page boxes,
// rotation, the coordinates of every drawing and every piece of text.

// tb is what the PDF writer needs of a testing.TB; examples pass exampleT.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// exampleT stops an example on a writer error.
type exampleT struct{}

func (exampleT) Helper()                   {}
func (exampleT) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (exampleT) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

type testAnnot struct {
	sigWidget bool        // a signature field's widget (else a Square annotation)
	rect      render.Rect // /Rect
	ap        string      // appearance stream content, in the /Rect's size from 0 0
	alpha     float64     // if not 0, /GS0 in the appearance sets this fill opacity
}

type testPage struct {
	media   render.Rect
	crop    *render.Rect
	rotate  int
	content string // content stream; fonts /F1 Helvetica, /F2 Noto Sans SC (Identity-H), /F3 STSong-Light (UCS-2, not embedded)
	annots  []testAnnot
}

type pdfWriter struct {
	buf     bytes.Buffer
	offsets []int
}

func (w *pdfWriter) reserve() int { w.offsets = append(w.offsets, 0); return len(w.offsets) }

func (w *pdfWriter) obj(n int, body string) {
	w.offsets[n-1] = w.buf.Len()
	fmt.Fprintf(&w.buf, "%d 0 obj\n%s\nendobj\n", n, body)
}

func (w *pdfWriter) stream(n int, dict string, data []byte) {
	w.offsets[n-1] = w.buf.Len()
	fmt.Fprintf(&w.buf, "%d 0 obj\n<<%s /Length %d>>\nstream\n", n, dict, len(data))
	w.buf.Write(data)
	w.buf.WriteString("\nendstream\nendobj\n")
}

func rectArr(r render.Rect) string {
	return fmt.Sprintf("[%g %g %g %g]", r.X0, r.Y0, r.X1, r.Y1)
}

// makePDF writes a PDF with the given pages. The CJK font is embedded only when a
// page uses /F2.
func makePDF(t tb, pages []testPage) []byte {
	t.Helper()
	w := &pdfWriter{}
	w.buf.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	catalog, pagesObj, helv := w.reserve(), w.reserve(), w.reserve()
	w.obj(helv, "<</Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding>>")
	cjk := 0
	for _, p := range pages {
		if strings.Contains(p.content, "/F2") {
			cjk = writeCJKFont(t, w)
			break
		}
	}
	// /F3: STSong-Light, not embedded, as many Chinese documents use it (codes: UCS-2).
	song := w.reserve()
	w.obj(song, "<</Type /Font /Subtype /Type0 /BaseFont /STSong-Light-UniGB-UCS2-H /Encoding /UniGB-UCS2-H /DescendantFonts [<</Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo <</Registry (Adobe) /Ordering (GB1) /Supplement 4>> /FontDescriptor <</Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 80>> /DW 1000>>]>>")
	fonts := fmt.Sprintf("/F1 %d 0 R /F3 %d 0 R", helv, song)
	if cjk != 0 {
		fonts += fmt.Sprintf(" /F2 %d 0 R", cjk)
	}
	var kids, fields []string
	for _, p := range pages {
		pg, content := w.reserve(), w.reserve()
		w.stream(content, "", []byte(p.content))
		var annots []string
		for _, a := range p.annots {
			ap, an := w.reserve(), w.reserve()
			bbox := render.Rect{X1: a.rect.W(), Y1: a.rect.H()}
			gs := ""
			if a.alpha != 0 {
				gs = fmt.Sprintf(" /ExtGState <</GS0 <</ca %g>>>>", a.alpha)
			}
			w.stream(ap, fmt.Sprintf("/Type /XObject /Subtype /Form /BBox %s /Resources <</Font <<%s>>%s>>", rectArr(bbox), fonts, gs), []byte(a.ap))
			if a.sigWidget {
				w.obj(an, fmt.Sprintf("<</Type /Annot /Subtype /Widget /FT /Sig /T (Seal%d) /F 132 /Rect %s /P %d 0 R /AP <</N %d 0 R>>>>", an, rectArr(a.rect), pg, ap))
				fields = append(fields, fmt.Sprintf("%d 0 R", an))
			} else {
				w.obj(an, fmt.Sprintf("<</Type /Annot /Subtype /Square /F 4 /Rect %s /C [0 0 1] /P %d 0 R /AP <</N %d 0 R>>>>", rectArr(a.rect), pg, ap))
			}
			annots = append(annots, fmt.Sprintf("%d 0 R", an))
		}
		extra := ""
		if p.crop != nil {
			extra += " /CropBox " + rectArr(*p.crop)
		}
		if p.rotate != 0 {
			extra += fmt.Sprintf(" /Rotate %d", p.rotate)
		}
		if len(annots) > 0 {
			extra += " /Annots [" + strings.Join(annots, " ") + "]"
		}
		w.obj(pg, fmt.Sprintf("<</Type /Page /Parent %d 0 R /MediaBox %s%s /Resources <</Font <<%s>>>> /Contents %d 0 R>>",
			pagesObj, rectArr(p.media), extra, fonts, content))
		kids = append(kids, fmt.Sprintf("%d 0 R", pg))
	}
	w.obj(pagesObj, fmt.Sprintf("<</Type /Pages /Count %d /Kids [%s]>>", len(kids), strings.Join(kids, " ")))
	form := ""
	if len(fields) > 0 {
		form = fmt.Sprintf(" /AcroForm <</Fields [%s] /SigFlags 3>>", strings.Join(fields, " "))
	}
	w.obj(catalog, fmt.Sprintf("<</Type /Catalog /Pages %d 0 R%s>>", pagesObj, form))
	xref := w.buf.Len()
	fmt.Fprintf(&w.buf, "xref\n0 %d\n0000000000 65535 f \n", len(w.offsets)+1)
	for _, off := range w.offsets {
		fmt.Fprintf(&w.buf, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&w.buf, "trailer\n<</Size %d /Root %d 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(w.offsets)+1, catalog, xref)
	return w.buf.Bytes()
}

// cjkFont is the embedded Noto Sans SC from package assets, parsed once.
var cjkFont = func() *sfnt.Font {
	f, err := sfnt.Parse(assets.FontRegular)
	if err != nil {
		panic(err)
	}
	return f
}()

// cjkText is a content-stream string operand for /F2: the CIDs of s, two bytes each.
func cjkText(t tb, s string) string {
	t.Helper()
	var b sfnt.Buffer
	var sb strings.Builder
	sb.WriteByte('<')
	usedMu.Lock()
	defer usedMu.Unlock()
	for _, r := range s {
		used[r] = true
		g, err := cjkFont.GlyphIndex(&b, r)
		if err != nil || g == 0 {
			t.Fatalf("font has no glyph for %q", r)
		}
		fmt.Fprintf(&sb, "%04X", cidOf[g])
	}
	sb.WriteByte('>')
	return sb.String()
}

// used are the characters cjkText has encoded: like a real producer, writeCJKFont gives
// widths and Unicode mappings only for the characters in use (a full map slows every
// page load down).
var (
	usedMu sync.Mutex
	used   = map[rune]bool{}
)

// writeCJKFont embeds the whole OpenType (CFF, CID-keyed) font as a CID font whose codes
// are CIDs (Identity-H), with widths and a ToUnicode map for the characters used.
func writeCJKFont(t tb, w *pdfWriter) int {
	t.Helper()
	type0, cid, desc, file, tounicode := w.reserve(), w.reserve(), w.reserve(), w.reserve(), w.reserve()
	var b sfnt.Buffer
	upem := float64(cjkFont.UnitsPerEm())
	var widths, bfchars []string
	seen := map[sfnt.GlyphIndex]bool{}
	usedMu.Lock()
	defer usedMu.Unlock()
	for r := rune(0x20); r < 0x10000; r++ {
		if !used[r] {
			continue
		}
		g, err := cjkFont.GlyphIndex(&b, r)
		if err != nil || g == 0 || seen[g] {
			continue
		}
		seen[g] = true
		adv, err := cjkFont.GlyphAdvance(&b, g, fixedUPEM(cjkFont), 0)
		if err != nil {
			t.Fatal(err)
		}
		widths = append(widths, fmt.Sprintf("%d [%d]", cidOf[g], int(float64(adv)/64*1000/upem)))
		u := utf16.Encode([]rune{r})
		hex := ""
		for _, x := range u {
			hex += fmt.Sprintf("%04X", x)
		}
		bfchars = append(bfchars, fmt.Sprintf("<%04X> <%s>", cidOf[g], hex))
	}
	var cmap strings.Builder
	cmap.WriteString("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n/CIDSystemInfo <</Registry (Adobe) /Ordering (UCS) /Supplement 0>> def\n/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n1 begincodespacerange <0000> <FFFF> endcodespacerange\n")
	for i := 0; i < len(bfchars); i += 100 {
		chunk := bfchars[i:min(i+100, len(bfchars))]
		fmt.Fprintf(&cmap, "%d beginbfchar\n%s\nendbfchar\n", len(chunk), strings.Join(chunk, "\n"))
	}
	cmap.WriteString("endcmap CMapName currentdict /CMap defineresource pop end end\n")
	w.stream(tounicode, "", []byte(cmap.String()))
	// The bare CFF table, as producers embed CID fonts: with the OpenType wrapper PDFium
	// reads codes as glyph IDs, not CIDs.
	w.stream(file, "/Subtype /CIDFontType0C", cffTable())
	w.obj(desc, fmt.Sprintf("<</Type /FontDescriptor /FontName /NotoSansSC-Regular /Flags 4 /FontBBox [-1000 -300 2000 1100] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 733 /StemV 80 /FontFile3 %d 0 R>>", file))
	w.obj(cid, fmt.Sprintf("<</Type /Font /Subtype /CIDFontType0 /BaseFont /NotoSansSC-Regular /CIDSystemInfo <</Registry (Adobe) /Ordering (Identity) /Supplement 0>> /FontDescriptor %d 0 R /DW 1000 /W [%s]>>", desc, strings.Join(widths, " ")))
	w.obj(type0, fmt.Sprintf("<</Type /Font /Subtype /Type0 /BaseFont /NotoSansSC-Regular /Encoding /Identity-H /DescendantFonts [%d 0 R] /ToUnicode %d 0 R>>", cid, tounicode))
	return type0
}

func fixedUPEM(f *sfnt.Font) fixed.Int26_6 { return fixed.I(int(f.UnitsPerEm())) }

// cidOf maps glyph IDs of the CID-keyed CFF font to CIDs (its charset): a PDF shows a
// CIDFontType0 glyph by CID, and the font's CIDs differ from its glyph IDs.
var cidOf = cff.CIDs(cffTable(), cjkFont.NumGlyphs())

// cffTable is the font's 'CFF ' table.
func cffTable() []byte {
	c, err := cff.Table(assets.FontRegular)
	if err != nil {
		panic(err)
	}
	return c
}

// ucs2Text is a content-stream string operand for /F3.
func ucs2Text(s string) string {
	var sb strings.Builder
	sb.WriteByte('<')
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&sb, "%04X", u)
	}
	sb.WriteByte('>')
	return sb.String()
}

package report

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/sealkeeper/sealkeeper/assets/cff"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// Fonts are the OpenType (CFF) faces the PDF embeds, normally assets.FontRegular and
// assets.FontBold (Noto Sans SC). Embedding them is what makes the Chinese text readable on a
// machine with no CJK font.
type Fonts struct {
	Regular, Bold []byte
}

// Why a hand-written PDF: pdfcpu installs TrueType fonts only, and Noto Sans SC is CFF-based
// OpenType. A one-table report needs little of PDF: text with a Type0/CIDFontType0 font
// (Identity-H, codes are CIDs, the bare CFF table as FontFile3/CIDFontType0C, a ToUnicode map so
// the text can be searched and copied), lines and filled rectangles.

// face is one embedded font.
type face struct {
	name string
	f    *sfnt.Font
	cff  []byte
	cid  []uint16 // glyph ID → CID
	upem float64
	buf  sfnt.Buffer
	used map[uint16]rune // CID → rune, for ToUnicode
	wid  map[uint16]int  // CID → width in 1/1000 em
}

func newFace(name string, raw []byte) (fc *face, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("font %s is damaged: %v", name, r)
		}
	}()
	f, err := sfnt.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("font %s: %w", name, err)
	}
	table, err := cff.Table(raw)
	if err != nil {
		return nil, fmt.Errorf("font %s: %w", name, err)
	}
	return &face{name: name, f: f, cff: table, cid: cff.CIDs(table, f.NumGlyphs()), upem: float64(f.UnitsPerEm()),
		used: map[uint16]rune{}, wid: map[uint16]int{}}, nil
}

// encode returns s as a hex string of CIDs and its width at size 1.
func (fc *face) encode(s string) (string, float64) {
	var sb strings.Builder
	w := 0
	sb.WriteByte('<')
	for _, r := range s {
		g, err := fc.f.GlyphIndex(&fc.buf, r)
		if err != nil {
			g = 0
		}
		c := uint16(0)
		if int(g) < len(fc.cid) {
			c = fc.cid[g]
		}
		if _, ok := fc.wid[c]; !ok {
			adv, err := fc.f.GlyphAdvance(&fc.buf, g, fixed.I(int(fc.upem)), 0)
			if err != nil {
				adv = fixed.I(int(fc.upem) / 2)
			}
			fc.wid[c] = int(float64(adv) / 64 * 1000 / fc.upem)
		}
		if g != 0 {
			fc.used[c] = r
		}
		w += fc.wid[c]
		fmt.Fprintf(&sb, "%04X", c)
	}
	sb.WriteByte('>')
	return sb.String(), float64(w) / 1000
}

// pdf collects objects and writes them with a cross-reference table.
type pdf struct {
	objs [][]byte
}

func (p *pdf) reserve() int { p.objs = append(p.objs, nil); return len(p.objs) }
func (p *pdf) set(n int, s string) {
	p.objs[n-1] = []byte(s)
}
func (p *pdf) stream(n int, dict string, data []byte) {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(data)
	zw.Close()
	p.objs[n-1] = fmt.Appendf(nil, "<<%s /Filter /FlateDecode /Length %d>>\nstream\n%s\nendstream", dict, z.Len(), z.Bytes())
}

func (p *pdf) write(w io.Writer, root, info int) error {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(p.objs))
	for i, o := range p.objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n", i+1)
		b.Write(o)
		b.WriteString("\nendobj\n")
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(p.objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d /Root %d 0 R /Info %d 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(p.objs)+1, root, info, x)
	_, err := w.Write(b.Bytes())
	return err
}

func (p *pdf) font(fc *face) int {
	type0, cid, desc, file, tou := p.reserve(), p.reserve(), p.reserve(), p.reserve(), p.reserve()
	// In CID order: the same summary makes the same bytes (the monthly table is made again
	// from the ledger and checked against the SHA-256 recorded for it).
	var widths, bf []string
	for _, c := range slices.Sorted(maps.Keys(fc.wid)) {
		widths = append(widths, fmt.Sprintf("%d [%d]", c, fc.wid[c]))
	}
	for _, c := range slices.Sorted(maps.Keys(fc.used)) {
		var hex strings.Builder
		for _, u := range utf16.Encode([]rune{fc.used[c]}) {
			fmt.Fprintf(&hex, "%04X", u)
		}
		bf = append(bf, fmt.Sprintf("<%04X> <%s>", c, hex.String()))
	}
	var cm strings.Builder
	cm.WriteString("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n/CIDSystemInfo <</Registry (Adobe) /Ordering (UCS) /Supplement 0>> def\n/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n1 begincodespacerange <0000> <FFFF> endcodespacerange\n")
	for i := 0; i < len(bf); i += 100 {
		chunk := bf[i:min(i+100, len(bf))]
		fmt.Fprintf(&cm, "%d beginbfchar\n%s\nendbfchar\n", len(chunk), strings.Join(chunk, "\n"))
	}
	cm.WriteString("endcmap CMapName currentdict /CMap defineresource pop end end\n")
	p.stream(tou, "", []byte(cm.String()))
	p.stream(file, "/Subtype /CIDFontType0C", fc.cff)
	p.set(desc, fmt.Sprintf("<</Type /FontDescriptor /FontName /%s /Flags 4 /FontBBox [-1000 -300 2000 1100] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 733 /StemV 80 /FontFile3 %d 0 R>>", fc.name, file))
	p.set(cid, fmt.Sprintf("<</Type /Font /Subtype /CIDFontType0 /BaseFont /%s /CIDSystemInfo <</Registry (Adobe) /Ordering (Identity) /Supplement 0>> /FontDescriptor %d 0 R /DW 1000 /W [%s]>>", fc.name, desc, strings.Join(widths, " ")))
	p.set(type0, fmt.Sprintf("<</Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H /DescendantFonts [%d 0 R] /ToUnicode %d 0 R>>", fc.name, cid, tou))
	return type0
}

// page is one page's content stream being drawn.
type page struct {
	b            strings.Builder
	reg, bold    *face
	pageW, pageH float64
}

func (pg *page) text(fc *face, size, x, y float64, s string, align byte) {
	hex, w := fc.encode(s)
	switch align {
	case 'r':
		x -= w * size
	case 'c':
		x -= w * size / 2
	}
	font := "F1"
	if fc == pg.bold {
		font = "F2"
	}
	fmt.Fprintf(&pg.b, "BT /%s %.1f Tf 1 0 0 1 %.2f %.2f Tm %s Tj ET\n", font, size, x, y, hex)
}

func (pg *page) line(x1, y1, x2, y2, width float64) {
	fmt.Fprintf(&pg.b, "%.2f w %.2f %.2f m %.2f %.2f l S\n", width, x1, y1, x2, y2)
}

func (pg *page) fill(x, y, w, h, gray float64) {
	fmt.Fprintf(&pg.b, "%.2f g %.2f %.2f %.2f %.2f re f 0 g\n", gray, x, y, w, h)
}

// fit shortens s with "…" until it fits width at size.
func fit(fc *face, s string, size, width float64) string {
	if _, w := fc.encode(s); w*size <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 1 {
		r = r[:len(r)-1]
		if _, w := fc.encode(string(r) + "…"); w*size <= width {
			return string(r) + "…"
		}
	}
	return string(r)
}

// WritePDF writes the summary as an A4 PDF: title, period and filters, then a table of seal,
// custodian, kind, count and copies with a totals line, over as many pages as it needs.
func WritePDF(w io.Writer, s Summary, fonts Fonts) error {
	reg, err := newFace("NotoSansSC-Regular", fonts.Regular)
	if err != nil {
		return err
	}
	bold, err := newFace("NotoSansSC-Bold", fonts.Bold)
	if err != nil {
		return err
	}
	const W, H, margin, rowH = 595.28, 841.89, 48.0, 18.0
	cols := []struct {
		x, w  float64
		title string
		align byte
	}{
		{margin, 110, "印章 Seal", 'l'},
		{margin + 110, 100, "保管人 Custodian", 'l'},
		{margin + 210, 159, "事项 Kind", 'l'},
		{margin + 369, 65, "次数 Count", 'r'},
		{margin + 434, 65, "份数 Copies", 'r'},
	}
	right := margin + 499
	var pages []*page
	var pg *page
	var y float64
	section := "" // the title of the table being drawn after the first, repeated on each page
	header := func() {
		if section != "" {
			pg.text(bold, 12, margin, y-14, section, 'l')
			y -= 24
		}
		pg.fill(margin, y-rowH, right-margin, rowH, 0.88)
		for _, c := range cols {
			x := c.x + 3
			if c.align == 'r' {
				x = c.x + c.w - 3
			}
			pg.text(bold, 9, x, y-13, c.title, c.align)
		}
		pg.line(margin, y, right, y, 0.8)
		y -= rowH
		pg.line(margin, y, right, y, 0.5)
	}
	newPage := func() {
		pg = &page{reg: reg, bold: bold, pageW: W, pageH: H}
		pages = append(pages, pg)
		y = H - margin
		if len(pages) == 1 {
			pg.text(bold, 18, margin, y-18, "印章使用汇总表  Seal usage summary", 'l')
			y -= 40
			info := []string{
				"统计期间 Period: " + period(s.Filter, s),
				"工作站 Workstation: " + s.Workstation,
				"生成时间 Generated: " + s.Generated.Local().Format("2006-01-02 15:04:05 MST"),
			}
			if s.Filter.Seal != "" {
				info = append(info, "印章 Seal: "+s.Filter.Seal)
			}
			if s.Filter.Custodian != "" {
				info = append(info, "保管人 Custodian: "+s.Filter.Custodian)
			}
			if len(s.Filter.Kinds) > 0 {
				var ks []string
				for _, k := range s.Filter.Kinds {
					ks = append(ks, KindLabel(k))
				}
				info = append(info, "事项 Kinds: "+strings.Join(ks, ", "))
			}
			for _, l := range info {
				pg.text(reg, 10, margin, y-10, l, 'l')
				y -= 15
			}
			y -= 10
		}
		header()
	}
	newPage()
	cell := func(fc *face, vals []string) {
		if y-rowH < margin+30 {
			newPage()
		}
		for i, c := range cols {
			x := c.x + 3
			if c.align == 'r' {
				x = c.x + c.w - 3
			}
			pg.text(fc, 9, x, y-13, fit(fc, vals[i], 9, c.w-6), c.align)
		}
		y -= rowH
		pg.line(margin, y, right, y, 0.25)
	}
	dash := func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	}
	for _, r := range s.Rows {
		cell(reg, []string{dash(r.Seal), dash(r.Custodian), KindLabel(r.Kind), strconv.Itoa(r.Count), strconv.Itoa(r.Copies)})
	}
	if len(s.Rows) == 0 {
		cell(reg, []string{"本期间无记录 No records in this period", "", "", "0", "0"})
	}
	pg.line(margin, y, right, y, 0.8)
	cell(bold, []string{"合计 Total", "", fmt.Sprintf("盖章完成 Stamped: %d", s.Stamped), strconv.Itoa(s.Total), strconv.Itoa(s.TotalCopies)})
	pg.line(margin, y, right, y, 0.8)

	// RULES.md 12: the stampings and the online printing side by side, by month, seal and
	// custodian (电子印章签章和在线打印情况汇总表).
	cols = []struct {
		x, w  float64
		title string
		align byte
	}{
		{margin, 58, "期间 Period", 'l'},
		{margin + 58, 105, "印章 Seal", 'l'},
		{margin + 163, 92, "保管人 Custodian", 'l'},
		{margin + 255, 72, "盖章 Stamped", 'r'},
		{margin + 327, 86, "批准份数 Approved", 'r'},
		{margin + 413, 86, "打印份数 Printed", 'r'},
	}
	section = "电子印章签章和在线打印情况汇总表  Stampings and printed copies"
	if y-4*rowH-24 < margin+30 {
		newPage()
	} else {
		y -= 16
		header()
	}
	for _, u := range s.Usage {
		cell(reg, []string{u.Period, dash(u.Seal), dash(u.Custodian), strconv.Itoa(u.Stamped), strconv.Itoa(u.Approved), strconv.Itoa(u.Printed)})
	}
	ut := s.UsageTotal()
	pg.line(margin, y, right, y, 0.8)
	cell(bold, []string{ut.Period, "", "", strconv.Itoa(ut.Stamped), strconv.Itoa(ut.Approved), strconv.Itoa(ut.Printed)})
	pg.line(margin, y, right, y, 0.8)

	// Page numbers, then the objects.
	for i, p := range pages {
		p.text(reg, 8, W/2, margin-20, fmt.Sprintf("第 %d 页 / 共 %d 页   Page %d of %d", i+1, len(pages), i+1, len(pages)), 'c')
	}
	doc := &pdf{}
	catalog, pagesObj := doc.reserve(), doc.reserve()
	var kids []string
	var pageObjs, contentObjs []int
	for range pages {
		po, co := doc.reserve(), doc.reserve()
		pageObjs, contentObjs = append(pageObjs, po), append(contentObjs, co)
		kids = append(kids, fmt.Sprintf("%d 0 R", po))
	}
	f1, f2 := doc.font(reg), doc.font(bold)
	for i, p := range pages {
		doc.stream(contentObjs[i], "", []byte(p.b.String()))
		doc.set(pageObjs[i], fmt.Sprintf("<</Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Resources <</Font <</F1 %d 0 R /F2 %d 0 R>>>> /Contents %d 0 R>>",
			pagesObj, W, H, f1, f2, contentObjs[i]))
	}
	doc.set(pagesObj, fmt.Sprintf("<</Type /Pages /Kids [%s] /Count %d>>", strings.Join(kids, " "), len(pages)))
	info := doc.reserve()
	doc.set(info, fmt.Sprintf("<</Title (Seal usage summary) /Producer (SealKeeper) /CreationDate (D:%s)>>", s.Generated.UTC().Format("20060102150405Z")))
	doc.set(catalog, fmt.Sprintf("<</Type /Catalog /Pages %d 0 R>>", pagesObj))
	return doc.write(w, catalog, info)
}

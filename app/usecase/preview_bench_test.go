package usecase_test

import (
	"testing"

	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
)

// fitWidthDPI is what the preview renders an A4 page at in a 960-unit-wide window at fit
// width: 960 units over 210 mm.
const fitWidthDPI = 116

// BenchmarkPreview300Pages: a 300-page queue document. "open" is the click on it to its first
// page drawn (Desk.OpenPreview, then page 1 at fit width); "flip" is one more page drawn, as
// Page Down does; "thumbnail" one page of the thumbnail strip. Goals (issue 10): open under
// 200 ms, flip under 50 ms. The renderer is warm (started and compiled), as the window has it
// after its first frame.
func BenchmarkPreview300Pages(b *testing.B) {
	d := newDay(b, nil)
	id := d.addPDF(b, "三百页", pdftest.PDF(pdftest.Options{Pages: 300, CJK: true}), nil, nil)
	d.syncOnce(b)
	desk := previewDesk(b, d)
	if err := desk.WarmUp(); err != nil {
		b.Fatal(err)
	}
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			p, err := desk.OpenPreview(id)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.Render(1, fitWidthDPI); err != nil {
				b.Fatal(err)
			}
			p.Close()
		}
	})
	p, err := desk.OpenPreview(id)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.Run("flip", func(b *testing.B) {
		n := 1
		for b.Loop() {
			n = n%300 + 1
			if _, err := p.Render(n, fitWidthDPI); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("thumbnail", func(b *testing.B) {
		n := 1
		for b.Loop() {
			n = n%300 + 1
			if _, err := p.Thumbnail(n, 72, 96); err != nil {
				b.Fatal(err)
			}
		}
	})
}

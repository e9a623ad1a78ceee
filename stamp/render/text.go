package render

import (
	"fmt"
	"strings"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/requests"
)

// TextHit is one occurrence of a keyword.
type TextHit struct {
	// Page is 1-based.
	Page int
	// Rect encloses the keyword's characters in user space (points, origin bottom-left):
	// from the font's descent to its ascent, so its height is about the font size. For
	// a keyword broken over two lines it encloses both parts.
	Rect Rect
}

// FindText finds every occurrence of keyword in the text layer of all pages, in page
// order and reading order within a page. Matching ignores letter case and works for
// any script (e.g. "盖章处"); a scanned page without a text layer has no hits.
// No hits is not an error.
func (d *Document) FindText(keyword string) ([]TextHit, error) {
	if strings.TrimSpace(keyword) == "" {
		return nil, fmt.Errorf("%s: search for an empty keyword", d.name)
	}
	var hits []TextHit
	for page := 1; page <= d.pages; page++ {
		// One call per page so a preview render can go in between on a long file.
		err := d.do(fmt.Sprintf("search page %d", page), func(inst pdfium.Pdfium, ref docRef) error {
			h, err := findOnPage(inst, ref, page, keyword)
			hits = append(hits, h...)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return hits, nil
}

func findOnPage(inst pdfium.Pdfium, ref docRef, page int, keyword string) ([]TextHit, error) {
	tp, err := inst.FPDFText_LoadPage(&requests.FPDFText_LoadPage{Page: pageRef(ref, page)})
	if err != nil {
		return nil, err
	}
	defer inst.FPDFText_ClosePage(&requests.FPDFText_ClosePage{TextPage: tp.TextPage})

	sch, err := inst.FPDFText_FindStart(&requests.FPDFText_FindStart{TextPage: tp.TextPage, Find: keyword})
	if err != nil {
		return nil, err
	}
	defer inst.FPDFText_FindClose(&requests.FPDFText_FindClose{Search: sch.Search})

	var hits []TextHit
	for {
		next, err := inst.FPDFText_FindNext(&requests.FPDFText_FindNext{Search: sch.Search})
		if err != nil {
			return nil, err
		}
		if !next.GotMatch {
			return hits, nil
		}
		start, err := inst.FPDFText_GetSchResultIndex(&requests.FPDFText_GetSchResultIndex{Search: sch.Search})
		if err != nil {
			return nil, err
		}
		count, err := inst.FPDFText_GetSchCount(&requests.FPDFText_GetSchCount{Search: sch.Search})
		if err != nil {
			return nil, err
		}
		// Loose boxes (font size, ascent and descent) rather than glyph outlines: they
		// have the line's full height, and still do when the font is not embedded and
		// PDFium has no outlines for it (common for Chinese documents).
		var box Rect
		found := false
		for i := start.Index; i < start.Index+count.Count; i++ {
			gen, err := inst.FPDFText_IsGenerated(&requests.FPDFText_IsGenerated{TextPage: tp.TextPage, Index: i})
			if err != nil {
				return nil, err
			}
			if gen.IsGenerated { // a space or line break PDFium inserted, with no place
				continue
			}
			cb, err := inst.FPDFText_GetLooseCharBox(&requests.FPDFText_GetLooseCharBox{TextPage: tp.TextPage, Index: i})
			if err != nil {
				return nil, err
			}
			r := normRect(Rect{X0: float64(cb.Rect.Left), Y0: float64(cb.Rect.Bottom), X1: float64(cb.Rect.Right), Y1: float64(cb.Rect.Top)})
			if r.W() == 0 && r.H() == 0 {
				continue
			}
			if found {
				box = union(box, r)
			} else {
				box, found = r, true
			}
		}
		if found {
			hits = append(hits, TextHit{Page: page, Rect: box})
		}
	}
}

package usecase

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
	"github.com/sealkeeper/sealkeeper/store/ticket"
)

// ErrOutsideRegion: the approval names regions of the page the seal may go in, and the seal is
// in none of them.
var ErrOutsideRegion = errors.New("the approval allows the seal only inside the regions it names")

// Region is an area of a page the approval lets a seal's centre lie in, in mm from the page's
// top-left corner as displayed.
type Region struct {
	Page           int
	X0, Y0, X1, Y1 float64
}

func (r Region) String() string {
	return fmt.Sprintf("x %.1f-%.1f mm, y %.1f-%.1f mm from the top left", r.X0, r.X1, r.Y0, r.Y1)
}

// limits are an approval's page and region limits for a document of a known page count. They
// come from the signed ticket only: the listing's allowedPages is an unsigned copy and is never
// consulted, so a listing that widens the pages changes nothing (issue 16).
type limits struct {
	pages   []int // resolved (ticket.LastPage is the last page); empty: any page
	regions []Region
}

func ticketLimits(tk *ticket.Ticket, pages int) limits {
	var l limits
	for _, p := range tk.Pages {
		l.pages = append(l.pages, ticket.PageOf(p, pages))
	}
	for _, r := range tk.Regions {
		l.regions = append(l.regions, Region{Page: ticket.PageOf(r.Page, pages), X0: r.X, Y0: r.Y, X1: r.X + r.W, Y1: r.Y + r.H})
	}
	return l
}

// approvedLimits reads the limits from a queue document's ticket, which was verified when the
// document entered the queue (and is again at stamping).
func approvedLimits(text string, pages int) (limits, error) {
	tk, err := ticket.Parse(text)
	if err != nil {
		return limits{}, err
	}
	return ticketLimits(tk, pages), nil
}

func (l limits) pageAllowed(n int) bool {
	if len(l.pages) > 0 && !slices.Contains(l.pages, n) {
		return false
	}
	return len(l.regions) == 0 || len(l.on(n)) > 0
}

func (l limits) on(page int) []Region {
	var out []Region
	for _, r := range l.regions {
		if r.Page == page {
			out = append(out, r)
		}
	}
	return out
}

// checkPage refuses a page the approval does not allow, naming the pages it does.
func (l limits) checkPage(page int) error {
	if len(l.pages) > 0 && !slices.Contains(l.pages, page) {
		return fmt.Errorf("%w: page %d (allowed: %s)", ErrPageNotAllowed, page, pageList(l.pages))
	}
	return nil
}

// check refuses a whole seal centred at (x, y) mm on a page outside the limits, naming the page
// and what the approval allows.
func (l limits) check(page int, x, y float64) error {
	if err := l.checkPage(page); err != nil {
		return err
	}
	if len(l.regions) == 0 {
		return nil
	}
	rs := l.on(page)
	for _, r := range rs {
		if x >= r.X0 && x <= r.X1 && y >= r.Y0 && y <= r.Y1 {
			return nil
		}
	}
	if len(rs) == 0 {
		var with []int
		for _, r := range l.regions {
			if !slices.Contains(with, r.Page) {
				with = append(with, r.Page)
			}
		}
		return fmt.Errorf("%w: there is none on page %d (pages with a region: %s)", ErrOutsideRegion, page, pageList(with))
	}
	allowed := make([]string, len(rs))
	for i, r := range rs {
		allowed[i] = r.String()
	}
	return fmt.Errorf("%w: the seal's centre on page %d is at x %.1f mm, y %.1f mm; allowed there: %s", ErrOutsideRegion, page, x, y, strings.Join(allowed, "; "))
}

// checkPlacement enforces the limits on what is about to be signed: every widget on an allowed
// page, every whole seal's centre in a region of its page. Riding-seam slices sit on the page
// edge wherever the seam runs, so only their pages are checked.
func (l limits) checkPlacement(doc *pdfinspect.Document, p placement.Placement) error {
	for _, w := range p.Widgets {
		if w.Slices > 0 {
			if err := l.checkPage(w.Page); err != nil {
				return fmt.Errorf("riding seam: %w", err)
			}
			continue
		}
		if w.Page < 1 || w.Page > len(doc.Pages) {
			return fmt.Errorf("the document has %d pages; there is no page %d", len(doc.Pages), w.Page)
		}
		cx, cy := w.Rect.Center()
		vx, vy := doc.Pages[w.Page-1].Page.ToView(cx, cy)
		if err := l.check(w.Page, vx/placement.PointsPerMM, vy/placement.PointsPerMM); err != nil {
			return err
		}
	}
	return nil
}

package usecase

import (
	"errors"
	"fmt"
	"image"
	"math"
	"slices"
	"strings"

	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
	"github.com/sealkeeper/sealkeeper/stamp/render"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// Layout is where the seals go on one document, in the screens' terms: any number of whole
// seals and at most one riding seam. The stamping makes one signature with a widget for each.
type Layout struct {
	Seals []Place
	Seam  *Seam
}

// Seam is a riding-seam seal (骑缝章): one slice on the edge of each page, the slices adding up
// to the whole seal when the pages are fanned out.
type Seam struct {
	Right bool    // the right edge as displayed (else the left)
	YMM   float64 // the seal's centre, from the top of the page
	// Pages carry a slice each, in order; empty means every page the approval allows.
	Pages []int
}

func (l Layout) clone() Layout {
	c := Layout{Seals: slices.Clone(l.Seals)}
	if l.Seam != nil {
		s := *l.Seam
		s.Pages = slices.Clone(s.Pages)
		c.Seam = &s
	}
	return c
}

// Official margins of GB/T 9704-2012 (党政机关公文格式), the layout of Chinese official
// documents: the seal is placed against the type area, so its edges are snap lines.
const (
	MarginTopMM    = 37
	MarginBottomMM = 35
	MarginLeftMM   = 28
	MarginRightMM  = 26
)

// PageView is one page as the preview shows it.
type PageView struct {
	Number            int
	WidthMM, HeightMM float64 // as displayed, after the page's rotation
	Rotation          int     // the page's /Rotate: 0, 90, 180 or 270
	Allowed           bool    // the approval lets the seal go on this page
}

// Mark is a seal, or one slice of a riding seam, as it will appear on one page: its box in mm
// from the page's top-left corner as displayed.
type Mark struct {
	Page           int
	X0, Y0, X1, Y1 float64
	// Seal is the index in Layout.Seals, or -1 for the riding seam's slice.
	Seal int
	// Slice of Slices is the part of the seal picture this mark shows (0 of 0: the whole seal).
	Slice, Slices int
}

// Guide is a line the seal snapped to.
type Guide struct {
	Vertical bool    // a vertical line at X = AtMM (else horizontal at Y = AtMM)
	AtMM     float64 // where the seal's centre now is on that axis
	What     string  // "centre", "margin", "keyword" or "position"
}

// Preview is one queue document opened for placing the seal: its pages and their pictures, the
// seal at its true size, and the layout the custodian is building, with undo. The placement a
// stamping uses is computed from the layout by the same code that draws the marks, so what the
// screen shows is what the key signs. A Preview is used from one goroutine (the screen's).
type Preview struct {
	desk      *Desk
	item      QueueItem
	doc       *pdfinspect.Document
	pic       *render.Document // nil in a batch's geometry-only preview (openPreview)
	size      placement.Size   // the seal as displayed, in points
	limits    limits           // the ticket's (signed) pages and regions
	positions []upstream.Position
	layout    Layout
	signing   Signing
	undo      []Layout
	nudging   int // the seal the last Nudge moved, so a run of nudges is one undo step; -1 none
	hits      []Place
}

// Refusals a screen tells apart (errors.Is); the error's text says what is allowed instead.
var (
	// ErrPageNotAllowed: the approval does not let the seal go on that page.
	ErrPageNotAllowed = errors.New("the approval does not allow the seal on this page")
	// ErrNoPosition: the approval names the places the seal may go, and this is not one.
	ErrNoPosition = errors.New("the approval allows the seal only at the positions it names")
	// ErrSealTooBig: the seal does not fit on the page.
	ErrSealTooBig = errors.New("the seal is larger than the page")
)

// OpenPreview opens a queue document for placement. Close the Preview when the screen goes.
func (d *Desk) OpenPreview(docID string) (*Preview, error) { return d.openPreview(docID, true) }

// openPreview opens a document's geometry, and with pictures its pages in the renderer too.
func (d *Desk) openPreview(docID string, pictures bool) (*Preview, error) {
	size, err := d.sealSize()
	if err != nil {
		return nil, err
	}
	if d.cfg.Ledger == nil {
		return nil, ErrNoLedger
	}
	cached, err := d.stampable(docID)
	if err != nil {
		return nil, err
	}
	doc, err := pdfinspect.OpenFile(cached.File)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", cached.Title, err)
	}
	lim, err := approvedLimits(cached.Ticket, len(doc.Pages))
	if err != nil {
		return nil, fmt.Errorf("%q: %w", cached.Title, err)
	}
	p := &Preview{desk: d, doc: doc, size: size, limits: lim, positions: cached.Positions, nudging: -1,
		item: QueueItem{ID: cached.ID, Title: cached.Title, SealID: cached.SealID, Pages: len(doc.Pages), SHA256: cached.SHA256, Copies: cached.Copies, Supersedes: cached.Supersedes}}
	if pictures {
		if p.pic, err = d.renderer().OpenFile(cached.File); err != nil {
			return nil, fmt.Errorf("%q cannot be shown: %w", cached.Title, err)
		}
	}
	return p, nil
}

// DefaultPlace is where a new seal starts on a page: the approved position nearest to
// DefaultPlace where the approval names positions, else DefaultPlace itself.
func (p *Preview) DefaultPlace(page int) Place {
	pg, err := p.page(page)
	if err != nil {
		return Place{Page: page}
	}
	w, h := pg.ViewSize()
	at := DefaultPlace(w/placement.PointsPerMM, h/placement.PointsPerMM)
	at.Page = page
	if rs := p.limits.on(page); len(rs) > 0 {
		at.XMM, at.YMM = (rs[0].X0+rs[0].X1)/2, (rs[0].Y0+rs[0].Y1)/2
	}
	if fitted, err := p.fit(at); err == nil {
		return fitted
	}
	return at
}

// renderer is the desk's page renderer, made on first use when the program gave none.
func (d *Desk) renderer() *render.Renderer {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cfg.Renderer == nil {
		d.cfg.Renderer = render.New(render.Options{})
	}
	return d.cfg.Renderer
}

// WarmUp starts the page renderer (PDFium's compilation takes a few seconds the first time), so
// the first preview opens quickly. The window calls it after its first frame.
func (d *Desk) WarmUp() error { return d.renderer().Start() }

// Close lets the document go.
func (p *Preview) Close() error {
	if p.pic == nil {
		return nil
	}
	return p.pic.Close()
}

// Document is the queue entry being placed.
func (p *Preview) Document() QueueItem { return p.item }

// Pages are the document's pages as displayed.
func (p *Preview) Pages() []PageView {
	out := make([]PageView, len(p.doc.Pages))
	for i, pg := range p.doc.Pages {
		w, h := pg.Page.ViewSize()
		out[i] = PageView{Number: i + 1, WidthMM: w / placement.PointsPerMM, HeightMM: h / placement.PointsPerMM,
			Rotation: placement.NormRotate(pg.Page.Rotate), Allowed: p.pageAllowed(i + 1)}
	}
	return out
}

func (p *Preview) pageAllowed(n int) bool {
	if !p.limits.pageAllowed(n) {
		return false
	}
	if p.sealPositions() {
		return slices.ContainsFunc(p.positions, func(q upstream.Position) bool { return q.Page == n && q.Kind != "seam" })
	}
	return true
}

func (p *Preview) sealPositions() bool {
	return slices.ContainsFunc(p.positions, func(q upstream.Position) bool { return q.Kind != "seam" })
}

// SealMM is the seal's size as displayed, in mm.
func (p *Preview) SealMM() (w, h float64) {
	return p.size.W / placement.PointsPerMM, p.size.H / placement.PointsPerMM
}

// SealImage is the seal's picture.
func (p *Preview) SealImage() image.Image { return p.desk.cfg.Seal.Image }

// Render draws a page as displayed at dpi dots per inch; the image spans the whole page, so a
// point at (x, y) mm is at pixel (x, y)·width/WidthMM.
func (p *Preview) Render(page, dpi int) (*image.RGBA, error) { return p.pic.Render(page, dpi) }

// Thumbnail draws a page fitted into maxW×maxH pixels. Render and Thumbnail may be called from
// any goroutine (the screen draws in the background); everything else from the screen's.
func (p *Preview) Thumbnail(page, maxW, maxH int) (*image.RGBA, error) {
	imgs, err := p.pic.Thumbnails([]int{page}, maxW, maxH)
	if err != nil {
		return nil, err
	}
	return imgs[0], nil
}

func (p *Preview) page(n int) (placement.Page, error) {
	if n < 1 || n > len(p.doc.Pages) {
		return placement.Page{}, fmt.Errorf("the document has %d pages; there is no page %d", len(p.doc.Pages), n)
	}
	return p.doc.Pages[n-1].Page, nil
}

// FindText looks for a keyword (e.g. 盖章处, "seal here") in the pages' text. Each hit becomes a
// snap target and is returned as the place a seal centred on it would have.
func (p *Preview) FindText(keyword string) ([]Place, error) {
	p.hits = nil
	if strings.TrimSpace(keyword) == "" {
		return nil, nil
	}
	hits, err := p.pic.FindText(keyword)
	if err != nil {
		return nil, err
	}
	for _, h := range hits {
		pg, err := p.page(h.Page)
		if err != nil {
			continue
		}
		x, y := h.Rect.Center()
		vx, vy := pg.ToView(x, y)
		p.hits = append(p.hits, Place{Page: h.Page, XMM: vx / placement.PointsPerMM, YMM: vy / placement.PointsPerMM})
	}
	return slices.Clone(p.hits), nil
}

// Positions are the places the approval allows on a page (empty when it names none), in mm.
func (p *Preview) Positions(page int) []Place {
	pg, err := p.page(page)
	if err != nil {
		return nil
	}
	var out []Place
	for _, q := range p.positions {
		if q.Page == page && q.Kind != "seam" {
			vx, vy := pg.ToView(q.X, q.Y)
			out = append(out, Place{Page: page, XMM: vx / placement.PointsPerMM, YMM: vy / placement.PointsPerMM})
		}
	}
	return out
}

// Snap moves a seal centre at (x, y) mm on a page to the nearest guide within tol mm on each
// axis: the page centre, the official margins (the seal's edge on the type area's edge), a
// keyword found by FindText, a position the approval names. It changes nothing.
func (p *Preview) Snap(page int, x, y, tol float64) (sx, sy float64, guides []Guide) {
	sx, sy = x, y
	pg, err := p.page(page)
	if err != nil {
		return
	}
	w, h := pg.ViewSize()
	w, h = w/placement.PointsPerMM, h/placement.PointsPerMM
	sw, sh := p.SealMM()
	type cand struct {
		at   float64
		what string
	}
	xs := []cand{{w / 2, "centre"}, {MarginLeftMM + sw/2, "margin"}, {w - MarginRightMM - sw/2, "margin"}}
	ys := []cand{{h / 2, "centre"}, {MarginTopMM + sh/2, "margin"}, {h - MarginBottomMM - sh/2, "margin"}}
	for _, t := range p.hits {
		if t.Page == page {
			xs, ys = append(xs, cand{t.XMM, "keyword"}), append(ys, cand{t.YMM, "keyword"})
		}
	}
	for _, t := range p.Positions(page) {
		xs, ys = append(xs, cand{t.XMM, "position"}), append(ys, cand{t.YMM, "position"})
	}
	near := func(v float64, cs []cand) (float64, string, bool) {
		best, what, ok := v, "", false
		for _, c := range cs {
			if d := math.Abs(c.at - v); d <= tol && (!ok || d < math.Abs(best-v)) {
				best, what, ok = c.at, c.what, true
			}
		}
		return best, what, ok
	}
	if v, what, ok := near(x, xs); ok {
		sx = v
		guides = append(guides, Guide{Vertical: true, AtMM: v, What: what})
	}
	if v, what, ok := near(y, ys); ok {
		sy = v
		guides = append(guides, Guide{AtMM: v, What: what})
	}
	return
}

// fit checks a seal centre against the approval and the page: the seal is kept whole on the
// page, and where the approval names positions, it goes to the nearest one on that page.
func (p *Preview) fit(at Place) (Place, error) {
	pg, err := p.page(at.Page)
	if err != nil {
		return at, err
	}
	if err := p.limits.checkPage(at.Page); err != nil {
		return at, err
	}
	if p.sealPositions() {
		best, bestD := Place{}, math.Inf(1)
		for _, q := range p.Positions(at.Page) {
			if d := math.Hypot(q.XMM-at.XMM, q.YMM-at.YMM); d < bestD {
				best, bestD = q, d
			}
		}
		if math.IsInf(bestD, 1) {
			return at, fmt.Errorf("%w; there is none on page %d", ErrNoPosition, at.Page)
		}
		return best, nil
	}
	w, h := pg.ViewSize()
	w, h = w/placement.PointsPerMM, h/placement.PointsPerMM
	sw, sh := p.SealMM()
	if sw > w || sh > h {
		return at, fmt.Errorf("%w: a %.0f×%.0f mm seal on a %.0f×%.0f mm page", ErrSealTooBig, sw, sh, w, h)
	}
	at.XMM = min(max(at.XMM, sw/2), w-sw/2)
	at.YMM = min(max(at.YMM, sh/2), h-sh/2)
	// The signed regions are not snapped to: a drop outside them is refused, as stamping would.
	return at, p.limits.check(at.Page, at.XMM, at.YMM)
}

// Regions are the areas of a page the approval lets a seal's centre lie in (from the signed
// ticket; empty when it names none on any page), for the screen to draw.
func (p *Preview) Regions(page int) []Region { return p.limits.on(page) }

// Fit is where a seal centred at a place would go (kept on the page, moved to an approved
// position), or why it cannot go on that page; it changes nothing.
func (p *Preview) Fit(at Place) (Place, error) { return p.fit(at) }

func pageList(pages []int) string {
	s := make([]string, len(pages))
	for i, n := range pages {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

func (p *Preview) save() {
	p.undo = append(p.undo, p.layout.clone())
	p.nudging = -1
}

// Signing is how the seal's signature treats later changes (docs/rules.md 7).
type Signing struct {
	// Certify makes it the certifying signature (DocMDP: later, only form filling and further
	// signatures are allowed); only the document's first signature can certify.
	Certify bool
	// Lock allows no change at all after this seal, further seals included.
	Lock bool
}

// SetSigning chooses certify or lock for the stamping; the confirmation shows it.
func (p *Preview) SetSigning(s Signing) { p.signing = s }

// Signing is the choice made with SetSigning (none by default).
func (p *Preview) Signing() Signing { return p.signing }

// Signed tells whether the document carries signatures already (so it cannot be certified).
func (p *Preview) Signed() bool { return len(p.doc.Signatures) > 0 }

// Layout is the layout so far.
func (p *Preview) Layout() Layout { return p.layout.clone() }

// Put adds a seal centred at a place (kept on the page, moved to an allowed position where the
// approval names them) and returns its index and where it went.
func (p *Preview) Put(at Place) (int, Place, error) {
	at, err := p.fit(at)
	if err != nil {
		return -1, at, err
	}
	p.save()
	p.layout.Seals = append(p.layout.Seals, at)
	return len(p.layout.Seals) - 1, at, nil
}

// Move puts seal i at a new place, as Put does.
func (p *Preview) Move(i int, at Place) (Place, error) {
	if i < 0 || i >= len(p.layout.Seals) {
		return at, fmt.Errorf("there is no seal %d on the document", i+1)
	}
	at, err := p.fit(at)
	if err != nil {
		return at, err
	}
	p.save()
	p.layout.Seals[i] = at
	return at, nil
}

// Nudge moves seal i by (dx, dy) mm, as the arrow keys do; a run of nudges of one seal is one
// undo step.
func (p *Preview) Nudge(i int, dx, dy float64) (Place, error) {
	if i < 0 || i >= len(p.layout.Seals) {
		return Place{}, fmt.Errorf("there is no seal %d on the document", i+1)
	}
	cur := p.layout.Seals[i]
	at, err := p.fit(Place{Page: cur.Page, XMM: cur.XMM + dx, YMM: cur.YMM + dy})
	if err != nil {
		return cur, err
	}
	if p.nudging != i {
		p.save()
		p.nudging = i
	}
	p.layout.Seals[i] = at
	return at, nil
}

// Remove takes seal i off the document.
func (p *Preview) Remove(i int) error {
	if i < 0 || i >= len(p.layout.Seals) {
		return fmt.Errorf("there is no seal %d on the document", i+1)
	}
	p.save()
	p.layout.Seals = slices.Delete(p.layout.Seals, i, i+1)
	return nil
}

// SetSeam puts a riding seam on the document (nil takes it off). Its slices are checked at
// once, so a seam that cannot be made is refused here, not at stamping.
func (p *Preview) SetSeam(s *Seam) error {
	next := p.layout.clone()
	next.Seam = nil
	if s != nil {
		c := *s
		c.Pages = slices.Clone(s.Pages)
		next.Seam = &c
	}
	if next.Seam != nil {
		if err := p.fitSeam(next.Seam); err != nil {
			return err
		}
		if _, err := p.seamPlacement(*next.Seam); err != nil {
			return err
		}
	}
	p.save()
	p.layout = next
	return nil
}

// fitSeam moves a seam to the position the approval names for it, when it names positions.
func (p *Preview) fitSeam(s *Seam) error {
	if len(p.positions) == 0 {
		return nil
	}
	first := p.seamPages(*s)[0]
	pg, err := p.page(first)
	if err != nil {
		return err
	}
	w, _ := pg.ViewSize()
	best := math.Inf(1)
	for _, q := range p.positions {
		if q.Kind != "seam" || q.Page != first {
			continue
		}
		vx, vy := pg.ToView(q.X, q.Y)
		if d := math.Abs(vy/placement.PointsPerMM - s.YMM); d < best {
			best, s.YMM, s.Right = d, vy/placement.PointsPerMM, vx > w/2
		}
	}
	if math.IsInf(best, 1) {
		return fmt.Errorf("%w: none for a riding seam on page %d", ErrNoPosition, first)
	}
	return nil
}

// Undo goes back one change; false when there is nothing to undo.
func (p *Preview) Undo() bool {
	if len(p.undo) == 0 {
		return false
	}
	p.layout = p.undo[len(p.undo)-1]
	p.undo = p.undo[:len(p.undo)-1]
	p.nudging = -1
	return true
}

// CanUndo tells whether Undo would change anything.
func (p *Preview) CanUndo() bool { return len(p.undo) > 0 }

func (p *Preview) seamPages(s Seam) []int {
	if len(s.Pages) > 0 {
		return s.Pages
	}
	if len(p.limits.pages) > 0 {
		return p.limits.pages
	}
	all := make([]int, len(p.doc.Pages))
	for i := range all {
		all[i] = i + 1
	}
	return all
}

func (p *Preview) seamPlacement(s Seam) (placement.Placement, error) {
	return seamPlacement(p.doc, p.size, s, p.seamPages(s))
}

// Marks are the seals and seam slices on one page, as the stamping will put them.
func (p *Preview) Marks(page int) []Mark {
	pg, err := p.page(page)
	if err != nil {
		return nil
	}
	var out []Mark
	sw, sh := p.SealMM()
	for i, s := range p.layout.Seals {
		if s.Page == page {
			out = append(out, Mark{Page: page, X0: s.XMM - sw/2, Y0: s.YMM - sh/2, X1: s.XMM + sw/2, Y1: s.YMM + sh/2, Seal: i})
		}
	}
	if p.layout.Seam != nil {
		if pl, err := p.seamPlacement(*p.layout.Seam); err == nil {
			for _, w := range pl.Widgets {
				if w.Page != page {
					continue
				}
				v := pg.RectToView(w.Rect)
				mm := placement.PointsPerMM
				out = append(out, Mark{Page: page, X0: v.X0 / mm, Y0: v.Y0 / mm, X1: v.X1 / mm, Y1: v.Y1 / mm, Seal: -1, Slice: w.Slice, Slices: w.Slices})
			}
		}
	}
	return out
}

// SealAt is the seal whose box holds (x, y) mm on a page, the last drawn first; -1 for none.
func (p *Preview) SealAt(page int, x, y float64) int {
	sw, sh := p.SealMM()
	for i := len(p.layout.Seals) - 1; i >= 0; i-- {
		s := p.layout.Seals[i]
		if s.Page == page && math.Abs(x-s.XMM) <= sw/2 && math.Abs(y-s.YMM) <= sh/2 {
			return i
		}
	}
	return -1
}

// Placement is what the stamping will sign for the current layout.
func (p *Preview) Placement() (placement.Placement, error) {
	return layoutPlacement(p.doc, p.size, p.layout, p.seamPages)
}

// layoutPlacement turns a layout into the engine's placement: one widget per whole seal, one
// per seam slice. It is the one conversion the window and StampAt use.
func layoutPlacement(doc *pdfinspect.Document, size placement.Size, l Layout, seamPages func(Seam) []int) (placement.Placement, error) {
	var pl placement.Placement
	for _, s := range l.Seals {
		if s.Page < 1 || s.Page > len(doc.Pages) {
			return pl, fmt.Errorf("the document has %d pages; there is no page %d", len(doc.Pages), s.Page)
		}
		one, err := placement.AtViewMM(doc.Pages[s.Page-1].Page, s.XMM, s.YMM, size)
		if err != nil {
			return pl, err
		}
		pl.Widgets = append(pl.Widgets, one.Widgets...)
	}
	pl.Kind = placement.Single
	if len(l.Seals) > 1 {
		pl.Kind = placement.MultiPage
	}
	if l.Seam != nil {
		sp, err := seamPlacement(doc, size, *l.Seam, seamPages(*l.Seam))
		if err != nil {
			return pl, err
		}
		pl.Widgets = append(pl.Widgets, sp.Widgets...)
		pl.Kind = placement.RidingSeam
		if len(l.Seals) > 0 {
			pl.Kind = placement.MultiPage
		}
	}
	if len(pl.Widgets) == 0 {
		return pl, errors.New("no seal is placed on the document yet")
	}
	return pl, nil
}

func seamPlacement(doc *pdfinspect.Document, size placement.Size, s Seam, pages []int) (placement.Placement, error) {
	var ps []placement.Page
	for _, n := range pages {
		if n < 1 || n > len(doc.Pages) {
			return placement.Placement{}, fmt.Errorf("the document has %d pages; there is no page %d", len(doc.Pages), n)
		}
		ps = append(ps, doc.Pages[n-1].Page)
	}
	edge := placement.Left
	if s.Right {
		edge = placement.Right
	}
	return placement.RidingSeamOn(ps, edge, s.YMM, size)
}

// positionTolerance is how far (in points, 1 mm) a seal's centre may lie from a position the
// approval names: the preview puts it exactly there, the rest is rounding.
const positionTolerance = placement.PointsPerMM

// allowedPositions enforces the approval's positions (none: anywhere): each whole seal centred
// on a "seal" position of its page, each riding-seam slice over a "seam" position of its page.
func allowedPositions(positions []upstream.Position, p placement.Placement) error {
	if len(positions) == 0 {
		return nil
	}
	for _, w := range p.Widgets {
		cx, cy := w.Rect.Center()
		ok := slices.ContainsFunc(positions, func(q upstream.Position) bool {
			if q.Page != w.Page {
				return false
			}
			if w.Slices > 0 {
				r := w.Rect
				return q.Kind == "seam" && q.X >= r.X0-positionTolerance && q.X <= r.X1+positionTolerance &&
					q.Y >= r.Y0-positionTolerance && q.Y <= r.Y1+positionTolerance
			}
			return q.Kind != "seam" && math.Hypot(q.X-cx, q.Y-cy) <= positionTolerance
		})
		if !ok {
			what := "seal"
			if w.Slices > 0 {
				what = "riding-seam slice"
			}
			return fmt.Errorf("%w: the %s on page %d is not at one of them", ErrNoPosition, what, w.Page)
		}
	}
	return nil
}

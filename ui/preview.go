package ui

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
)

// Colours drawn over the page: the shade of a page the approval does not allow, the snap lines
// and approved positions, the selected seal's frame.
var (
	colorShade  = color.NRGBA{R: 0x60, G: 0x60, B: 0x60, A: 0x70}
	colorGuide  = color.NRGBA{R: 0x1e, G: 0x88, B: 0xe5, A: 0xff}
	colorSelect = color.NRGBA{R: 0x1e, G: 0x88, B: 0xe5, A: 0xff}
)

// unitsPerMM is 100 % zoom: the page at its true size on a 96 dpi screen.
const unitsPerMM = 96 / 25.4

// Arrow keys move the selected seal by nudgeMM, with Shift by nudgeBigMM.
const (
	nudgeMM    = 1.0
	nudgeBigMM = 10.0
)

// snapUnits is how close (in screen units, whatever the zoom) the seal must come to a guide to
// snap to it.
const snapUnits = 8

var zoomSteps = []float32{0.5, 0.75, 1, 1.5, 2, 3, 4}

// previewScreen shows a queue document's pages and lets the custodian place the seal on them:
// the seal at its true size follows the pointer and is dropped by a click (or Enter), dragged,
// moved with the arrow keys, snapped to the official margins, the centre, a keyword and the
// approved positions; a riding seam across the pages; undo. Stamp asks for confirmation, signs
// in the background and shows the verifier's findings.
type previewScreen struct {
	q     *queueScreen
	p     *usecase.Preview
	item  usecase.QueueItem
	pages []usecase.PageView

	page     int     // 1-based
	fit      string  // "width", "page" or "" for a fixed zoom
	zoom     float32 // screen units per mm
	viewSize fyne.Size
	sel      int // selected seal, -1 for none
	placing  bool
	ghost    usecase.Place // the seal following the pointer, while placing or dragging
	guides   []usecase.Guide
	drag     *dragState
	busy     bool
	recall   *copiesForm // the recall form a refused stamping opened (重印)

	view     *pageView
	scroll   *container.Scroll
	thumbs   *widget.List
	thumbImg map[int]image.Image
	zoomSel  *widget.Select
	pageLbl  *widget.Label
	info     *widget.Label
	seam     *widget.Check
	seamEdge *widget.Select
	keyword  *widget.Entry
	add      *widget.Button
	remove   *widget.Button
	undo     *widget.Button
	stamp    *widget.Button
	content  fyne.CanvasObject

	pics      map[picKey]image.Image
	sealPic   *image.NRGBA
	confirm   *dialog.CustomDialog
	confirmOK *widget.Button
	confirmed string // what the confirmation says
	certify   *widget.Check
	lock      *widget.Check
}

type picKey struct{ page, dpi int }

type dragState struct {
	seal  int
	start usecase.Place
	dx    float32
	dy    float32
}

func newPreviewScreen(q *queueScreen, p *usecase.Preview) *previewScreen {
	t := q.u.tr
	s := &previewScreen{q: q, p: p, item: p.Document(), pages: p.Pages(), page: 1, fit: "width", sel: -1,
		thumbImg: map[int]image.Image{}, pics: map[picKey]image.Image{}, sealPic: toNRGBA(p.SealImage()),
		info: &widget.Label{Wrapping: fyne.TextWrapWord}, pageLbl: &widget.Label{}}
	s.view = &pageView{s: s}
	s.view.ExtendBaseWidget(s.view)
	s.scroll = container.NewScroll(container.NewCenter(s.view))
	zooms := []string{t.T("preview.fitwidth"), t.T("preview.fitpage")}
	for _, z := range zoomSteps {
		zooms = append(zooms, fmt.Sprintf("%.0f%%", z*100))
	}
	s.zoomSel = &widget.Select{Options: zooms, Selected: zooms[0], OnChanged: s.setZoom}
	s.thumbs = &widget.List{
		Length: func() int { return len(s.pages) },
		CreateItem: func() fyne.CanvasObject {
			img := &canvas.Image{FillMode: canvas.ImageFillContain}
			img.SetMinSize(fyne.NewSize(72, 96))
			return container.NewBorder(nil, &widget.Label{Alignment: fyne.TextAlignCenter}, nil, nil, img)
		},
		UpdateItem: func(i widget.ListItemID, o fyne.CanvasObject) {
			c := o.(*fyne.Container)
			img, lbl := c.Objects[0].(*canvas.Image), c.Objects[1].(*widget.Label)
			n := i + 1
			mark := ""
			if !s.pages[i].Allowed {
				mark = " ⊘"
			} else if len(s.p.Marks(n)) > 0 {
				mark = " ●"
			}
			lbl.SetText(fmt.Sprintf("%d%s", n, mark))
			img.Image = s.thumbImg[n]
			img.Refresh()
			if img.Image == nil {
				s.loadThumb(n)
			}
		},
		OnSelected: func(i widget.ListItemID) { s.goPage(i + 1) },
	}
	s.seamEdge = &widget.Select{Options: []string{t.T("preview.right"), t.T("preview.left")}, Selected: t.T("preview.right"),
		OnChanged: func(string) { s.applySeam() }}
	s.seam = &widget.Check{Text: t.T("preview.seam"), OnChanged: func(bool) { s.applySeam() }}
	s.keyword = &widget.Entry{PlaceHolder: t.T("preview.keyword"), OnSubmitted: func(string) { s.findKeyword() }}
	s.add = &widget.Button{Text: t.T("preview.add"), OnTapped: s.startPlacing}
	s.remove = &widget.Button{Text: t.T("preview.remove"), OnTapped: s.removeSelected}
	s.undo = &widget.Button{Text: t.T("preview.undo"), OnTapped: s.doUndo}
	s.stamp = &widget.Button{Text: t.T("preview.stamp"), Importance: widget.HighImportance, OnTapped: s.askStamp}
	back := &widget.Button{Text: t.T("preview.back"), OnTapped: s.close}
	prev := &widget.Button{Icon: theme.NavigateBackIcon(), OnTapped: func() { s.goPage(s.page - 1) }}
	next := &widget.Button{Icon: theme.NavigateNextIcon(), OnTapped: func() { s.goPage(s.page + 1) }}
	find := &widget.Button{Text: t.T("preview.find"), OnTapped: s.findKeyword}
	bar1 := container.NewBorder(nil, nil, back, container.NewHBox(prev, s.pageLbl, next, s.zoomSel),
		&widget.Label{Text: s.item.Title, TextStyle: fyne.TextStyle{Bold: true}, Truncation: fyne.TextTruncateEllipsis})
	bar2 := container.NewBorder(nil, nil, container.NewHBox(s.add, s.remove, s.undo, s.seam, s.seamEdge), container.NewHBox(find, s.stamp), s.keyword)
	center := container.New(&sizeWatch{onSize: s.viewResized}, s.scroll)
	left := container.New(&fixedWidth{w: 104}, s.thumbs)
	s.content = container.NewBorder(container.NewVBox(bar1, bar2), s.info, left, nil, center)
	s.startPlacing()
	s.refresh()
	return s
}

// toNRGBA copies the seal picture once, so slices of it can be cut for a riding seam.
func toNRGBA(img image.Image) *image.NRGBA {
	if n, ok := img.(*image.NRGBA); ok {
		return n
	}
	b := img.Bounds()
	n := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(n, n.Bounds(), img, b.Min, draw.Src)
	return n
}

func (s *previewScreen) pageInfo() usecase.PageView { return s.pages[s.page-1] }

// setZoom applies the zoom selector: fit width, fit page or a percentage.
func (s *previewScreen) setZoom(choice string) {
	t := s.q.u.tr
	switch choice {
	case t.T("preview.fitwidth"):
		s.fit = "width"
	case t.T("preview.fitpage"):
		s.fit = "page"
	default:
		var pct float32
		fmt.Sscanf(strings.TrimSuffix(choice, "%"), "%g", &pct)
		if pct <= 0 {
			return
		}
		s.fit, s.zoom = "", pct/100*unitsPerMM
	}
	s.refresh()
}

// zoomBy steps through the fixed zooms (+1 larger, -1 smaller), as Ctrl+= and Ctrl+- do.
func (s *previewScreen) zoomBy(dir int) {
	cur := s.zoom / unitsPerMM
	i := 0
	for i < len(zoomSteps) && zoomSteps[i] < cur-0.01 {
		i++
	}
	if dir > 0 && i < len(zoomSteps) && zoomSteps[i] <= cur+0.01 {
		i++
	} else if dir < 0 {
		i--
	}
	i = max(0, min(i, len(zoomSteps)-1))
	s.zoomSel.SetSelected(fmt.Sprintf("%.0f%%", zoomSteps[i]*100))
}

func (s *previewScreen) viewResized(size fyne.Size) {
	if size == s.viewSize {
		return
	}
	s.viewSize = size
	if s.fit != "" {
		s.refresh()
	}
}

// fitZoom computes the zoom of the fit modes from the space the page has.
func (s *previewScreen) fitZoom() {
	pg := s.pageInfo()
	w, h := s.viewSize.Width-16, s.viewSize.Height-16
	if w <= 0 || h <= 0 {
		w, h = 600, 500
	}
	switch s.fit {
	case "width":
		s.zoom = w / float32(pg.WidthMM)
	case "page":
		s.zoom = min(w/float32(pg.WidthMM), h/float32(pg.HeightMM))
	}
	s.zoom = max(s.zoom, 0.25*unitsPerMM)
}

func (s *previewScreen) goPage(n int) {
	if n < 1 || n > len(s.pages) || n == s.page {
		return
	}
	s.page, s.sel, s.guides = n, -1, nil
	if s.placing {
		s.ghost = s.p.DefaultPlace(n)
	}
	s.scroll.ScrollToTop()
	s.thumbs.Select(n - 1)
	s.refresh()
}

// refresh redraws everything from the preview's state.
func (s *previewScreen) refresh() {
	t := s.q.u.tr
	if s.fit != "" {
		s.fitZoom()
	}
	pg := s.pageInfo()
	s.pageLbl.SetText(t.T("preview.page", s.page, len(s.pages)))
	s.view.setPicture(s.picture())
	s.view.redraw()
	s.thumbs.Refresh()
	canAct := !s.busy
	enable(s.undo, canAct && s.p.CanUndo())
	enable(s.remove, canAct && s.sel >= 0)
	enable(s.add, canAct && pg.Allowed)
	enable(s.stamp, canAct && s.q.u.opt.Keys.State().Phase == usecase.LoggedIn && len(s.p.Layout().Seals)+seamCount(s.p.Layout()) > 0)
	s.showInfo()
}

func seamCount(l usecase.Layout) int {
	if l.Seam != nil {
		return 1
	}
	return 0
}

func enable(b *widget.Button, on bool) {
	if on {
		b.Enable()
	} else {
		b.Disable()
	}
}

// showInfo says where the seal is in mm, or why it cannot go here.
func (s *previewScreen) showInfo() {
	t := s.q.u.tr
	pg := s.pageInfo()
	switch {
	case !pg.Allowed:
		s.info.SetText(t.T("preview.notallowed", s.page))
	case s.drag != nil || s.placing:
		s.info.SetText(t.T("preview.at", s.ghost.XMM, s.ghost.YMM) + s.guideText())
	case s.sel >= 0 && s.sel < len(s.p.Layout().Seals):
		at := s.p.Layout().Seals[s.sel]
		s.info.SetText(t.T("preview.selected", s.sel+1, at.Page, at.XMM, at.YMM))
	case len(s.p.Regions(s.page)) > 0:
		var areas []string
		for _, r := range s.p.Regions(s.page) {
			areas = append(areas, fmt.Sprintf("x %.0f–%.0f, y %.0f–%.0f mm", r.X0, r.X1, r.Y0, r.Y1))
		}
		s.info.SetText(t.T("preview.regions", strings.Join(areas, "; ")))
	default:
		s.info.SetText(t.T("preview.hint"))
	}
}

func (s *previewScreen) guideText() string {
	if len(s.guides) == 0 {
		return ""
	}
	var w []string
	for _, g := range s.guides {
		w = append(w, s.q.u.tr.T("preview.snap."+g.What))
	}
	return " · " + strings.Join(w, ", ")
}

// picture is the current page drawn at the zoom, from the cache; a missing one is drawn in the
// background (the last picture of the page, stretched, stands in meanwhile).
func (s *previewScreen) picture() image.Image {
	scale := float32(1)
	if c := s.q.u.win.Canvas(); c != nil {
		scale = c.Scale()
	}
	dpi := int(math.Round(float64(s.zoom*scale) * 25.4))
	dpi = max(36, min(dpi, 300))
	key := picKey{s.page, dpi}
	if img, ok := s.pics[key]; ok {
		return img
	}
	var standIn image.Image
	for k, img := range s.pics {
		if k.page == s.page {
			standIn = img
		}
	}
	s.pics[key] = standIn // asked for once
	go func() {
		img, err := s.p.Render(key.page, key.dpi)
		s.q.u.do(func() {
			if err != nil {
				s.info.SetText(s.q.u.tr.explain(err))
				return
			}
			s.pics[key] = img
			if s.page == key.page && s.q.preview == s {
				s.view.setPicture(img)
			}
		})
	}()
	return standIn
}

func (s *previewScreen) loadThumb(n int) {
	if _, asked := s.thumbImg[n]; asked {
		return
	}
	s.thumbImg[n] = nil
	go func() {
		img, err := s.p.Thumbnail(n, 72, 96)
		if err != nil {
			return
		}
		s.q.u.do(func() {
			s.thumbImg[n] = img
			s.thumbs.RefreshItem(n - 1)
		})
	}()
}

// toMM converts a point on the page view to mm from the page's top-left corner.
func (s *previewScreen) toMM(pos fyne.Position) (float64, float64) {
	return float64(pos.X / s.zoom), float64(pos.Y / s.zoom)
}

func (s *previewScreen) snap(x, y float64) usecase.Place {
	sx, sy, guides := s.p.Snap(s.page, x, y, float64(snapUnits/s.zoom))
	s.guides = guides
	return usecase.Place{Page: s.page, XMM: sx, YMM: sy}
}

// startPlacing puts a seal on the pointer; a click or Enter drops it. It starts at the default
// place, so the keyboard alone can place it (arrows, then Enter).
func (s *previewScreen) startPlacing() {
	if !s.pageInfo().Allowed {
		return
	}
	s.placing, s.sel, s.guides = true, -1, nil
	s.ghost = s.p.DefaultPlace(s.page)
	s.focusView()
	s.refresh()
}

func (s *previewScreen) focusView() {
	if c := s.q.u.win.Canvas(); c != nil {
		c.Focus(s.view)
	}
}

// drop puts the seal where the ghost is.
func (s *previewScreen) drop() {
	i, at, err := s.p.Put(s.ghost)
	if err != nil {
		s.info.SetText(s.q.u.tr.T("preview.refused", s.q.u.tr.explain(err)))
		return
	}
	s.placing, s.sel, s.ghost, s.guides = false, i, at, nil
	s.refresh()
}

func (s *previewScreen) removeSelected() {
	if s.sel < 0 {
		return
	}
	if err := s.p.Remove(s.sel); err == nil {
		s.sel = -1
	}
	s.refresh()
}

func (s *previewScreen) doUndo() {
	s.p.Undo()
	s.sel, s.placing = -1, false
	if l := s.p.Layout(); l.Seam == nil {
		s.seam.Checked = false
		s.seam.Refresh()
	}
	s.refresh()
}

func (s *previewScreen) nudge(dx, dy float64) {
	if s.placing {
		at, err := s.p.Fit(usecase.Place{Page: s.page, XMM: s.ghost.XMM + dx, YMM: s.ghost.YMM + dy})
		if err == nil {
			s.ghost = at
		}
		s.refresh()
		return
	}
	if s.sel < 0 {
		return
	}
	if _, err := s.p.Nudge(s.sel, dx, dy); err != nil {
		s.info.SetText(s.q.u.tr.T("preview.refused", s.q.u.tr.explain(err)))
		return
	}
	s.refresh()
}

// applySeam puts the riding seam on the document's pages, or takes it off.
func (s *previewScreen) applySeam() {
	if s.seam == nil || s.seamEdge == nil {
		return
	}
	var seam *usecase.Seam
	if s.seam.Checked {
		y := s.pageInfo().HeightMM / 2
		if cur := s.p.Layout().Seam; cur != nil {
			y = cur.YMM
		}
		seam = &usecase.Seam{Right: s.seamEdge.Selected == s.q.u.tr.T("preview.right"), YMM: y}
	}
	if err := s.p.SetSeam(seam); err != nil {
		s.seam.Checked = s.p.Layout().Seam != nil
		s.seam.Refresh()
		s.info.SetText(s.q.u.tr.T("preview.refused", s.q.u.tr.explain(err)))
		return
	}
	s.refresh()
}

func (s *previewScreen) findKeyword() {
	t := s.q.u.tr
	hits, err := s.p.FindText(s.keyword.Text)
	switch {
	case err != nil:
		s.info.SetText(s.q.u.tr.explain(err))
	case len(hits) == 0:
		s.info.SetText(t.T("preview.nohit", s.keyword.Text))
	default:
		// The first hit on an allowed page: go there, with the seal on the pointer over it.
		for _, h := range hits {
			if s.pages[h.Page-1].Allowed {
				s.goPage(h.Page)
				s.placing, s.sel = true, -1
				s.ghost = s.snap(h.XMM, h.YMM)
				s.refresh()
				s.info.SetText(t.T("preview.hits", len(hits), s.keyword.Text))
				return
			}
		}
		s.info.SetText(t.T("preview.hits", len(hits), s.keyword.Text))
	}
	s.view.redraw()
}

// describe says in words where the seals go, for the confirmation.
func (s *previewScreen) describe() string {
	t := s.q.u.tr
	l := s.p.Layout()
	var parts []string
	for _, at := range l.Seals {
		parts = append(parts, t.T("confirm.seal", at.Page, at.XMM, at.YMM))
	}
	if l.Seam != nil {
		edge := t.T("preview.left")
		if l.Seam.Right {
			edge = t.T("preview.right")
		}
		parts = append(parts, t.T("confirm.seam", edge, l.Seam.YMM))
	}
	return strings.Join(parts, "\n")
}

// askStamp shows what will be signed and asks to go on.
func (s *previewScreen) askStamp() {
	if s.busy || s.confirm != nil {
		return
	}
	if s.placing {
		s.placing = false
		s.refresh()
	}
	t := s.q.u.tr
	it := s.item
	st := s.q.u.opt.Keys.State()
	msg := t.T("confirm.body", it.Title, it.SHA256, it.Pages, it.SealID, st.Custodian) + "\n" + s.describe()
	if st.Seal != nil {
		msg += "\n" + t.T("confirm.cert", st.Seal.Subject, st.Seal.NotAfter.Local().Format("2006-01-02"))
	}
	s.confirmed = msg
	closeIt := func() {
		s.confirm.Hide()
		s.confirm, s.confirmOK = nil, nil
	}
	s.confirmOK = &widget.Button{Text: t.T("confirm.ok"), Importance: widget.HighImportance, OnTapped: func() { closeIt(); s.doStamp() }}
	cancel := &widget.Button{Text: t.T("pin.cancel"), OnTapped: closeIt}
	sign := s.p.Signing()
	s.certify = &widget.Check{Text: t.T("confirm.certify"), Checked: sign.Certify}
	s.lock = &widget.Check{Text: t.T("confirm.lock"), Checked: sign.Lock}
	choose := func(bool) { s.p.SetSigning(usecase.Signing{Certify: s.certify.Checked, Lock: s.lock.Checked}) }
	s.certify.OnChanged, s.lock.OnChanged = choose, choose
	if s.p.Signed() {
		// Only a document's first signature can certify it.
		s.certify.SetChecked(false)
		s.certify.Disable()
	}
	body := container.NewVBox(&widget.Label{Text: msg, Wrapping: fyne.TextWrapWord}, s.certify, s.lock)
	s.confirm = dialog.NewCustomWithoutButtons(t.T("confirm.title"), body, s.q.u.win)
	s.confirm.SetButtons([]fyne.CanvasObject{cancel, s.confirmOK})
	s.confirm.Resize(fyne.NewSize(560, 0))
	s.confirm.Show()
	s.q.u.win.Canvas().Focus(s.confirmOK)
}

// doStamp signs off the UI thread: the key takes its time, and the window stays responsive.
func (s *previewScreen) doStamp() {
	t := s.q.u.tr
	s.busy = true
	s.q.u.setBusy(duringSigning, true)
	s.refresh()
	s.info.SetText(t.T("queue.signing", s.item.Title))
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		res, err := s.q.u.opt.Desk.StampPreview(ctx, s.p)
		var v usecase.Verification
		var verr error
		if err == nil {
			v, verr = s.q.u.opt.Desk.Verify(res.Out)
		}
		s.q.u.do(func() {
			s.busy = false
			s.q.u.setBusy(duringSigning, false)
			if err != nil {
				s.refresh()
				s.info.SetText(t.T("queue.failed", t.explain(err)))
				s.info.Importance = widget.DangerImportance
				s.info.Refresh()
				// 重印: the earlier version's printouts are out; their recall is recorded here.
				if cs, ok := s.q.u.opt.Desk.(CopiesService); ok && errors.Is(err, usecase.ErrRecallNeeded) && s.item.Supersedes != "" {
					s.recall = openRecall(s.q.u, cs, s.item.Supersedes, nil)
				}
				return
			}
			s.q.showResult(s, res, v, verr)
		})
	}()
}

// close goes back to the queue.
func (s *previewScreen) close() {
	if s.busy {
		return
	}
	s.q.closePreview()
}

// typedKey is the page view's keyboard: arrows move, Enter drops, Delete removes, Page Up/Down
// turn pages, Escape stops placing or goes back.
func (s *previewScreen) typedKey(k *fyne.KeyEvent) {
	if dx, dy, ok := arrow(k.Name); ok {
		s.nudge(dx*nudgeMM, dy*nudgeMM)
		return
	}
	switch k.Name {
	case fyne.KeyReturn, fyne.KeyEnter, fyne.KeySpace:
		if s.placing {
			s.drop()
		}
	case fyne.KeyDelete, fyne.KeyBackspace:
		s.removeSelected()
	case fyne.KeyPageDown:
		s.goPage(s.page + 1)
	case fyne.KeyPageUp:
		s.goPage(s.page - 1)
	case fyne.KeyTab:
		// the selection moves on to the next seal on this page
		marks := s.p.Marks(s.page)
		for _, m := range marks {
			if m.Seal > s.sel {
				s.sel = m.Seal
				s.refresh()
				return
			}
		}
	case fyne.KeyEscape:
		if s.placing {
			s.placing = false
			s.refresh()
		} else {
			s.close()
		}
	}
}

// arrow is the direction of an arrow key, in screen axes (y down).
func arrow(k fyne.KeyName) (dx, dy float64, ok bool) {
	switch k {
	case fyne.KeyLeft:
		return -1, 0, true
	case fyne.KeyRight:
		return 1, 0, true
	case fyne.KeyUp:
		return 0, -1, true
	case fyne.KeyDown:
		return 0, 1, true
	}
	return 0, 0, false
}

// typedShortcut: Shift+arrows move by 10 mm, Ctrl+Z undoes, Ctrl+= / Ctrl+- zoom.
func (s *previewScreen) typedShortcut(sc fyne.Shortcut) {
	cs, ok := sc.(*desktop.CustomShortcut)
	if !ok {
		s.q.u.shortcut(sc)
		return
	}
	if dx, dy, ok := arrow(cs.KeyName); ok && cs.Modifier&fyne.KeyModifierShift != 0 {
		s.nudge(dx*nudgeBigMM, dy*nudgeBigMM)
		return
	}
	if cs.Modifier&(fyne.KeyModifierControl|fyne.KeyModifierSuper) != 0 {
		switch cs.KeyName {
		case fyne.KeyZ:
			s.doUndo()
			return
		case fyne.KeyEqual, fyne.KeyPlus:
			s.zoomBy(1)
			return
		case fyne.KeyMinus:
			s.zoomBy(-1)
			return
		}
	}
	// The window's own shortcuts (stamp, return, next document) work with the page focused.
	s.q.u.shortcut(sc)
}

// pageView is the page at the current zoom with the seals on it: it takes the pointer and the
// keyboard for placing.
type pageView struct {
	widget.BaseWidget
	s      *previewScreen
	pic    *canvas.Image
	box    *fyne.Container
	ghost  *canvas.Image
	marks  []*canvas.Image // reused between redraws: the pointer moves redraw often
	slices map[[2]int]image.Image
	// laidOut is the size the scroll container last laid out.
	laidOut fyne.Size
}

func (v *pageView) CreateRenderer() fyne.WidgetRenderer {
	v.pic = &canvas.Image{FillMode: canvas.ImageFillStretch, ScaleMode: canvas.ImageScaleSmooth}
	v.ghost = &canvas.Image{Image: v.s.sealPic, FillMode: canvas.ImageFillStretch, Translucency: 0.35}
	v.box = container.NewWithoutLayout(v.pic)
	v.redraw()
	return widget.NewSimpleRenderer(v.box)
}

// MinSize is the page at the zoom: the scroll container shows it whole.
func (v *pageView) MinSize() fyne.Size {
	pg := v.s.pageInfo()
	return fyne.NewSize(float32(pg.WidthMM)*v.s.zoom, float32(pg.HeightMM)*v.s.zoom)
}

func (v *pageView) setPicture(img image.Image) {
	if v.pic == nil {
		return
	}
	v.pic.Image = img
	v.pic.Refresh()
}

// redraw lays the page, the seals, the ghost and the guides out again.
func (v *pageView) redraw() {
	if v.box == nil {
		return
	}
	s := v.s
	z := s.zoom
	size := v.MinSize()
	v.pic.Move(fyne.NewPos(0, 0))
	v.pic.Resize(size)
	objs := []fyne.CanvasObject{v.pic}
	pg := s.pageInfo()
	if !pg.Allowed {
		shade := canvas.NewRectangle(colorShade)
		shade.Resize(size)
		objs = append(objs, shade)
	}
	for _, at := range s.p.Positions(s.page) {
		sw, sh := s.p.SealMM()
		ring := &canvas.Circle{StrokeColor: colorGuide, StrokeWidth: 1.5}
		ring.Move(fyne.NewPos(float32(at.XMM-sw/2)*z, float32(at.YMM-sh/2)*z))
		ring.Resize(fyne.NewSize(float32(sw)*z, float32(sh)*z))
		objs = append(objs, ring)
	}
	// The regions the signed approval allows the seal's centre in; a drop outside is refused.
	for _, r := range s.p.Regions(s.page) {
		box := &canvas.Rectangle{StrokeColor: colorGuide, StrokeWidth: 1.5}
		box.Move(fyne.NewPos(float32(r.X0)*z, float32(r.Y0)*z))
		box.Resize(fyne.NewSize(float32(r.X1-r.X0)*z, float32(r.Y1-r.Y0)*z))
		objs = append(objs, box)
	}
	n := 0
	for _, m := range s.p.Marks(s.page) {
		if s.drag != nil && m.Seal == s.drag.seal {
			continue // drawn as the ghost while it moves
		}
		if n == len(v.marks) {
			v.marks = append(v.marks, &canvas.Image{FillMode: canvas.ImageFillStretch})
		}
		img := v.marks[n]
		n++
		if pic := v.slice(m); img.Image != pic {
			img.Image = pic
			img.Refresh()
		}
		img.Move(fyne.NewPos(float32(m.X0)*z, float32(m.Y0)*z))
		img.Resize(fyne.NewSize(float32(m.X1-m.X0)*z, float32(m.Y1-m.Y0)*z))
		objs = append(objs, img)
		if m.Seal >= 0 && m.Seal == s.sel {
			box := &canvas.Rectangle{StrokeColor: colorSelect, StrokeWidth: 2}
			box.Move(img.Position())
			box.Resize(img.Size())
			objs = append(objs, box)
		}
	}
	if s.placing || s.drag != nil {
		sw, sh := s.p.SealMM()
		v.ghost.Move(fyne.NewPos(float32(s.ghost.XMM-sw/2)*z, float32(s.ghost.YMM-sh/2)*z))
		v.ghost.Resize(fyne.NewSize(float32(sw)*z, float32(sh)*z))
		objs = append(objs, v.ghost)
		for _, g := range s.guides {
			l := &canvas.Line{StrokeColor: colorGuide, StrokeWidth: 1}
			if g.Vertical {
				l.Position1, l.Position2 = fyne.NewPos(float32(g.AtMM)*z, 0), fyne.NewPos(float32(g.AtMM)*z, size.Height)
			} else {
				l.Position1, l.Position2 = fyne.NewPos(0, float32(g.AtMM)*z), fyne.NewPos(size.Width, float32(g.AtMM)*z)
			}
			objs = append(objs, l)
		}
	}
	v.box.Objects = objs
	v.box.Resize(size)
	v.box.Refresh()
	if size != v.laidOut && v.s.scroll != nil {
		// A new zoom or page size: the scroll container lays the page out again.
		v.laidOut = size
		v.s.scroll.Refresh()
	}
}

// slice is the part of the seal picture a mark shows.
func (v *pageView) slice(m usecase.Mark) image.Image {
	if m.Slices == 0 {
		return v.s.sealPic
	}
	key := [2]int{m.Slice, m.Slices}
	if img, ok := v.slices[key]; ok {
		return img
	}
	b := v.s.sealPic.Bounds()
	w := float64(b.Dx()) / float64(m.Slices)
	x0 := b.Min.X + int(math.Round(float64(m.Slice)*w))
	x1 := b.Min.X + int(math.Round(float64(m.Slice+1)*w))
	if v.slices == nil {
		v.slices = map[[2]int]image.Image{}
	}
	v.slices[key] = v.s.sealPic.SubImage(image.Rect(x0, b.Min.Y, x1, b.Max.Y))
	return v.slices[key]
}

func (v *pageView) Tapped(ev *fyne.PointEvent) {
	s := v.s
	s.focusView()
	if s.busy {
		return
	}
	x, y := s.toMM(ev.Position)
	if s.placing {
		s.ghost = s.snap(x, y)
		s.drop()
		return
	}
	s.sel = s.p.SealAt(s.page, x, y)
	s.refresh()
}

func (v *pageView) Dragged(ev *fyne.DragEvent) {
	s := v.s
	if s.busy {
		return
	}
	if s.drag == nil {
		// Fyne reports the pointer after the first move; the press was one delta before.
		x, y := s.toMM(ev.Position.Subtract(fyne.NewPos(ev.Dragged.DX, ev.Dragged.DY)))
		i := s.p.SealAt(s.page, x, y)
		if i < 0 {
			x, y = s.toMM(ev.Position)
			i = s.p.SealAt(s.page, x, y)
		}
		switch {
		case i >= 0:
			s.drag = &dragState{seal: i, start: s.p.Layout().Seals[i]}
			s.sel, s.placing = i, false
		case s.placing:
			s.drag = &dragState{seal: -1, start: s.ghost}
		default:
			return
		}
	}
	s.drag.dx += ev.Dragged.DX
	s.drag.dy += ev.Dragged.DY
	s.ghost = s.snap(s.drag.start.XMM+float64(s.drag.dx/s.zoom), s.drag.start.YMM+float64(s.drag.dy/s.zoom))
	v.redraw()
	s.showInfo()
}

func (v *pageView) DragEnd() {
	s := v.s
	d := s.drag
	if d == nil {
		return
	}
	s.drag = nil
	if d.seal < 0 {
		s.drop()
		return
	}
	if _, err := s.p.Move(d.seal, s.ghost); err != nil {
		s.refresh()
		s.info.SetText(s.q.u.tr.T("preview.refused", s.q.u.tr.explain(err)))
		return
	}
	s.guides = nil
	s.refresh()
}

func (v *pageView) MouseIn(ev *desktop.MouseEvent) { v.MouseMoved(ev) }

func (v *pageView) MouseMoved(ev *desktop.MouseEvent) {
	s := v.s
	if !s.placing || s.drag != nil {
		return
	}
	x, y := s.toMM(ev.Position)
	s.ghost = s.snap(x, y)
	v.redraw()
	s.showInfo()
}

func (v *pageView) MouseOut() {}

func (v *pageView) FocusGained()                   {}
func (v *pageView) FocusLost()                     {}
func (v *pageView) TypedRune(rune)                 {}
func (v *pageView) TypedKey(k *fyne.KeyEvent)      { v.s.typedKey(k) }
func (v *pageView) TypedShortcut(sc fyne.Shortcut) { v.s.typedShortcut(sc) }

func (v *pageView) Cursor() desktop.Cursor              { return desktop.CrosshairCursor }
func (v *pageView) AcceptsTab() bool                    { return true }
func (v *pageView) TappedSecondary(ev *fyne.PointEvent) { v.s.placing = false; v.s.refresh() }

// sizeWatch lays its one object over the whole space and reports the space's size, so the fit
// zooms follow the window.
type sizeWatch struct{ onSize func(fyne.Size) }

func (l *sizeWatch) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
	l.onSize(size)
}

func (l *sizeWatch) MinSize([]fyne.CanvasObject) fyne.Size { return fyne.NewSize(200, 200) }

// fixedWidth gives its objects a fixed width and the whole height.
type fixedWidth struct{ w float32 }

func (l *fixedWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(fyne.NewSize(l.w, size.Height))
	}
}

func (l *fixedWidth) MinSize([]fyne.CanvasObject) fyne.Size { return fyne.NewSize(l.w, 100) }

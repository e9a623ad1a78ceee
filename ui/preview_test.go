package ui

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// TestPreviewDropLandsOnThePDF places seals by taps, a drag and the arrow keys at several
// zooms on pages of every rotation, stamps, and reads the signed file: each seal's centre is
// within 0.5 mm of the point of the page the custodian pointed at.
func TestPreviewDropLandsOnThePDF(t *testing.T) {
	const ws = "WS-UI-PREVIEW"
	crop := [4]float64{20, 30, 560, 800}
	var id string
	w := newDeskWindow(t, ws, func(h *hub.Hub, _ *ledger.Ledger) {
		doc, err := h.AddDocument(hub.NewDocument{Title: "旋转页", SealID: hub.DemoSeal, Workstation: ws, Copies: 1,
			PDF: pdftest.PDF(pdftest.Options{Pages: 4, Rotate: []int{0, 90, 180, 270}, Crop: &crop})})
		if err != nil {
			t.Fatal(err)
		}
		id = doc.ID
	})
	w.login(t, 6)
	u, q := w.u, w.u.queue
	u.win.Resize(fyne.NewSize(1000, 700))
	locked := func(f func()) { u.mu.Lock(); defer u.mu.Unlock(); f() }
	locked(func() {
		u.tabs.Select(u.tabs.Items[1])
		for i, it := range q.items {
			if it.ID == id {
				q.list.Select(i)
			}
		}
	})
	eventually(t, u, "the rotated document is selected", func() bool { return q.sel >= 0 && q.items[q.sel].ID == id && !q.stamp.Disabled() })
	test.Tap(q.stamp)
	p := q.preview
	if p == nil {
		t.Fatalf("no preview: %q", q.problem.Text)
	}
	want := map[int][2]float64{} // page -> seal centre in mm, as displayed
	at := func(x, y float64) fyne.Position { return fyne.NewPos(float32(x)*p.zoom, float32(y)*p.zoom) }
	for i, d := range []struct {
		page int
		zoom string
	}{{1, "50%"}, {2, "100%"}, {3, "200%"}, {4, "Fit width"}} {
		locked(func() {
			for p.page < d.page {
				p.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyPageDown})
			}
			p.zoomSel.SetSelected(d.zoom)
		})
		if i > 0 {
			test.Tap(p.add)
		}
		if !p.placing {
			t.Fatalf("page %d: not placing", d.page)
		}
		test.TapAt(p.view, at(80, 85))
		l := p.p.Layout()
		if len(l.Seals) != i+1 || l.Seals[i].Page != d.page {
			t.Fatalf("page %d at %s: layout %+v (%s)", d.page, d.zoom, l, p.info.Text)
		}
		want[d.page] = [2]float64{80, 85}
	}
	if z := p.zoom / unitsPerMM; math.Abs(float64(z)-1) < 0.01 {
		t.Fatalf("fit width gave %.2f, the same as 100%%: the fit did not happen", z)
	}

	// Drag the seal on page 1 by (40, 40) mm at 150 %.
	locked(func() {
		p.goPage(1)
		p.zoomSel.SetSelected("150%")
		p.scroll.ScrollToOffset(fyne.NewPos(0, 300)) // the seal at 85 mm is below the fold at 150 %
	})
	origin := fyne.CurrentApp().Driver().AbsolutePositionForObject(p.view)
	grab := origin.Add(at(80, 85))
	test.Drag(u.win.Canvas(), grab, 40*p.zoom, 40*p.zoom)
	want[1] = [2]float64{120, 125}
	if s := p.p.Layout().Seals[0]; math.Abs(s.XMM-120) > 0.01 || math.Abs(s.YMM-125) > 0.01 {
		t.Fatalf("dragged to %+v (%s)", s, p.info.Text)
	}

	// On page 2, select the seal with a tap and move it with the keys: 3 mm right, 10 mm down.
	locked(func() { p.goPage(2) })
	test.TapAt(p.view, at(80, 85))
	if p.sel != 1 {
		t.Fatalf("tap on the seal selected %d", p.sel)
	}
	for range 3 {
		p.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyRight})
	}
	p.view.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyDown, Modifier: fyne.KeyModifierShift})
	want[2] = [2]float64{83, 95}
	// A run of nudges is one undo step; undone and redone by hand here to prove it.
	p.view.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyZ, Modifier: fyne.KeyModifierControl})
	if s := p.p.Layout().Seals[1]; math.Abs(s.XMM-80) > 0.01 || math.Abs(s.YMM-85) > 0.01 {
		t.Fatalf("after Ctrl+Z: %+v", s)
	}
	test.TapAt(p.view, at(80, 85))
	for range 3 {
		p.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyRight})
	}
	p.view.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyDown, Modifier: fyne.KeyModifierShift})
	if s := p.p.Layout().Seals[1]; math.Abs(s.XMM-83) > 0.01 || math.Abs(s.YMM-95) > 0.01 {
		t.Fatalf("after the keys: %+v", s)
	}

	// A riding seam on the right edge, drawn on every page.
	locked(func() { p.seam.SetChecked(true) })
	for n := 1; n <= 4; n++ {
		if marks := p.p.Marks(n); len(marks) != 2 || marks[1].Slices != 4 || marks[1].Slice != n-1 {
			t.Fatalf("page %d marks %+v", n, marks)
		}
	}

	u.shortcut(scStamp)
	if p.confirm == nil {
		t.Fatal("no confirmation")
	}
	for n, c := range want {
		if s := fmt.Sprintf("seal on page %d at %.1f, %.1f mm", n, c[0], c[1]); !strings.Contains(p.confirmed, s) {
			t.Errorf("the confirmation lacks %q:\n%s", s, p.confirmed)
		}
	}
	test.Tap(p.lock)
	test.Tap(p.confirmOK)
	eventually(t, u, "the result screen", func() bool { return q.done != nil })
	if !formHas(q.done.form, "Appearance", "8 seal image(s), a riding seam") {
		t.Errorf("result: %+v", q.done.form.Items)
	}

	out := filepath.Join(w.out, id+".pdf")
	rep, err := verify.File(out, verify.Options{})
	if err != nil || !rep.Valid || len(rep.Signatures) != 1 || !rep.Signatures[0].Locked {
		t.Fatalf("verify (locked) %+v, %v", rep, err)
	}
	doc, err := pdfinspect.OpenFile(out)
	if err != nil {
		t.Fatal(err)
	}
	whole := 0
	for _, wd := range rep.Signatures[0].Widgets {
		if wd.ShownWidth < wd.SealWidth-0.5 {
			continue // a seam slice
		}
		whole++
		v := doc.Pages[wd.Page-1].Page.RectToView(wd.Rect)
		x, y := (v.X0+v.X1)/2/placement.PointsPerMM, (v.Y0+v.Y1)/2/placement.PointsPerMM
		c := want[wd.Page]
		if math.Abs(x-c[0]) > 0.5 || math.Abs(y-c[1]) > 0.5 {
			t.Errorf("page %d (rotated %d): the seal landed at %.2f, %.2f mm; pointed at %.2f, %.2f", wd.Page, doc.Pages[wd.Page-1].Page.Rotate, x, y, c[0], c[1])
		}
	}
	if whole != 4 {
		t.Fatalf("%d whole seals in the file, want 4", whole)
	}
	if valid, total, outp := pdftest.Pdfsig(t, out); valid != total || total == 0 {
		t.Fatalf("pdfsig %d/%d:\n%s", valid, total, outp)
	}
}

// TestPreviewRefusesWhatTheApprovalForbids: a page the approval leaves out is shaded, cannot
// take a seal, and says why.
func TestPreviewRefusesWhatTheApprovalForbids(t *testing.T) {
	const ws = "WS-UI-PREVIEW-2"
	var id string
	w := newDeskWindow(t, ws, func(h *hub.Hub, _ *ledger.Ledger) {
		doc, err := h.AddDocument(hub.NewDocument{Title: "限页", SealID: hub.DemoSeal, Workstation: ws, Copies: 1, AllowedPages: []int{2},
			PDF: pdftest.PDF(pdftest.Options{Pages: 2})})
		if err != nil {
			t.Fatal(err)
		}
		id = doc.ID
	})
	w.login(t, 6)
	q := w.u.queue
	p := previewOf(t, w.u, id)
	if p.placing || !p.add.Disabled() || !strings.Contains(p.info.Text, "does not allow the seal on page 1") {
		t.Fatalf("page 1: placing %v, add enabled %v, info %q", p.placing, !p.add.Disabled(), p.info.Text)
	}
	test.TapAt(p.view, fyne.NewPos(100, 100))
	if n := len(p.p.Layout().Seals); n != 0 {
		t.Fatalf("%d seals on a page the approval leaves out", n)
	}
	p.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyPageDown})
	test.Tap(p.add)
	p.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if l := p.p.Layout(); len(l.Seals) != 1 || l.Seals[0].Page != 2 {
		t.Fatalf("layout %+v", l)
	}
	// Escape goes back to the queue; the document stays there.
	p.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if q.preview != nil {
		t.Fatal("Escape did not close the preview")
	}
}

// TestPreviewShowsTheSignedRegion: the region the ticket signs is described on the page, a drop
// outside it is refused and says why, and a new seal starts in the region and is taken there.
func TestPreviewShowsTheSignedRegion(t *testing.T) {
	const ws = "WS-UI-PREVIEW-3"
	var id string
	w := newDeskWindow(t, ws, func(h *hub.Hub, _ *ledger.Ledger) {
		doc, err := h.AddDocument(hub.NewDocument{Title: "限区", SealID: hub.DemoSeal, Workstation: ws, Copies: 1,
			Regions: []ticket.Region{{Page: ticket.LastPage, X: 100, Y: 200, W: 60, H: 40}}, PDF: pdftest.PDF(pdftest.Options{Pages: 1})})
		if err != nil {
			t.Fatal(err)
		}
		id = doc.ID
	})
	w.login(t, 6)
	p := previewOf(t, w.u, id)
	// The preview opens placing, the seal's ghost at the region's centre.
	if !p.placing || p.ghost != (usecase.Place{Page: 1, XMM: 130, YMM: 220}) {
		t.Fatalf("placing %v at %+v", p.placing, p.ghost)
	}
	test.TapAt(p.view, fyne.NewPos(5, 5))
	if n := len(p.p.Layout().Seals); n != 0 || !strings.Contains(p.info.Text, "only inside the regions it names") {
		t.Fatalf("a drop outside the region: %d seals, info %q", n, p.info.Text)
	}
	p.view.TappedSecondary(&fyne.PointEvent{})
	if !strings.Contains(p.info.Text, "framed area: x 100–160, y 200–240 mm") {
		t.Fatalf("info %q", p.info.Text)
	}
	test.Tap(p.add)
	p.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if l := p.p.Layout(); len(l.Seals) != 1 || l.Seals[0].XMM != 130 || l.Seals[0].YMM != 220 {
		t.Fatalf("layout %+v, want one seal at the region's centre", l)
	}
}

// previewOf selects the queue document id on the queue tab and opens its preview by the
// Stamp button.
func previewOf(t *testing.T, u *UI, id string) *previewScreen {
	t.Helper()
	q := u.queue
	u.mu.Lock()
	u.tabs.Select(u.tabs.Items[1])
	for i, it := range q.items {
		if it.ID == id {
			q.list.Select(i)
		}
	}
	u.mu.Unlock()
	eventually(t, u, id+" is selected", func() bool { return q.sel >= 0 && q.items[q.sel].ID == id && !q.stamp.Disabled() })
	test.Tap(q.stamp)
	p := q.preview
	if p == nil {
		t.Fatalf("no preview of %s: %q", id, q.problem.Text)
	}
	return p
}

package usecase_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
	"github.com/sealkeeper/sealkeeper/stamp/render"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// previewDesk is the day's desk wired as the window has it: the key use case, the seal picture,
// a page renderer and the link to the hub.
func previewDesk(t testing.TB, d *day) *usecase.Desk {
	t.Helper()
	r := render.New(render.Options{CacheDir: filepath.Join(os.TempDir(), "sealkeeper-test-pdfium")})
	t.Cleanup(func() { r.Close() })
	return usecase.NewDesk(usecase.DeskConfig{
		Ledger: d.led, Store: d.st, ServerKey: d.hub.TicketKey(), SealID: "SEAL-1", OutDir: d.out, Workstation: deskWS,
		Online: func() bool { return d.sync.Status().Online }, Policy: upstream.Policy{MaxAge: time.Hour, MaxStamps: 3},
		Keys: d.keys, Seal: usecase.SealArt{Image: pdftest.Seal(300), SizeMM: 42}, Renderer: r, Upstream: d.cli, Now: d.now,
	})
}

func (d *day) addPDF(t testing.TB, title string, pdf []byte, allowed []int, positions []upstream.Position) string {
	t.Helper()
	doc, err := d.hub.AddDocument(hub.NewDocument{Title: title, Department: "办公室", Requester: upstream.Person{ID: "u1", Name: "陈静"},
		Approvals: []upstream.Approval{{Approver: upstream.Person{ID: "a1", Name: "王主任"}, At: time.Now()}},
		SealID:    "SEAL-1", Workstation: deskWS, Copies: 1, AllowedPages: allowed, Positions: positions, PDF: pdf})
	if err != nil {
		t.Fatal(err)
	}
	return doc.ID
}

// openPreview opens a queue document on the desk, closed when the test ends.
func openPreview(t testing.TB, desk *usecase.Desk, id string) *usecase.Preview {
	t.Helper()
	p, err := desk.OpenPreview(id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.01 }

// TestPreviewPlacesWhatItShows: seals put on pages of every rotation and a riding seam across
// them land in the signed file exactly where the preview's marks are (checked on the file by
// the verifier and pdfsig).
func TestPreviewPlacesWhatItShows(t *testing.T) {
	d := newDay(t, nil)
	crop := [4]float64{20, 30, 560, 800}
	id := d.addPDF(t, "旋转页", pdftest.PDF(pdftest.Options{Pages: 4, Rotate: []int{0, 90, 180, 270}, Crop: &crop}), nil, nil)
	d.syncOnce(t)
	desk := previewDesk(t, d)
	p := openPreview(t, desk, id)
	pages := p.Pages()
	if len(pages) != 4 || pages[1].Rotation != 90 || !near(pages[1].WidthMM, (800-30)/placement.PointsPerMM) {
		t.Fatalf("pages %+v", pages)
	}
	want := map[int]usecase.Place{}
	for _, pg := range pages {
		at := usecase.Place{Page: pg.Number, XMM: 30 + 10*float64(pg.Number), YMM: 50 + 20*float64(pg.Number)}
		i, got, err := p.Put(at)
		if err != nil || got != at || i != pg.Number-1 {
			t.Fatalf("put %+v: %d %+v %v", at, i, got, err)
		}
		want[pg.Number] = at
		img, err := p.Render(pg.Number, 36)
		if err != nil {
			t.Fatal(err)
		}
		// The picture is the page as displayed: a rotated page is drawn on its side.
		if w, h := img.Bounds().Dx(), img.Bounds().Dy(); (w > h) != (pg.WidthMM > pg.HeightMM) {
			t.Fatalf("page %d rendered %dx%d for %.0fx%.0f mm", pg.Number, w, h, pg.WidthMM, pg.HeightMM)
		}
	}
	if err := p.SetSeam(&usecase.Seam{Right: true, YMM: 120}); err != nil {
		t.Fatal(err)
	}
	marks := map[int][]usecase.Mark{}
	for _, pg := range pages {
		marks[pg.Number] = p.Marks(pg.Number)
		if len(marks[pg.Number]) != 2 {
			t.Fatalf("page %d marks %+v", pg.Number, marks[pg.Number])
		}
	}
	res, err := desk.StampPreview(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.File(res.Out, verify.Options{})
	if err != nil || !rep.Valid || len(rep.Signatures) != 1 {
		t.Fatalf("verify %+v, %v", rep, err)
	}
	s := rep.Signatures[0]
	if !s.RidingSeam || len(s.Widgets) != 8 {
		t.Fatalf("riding seam %v, %d widgets", s.RidingSeam, len(s.Widgets))
	}
	// pdfsig lists one signature per widget.
	if valid, total, out := pdftest.Pdfsig(t, res.Out); valid != 8 || total != 8 {
		t.Fatalf("pdfsig: %d/%d\n%s", valid, total, out)
	}
	doc, err := pdfinspect.OpenFile(res.Out)
	if err != nil {
		t.Fatal(err)
	}
	sw, sh := p.SealMM()
	for _, w := range s.Widgets {
		v := doc.Pages[w.Page-1].Page.RectToView(w.Rect)
		x0, y0, x1, y1 := v.X0/placement.PointsPerMM, v.Y0/placement.PointsPerMM, v.X1/placement.PointsPerMM, v.Y1/placement.PointsPerMM
		found := false
		for _, m := range marks[w.Page] {
			if near(m.X0, x0) && near(m.Y0, y0) && near(m.X1, x1) && near(m.Y1, y1) {
				found = true
				if m.Seal >= 0 {
					at := want[w.Page]
					if !near((x0+x1)/2, at.XMM) || !near((y0+y1)/2, at.YMM) || !near(x1-x0, sw) || !near(y1-y0, sh) {
						t.Errorf("page %d: seal at %.2f,%.2f mm, put at %.2f,%.2f", w.Page, (x0+x1)/2, (y0+y1)/2, at.XMM, at.YMM)
					}
				} else if !near(x1, pages[w.Page-1].WidthMM) {
					t.Errorf("page %d: seam slice %.2f-%.2f mm is not on the right edge (%.2f)", w.Page, x0, x1, pages[w.Page-1].WidthMM)
				}
			}
		}
		if !found {
			t.Errorf("page %d: widget at %.2f,%.2f-%.2f,%.2f mm matches no mark of the preview %+v", w.Page, x0, y0, x1, y1, marks[w.Page])
		}
	}
	if v, err := desk.Verify(res.Out); err != nil || !v.Valid || !v.RidingSeam || v.Widgets != 8 || v.Signer == "" {
		t.Fatalf("verification summary %+v, %v", v, err)
	}
}

// TestPreviewEnforcesTheApproval: pages and positions the approval names are kept to while
// placing, and a stamping elsewhere is refused before the key signs.
func TestPreviewEnforcesTheApproval(t *testing.T) {
	d := newDay(t, nil)
	// Positions in PDF points from the lower-left corner of an A4 page.
	pos := []upstream.Position{{Page: 2, X: 400, Y: 200}, {Page: 2, X: 150, Y: 200}, {Page: 1, X: 595, Y: 500, Kind: "seam"}, {Page: 2, X: 595, Y: 500, Kind: "seam"}}
	id := d.addPDF(t, "限定位置", pdftest.PDF(pdftest.Options{Pages: 3}), []int{1, 2}, pos)
	d.syncOnce(t)
	desk := previewDesk(t, d)
	p := openPreview(t, desk, id)
	pages := p.Pages()
	if pages[0].Allowed || !pages[1].Allowed || pages[2].Allowed {
		t.Fatalf("allowed pages %+v (page 1 has only a seam position, page 3 is not approved)", pages)
	}
	if _, _, err := p.Put(usecase.Place{Page: 3, XMM: 100, YMM: 100}); !errors.Is(err, usecase.ErrPageNotAllowed) {
		t.Fatalf("page 3: %v", err)
	}
	if _, _, err := p.Put(usecase.Place{Page: 1, XMM: 100, YMM: 100}); !errors.Is(err, usecase.ErrNoPosition) {
		t.Fatalf("page 1: %v", err)
	}
	// Dropped anywhere on page 2, the seal goes to the nearest approved position.
	_, got, err := p.Put(usecase.Place{Page: 2, XMM: 120, YMM: 200})
	h := pages[1].HeightMM
	if err != nil || !near(got.XMM, 400/placement.PointsPerMM) || !near(got.YMM, h-200/placement.PointsPerMM) {
		t.Fatalf("put went to %+v, %v", got, err)
	}
	if ps := p.Positions(2); len(ps) != 2 {
		t.Fatalf("positions %+v", ps)
	}
	// A seam over pages 1-2 takes the height of its approved position.
	if err := p.SetSeam(&usecase.Seam{YMM: 40, Pages: []int{1, 2}}); err != nil {
		t.Fatal(err)
	}
	if s := p.Layout().Seam; !s.Right || !near(s.YMM, h-500/placement.PointsPerMM) {
		t.Fatalf("seam %+v", s)
	}
	// The ticket's rules hold at stamping too: the command line's default place is refused.
	if _, err := desk.StampAt(context.Background(), id, []usecase.Place{{Page: 2, XMM: 100, YMM: 100}}); !errors.Is(err, usecase.ErrNoPosition) {
		t.Fatalf("stamping off the approved positions: %v", err)
	}
	res, err := desk.StampPreview(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := desk.Verify(res.Out); err != nil || !v.Valid || v.Widgets != 3 {
		t.Fatalf("%+v, %v", v, err)
	}
}

// TestPreviewEditing: the seal stays whole on the page, snaps to the official margins, the
// centre and a keyword, and every change can be undone (a run of arrow-key nudges at once).
func TestPreviewEditing(t *testing.T) {
	d := newDay(t, nil)
	id := d.addPDF(t, "编辑", pdftest.PDF(pdftest.Options{Pages: 2, Keyword: "SEAL HERE", KeywordAt: [2]float64{330, 300}}), nil, nil)
	d.syncOnce(t)
	desk := previewDesk(t, d)
	p := openPreview(t, desk, id)
	pg := p.Pages()[0]
	sw, sh := p.SealMM()
	if !near(sw, 42) || !near(sh, 42) {
		t.Fatalf("seal %.2fx%.2f mm", sw, sh)
	}
	// Dropped past the corner, it is kept on the page.
	_, got, err := p.Put(usecase.Place{Page: 1, XMM: 500, YMM: -3})
	if err != nil || !near(got.XMM, pg.WidthMM-sw/2) || !near(got.YMM, sh/2) {
		t.Fatalf("clamped to %+v, %v", got, err)
	}
	// Near the right margin and the centre line: snapped to both.
	x, y, guides := p.Snap(1, pg.WidthMM-usecase.MarginRightMM-sw/2+1.5, pg.HeightMM/2-2, 3)
	if !near(x, pg.WidthMM-usecase.MarginRightMM-sw/2) || !near(y, pg.HeightMM/2) || len(guides) != 2 {
		t.Fatalf("snap %.2f,%.2f %+v", x, y, guides)
	}
	if x, y, guides := p.Snap(1, 100, 100, 3); x != 100 || y != 100 || guides != nil {
		t.Fatalf("nothing near: %.2f,%.2f %+v", x, y, guides)
	}
	hits, err := p.FindText("SEAL HERE")
	if err != nil || len(hits) != 2 {
		t.Fatalf("hits %+v, %v", hits, err)
	}
	if x, y, guides := p.Snap(1, hits[0].XMM+2, hits[0].YMM-2, 3); !near(x, hits[0].XMM) || !near(y, hits[0].YMM) || guides[0].What != "keyword" {
		t.Fatalf("keyword snap %.2f,%.2f %+v (hit %+v)", x, y, guides, hits[0])
	}
	if _, err := p.Move(0, hits[0]); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := p.Nudge(0, 1, 0); err != nil {
			t.Fatal(err)
		}
	}
	if s := p.Layout().Seals[0]; !near(s.XMM, hits[0].XMM+5) {
		t.Fatalf("nudged to %+v", s)
	}
	if i := p.SealAt(1, hits[0].XMM+5, hits[0].YMM+sh/2-1); i != 0 {
		t.Fatalf("SealAt inside the seal: %d", i)
	}
	if !p.Undo() { // the five nudges
		t.Fatal("nothing to undo")
	}
	if s := p.Layout().Seals[0]; !near(s.XMM, hits[0].XMM) {
		t.Fatalf("after undoing the nudges: %+v", s)
	}
	p.Undo() // the move
	p.Undo() // the put
	if len(p.Layout().Seals) != 0 || p.CanUndo() || p.Undo() {
		t.Fatalf("after undoing everything: %+v", p.Layout())
	}
	if err := p.SetSeam(&usecase.Seam{Pages: []int{1}, YMM: 100}); err == nil {
		t.Fatal("a riding seam on one page was accepted")
	}
	if _, err := desk.StampPreview(context.Background(), p); err == nil {
		t.Fatal("stamping with no seal placed was accepted")
	}
}

package ui

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device/cups/cupstest"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// stampInPreview stamps the queue document id through the preview by the keyboard (the seal
// at its default place, Enter, Ctrl+Enter, confirm), and returns the preview.
func stampInPreview(t *testing.T, u *UI, id string) *previewScreen {
	t.Helper()
	p := previewOf(t, u, id)
	eventually(t, u, "the first page is drawn", func() bool { return p.view.pic != nil && p.view.pic.Image != nil })
	p.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	u.shortcut(scStamp)
	if p.confirmOK == nil {
		t.Fatal("no confirmation")
	}
	test.Tap(p.confirmOK)
	return p
}

// submit fills the form in and taps its button, and returns the status line it then shows
// (for a request sent off the UI thread, what it says while sending).
func (f *copiesForm) submit(count, text string) string {
	f.count.SetText(count)
	f.text.SetText(text)
	test.Tap(f.ok)
	return f.status.Text
}

// TestCopiesForms: the window's forms for extra copies (加印) and recalls (重印), in the
// screens' language, on the use cases the command line calls, over the demo hub on loopback
// and a real CUPS queue. From the result screen the custodian asks for 2 extra copies with a
// reason; the hub holds the request; once the administrator approves, a sync round takes the
// allowance and the print button offers them. A copy is printed; a corrected document that
// supersedes it is then refused at stamping, and the recall form opens for the earlier one:
// a count past what was printed is refused, the returned copy is recorded, and the corrected
// document stamps.
func TestCopiesForms(t *testing.T) {
	const ws = "WS-UI-COPIES"
	q := cupstest.New(t)
	w := newDeskWindow(t, ws, nil)
	w.syncer.OnRound(func(ctx context.Context, online bool) {
		if err := w.desk.AfterSync(ctx, online); err != nil {
			t.Errorf("after the sync round: %v", err)
		}
	})
	w.login(t, 5)
	u := w.u
	first := u.queue.items[0]
	stampInPreview(t, u, first.ID)
	eventually(t, u, "the result screen", func() bool { return u.queue.done != nil })
	r := u.queue.done
	if r.extra == nil || r.print == nil {
		t.Fatalf("the result screen offers no extra copies (%v) or no printing (%v)", r.extra, r.print)
	}
	if err := w.syncer.SyncOnce(context.Background()); err != nil { // the hub gets the stamping
		t.Fatal(err)
	}
	a, err := w.desk.Allowance(first.ID)
	if err != nil {
		t.Fatal(err)
	}

	// 加印: a count that is no number, then 2 with a reason.
	test.Tap(r.extra)
	f := r.extraF
	if f == nil || f.dlg == nil {
		t.Fatal("the extra copies form did not open")
	}
	u.mu.Lock()
	bad := f.submit("two", "")
	f.submit("2", "存档需要")
	u.mu.Unlock()
	if !strings.Contains(bad, "is not a number of copies") {
		t.Errorf("a count that is no number: %q", bad)
	}
	eventually(t, u, "the request is sent", func() bool { return strings.HasPrefix(f.status.Text, "Asked for 2 extra copies (request C") })
	reqs, err := w.h.CopyRequests()
	if err != nil || len(reqs) != 1 || reqs[0].Request.Copies != 2 || reqs[0].Request.Reason != "存档需要" || reqs[0].Status != upstream.CopiesPending {
		t.Fatalf("the hub's requests: %+v, %v", reqs, err)
	}
	if _, err := w.h.ApproveCopies(reqs[0].ID, "王主任"); err != nil {
		t.Fatal(err)
	}
	if err := w.syncer.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	u.mu.Lock()
	r.print.refresh()
	label := r.print.button.Text
	u.mu.Unlock()
	if want := "Print " + strconv.Itoa(a.Left+2) + " copies"; label != want {
		t.Fatalf("after the approval and a sync the button says %q; want %q", label, want)
	}
	if _, err := w.desk.Print(context.Background(), usecase.PrintRequest{DocID: first.ID, Printer: q.Name, Copies: 1}); err != nil {
		t.Fatal(err)
	}
	q.Next(t)
	u.mu.Lock()
	test.Tap(r.back)
	u.mu.Unlock()

	// 重印: the corrected document waits for the earlier printout's recall.
	fix, err := w.h.AddDocument(hub.NewDocument{Title: first.Title + "（更正）", SealID: hub.DemoSeal, Workstation: ws, Copies: 1,
		Supersedes: first.ID, PDF: hub.SamplePDF(first.Title+"（更正）", "", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.syncer.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, u, "the corrected document is in the queue", func() bool {
		for _, it := range u.queue.items {
			if it.ID == fix.ID {
				return true
			}
		}
		return false
	})
	p := stampInPreview(t, u, fix.ID)
	eventually(t, u, "the stamping of the correction ends", func() bool { return !p.busy })
	if p.recall == nil {
		t.Fatalf("the refused stamping opened no recall form (supersedes %q): %s", p.item.Supersedes, p.info.Text)
	}
	rf := p.recall
	u.mu.Lock()
	if !strings.Contains(p.info.Text, "recalled") {
		t.Errorf("the preview says %q", p.info.Text)
	}
	tooMany := rf.submit("2", "")
	done := rf.submit("1", "办公室退回")
	u.mu.Unlock()
	if !strings.Contains(tooMany, "1 copies of "+first.ID+" were printed") {
		t.Errorf("2 returned of 1 printed: %q", tooMany)
	}
	if done != "Recorded 1 copies returned; none are out. Stamp the corrected document again." {
		t.Errorf("the recall: %q", done)
	}
	if a, err := w.desk.Allowance(first.ID); err != nil || a.Recalled != 1 || a.SupersededBy != fix.ID {
		t.Fatalf("the earlier stamping after the recall: %+v, %v", a, err)
	}
	// Stamp again from the same preview: the corrected document is stamped now.
	test.Tap(rf.close)
	u.shortcut(scStamp)
	if p.confirmOK == nil {
		t.Fatal("no confirmation the second time")
	}
	test.Tap(p.confirmOK)
	eventually(t, u, "the corrected document's result screen", func() bool { return u.queue.done != nil && u.queue.done != r })
}

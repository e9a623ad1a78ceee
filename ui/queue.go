package ui

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
)

// DeskService is what the queue screen needs from the custodian's desk (usecase.Desk).
type DeskService interface {
	Queue() ([]usecase.QueueItem, error)
	// OpenPreview opens a document for placing the seal; StampPreview signs it as placed.
	OpenPreview(docID string) (*usecase.Preview, error)
	StampPreview(ctx context.Context, p *usecase.Preview) (*usecase.StampResult, error)
	// StampQueued stamps several documents, each at its first place, with progress.
	StampQueued(ctx context.Context, ids []string, progress func(usecase.BatchProgress)) ([]usecase.BatchItem, error)
	// Verify checks a stamped file, for the result screen.
	Verify(path string) (usecase.Verification, error)
	// WarmUp readies the page renderer; the window calls it once it is on screen.
	WarmUp() error
	RejectQueued(docID, reason string) (uint64, error)
	// ReconcileNow settles the stampings a crash interrupted; called right after login.
	ReconcileNow() ([]usecase.Interrupted, error)
}

// queueScreen lists the approved documents waiting here, shows the selected one's approval,
// and stamps or returns it.
type queueScreen struct {
	u       *UI
	all     []usecase.QueueItem // the queue as the desk lists it
	items   []usecase.QueueItem // those the search and sort show
	sel     int                 // index into items, -1 for none
	search  *widget.Entry
	order   *widget.Select
	list    *widget.List
	empty   *widget.Label
	detail  *widget.Form
	problem *widget.Label
	stamp   *widget.Button
	reject  *widget.Button
	content fyne.CanvasObject
	split   fyne.CanvasObject // the list and the details
	stack   *fyne.Container   // shows split, the preview or the result

	preview *previewScreen // the document being placed, if any
	done    *resultView    // the last stamping's result, while shown
	result  *widget.Label  // last return's or stamping's outcome, shown under the details
	returnD *rejectDialog  // open reject dialog, if any
	batch   *batchDialog   // open batch dialog, if any
	several *widget.Button

	reconciled dialog.Dialog // what the last login's reconciliation found, if anything
}

func newQueueScreen(u *UI) *queueScreen {
	t := u.tr
	q := &queueScreen{
		u:       u,
		sel:     -1,
		empty:   &widget.Label{Text: t.T("queue.empty"), Alignment: fyne.TextAlignCenter, Wrapping: fyne.TextWrapWord},
		detail:  &widget.Form{},
		problem: &widget.Label{Importance: widget.DangerImportance, Wrapping: fyne.TextWrapWord},
		result:  &widget.Label{Wrapping: fyne.TextWrapWord},
	}
	q.list = &widget.List{
		Length:     func() int { return len(q.items) },
		CreateItem: func() fyne.CanvasObject { return &widget.Label{Truncation: fyne.TextTruncateEllipsis} },
		UpdateItem: func(i widget.ListItemID, o fyne.CanvasObject) {
			it := q.items[i]
			mark := ""
			if !it.Ready {
				mark = " ⚠"
			}
			o.(*widget.Label).SetText(fmt.Sprintf("%s — %s · %s%s", it.Title, it.Department, q.u.tr.T("queue.due", it.Expires.Local().Format("01-02 15:04")), mark))
		},
		OnSelected: func(i widget.ListItemID) { q.selectItem(i) },
	}
	q.stamp = &widget.Button{Text: t.T("queue.stamp"), Importance: widget.HighImportance, OnTapped: q.openPreview}
	q.reject = &widget.Button{Text: t.T("queue.reject"), OnTapped: q.openReject}
	refresh := &widget.Button{Text: t.T("queue.refresh"), OnTapped: q.refresh}
	q.several = &widget.Button{Text: t.T("queue.several"), OnTapped: q.openBatch}
	q.search = &widget.Entry{PlaceHolder: t.T("queue.search"), OnChanged: func(string) { q.filter() }}
	orders := []string{t.T("queue.order.approved"), t.T("queue.order.deadline"), t.T("queue.order.title"), t.T("queue.order.department")}
	q.order = &widget.Select{Options: orders, Selected: orders[0], OnChanged: func(string) { q.filter() }}
	right := container.NewVBox(q.detail, q.problem, container.NewHBox(q.stamp, q.reject), q.result)
	top := container.NewBorder(nil, nil, nil, q.order, q.search)
	split := container.NewHSplit(container.NewBorder(top, container.NewHBox(refresh, q.several), nil, nil, container.NewStack(q.list, q.empty)), container.NewVScroll(right))
	split.Offset = 0.4
	q.split = split
	q.stack = container.NewStack(split)
	q.content = q.stack
	q.show()
	return q
}

// refresh reads the queue again (after a sync round, a stamping or a return).
func (q *queueScreen) refresh() {
	if q.u.opt.Desk == nil {
		q.items, q.all = nil, nil
		q.empty.SetText(q.u.tr.T("queue.noserver"))
		q.show()
		return
	}
	items, err := q.u.opt.Desk.Queue()
	if err != nil {
		q.items, q.all = nil, nil
		q.empty.SetText(q.u.tr.explain(err))
		q.show()
		return
	}
	q.all = items
	q.empty.SetText(q.u.tr.T("queue.empty"))
	q.filter()
}

// filter shows the documents the search and sort choose, keeping the selection where it can.
func (q *queueScreen) filter() {
	keep := ""
	if q.sel >= 0 && q.sel < len(q.items) {
		keep = q.items[q.sel].ID
	}
	order := usecase.OrderApproved
	for i, o := range []string{usecase.OrderApproved, usecase.OrderDeadline, usecase.OrderTitle, usecase.OrderDepartment} {
		if q.order != nil && q.order.SelectedIndex() == i {
			order = o
		}
	}
	text := ""
	if q.search != nil {
		text = q.search.Text
	}
	q.items, q.sel = usecase.FilterQueue(q.all, text, order), -1
	if len(q.items) == 0 && len(q.all) > 0 {
		q.empty.SetText(q.u.tr.T("queue.nomatch", text))
	} else if len(q.all) > 0 {
		q.empty.SetText(q.u.tr.T("queue.empty"))
	}
	for i, it := range q.items {
		if it.ID == keep {
			q.sel = i
		}
	}
	q.list.Refresh()
	if q.sel >= 0 {
		q.list.Select(q.sel)
	} else {
		q.list.UnselectAll()
	}
	q.show()
}

// selectNext moves the selection to the next document (the first when none is selected).
func (q *queueScreen) selectNext() {
	if len(q.items) == 0 {
		return
	}
	q.list.Select((q.sel + 1) % len(q.items))
}

func (q *queueScreen) selectItem(i int) {
	q.sel = i
	q.result.SetText("")
	q.show()
}

// show puts the selected document's approval in the details pane and enables what can be done.
func (q *queueScreen) show() {
	t := q.u.tr
	if len(q.items) == 0 {
		q.empty.Show()
	} else {
		q.empty.Hide()
	}
	q.detail.Items = nil
	q.problem.SetText("")
	loggedIn := q.u.opt.Keys.State().Phase == usecase.LoggedIn
	if q.several != nil {
		enable(q.several, loggedIn && len(q.items) > 0)
	}
	if q.sel < 0 || q.sel >= len(q.items) {
		q.detail.Refresh()
		q.stamp.Disable()
		q.reject.Disable()
		return
	}
	it := q.items[q.sel]
	row := func(k, v string) {
		q.detail.Append(t.T(k), &widget.Label{Text: v, Wrapping: fyne.TextWrapWord})
	}
	row("queue.title", it.Title)
	row("queue.id", it.ID)
	row("queue.department", it.Department)
	row("queue.requester", it.Requester)
	row("queue.approvers", strings.Join(it.Approvers, " → "))
	row("queue.seal", it.SealID)
	row("queue.pages", fmt.Sprint(it.Pages))
	row("queue.copies", fmt.Sprint(it.Copies))
	row("queue.expires", it.Expires.Local().Format("2006-01-02 15:04"))
	row("queue.confirmed", it.ConfirmedAt.Local().Format("2006-01-02 15:04"))
	row("queue.sha256", it.SHA256)
	q.detail.Refresh()
	switch {
	case !it.Ready:
		q.problem.SetText(t.T("queue.cannot", t.explainKind(it.ProblemKind, it.Problem)))
	case !loggedIn:
		q.problem.SetText(t.T("queue.login"))
	}
	if it.Ready && loggedIn {
		q.stamp.Enable()
	} else {
		q.stamp.Disable()
	}
	if loggedIn {
		q.reject.Enable()
	} else {
		q.reject.Disable()
	}
}

// openPreview opens the selected document for placing the seal.
func (q *queueScreen) openPreview() {
	if q.sel < 0 || q.preview != nil || q.u.opt.Desk == nil {
		return
	}
	it := q.items[q.sel]
	p, err := q.u.opt.Desk.OpenPreview(it.ID)
	if err != nil {
		q.problem.SetText(q.u.tr.T("queue.cannot", q.u.tr.explain(err)))
		return
	}
	q.preview = newPreviewScreen(q, p)
	q.stack.Objects = []fyne.CanvasObject{q.preview.content}
	q.stack.Refresh()
	q.preview.focusView()
}

// closePreview goes back to the list.
func (q *queueScreen) closePreview() {
	if q.preview != nil {
		q.preview.p.Close()
	}
	q.preview, q.done = nil, nil
	q.stack.Objects = []fyne.CanvasObject{q.split}
	q.stack.Refresh()
	q.refresh()
}

// showResult replaces the preview with what the stamping made.
func (q *queueScreen) showResult(s *previewScreen, res *usecase.StampResult, v usecase.Verification, verr error) {
	if q.preview != s {
		return
	}
	q.done = newResultView(q, s.item.ID, s.item.Title, res, v, verr)
	q.stack.Objects = []fyne.CanvasObject{q.done.content}
	q.stack.Refresh()
	q.result.SetText(q.u.tr.T("queue.stamped", s.item.Title, res.Out, res.Intent, res.Done))
	q.u.win.Canvas().Focus(q.done.back)
}

// rejectDialog asks why the document is returned: a required reason, with presets.
type rejectDialog struct {
	q      *queueScreen
	reason *widget.Entry
	preset *widget.Select
	err    *widget.Label
	ok     *widget.Button
	dlg    *dialog.CustomDialog
	doc    usecase.QueueItem
}

func (q *queueScreen) openReject() {
	if q.sel < 0 || q.returnD != nil || q.u.opt.Keys.State().Phase != usecase.LoggedIn {
		return
	}
	t := q.u.tr
	r := &rejectDialog{q: q, doc: q.items[q.sel], reason: widget.NewMultiLineEntry(),
		err: &widget.Label{Importance: widget.DangerImportance, Wrapping: fyne.TextWrapWord}}
	r.preset = &widget.Select{Options: usecase.RejectReasons, PlaceHolder: t.T("reject.presets"), OnChanged: func(s string) { r.reason.SetText(s) }}
	r.ok = &widget.Button{Text: t.T("reject.ok"), Importance: widget.DangerImportance, OnTapped: r.submit}
	cancel := &widget.Button{Text: t.T("pin.cancel"), OnTapped: func() { r.dlg.Hide(); q.returnD = nil }}
	body := container.NewVBox(&widget.Label{Text: t.T("reject.body", r.doc.Title), Wrapping: fyne.TextWrapWord}, r.preset, r.reason, r.err)
	r.dlg = dialog.NewCustomWithoutButtons(t.T("reject.title"), body, q.u.win)
	r.dlg.SetButtons([]fyne.CanvasObject{cancel, r.ok})
	r.dlg.Resize(fyne.NewSize(520, 0))
	q.returnD = r
	r.dlg.Show()
}

func (r *rejectDialog) submit() {
	t := r.q.u.tr
	if strings.TrimSpace(r.reason.Text) == "" {
		r.err.SetText(t.T("reject.required"))
		return
	}
	seq, err := r.q.u.opt.Desk.RejectQueued(r.doc.ID, r.reason.Text)
	if err != nil {
		r.err.SetText(t.explain(err))
		return
	}
	r.dlg.Hide()
	r.q.returnD = nil
	if r.q.preview != nil && r.q.preview.item.ID == r.doc.ID {
		r.q.closePreview()
	}
	r.q.refresh()
	r.q.result.SetText(t.T("reject.done", r.doc.Title, seq))
}

// reconcile runs after login: stampings a crash cut short are settled and the custodian is told
// what became of each.
func (q *queueScreen) reconcile() {
	if q.u.opt.Desk == nil {
		return
	}
	go func() {
		its, err := q.u.opt.Desk.ReconcileNow()
		q.u.do(func() {
			t := q.u.tr
			var lines []string
			for _, it := range its {
				if it.Signed {
					lines = append(lines, t.T("reconcile.done", it.Title, it.At.Local().Format("2006-01-02 15:04"), it.Recorded))
				} else {
					lines = append(lines, t.T("reconcile.failed", it.Title, it.At.Local().Format("2006-01-02 15:04"), it.Problem, it.Recorded))
				}
			}
			if err != nil {
				lines = append(lines, t.explain(err))
			}
			if len(lines) == 0 {
				return
			}
			q.reconciled = dialog.NewInformation(t.T("reconcile.title"), strings.Join(lines, "\n\n"), q.u.win)
			q.reconciled.Show()
			q.refresh()
		})
	}()
}

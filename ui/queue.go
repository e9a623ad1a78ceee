package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
)

// DeskService is what the queue screen needs from the custodian's desk (usecase.Desk).
type DeskService interface {
	Queue() ([]usecase.QueueItem, error)
	StampAt(ctx context.Context, docID string, at []usecase.Place) (*usecase.StampResult, error)
	RejectQueued(docID, reason string) (uint64, error)
	// ReconcileNow settles the stampings a crash interrupted; called right after login.
	ReconcileNow() ([]usecase.Interrupted, error)
}

// queueScreen lists the approved documents waiting here, shows the selected one's approval,
// and stamps or returns it.
type queueScreen struct {
	u       *UI
	items   []usecase.QueueItem
	sel     int // index into items, -1 for none
	list    *widget.List
	empty   *widget.Label
	detail  *widget.Form
	problem *widget.Label
	stamp   *widget.Button
	reject  *widget.Button
	content fyne.CanvasObject

	confirm   *dialog.CustomDialog // open confirmation, if any
	confirmOK *widget.Button
	result    *widget.Label // last stamping's outcome, shown under the details
	returnD   *rejectDialog // open reject dialog, if any
	busy      bool          // a stamping is running

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
			o.(*widget.Label).SetText(fmt.Sprintf("%s  %s%s", it.ID, it.Title, mark))
		},
		OnSelected: func(i widget.ListItemID) { q.selectItem(i) },
	}
	q.stamp = &widget.Button{Text: t.T("queue.stamp"), Importance: widget.HighImportance, OnTapped: q.askStamp}
	q.reject = &widget.Button{Text: t.T("queue.reject"), OnTapped: q.openReject}
	refresh := &widget.Button{Text: t.T("queue.refresh"), OnTapped: q.refresh}
	right := container.NewVBox(q.detail, q.problem, container.NewHBox(q.stamp, q.reject), q.result)
	split := container.NewHSplit(container.NewBorder(nil, refresh, nil, nil, container.NewStack(q.list, q.empty)), container.NewVScroll(right))
	split.Offset = 0.4
	q.content = split
	q.show()
	return q
}

// refresh reads the queue again (after a sync round, a stamping or a return).
func (q *queueScreen) refresh() {
	if q.u.opt.Desk == nil {
		q.items = nil
		q.empty.SetText(q.u.tr.T("queue.noserver"))
		q.show()
		return
	}
	items, err := q.u.opt.Desk.Queue()
	if err != nil {
		q.items = nil
		q.empty.SetText(err.Error())
		q.show()
		return
	}
	keep := ""
	if q.sel >= 0 && q.sel < len(q.items) {
		keep = q.items[q.sel].ID
	}
	q.items, q.sel = items, -1
	q.empty.SetText(q.u.tr.T("queue.empty"))
	for i, it := range items {
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
		q.problem.SetText(t.T("queue.cannot", it.Problem))
	case !loggedIn:
		q.problem.SetText(t.T("queue.login"))
	}
	if it.Ready && loggedIn && !q.busy {
		q.stamp.Enable()
	} else {
		q.stamp.Disable()
	}
	if loggedIn && !q.busy {
		q.reject.Enable()
	} else {
		q.reject.Disable()
	}
}

// askStamp shows what will be signed and asks to go on.
func (q *queueScreen) askStamp() {
	if q.sel < 0 || q.busy {
		return
	}
	t := q.u.tr
	it := q.items[q.sel]
	st := q.u.opt.Keys.State()
	msg := t.T("confirm.body", it.Title, it.SHA256, it.Pages, it.SealID, st.Custodian)
	if st.Seal != nil {
		msg += "\n" + t.T("confirm.cert", st.Seal.Subject, st.Seal.NotAfter.Local().Format("2006-01-02"))
	}
	closeIt := func() {
		q.confirm.Hide()
		q.confirm, q.confirmOK = nil, nil
	}
	q.confirmOK = &widget.Button{Text: t.T("confirm.ok"), Importance: widget.HighImportance, OnTapped: func() { closeIt(); q.doStamp(it) }}
	cancel := &widget.Button{Text: t.T("pin.cancel"), OnTapped: closeIt}
	q.confirm = dialog.NewCustomWithoutButtons(t.T("confirm.title"), &widget.Label{Text: msg, Wrapping: fyne.TextWrapWord}, q.u.win)
	q.confirm.SetButtons([]fyne.CanvasObject{cancel, q.confirmOK})
	q.confirm.Resize(fyne.NewSize(560, 0))
	q.confirm.Show()
}

// doStamp signs off the UI thread: the key takes its time, and the window stays responsive.
func (q *queueScreen) doStamp(it usecase.QueueItem) {
	t := q.u.tr
	q.busy = true
	q.result.SetText(t.T("queue.signing", it.Title))
	q.show()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		res, err := q.u.opt.Desk.StampAt(ctx, it.ID, nil)
		q.u.do(func() {
			q.busy = false
			if err != nil {
				q.result.SetText(t.T("queue.failed", err.Error()))
				q.result.Importance = widget.DangerImportance
			} else {
				q.result.SetText(t.T("queue.stamped", it.Title, res.Out, res.Intent, res.Done))
				q.result.Importance = widget.SuccessImportance
			}
			q.result.Refresh()
			msg := q.result.Text
			q.refresh()
			q.result.SetText(msg)
		})
	}()
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
	if q.sel < 0 {
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
		r.err.SetText(err.Error())
		return
	}
	r.dlg.Hide()
	r.q.returnD = nil
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
				lines = append(lines, err.Error())
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

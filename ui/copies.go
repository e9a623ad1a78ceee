package ui

import (
	"context"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
)

// CopiesService is what the forms for extra copies (加印) and recalls (重印) need: the same use
// cases as `sealkeeper print --request` and `--recall` (usecase.Desk). A desk without it shows
// neither form.
type CopiesService interface {
	RequestCopies(ctx context.Context, docID string, n int, reason, custodian string) (usecase.CopyGrant, error)
	RecordRecall(docID string, returned int, note, custodian string) (outstanding int, err error)
}

// copiesForm is a small dialog with a count, a text and a status line, whose submit runs off
// the UI thread.
type copiesForm struct {
	count, text *widget.Entry
	status      *widget.Label
	ok, close   *widget.Button
	dlg         *dialog.CustomDialog
}

func newCopiesForm(u *UI, title, intro, countLabel, textLabel, okLabel string, submit func(f *copiesForm, n int, text string)) *copiesForm {
	t := u.tr
	f := &copiesForm{count: &widget.Entry{}, text: &widget.Entry{MultiLine: true, Wrapping: fyne.TextWrapWord},
		status: &widget.Label{Wrapping: fyne.TextWrapWord}}
	f.count.ExtendBaseWidget(f.count)
	f.text.ExtendBaseWidget(f.text)
	f.ok = &widget.Button{Text: okLabel, Importance: widget.HighImportance, OnTapped: func() {
		n, err := strconv.Atoi(strings.TrimSpace(f.count.Text))
		if err != nil || n < 1 {
			f.status.SetText(t.T("print.badcopies", f.count.Text))
			return
		}
		f.ok.Disable()
		submit(f, n, strings.TrimSpace(f.text.Text))
	}}
	form := &widget.Form{}
	form.Append(countLabel, f.count)
	form.Append(textLabel, f.text)
	f.close = &widget.Button{Text: t.T("print.close"), OnTapped: func() { f.dlg.Hide() }}
	body := container.NewVBox(&widget.Label{Text: intro, Wrapping: fyne.TextWrapWord}, form, f.status, container.NewHBox(f.close, f.ok))
	f.dlg = dialog.NewCustomWithoutButtons(title, body, u.win)
	f.dlg.Resize(fyne.NewSize(520, 320))
	f.dlg.Show()
	u.win.Canvas().Focus(f.count)
	return f
}

// openExtraCopies asks the server for extra copies of docID's stamping (加印); the allowance
// comes once the administrator approves it, with a later sync. done runs after a request went.
func openExtraCopies(u *UI, cs CopiesService, docID, title string, done func()) *copiesForm {
	t := u.tr
	return newCopiesForm(u, t.T("copies.extra.title"), t.T("copies.extra.intro", title), t.T("copies.extra.count"), t.T("copies.extra.reason"), t.T("copies.extra.send"),
		func(f *copiesForm, n int, reason string) {
			f.status.SetText(t.T("copies.extra.sending"))
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				g, err := cs.RequestCopies(ctx, docID, n, reason, "")
				u.do(func() {
					if err != nil {
						f.status.SetText(t.explain(err))
						f.ok.Enable()
						return
					}
					f.status.SetText(t.T("copies.extra.sent", g.Request.Copies, g.ID))
					if done != nil {
						done()
					}
				})
			}()
		})
}

// openRecall records printed copies of a superseded stamping returned (重印), before the
// corrected document can be stamped. done runs after a recall was recorded.
func openRecall(u *UI, cs CopiesService, docID string, done func()) *copiesForm {
	t := u.tr
	return newCopiesForm(u, t.T("copies.recall.title"), t.T("copies.recall.intro", docID), t.T("copies.recall.count"), t.T("copies.recall.note"), t.T("copies.recall.record"),
		func(f *copiesForm, n int, note string) {
			out, err := cs.RecordRecall(docID, n, note, "")
			if err != nil {
				f.status.SetText(t.explain(err))
				f.ok.Enable()
				return
			}
			if out > 0 {
				f.status.SetText(t.T("copies.recall.more", n, out))
				f.ok.Enable()
			} else {
				f.status.SetText(t.T("copies.recall.done", n))
			}
			if done != nil {
				done()
			}
		})
}

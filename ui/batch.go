package ui

import (
	"context"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
)

// batchDialog stamps several ready documents in one go, each at its first place (the default
// place, or the approved position), with progress and what became of each.
type batchDialog struct {
	q      *queueScreen
	docs   []usecase.QueueItem
	checks []*widget.Check
	bar    *widget.ProgressBar
	now    *widget.Label
	out    *widget.Label
	start  *widget.Button
	close  *widget.Button
	dlg    *dialog.CustomDialog
	cancel context.CancelFunc
	done   bool
}

func (q *queueScreen) openBatch() {
	if q.batch != nil || q.u.opt.Keys.State().Phase != usecase.LoggedIn || q.u.opt.Desk == nil {
		return
	}
	t := q.u.tr
	b := &batchDialog{q: q, bar: &widget.ProgressBar{}, now: &widget.Label{Wrapping: fyne.TextWrapWord},
		out: &widget.Label{Wrapping: fyne.TextWrapWord}}
	list := container.NewVBox()
	for _, it := range q.items {
		if !it.Ready {
			continue
		}
		c := &widget.Check{Text: it.Title + " (" + it.ID + ")", Checked: true}
		b.docs, b.checks = append(b.docs, it), append(b.checks, c)
		list.Add(c)
	}
	b.start = &widget.Button{Text: t.T("batch.start"), Importance: widget.HighImportance, OnTapped: b.run}
	b.close = &widget.Button{Text: t.T("batch.close"), OnTapped: b.finish}
	scroll := container.NewVScroll(list)
	scroll.SetMinSize(fyne.NewSize(480, 200))
	body := container.NewBorder(&widget.Label{Text: t.T("batch.body"), Wrapping: fyne.TextWrapWord},
		container.NewVBox(b.bar, b.now, b.out), nil, nil, scroll)
	b.dlg = dialog.NewCustomWithoutButtons(t.T("batch.title"), body, q.u.win)
	b.dlg.SetButtons([]fyne.CanvasObject{b.close, b.start})
	b.dlg.Resize(fyne.NewSize(600, 480))
	q.batch = b
	if len(b.docs) == 0 {
		b.start.Disable()
		b.now.SetText(t.T("batch.none"))
	}
	b.dlg.Show()
}

// run stamps the checked documents off the UI thread.
func (b *batchDialog) run() {
	var ids []string
	for i, c := range b.checks {
		if c.Checked {
			ids = append(ids, b.docs[i].ID)
		}
		c.Disable()
	}
	t := b.q.u.tr
	if len(ids) == 0 {
		b.now.SetText(t.T("batch.nothing"))
		for _, c := range b.checks {
			c.Enable()
		}
		return
	}
	b.start.Disable()
	b.close.SetText(t.T("batch.stop"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(len(ids))*5*time.Minute)
	b.cancel = cancel
	desk := b.q.u.opt.Desk
	b.q.u.setBusy(duringSigning, true)
	go func() {
		defer cancel()
		items, err := desk.StampQueued(ctx, ids, func(p usecase.BatchProgress) {
			b.q.u.do(func() {
				b.bar.SetValue(float64(p.Done) / float64(p.Total))
				if p.Current != "" {
					b.now.SetText(t.T("batch.now", p.Done+1, p.Total, p.Current))
				}
			})
		})
		b.q.u.do(func() { b.q.u.setBusy(duringSigning, false); b.show(items, err) })
	}()
}

// show lists what became of each document.
func (b *batchDialog) show(items []usecase.BatchItem, err error) {
	t := b.q.u.tr
	var lines []string
	ok := 0
	for _, it := range items {
		if it.Err != nil {
			lines = append(lines, t.T("batch.failed", it.Request.DocID, t.explain(it.Err)))
			continue
		}
		ok++
		lines = append(lines, t.T("batch.stamped", it.Request.DocID, it.Result.Out))
	}
	head := t.T("batch.result", ok, len(items))
	if err != nil {
		head += " " + t.explain(err)
	}
	b.bar.SetValue(1)
	b.now.SetText(head)
	b.out.SetText(strings.Join(lines, "\n"))
	b.done = true
	b.close.SetText(t.T("batch.close"))
	b.q.refresh()
	b.q.result.SetText(head)
}

// finish closes the dialog, or asks a running batch to stop after the document being signed.
func (b *batchDialog) finish() {
	if b.cancel != nil && !b.done {
		b.cancel()
		b.now.SetText(b.q.u.tr.T("batch.stopping"))
		return
	}
	b.dlg.Hide()
	b.q.batch = nil
}

package ui

import (
	"context"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
)

// PrintService is what the result screen needs to print the approved copies (usecase.Desk).
// A desk without it shows no print button.
type PrintService interface {
	Printers(ctx context.Context) ([]usecase.Printer, error)
	Allowance(docID string) (usecase.CopyAllowance, error)
	Print(ctx context.Context, req usecase.PrintRequest) (*usecase.PrintResult, error)
}

// printDialog prints copies of a stamped document: the system's printers, the copies (no more
// than are left of the approval), and what the printer reported.
type printDialog struct {
	u       *UI
	ps      PrintService
	docID   string
	button  *widget.Button // on the result screen: "Print N copies"
	printer *widget.Select
	copies  *widget.Entry
	left    *widget.Label
	status  *widget.Label
	ok      *widget.Button
	dlg     *dialog.CustomDialog
	leftN   int
}

// newPrintButton is the result screen's print button, or nil when the desk cannot print.
func newPrintButton(u *UI, docID string) *printDialog {
	ps, ok := u.opt.Desk.(PrintService)
	if !ok || docID == "" {
		return nil
	}
	p := &printDialog{u: u, ps: ps, docID: docID}
	p.button = &widget.Button{OnTapped: p.open}
	p.refresh()
	return p
}

// refresh reads the allowance from the ledger and names it on the button.
func (p *printDialog) refresh() {
	t := p.u.tr
	a, err := p.ps.Allowance(p.docID)
	p.leftN = a.Left
	switch {
	case err != nil:
		p.button.SetText(t.T("print.unavailable"))
		p.button.Disable()
	case a.SupersededBy != "":
		p.button.SetText(t.T("print.superseded", a.SupersededBy))
		p.button.Disable()
	case a.Left == 0:
		p.button.SetText(t.T("print.none", a.Approved))
		p.button.Disable()
	default:
		p.button.SetText(t.T("print.button", a.Left))
		p.button.Enable()
	}
	if p.left != nil {
		p.left.SetText(t.T("print.left", a.Left, a.Approved, a.Printed))
	}
}

func (p *printDialog) open() {
	t := p.u.tr
	p.printer = &widget.Select{PlaceHolder: t.T("print.loading")}
	p.copies = &widget.Entry{Text: strconv.Itoa(p.leftN)}
	p.copies.ExtendBaseWidget(p.copies)
	p.left = &widget.Label{}
	p.status = &widget.Label{Wrapping: fyne.TextWrapWord}
	p.ok = &widget.Button{Text: t.T("print.go"), Importance: widget.HighImportance, OnTapped: p.print}
	p.ok.Disable()
	p.refresh()
	form := &widget.Form{}
	form.Append(t.T("print.printer"), p.printer)
	form.Append(t.T("print.copies"), p.copies)
	closeB := &widget.Button{Text: t.T("print.close"), OnTapped: func() { p.dlg.Hide() }}
	body := container.NewVBox(p.left, form, p.status, container.NewHBox(closeB, p.ok))
	p.dlg = dialog.NewCustomWithoutButtons(t.T("print.title"), body, p.u.win)
	p.dlg.Resize(fyne.NewSize(520, 280))
	p.dlg.Show()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		ps, err := p.ps.Printers(ctx)
		p.u.do(func() {
			if err != nil {
				p.status.SetText(t.explain(err))
				return
			}
			var names []string
			for _, pr := range ps {
				if pr.Accepting {
					names = append(names, pr.Name)
				}
			}
			if len(names) == 0 {
				p.status.SetText(t.T("print.noprinters"))
				return
			}
			p.printer.Options = names
			p.printer.SetSelected(names[0])
			if p.leftN > 0 {
				p.ok.Enable()
			}
		})
	}()
}

func (p *printDialog) print() {
	t := p.u.tr
	n, err := strconv.Atoi(p.copies.Text)
	if err != nil || n < 1 {
		p.status.SetText(t.T("print.badcopies", p.copies.Text))
		return
	}
	req := usecase.PrintRequest{DocID: p.docID, Printer: p.printer.Selected, Copies: n}
	p.ok.Disable()
	p.status.SetText(t.T("print.printing", n, req.Printer))
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		res, err := p.ps.Print(ctx, req)
		p.u.do(func() {
			switch {
			case err != nil && res != nil && res.Outcome != 0:
				p.status.SetText(t.T("print.failed", res.Job, res.State, res.Done, res.Asked, res.Outcome) + "\n" + t.explain(err))
			case err != nil:
				p.status.SetText(t.explain(err))
			default:
				p.status.SetText(t.T("print.ok", res.Done, res.Asked, res.Printer, res.Job, res.Intent, res.Outcome))
			}
			p.refresh()
			if p.leftN > 0 {
				p.ok.Enable()
			}
			p.copies.SetText(strconv.Itoa(p.leftN))
		})
	}()
}

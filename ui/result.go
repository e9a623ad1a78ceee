package ui

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
)

// resultView says what the stamping made: where the file went, its ledger records, and what
// the verifier finds in the file as written.
type resultView struct {
	heading *widget.Label
	form    *widget.Form
	open    *widget.Button
	back    *widget.Button
	print   *printDialog   // nil when the desk cannot print
	extra   *widget.Button // asks for extra copies (加印); nil when the desk cannot
	extraF  *copiesForm    // the form it opened last
	content fyne.CanvasObject
}

func newResultView(q *queueScreen, docID, title string, res *usecase.StampResult, v usecase.Verification, verr error) *resultView {
	t := q.u.tr
	r := &resultView{
		heading: &widget.Label{Text: t.T("result.ok", title), TextStyle: fyne.TextStyle{Bold: true}, Wrapping: fyne.TextWrapWord, Importance: widget.SuccessImportance},
		form:    &widget.Form{},
	}
	row := func(k, val string) { r.form.Append(t.T(k), &widget.Label{Text: val, Wrapping: fyne.TextWrapWord}) }
	row("result.file", res.Out)
	row("result.sha256", res.OutputSHA256)
	row("result.records", t.T("result.recordsv", res.Intent, res.Done))
	switch {
	case verr != nil:
		r.heading.SetText(t.T("result.unchecked", title))
		r.heading.Importance = widget.WarningImportance
		row("result.check", t.explain(verr))
	default:
		state := t.T("result.valid")
		if !v.Valid {
			state = t.T("result.invalid")
			r.heading.SetText(t.T("result.bad", title))
			r.heading.Importance = widget.DangerImportance
		}
		row("result.check", state)
		row("result.signer", v.Signer+" ("+v.Issuer+")")
		when := v.Time.Local().Format("2006-01-02 15:04:05")
		if v.TimeSource != "" {
			when += " (" + t.T("result.time."+v.TimeSource) + ")"
		}
		row("result.time", when)
		kind := t.T("result.seals", v.Widgets)
		if v.RidingSeam {
			kind += ", " + t.T("result.seam")
		}
		row("result.appearance", kind)
		if key, ok := formatKeys[v.Format]; ok {
			row("result.format", t.T(key))
		} else if v.Format != "" {
			row("result.format", v.Format)
		}
		if v.GMSeal != "" {
			row("result.gmseal", v.GMSeal)
		}
		row("result.covers", yesNoT(t, v.CoversFile))
		row("result.trusted", yesNoT(t, v.Trusted))
		if len(v.Problems) > 0 {
			row("result.problems", strings.Join(v.Problems, "\n"))
		}
	}
	dir := filepath.Dir(res.Out)
	r.open = &widget.Button{Text: t.T("result.open"), OnTapped: func() {
		if err := q.u.app.OpenURL(&url.URL{Scheme: "file", Path: dir}); err != nil {
			r.heading.SetText(fmt.Sprintf("%s: %v", dir, err))
		}
	}}
	r.back = &widget.Button{Text: t.T("result.back"), Importance: widget.HighImportance, OnTapped: q.closePreview}
	buttons := container.NewHBox(r.back, r.open)
	// RULES.md 15: the approved copies are printed from here (a queue document only).
	if r.print = newPrintButton(q.u, docID); r.print != nil && res.TicketID != "" {
		buttons.Add(r.print.button)
		if cs, ok := q.u.opt.Desk.(CopiesService); ok {
			r.extra = &widget.Button{Text: t.T("copies.extra.button"), OnTapped: func() { r.extraF = openExtraCopies(q.u, cs, docID, title, nil) }}
			buttons.Add(r.extra)
		}
	}
	r.content = container.NewVScroll(container.NewVBox(r.heading, r.form, buttons))
	return r
}

// formatKeys translate what a signature holds (the verifier's words, which are the English
// text): a PAdES seal and a GM seal are shown in the same row.
var formatKeys = map[string]string{
	usecase.FormatCMS:   "result.format.cms",
	usecase.FormatGMCMS: "result.format.gmcms",
	usecase.FormatSES:   "result.format.ses",
}

func yesNoT(t *tr, b bool) string {
	if b {
		return t.T("result.yes")
	}
	return t.T("result.no")
}

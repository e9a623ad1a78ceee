package ui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
)

// LedgerService is what the ledger screen needs from the ledger use case (usecase.LedgerView).
type LedgerService interface {
	// Read returns the records that pass f and the chain's status, from one pass.
	Read(f usecase.LedgerFilter) ([]usecase.LedgerEntry, usecase.ChainStatus, error)
	ExportCSV(path string, f usecase.LedgerFilter) (int, error)
	Report(f usecase.LedgerFilter) (usecase.LedgerReport, error)
	ExportReportPDF(path string, f usecase.LedgerFilter) error
}

// ledgerScreen shows the ledger to the logged-in custodian or auditor: the records that pass
// the filter bar, the selected one in full, the chain's status, the CSV export and the summary.
type ledgerScreen struct {
	u       *UI
	entries []usecase.LedgerEntry
	sel     int // index into entries, -1 for none
	// gen counts reads: a read's result is shown only if no newer read or clear came since
	// (never records that arrive after a logout).
	gen int

	kind      *widget.Select
	kinds     map[string]string // the select's label → kind ("" for every kind)
	seal      *widget.Entry
	custodian *widget.Entry
	from, to  *widget.Entry
	search    *widget.Entry
	apply     *widget.Button
	list      *widget.List
	empty     *widget.Label
	detail    *widget.Form
	status    *widget.Label
	problems  *widget.Label
	msg       *widget.Label // the last action's outcome or why nothing is shown
	export    *widget.Button
	report    *widget.Button
	content   fyne.CanvasObject

	reportD    *dialog.CustomDialog // open summary, if any
	reportText *widget.Label
	reportPDF  *widget.Button
}

func newLedgerScreen(u *UI) *ledgerScreen {
	t := u.tr
	s := &ledgerScreen{u: u, sel: -1, kinds: map[string]string{}}
	all := t.T("ledger.kind.all")
	opts := []string{all}
	s.kinds[all] = ""
	for _, k := range usecase.LedgerKinds() {
		l := s.kindLabel(k)
		opts = append(opts, l)
		s.kinds[l] = k
	}
	s.kind = &widget.Select{Options: opts, Selected: all, OnChanged: func(string) { s.applyFilter() }}
	entry := func(placeholder string) *widget.Entry {
		e := &widget.Entry{PlaceHolder: placeholder, OnSubmitted: func(string) { s.applyFilter() }}
		e.ExtendBaseWidget(e)
		return e
	}
	s.seal = entry(t.T("ledger.filter.seal"))
	s.custodian = entry(t.T("ledger.filter.custodian"))
	s.from = entry(t.T("ledger.filter.from"))
	s.to = entry(t.T("ledger.filter.to"))
	s.search = entry(t.T("ledger.filter.search"))
	s.apply = &widget.Button{Text: t.T("ledger.filter.apply"), OnTapped: s.applyFilter}
	s.empty = &widget.Label{Alignment: fyne.TextAlignCenter, Wrapping: fyne.TextWrapWord}
	s.detail = &widget.Form{}
	s.status = &widget.Label{Wrapping: fyne.TextWrapWord}
	s.problems = &widget.Label{Importance: widget.DangerImportance, Wrapping: fyne.TextWrapWord}
	s.msg = &widget.Label{Wrapping: fyne.TextWrapWord}
	s.export = &widget.Button{Text: t.T("ledger.export"), OnTapped: s.askExport}
	s.report = &widget.Button{Text: t.T("ledger.report"), OnTapped: s.showReport}
	s.list = &widget.List{
		Length:     func() int { return len(s.entries) },
		CreateItem: func() fyne.CanvasObject { return &widget.Label{Truncation: fyne.TextTruncateEllipsis} },
		UpdateItem: func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(s.line(s.entries[i])) },
		OnSelected: func(i widget.ListItemID) { s.sel = i; s.showDetail() },
	}
	s.list.ExtendBaseWidget(s.list)

	bar := container.NewGridWithColumns(3,
		s.kind, s.seal, s.custodian,
		s.from, s.to, s.search)
	top := container.NewVBox(container.NewBorder(nil, nil, nil, s.apply, bar), s.status, s.problems)
	left := container.NewBorder(nil, container.NewVBox(s.msg, container.NewHBox(s.export, s.report)), nil, nil, container.NewStack(s.list, s.empty))
	split := container.NewHSplit(left, container.NewVScroll(s.detail))
	split.Offset = 0.55
	s.content = container.NewBorder(top, nil, nil, nil, split)
	s.clear(t.T("ledger.locked"))
	return s
}

// kindLabel is a kind in the window's language; a kind from a newer SealKeeper shows as it is.
func (s *ledgerScreen) kindLabel(k string) string {
	key := "ledger.kind." + k
	if l := s.u.tr.T(key); l != key {
		return l
	}
	return k
}

func (s *ledgerScreen) line(e usecase.LedgerEntry) string {
	doc := e.Summary
	if e.Locked {
		doc += " " + s.u.tr.T("ledger.locked.mark")
	}
	// The custodian before the document: a long title is cut at the right edge.
	return fmt.Sprintf("%d  %s  %s  %s  %s", e.Seq, e.Time.Local().Format("2006-01-02 15:04:05"), s.kindLabel(e.Kind), e.Custodian, doc)
}

// filter reads the filter bar.
func (s *ledgerScreen) filter() (usecase.LedgerFilter, error) {
	f := usecase.LedgerFilter{Seal: s.seal.Text, Custodian: s.custodian.Text, Text: s.search.Text}
	if k := s.kinds[s.kind.Selected]; k != "" {
		f.Kinds = []string{k}
	}
	var err error
	f.From, f.To, err = usecase.ParsePeriod(s.from.Text, s.to.Text)
	return f, err
}

// errText says in the window's language why nothing could be read or written: the screen's
// own words for a ledger that is locked or missing, else the use cases' kind with its detail.
func (s *ledgerScreen) errText(err error) string {
	t := s.u.tr
	switch {
	case errors.Is(err, usecase.ErrLedgerLocked):
		return t.T("ledger.locked")
	case errors.Is(err, usecase.ErrNoLedger):
		return t.T("ledger.none")
	}
	return t.explain(err)
}

// clear forgets every record shown (the ledger was locked) and says why.
func (s *ledgerScreen) clear(why string) {
	s.gen++
	s.entries, s.sel = nil, -1
	s.list.UnselectAll()
	s.list.Refresh()
	s.empty.SetText(why)
	s.empty.Show()
	s.status.SetText("")
	s.problems.SetText("")
	s.export.Disable()
	s.report.Disable()
	if s.reportD != nil {
		s.reportD.Hide()
		s.reportD = nil
	}
	s.showDetail()
}

// shown reports whether the ledger tab is the one in front.
func (s *ledgerScreen) shown() bool {
	return s.u.tabs != nil && s.u.tabs.Selected() != nil && s.u.tabs.Selected().Content == s.content
}

// keyChanged follows the key: records are shown only while a custodian is logged in, and are
// dropped from the screen the moment nobody is.
func (s *ledgerScreen) keyChanged(st usecase.KeyState) {
	if st.Phase != usecase.LoggedIn {
		s.clear(s.u.tr.T("ledger.locked"))
		return
	}
	s.refreshIfShown()
}

// refreshIfShown reads again when the tab is in front (after a sync round, which follows
// each stamping and return); otherwise selecting the tab does it.
func (s *ledgerScreen) refreshIfShown() {
	if s.shown() {
		s.refresh()
	}
}

// applyFilter is the custodian asking for the records again: the last action's message goes.
func (s *ledgerScreen) applyFilter() {
	s.msg.SetText("")
	s.refresh()
}

// refresh reads the records that pass the filter and the chain status. Reading decrypts the
// whole ledger (about 25 µs a record), so it runs off the UI thread and the window stays
// responsive.
func (s *ledgerScreen) refresh() {
	t := s.u.tr
	if s.u.opt.Ledger == nil {
		s.clear(t.T("ledger.none"))
		return
	}
	// The records are for the logged-in custodian; the use case also refuses a locked ledger.
	if s.u.opt.Keys.State().Phase != usecase.LoggedIn {
		s.clear(t.T("ledger.locked"))
		return
	}
	f, err := s.filter()
	if err != nil {
		s.msg.SetText(s.errText(err))
		return
	}
	s.gen++
	gen, svc := s.gen, s.u.opt.Ledger
	go func() {
		entries, st, err := svc.Read(f)
		s.u.do(func() {
			if gen == s.gen {
				s.show(entries, st, err)
			}
		})
	}()
}

// show puts a read on the screen, keeping the selected record selected if it is still listed.
func (s *ledgerScreen) show(entries []usecase.LedgerEntry, st usecase.ChainStatus, err error) {
	t := s.u.tr
	if errors.Is(err, usecase.ErrLedgerLocked) || errors.Is(err, usecase.ErrNoLedger) {
		s.clear(s.errText(err))
		return
	}
	keep := uint64(0)
	if s.sel >= 0 && s.sel < len(s.entries) {
		keep = s.entries[s.sel].Seq
	}
	s.entries, s.sel = entries, -1
	// s.msg keeps the last action's outcome: a refresh after a sync round must not wipe it.
	if err != nil { // the records before a bad one are shown, with the problem
		s.msg.SetText(s.errText(err))
	}
	for i, e := range entries {
		if e.Seq == keep {
			s.sel = i
		}
	}
	s.list.Refresh()
	if s.sel >= 0 {
		s.list.Select(s.sel)
	} else {
		s.list.UnselectAll()
	}
	if len(entries) == 0 {
		s.empty.SetText(t.T("ledger.empty"))
		s.empty.Show()
	} else {
		s.empty.Hide()
	}
	s.export.Enable()
	s.report.Enable()
	s.showStatus(st)
	s.showDetail()
}

func (s *ledgerScreen) showStatus(st usecase.ChainStatus) {
	t := s.u.tr
	at := func(x time.Time) string { return x.Local().Format("2006-01-02 15:04") }
	parts := []string{t.T("ledger.status.verified", st.VerifiedTo, st.Records)}
	if st.Signed > 0 {
		parts = append(parts, t.T("ledger.status.signed", st.Signed, at(st.SignedAt)))
	} else {
		parts = append(parts, t.T("ledger.status.unsigned"))
	}
	if st.Cosigned > 0 {
		parts = append(parts, t.T("ledger.status.cosigned", st.Cosigned, at(st.CosignedAt)))
	} else {
		parts = append(parts, t.T("ledger.status.notcosigned"))
	}
	if len(st.Interrupted) > 0 {
		parts = append(parts, t.T("ledger.status.interrupted", fmt.Sprint(st.Interrupted)))
	}
	if st.Pending > 0 {
		parts = append(parts, t.T("ledger.status.pending", st.Pending))
	}
	s.status.SetText(strings.Join(parts, " · "))
	if len(st.Problems) > 0 {
		s.problems.SetText(t.T("ledger.status.problems", strings.Join(st.Problems, "\n")))
	} else {
		s.problems.SetText("")
	}
}

// showDetail puts every field of the selected record in the detail pane.
func (s *ledgerScreen) showDetail() {
	s.detail.Items = nil
	if s.sel >= 0 && s.sel < len(s.entries) {
		for _, f := range s.entries[s.sel].Fields {
			v := f.Value
			if f.Name == "kind" {
				v = s.kindLabel(v) + " (" + v + ")"
			}
			s.detail.Append(s.fieldLabel(f.Name), &widget.Label{Text: v, Wrapping: fyne.TextWrapBreak, Selectable: true})
		}
	}
	s.detail.Refresh()
}

func (s *ledgerScreen) fieldLabel(name string) string {
	key := "ledger.field." + name
	if l := s.u.tr.T(key); l != key {
		return l
	}
	return name
}

// askExport asks where the CSV goes.
func (s *ledgerScreen) askExport() {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			s.msg.SetText(s.errText(err))
			return
		}
		if w == nil {
			return // cancelled
		}
		path := w.URI().Path()
		w.Close() // the export replaces the file atomically
		s.exportCSV(path)
	}, s.u.win)
	d.SetFileName("ledger-" + time.Now().Format("20060102") + ".csv")
	d.Show()
}

// exportCSV writes the records that pass the filter to path.
// Like refresh, it reads off the UI thread.
func (s *ledgerScreen) exportCSV(path string) {
	f, err := s.filter()
	if err != nil {
		s.msg.SetText(s.errText(err))
		return
	}
	svc := s.u.opt.Ledger
	go func() {
		n, err := svc.ExportCSV(path, f)
		s.u.do(func() {
			if err != nil {
				s.msg.SetText(s.errText(err))
			} else {
				s.msg.SetText(s.u.tr.T("ledger.export.done", n, path))
			}
		})
	}()
}

// showReport shows the summary of the records that pass the filter, with a PDF to save.
func (s *ledgerScreen) showReport() {
	f, err := s.filter()
	if err != nil {
		s.msg.SetText(s.errText(err))
		return
	}
	svc := s.u.opt.Ledger
	go func() {
		rep, err := svc.Report(f)
		s.u.do(func() {
			switch {
			case s.u.opt.Keys.State().Phase != usecase.LoggedIn: // logged out meanwhile: show nothing
			case err != nil:
				s.msg.SetText(s.errText(err))
			default:
				s.openReport(f, rep)
			}
		})
	}()
}

func (s *ledgerScreen) openReport(f usecase.LedgerFilter, rep usecase.LedgerReport) {
	t := s.u.tr
	day := func(x time.Time) string {
		if x.IsZero() {
			return "…"
		}
		return x.Local().Format("2006-01-02")
	}
	first, last := rep.First, rep.Last
	if !f.From.IsZero() {
		first = f.From
	}
	if !f.To.IsZero() {
		last = f.To.Add(-time.Nanosecond)
	}
	var b strings.Builder
	fmt.Fprintln(&b, t.T("ledger.report.period", day(first), day(last)))
	fmt.Fprintln(&b, t.T("ledger.report.totals", rep.Total, rep.Stamped, rep.Copies))
	section := func(title string, cs []usecase.LedgerCount, label func(string) string) {
		fmt.Fprintf(&b, "\n%s\n", t.T(title))
		for _, c := range cs {
			name := label(c.Name)
			if name == "" {
				name = "—"
			}
			fmt.Fprintf(&b, "  %s: %d\n", name, c.Count)
		}
	}
	same := func(x string) string { return x }
	section("ledger.report.bykind", rep.ByKind, s.kindLabel)
	section("ledger.report.byseal", rep.BySeal, same)
	section("ledger.report.bycustodian", rep.ByCustodian, same)
	if len(rep.Usage) > 0 {
		fmt.Fprintf(&b, "\n%s\n", t.T("ledger.report.usage"))
		for _, u := range rep.Usage {
			fmt.Fprintln(&b, "  "+t.T("ledger.report.usagerow", u.Period, same(u.Seal), same(u.Custodian), u.Stamped, u.Approved, u.Printed))
		}
	}
	s.reportText = &widget.Label{Text: strings.TrimRight(b.String(), "\n"), Wrapping: fyne.TextWrapWord}
	closeIt := &widget.Button{Text: t.T("ledger.report.close"), OnTapped: func() { s.reportD.Hide(); s.reportD = nil }}
	s.reportPDF = &widget.Button{Text: t.T("ledger.report.pdf"), OnTapped: func() { s.askReportPDF(f) }}
	s.reportD = dialog.NewCustomWithoutButtons(t.T("ledger.report.title"), container.NewVScroll(s.reportText), s.u.win)
	s.reportD.SetButtons([]fyne.CanvasObject{closeIt, s.reportPDF})
	s.reportD.Resize(fyne.NewSize(520, 480))
	s.reportD.Show()
}

func (s *ledgerScreen) askReportPDF(f usecase.LedgerFilter) {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		path := w.URI().Path()
		w.Close()
		s.exportReportPDF(path, f)
	}, s.u.win)
	d.SetFileName("汇总表-" + time.Now().Format("20060102") + ".pdf")
	d.Show()
}

func (s *ledgerScreen) exportReportPDF(path string, f usecase.LedgerFilter) {
	svc := s.u.opt.Ledger
	go func() {
		err := svc.ExportReportPDF(path, f)
		s.u.do(func() {
			if err != nil {
				s.msg.SetText(s.errText(err))
			} else {
				s.msg.SetText(s.u.tr.T("ledger.report.saved", path))
			}
		})
	}()
}

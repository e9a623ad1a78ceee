package usecase

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sealkeeper/sealkeeper/assets"
	"github.com/sealkeeper/sealkeeper/store/atomic"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/report"
)

// The ledger as the custodian and the auditor see it: records with filters, each record's
// fields, the chain's status, the CSV export and the summary (汇总表). The window reads the
// open ledger through LedgerView; the command line reads a closed file with ledger.Verify and
// turns each record into the same LedgerEntry with LedgerEntryOf and the same LedgerFilter.

// LedgerFilter selects records. Zero fields select everything.
type LedgerFilter struct {
	Kinds     []string // record kinds, e.g. "stamp.done"
	Seal      string
	Custodian string
	// From is inclusive, To exclusive: ParsePeriod turns "last day" into the day after it.
	From, To time.Time
	// Text is part of the document's id or title, in any case.
	Text string
}

// ReportFilter is the same selection without Text, for store/report's summary and CSV.
func (f LedgerFilter) ReportFilter() report.Filter {
	rf := report.Filter{From: f.From, To: f.To, Seal: strings.TrimSpace(f.Seal), Custodian: strings.TrimSpace(f.Custodian)}
	for _, k := range f.Kinds {
		rf.Kinds = append(rf.Kinds, ledger.Kind(k))
	}
	return rf
}

// Match reports whether r passes the filter.
func (f LedgerFilter) Match(r ledger.Record) bool {
	return f.matcher()(r)
}

// matcher is Match with the conversion done once, for a scan of every record.
func (f LedgerFilter) matcher() func(ledger.Record) bool {
	rf := f.ReportFilter()
	text := strings.ToLower(strings.TrimSpace(f.Text))
	return func(r ledger.Record) bool {
		if !rf.Match(r) {
			return false
		}
		return text == "" || strings.Contains(strings.ToLower(r.DocID), text) || strings.Contains(strings.ToLower(r.DocTitle), text)
	}
}

// Refusals of a period a screen tells apart (errors.Is).
var (
	// ErrBadDate: a day is not written YYYY-MM-DD.
	ErrBadDate = errors.New("is not a date like 2026-11-01")
	// ErrBadPeriod: the period's last day comes before its first.
	ErrBadPeriod = errors.New("the period ends before it begins")
)

// ParsePeriod reads a period given as first and last day (YYYY-MM-DD, local time, either
// empty for an open end) into LedgerFilter's From (inclusive) and To (exclusive).
func ParsePeriod(first, last string) (from, to time.Time, err error) {
	day := func(s string) (time.Time, error) {
		s = strings.TrimSpace(s)
		if s == "" {
			return time.Time{}, nil
		}
		t, err := time.ParseInLocation("2006-01-02", s, time.Local)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q %w", s, ErrBadDate)
		}
		return t, nil
	}
	if from, err = day(first); err != nil {
		return
	}
	if to, err = day(last); err != nil {
		return
	}
	if !to.IsZero() {
		to = to.AddDate(0, 0, 1)
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: the last day %s comes before the first %s; swap them", ErrBadPeriod, strings.TrimSpace(last), strings.TrimSpace(first))
	}
	return from, to, nil
}

// LedgerKinds are the record kinds a filter can name, in a stable order.
func LedgerKinds() []string {
	var out []string
	for _, k := range ledger.Kinds() {
		out = append(out, string(k))
	}
	return out
}

// LedgerEntry is one record as the screens and the command line show it.
type LedgerEntry struct {
	Seq       uint64
	Time      time.Time
	Kind      string
	Custodian string
	SealID    string
	DocID     string
	Title     string
	// Summary is what the record is about on one line: document, reason, detail, alarm.
	Summary string
	// Locked: written while nobody was logged in and folded in at the next login.
	Locked bool
	// Newer: a kind or schema from a newer SealKeeper; Fields holds it as written ("raw").
	Newer bool
	// Fields are all the record's fields that are set, in a fixed order.
	Fields []LedgerField
}

// LedgerField is one field of a record. Name is stable (the screens translate it: "seq",
// "time", "input_sha256", "output", "reason", …); Value is as stored, times in local time.
type LedgerField struct {
	Name, Value string
}

// Value returns the field called name, or "".
func (e LedgerEntry) Value(name string) string {
	for _, f := range e.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

const timeLayout = "2006-01-02 15:04:05"

// LedgerEntryOf turns a record into what is shown of it.
func LedgerEntryOf(r ledger.Record) LedgerEntry {
	e := LedgerEntry{Seq: r.Seq, Time: r.Time, Kind: string(r.Kind), Custodian: r.Custodian, SealID: r.SealID,
		DocID: r.DocID, Title: r.DocTitle, Locked: !r.SealedAt.IsZero() || r.Locked != "", Newer: !r.Known()}
	var what []string
	for _, s := range []string{r.DocID, r.DocTitle, r.Reason, r.Detail, r.Alarm} {
		if s = strings.TrimSpace(s); s != "" {
			what = append(what, s)
		}
	}
	e.Summary = strings.Join(what, " ")
	add := func(name, v string) {
		if v != "" {
			e.Fields = append(e.Fields, LedgerField{name, v})
		}
	}
	num := func(n uint64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatUint(n, 10)
	}
	at := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format(timeLayout)
	}
	add("seq", num(r.Seq))
	add("time", at(r.Time))
	add("kind", string(r.Kind))
	add("custodian", r.Custodian)
	add("workstation", r.Workstation)
	add("host", r.Host)
	add("ips", strings.Join(r.IPs, " "))
	add("program", r.Program)
	add("token", r.Token)
	add("seal", r.SealID)
	add("cert_serial", r.CertSerial)
	add("document", r.DocID)
	add("title", r.DocTitle)
	add("ticket", r.TicketID)
	add("copies", num(uint64(max(r.Copies, 0))))
	add("input_sha256", r.InputHash)
	add("output_sha256", r.OutputHash)
	add("signature_sha256", r.SignatureHash)
	var pl []string
	for _, p := range r.Placements {
		s := fmt.Sprintf("p%d (%.1f, %.1f) %.1f×%.1f pt", p.Page, p.X, p.Y, p.W, p.H)
		if p.Kind != "" && p.Kind != "normal" {
			s += " " + p.Kind
		}
		pl = append(pl, s)
	}
	add("placements", strings.Join(pl, "; "))
	add("output", r.Output)
	add("intent", num(r.Intent))
	add("reason", r.Reason)
	add("from", r.From)
	add("to", r.To)
	add("setting", r.Setting)
	add("old", r.Old)
	add("new", r.New)
	add("alarm", r.Alarm)
	add("detail", r.Detail)
	if r.Checkpoint != nil {
		add("checkpoint", fmt.Sprintf("%d %s", r.Checkpoint.Size, r.Checkpoint.Head))
	}
	add("slot", r.Slot)
	add("sealed_at", at(r.SealedAt))
	add("locked", string(r.Locked))
	if e.Newer {
		add("raw", string(r.Raw))
	}
	return e
}

// LedgerView reads the workstation's open ledger for the screens. It reads only while the
// ledger is unlocked (a custodian with a key slot is logged in): the records are confidential,
// and the data key exists only then.
type LedgerView struct {
	led *ledger.Ledger
}

// NewLedgerView makes the view; led may be nil (no usable ledger: every call says so).
func NewLedgerView(led *ledger.Ledger) *LedgerView { return &LedgerView{led: led} }

func (v *LedgerView) ready() error {
	if v.led == nil {
		return ErrNoLedger
	}
	if !v.led.Unlocked() {
		return ErrLedgerLocked
	}
	return nil
}

// scan calls fn with every record that passes f, in seq order, checking the chain as it goes.
func (v *LedgerView) scan(f LedgerFilter, fn func(ledger.Record)) error {
	if err := v.ready(); err != nil {
		return err
	}
	match := f.matcher()
	err := v.led.Records(1, func(r ledger.Record) error {
		if match(r) {
			fn(r)
		}
		return nil
	})
	if errors.Is(err, ledger.ErrLocked) { // locked between ready and the read (key pulled)
		return ErrLedgerLocked
	}
	return err
}

// ChainStatus is what the ledger's checks say now.
type ChainStatus struct {
	Records uint64 // records in the ledger
	// VerifiedTo: every record from 1 to here was decrypted with the data key, its tag checked,
	// and chained to the one before, just now.
	VerifiedTo uint64
	// Signed is the size of the newest checkpoint signed by a seal key, SignedAt when (0: none).
	Signed   uint64
	SignedAt time.Time
	// Cosigned is the size of the newest checkpoint the server co-signed, CosignedAt when the
	// co-signature was stored here (0: the server has co-signed none yet).
	Cosigned   uint64
	CosignedAt time.Time
	// Interrupted are stamp intents with no done or failed record yet.
	Interrupted []uint64
	// Pending are events written while locked that this key could not fold in.
	Pending int
	// Problems say what does not verify; empty when everything above holds.
	Problems []string
}

// Records returns the records that pass f in ledger order (seq, the order they were written).
// A done stamping also shows where its intent wrote the file ("output"). When a record does
// not verify, the records before it are returned with the error.
func (v *LedgerView) Records(f LedgerFilter) ([]LedgerEntry, error) {
	es, _, err := v.read(&f)
	return es, err
}

// Status checks the whole chain now and reports where it stands; what does not verify is in
// its Problems. The error is only for a ledger that cannot be read (none, locked).
func (v *LedgerView) Status() (ChainStatus, error) {
	_, st, err := v.read(nil)
	if errors.Is(err, ErrNoLedger) || errors.Is(err, ErrLedgerLocked) {
		return st, err
	}
	return st, nil
}

// Read is Records and Status from one pass over the ledger: what a screen shows on a refresh.
func (v *LedgerView) Read(f LedgerFilter) ([]LedgerEntry, ChainStatus, error) {
	return v.read(&f)
}

// read scans every record once: the entries that pass f (none when f is nil) and the status.
func (v *LedgerView) read(f *LedgerFilter) ([]LedgerEntry, ChainStatus, error) {
	var st ChainStatus
	if err := v.ready(); err != nil {
		return nil, st, err
	}
	st.Records, st.Pending = v.led.Size(), v.led.Pending()
	var out []LedgerEntry
	outputs := map[uint64]string{} // intent seq → output, for the done record that settles it
	match := func(ledger.Record) bool { return false }
	if f != nil {
		match = f.matcher()
	}
	err := v.scan(LedgerFilter{}, func(r ledger.Record) {
		st.VerifiedTo = r.Seq
		if f == nil {
			return
		}
		if r.Kind == ledger.KindStampIntent && r.Output != "" {
			outputs[r.Seq] = r.Output
		}
		if !match(r) {
			return
		}
		if s := r.Settles(); s != 0 && r.Kind == ledger.KindStampDone && r.Output == "" {
			r.Output = outputs[s]
		}
		out = append(out, LedgerEntryOf(r))
	})
	if errors.Is(err, ErrLedgerLocked) {
		return nil, ChainStatus{}, err
	}
	if err != nil {
		st.Problems = append(st.Problems, err.Error())
	}
	v.checkpoints(&st)
	return out, st, err
}

// checkpoints adds the newest signed and co-signed checkpoints to st, each held against the
// record at its size.
func (v *LedgerView) checkpoints(st *ChainStatus) {
	// headAt is the entry hash of record seq, to hold each checkpoint against.
	headAt := func(seq uint64) (h [ledger.HashSize]byte, ok bool) {
		v.led.Envelopes(seq, func(e ledger.Envelope) error {
			if e.Seq == seq {
				h, ok = e.Hash(), true
			}
			return errStop
		})
		return h, ok
	}
	cps, err := v.led.Checkpoints()
	if err != nil {
		st.Problems = append(st.Problems, fmt.Sprintf("reading the signed checkpoints: %v", err))
	}
	if n := len(cps); n > 0 {
		cp := cps[n-1]
		st.Signed, st.SignedAt = cp.Size, cp.Time
		if err := cp.VerifySignature(); err != nil {
			st.Problems = append(st.Problems, fmt.Sprintf("the checkpoint at record %d: %v", cp.Size, err))
		} else if h, ok := headAt(cp.Size); !ok || h != cp.Head {
			st.Problems = append(st.Problems, fmt.Sprintf("the checkpoint at record %d was signed over another record than the ledger holds there", cp.Size))
		}
	}
	cs, err := ledger.ReadCosigned(v.led.Path())
	if err != nil {
		st.Problems = append(st.Problems, err.Error())
	}
	if cs != nil {
		st.Cosigned, st.CosignedAt = cs.Checkpoint.Size, cs.Stored
		if h, ok := headAt(cs.Checkpoint.Size); !ok || h != cs.Checkpoint.Head {
			st.Problems = append(st.Problems, fmt.Sprintf("the server co-signed another record %d than the ledger holds (a fork): tell the administrator", cs.Checkpoint.Size))
		}
	}
	open, err := v.led.Interrupted()
	if err != nil {
		st.Problems = append(st.Problems, err.Error())
	}
	for _, r := range open {
		st.Interrupted = append(st.Interrupted, r.Seq)
	}
}

var errStop = errors.New("stop")

// ErrExportPath: the export would replace the ledger or a file the ledger keeps beside it.
var ErrExportPath = errors.New("choose another file: this one is the ledger's own")

func (v *LedgerView) checkExportPath(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	lp, err := filepath.Abs(v.led.Path())
	if err != nil {
		return err
	}
	if abs == lp || strings.HasPrefix(abs, lp+".") {
		return fmt.Errorf("%w (%s)", ErrExportPath, path)
	}
	return nil
}

// ExportCSV writes the records that pass f to path as CSV (store/report's columns, UTF-8 with
// a byte-order mark so that Excel on Chinese Windows reads it), atomically: a crash leaves the
// old file or the whole new one. It returns how many records it wrote.
func (v *LedgerView) ExportCSV(path string, f LedgerFilter) (int, error) {
	if err := v.ready(); err != nil {
		return 0, err
	}
	if err := v.checkExportPath(path); err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	w, err := report.NewCSV(&buf)
	if err != nil {
		return 0, err
	}
	n := 0
	var werr error
	err = v.scan(f, func(r ledger.Record) {
		if werr == nil {
			werr = w.Write(r)
			n++
		}
	})
	if err == nil {
		err = werr
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return 0, fmt.Errorf("nothing was written to %s: %w", path, err)
	}
	if err := atomic.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return 0, fmt.Errorf("writing the export %s: %w", path, err)
	}
	return n, nil
}

// LedgerReport is the summary of the records that pass a filter: counts by kind, seal and
// custodian, and the table by all three (汇总表).
type LedgerReport struct {
	Filter      LedgerFilter
	First, Last time.Time // of the records counted
	Total       int
	Stamped     int // finished stampings (stamp.done)
	Copies      int // their copies, each stamping counted once
	ByKind      []LedgerCount
	BySeal      []LedgerCount
	ByCustodian []LedgerCount
	Rows        []LedgerReportRow
	// Usage is the stampings and printed copies side by side, by month, seal and custodian
	// (电子印章签章和在线打印情况汇总表); Printed the copies printed.
	Usage   []LedgerUsage
	Printed int
}

// LedgerUsage is one line of the stampings-and-printing table.
type LedgerUsage = report.UsageRow

// LedgerCount is how many records have one value (a kind, a seal, a custodian; "" for none).
type LedgerCount struct {
	Name  string
	Count int
}

// LedgerReportRow is one line of the table.
type LedgerReportRow struct {
	Seal, Custodian, Kind string
	Count, Copies         int
}

func (v *LedgerView) summary(f LedgerFilter) (report.Summary, error) {
	sum := report.NewSummarizer(report.Filter{}, v.workstation())
	err := v.scan(f, func(r ledger.Record) { sum.Add(r) })
	return sum.Summary(), err
}

func (v *LedgerView) workstation() string {
	if v.led == nil {
		return ""
	}
	return v.led.Workstation()
}

// Report summarises the records that pass f.
func (v *LedgerView) Report(f LedgerFilter) (LedgerReport, error) {
	s, err := v.summary(f)
	if err != nil {
		return LedgerReport{}, err
	}
	rep := LedgerReport{Filter: f, First: s.First, Last: s.Last, Total: s.Total, Stamped: s.Stamped, Copies: s.TotalCopies,
		Usage: s.Usage, Printed: s.TotalPrinted}
	kinds, seals, custodians := map[string]int{}, map[string]int{}, map[string]int{}
	for _, r := range s.Rows {
		rep.Rows = append(rep.Rows, LedgerReportRow{Seal: r.Seal, Custodian: r.Custodian, Kind: string(r.Kind), Count: r.Count, Copies: r.Copies})
		kinds[string(r.Kind)] += r.Count
		seals[r.Seal] += r.Count
		custodians[r.Custodian] += r.Count
	}
	rep.ByKind, rep.BySeal, rep.ByCustodian = counts(kinds), counts(seals), counts(custodians)
	return rep, nil
}

// counts sorts the most frequent first, then by name.
func counts(m map[string]int) []LedgerCount {
	out := make([]LedgerCount, 0, len(m))
	for k, n := range m {
		out = append(out, LedgerCount{k, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// ExportReportPDF writes the summary of the records that pass f as the PDF 汇总表 (the same
// one as `sealkeeper ledger report --format pdf`), atomically.
func (v *LedgerView) ExportReportPDF(path string, f LedgerFilter) error {
	if err := v.ready(); err != nil {
		return err
	}
	if err := v.checkExportPath(path); err != nil {
		return err
	}
	s, err := v.summary(f)
	if err != nil {
		return fmt.Errorf("nothing was written to %s: %w", path, err)
	}
	s.Filter = f.ReportFilter() // the PDF names the period and the selection
	var buf bytes.Buffer
	if err := report.WritePDF(&buf, s, report.Fonts{Regular: assets.FontRegular, Bold: assets.FontBold}); err != nil {
		return err
	}
	if err := atomic.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing the report %s: %w", path, err)
	}
	return nil
}

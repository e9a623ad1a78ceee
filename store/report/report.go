// Package report summarises ledger records for the periodic review the seal rules ask for
// (汇总表): by period, seal, custodian and kind, as CSV (one record a line) and as a PDF summary
// table with totals, in Chinese and English, with the fonts embedded so it reads anywhere.
package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// Filter selects records. Zero fields select everything.
type Filter struct {
	From, To  time.Time // From inclusive, To exclusive
	Seal      string
	Custodian string
	Kinds     []ledger.Kind
}

// Match reports whether r passes the filter.
func (f Filter) Match(r ledger.Record) bool {
	if !f.From.IsZero() && r.Time.Before(f.From) {
		return false
	}
	if !f.To.IsZero() && !r.Time.Before(f.To) {
		return false
	}
	if f.Seal != "" && r.SealID != f.Seal {
		return false
	}
	if f.Custodian != "" && r.Custodian != f.Custodian {
		return false
	}
	if len(f.Kinds) > 0 {
		ok := false
		for _, k := range f.Kinds {
			ok = ok || k == r.Kind
		}
		if !ok {
			return false
		}
	}
	return true
}

// Row is one line of the summary: how many records of a kind, for a seal and a custodian.
type Row struct {
	Seal      string
	Custodian string
	Kind      ledger.Kind
	Count     int
	Copies    int // sum of Record.Copies (stamped copies)
}

// Summary is the summary table.
type Summary struct {
	Filter      Filter
	Workstation string
	Generated   time.Time
	Rows        []Row
	Total       int
	TotalCopies int
	Stamped     int // stamp.done records
	First, Last time.Time
	// Usage is the table of stampings and printed copies by month, seal and custodian
	// (usage.go); TotalPrinted the copies printed.
	Usage        []UsageRow
	TotalPrinted int
}

// Summarizer builds a Summary from records given one at a time.
type Summarizer struct {
	f    Filter
	rows map[[3]string]*Row
	use  map[[3]string]*UsageRow
	s    Summary
}

// NewSummarizer starts a summary of the records that match f.
func NewSummarizer(f Filter, workstation string) *Summarizer {
	return &Summarizer{f: f, rows: map[[3]string]*Row{}, s: Summary{Filter: f, Workstation: workstation}}
}

// Add counts r if it matches the filter, and reports whether it did.
func (z *Summarizer) Add(r ledger.Record) bool {
	if !z.f.Match(r) {
		return false
	}
	k := [3]string{r.SealID, r.Custodian, string(r.Kind)}
	row := z.rows[k]
	if row == nil {
		row = &Row{Seal: r.SealID, Custodian: r.Custodian, Kind: r.Kind}
		z.rows[k] = row
	}
	row.Count++
	row.Copies += r.Copies
	z.addUsage(r)
	z.s.Total++
	// A stamping's intent carries its copies too; the total counts each finished stamping once.
	if r.Kind == ledger.KindStampDone {
		z.s.Stamped++
		z.s.TotalCopies += r.Copies
	}
	if z.s.First.IsZero() || r.Time.Before(z.s.First) {
		z.s.First = r.Time
	}
	if r.Time.After(z.s.Last) {
		z.s.Last = r.Time
	}
	return true
}

// Summary returns the table, rows sorted by seal, custodian and kind.
func (z *Summarizer) Summary() Summary {
	s := z.s
	s.Generated = time.Now()
	s.Rows, s.Usage = nil, z.usageRows()
	for _, r := range z.rows {
		s.Rows = append(s.Rows, *r)
	}
	sort.Slice(s.Rows, func(i, j int) bool {
		a, b := s.Rows[i], s.Rows[j]
		if a.Seal != b.Seal {
			return a.Seal < b.Seal
		}
		if a.Custodian != b.Custodian {
			return a.Custodian < b.Custodian
		}
		return a.Kind < b.Kind
	})
	return s
}

// CSVHeader is the first line of the CSV report.
var CSVHeader = []string{"seq", "time", "kind", "custodian", "seal", "cert_serial", "document", "title", "ticket",
	"copies", "host", "ips", "input_sha256", "output_sha256", "signature_sha256", "intent", "reason", "detail"}

// CSV writes records one a line, with CSVHeader first.
type CSV struct{ w *csv.Writer }

// NewCSV starts a CSV report on w. Spreadsheet programs on Chinese Windows read UTF-8 CSV
// correctly only with a byte-order mark, so one is written first.
func NewCSV(w io.Writer) (*CSV, error) {
	if _, err := w.Write([]byte("\ufeff")); err != nil {
		return nil, err
	}
	c := &CSV{csv.NewWriter(w)}
	return c, c.w.Write(CSVHeader)
}

// Write adds one record.
func (c *CSV) Write(r ledger.Record) error {
	intent := ""
	if r.Intent != 0 {
		intent = strconv.FormatUint(r.Intent, 10)
	}
	copies := ""
	if r.Copies != 0 {
		copies = strconv.Itoa(r.Copies)
	}
	return c.w.Write([]string{strconv.FormatUint(r.Seq, 10), r.Time.UTC().Format(time.RFC3339), string(r.Kind), csvSafe(r.Custodian),
		csvSafe(r.SealID), csvSafe(r.CertSerial), csvSafe(r.DocID), csvSafe(r.DocTitle), csvSafe(r.TicketID), copies, csvSafe(r.Host),
		strings.Join(r.IPs, " "), r.InputHash, r.OutputHash, r.SignatureHash, intent, csvSafe(r.Reason), csvSafe(r.Detail)})
}

// Flush writes out buffered lines and returns any write error.
func (c *CSV) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

// csvSafe keeps a spreadsheet from running text from a document title as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// KindLabel names a kind for people, in Chinese and English.
func KindLabel(k ledger.Kind) string {
	if l, ok := kindLabels[k]; ok {
		return l
	}
	return string(k)
}

var kindLabels = map[ledger.Kind]string{
	ledger.KindCreated:         "账本创建 Ledger created",
	ledger.KindKeyInserted:     "插入印章密钥 Key inserted",
	ledger.KindKeyRemoved:      "拔出印章密钥 Key removed",
	ledger.KindLoginOK:         "登录成功 Login",
	ledger.KindLoginFailed:     "登录失败 Login failed",
	ledger.KindPINChanged:      "修改口令 PIN changed",
	ledger.KindDocReceived:     "收到待盖章文件 Document received",
	ledger.KindStampIntent:     "开始盖章 Stamp started",
	ledger.KindStampDone:       "盖章完成 Stamped",
	ledger.KindStampFailed:     "盖章失败 Stamp failed",
	ledger.KindRejected:        "退签 Rejected",
	ledger.KindHandover:        "交接 Handover",
	ledger.KindSyncCheckpoint:  "同步 Synced",
	ledger.KindSettingsChanged: "设置变更 Settings changed",
	ledger.KindAlarm:           "告警 Alarm",
	ledger.KindSlotAdded:       "授权密钥增加 Key slot added",
	ledger.KindSlotRemoved:     "授权密钥移除 Key slot removed",
	ledger.KindPrintIntent:     "开始打印 Print started",
	ledger.KindPrintDone:       "打印完成 Printed",
	ledger.KindPrintFailed:     "打印失败 Print failed",
	ledger.KindCopiesAllowed:   "加印批准 Extra copies allowed",
	ledger.KindSuperseded:      "重印作废 Superseded",
	ledger.KindRecalled:        "打印件收回 Printouts recalled",
	ledger.KindReport:          "月度汇总表 Monthly table made",
}

func period(f Filter, s Summary) string {
	d := func(t time.Time) string { return t.Local().Format("2006-01-02") }
	from, to := "…", "…"
	if !f.From.IsZero() {
		from = d(f.From)
	} else if !s.First.IsZero() {
		from = d(s.First)
	}
	if !f.To.IsZero() {
		to = d(f.To.Add(-time.Nanosecond))
	} else if !s.Last.IsZero() {
		to = d(s.Last)
	}
	return fmt.Sprintf("%s 至 %s", from, to)
}

package report

import (
	"encoding/csv"
	"io"
	"sort"
	"strconv"

	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// UsageRow is one line of the table of stampings and online printing (电子印章签章和在线打印情况
// 汇总表, RULES.md 12): a month, a seal and a custodian, with the stampings and the printed copies
// side by side.
type UsageRow struct {
	Period          string // the month, local time: 2026-11
	Seal, Custodian string
	Stamped         int // finished stampings (stamp.done)
	Approved        int // the copies those stampings' approvals allow
	PrintJobs       int // print jobs that ended (print.done, print.failed)
	FailedJobs      int // of those, failed or cancelled
	Printed         int // copies the printers reported made
}

// addUsage counts a stamping or a finished print job in its month's row.
func (z *Summarizer) addUsage(r ledger.Record) {
	if r.Kind != ledger.KindStampDone && r.Kind != ledger.KindPrintDone && r.Kind != ledger.KindPrintFailed {
		return
	}
	if z.use == nil {
		z.use = map[[3]string]*UsageRow{}
	}
	p := r.Time.Local().Format("2006-01")
	k := [3]string{p, r.SealID, r.Custodian}
	u := z.use[k]
	if u == nil {
		u = &UsageRow{Period: p, Seal: r.SealID, Custodian: r.Custodian}
		z.use[k] = u
	}
	switch r.Kind {
	case ledger.KindStampDone:
		u.Stamped++
		u.Approved += r.Copies
	case ledger.KindPrintFailed:
		u.FailedJobs++
		fallthrough
	case ledger.KindPrintDone:
		u.PrintJobs++
		u.Printed += r.CopiesDone
		z.s.TotalPrinted += r.CopiesDone
	}
}

// usageRows sorts the table by period, seal and custodian.
func (z *Summarizer) usageRows() []UsageRow {
	var out []UsageRow
	for _, u := range z.use {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Period != b.Period {
			return a.Period < b.Period
		}
		if a.Seal != b.Seal {
			return a.Seal < b.Seal
		}
		return a.Custodian < b.Custodian
	})
	return out
}

// UsageTotal sums the table.
func (s Summary) UsageTotal() UsageRow {
	t := UsageRow{Period: "合计 Total"}
	for _, u := range s.Usage {
		t.Stamped += u.Stamped
		t.Approved += u.Approved
		t.PrintJobs += u.PrintJobs
		t.FailedJobs += u.FailedJobs
		t.Printed += u.Printed
	}
	return t
}

// UsageCSVHeader is the first line of WriteUsageCSV.
var UsageCSVHeader = []string{"period", "seal", "custodian", "stamped", "approved_copies", "print_jobs", "failed_jobs", "printed_copies"}

// WriteUsageCSV writes the table of stampings and printed copies, with a totals line last (and a
// byte-order mark first, as NewCSV).
func WriteUsageCSV(w io.Writer, s Summary) error {
	if _, err := w.Write([]byte("\ufeff")); err != nil {
		return err
	}
	c := csv.NewWriter(w)
	c.Write(UsageCSVHeader)
	for _, u := range append(s.Usage, s.UsageTotal()) {
		c.Write([]string{u.Period, csvSafe(u.Seal), csvSafe(u.Custodian), strconv.Itoa(u.Stamped), strconv.Itoa(u.Approved),
			strconv.Itoa(u.PrintJobs), strconv.Itoa(u.FailedJobs), strconv.Itoa(u.Printed)})
	}
	c.Flush()
	return c.Error()
}

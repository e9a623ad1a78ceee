package report_test

import (
	"bytes"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/assets"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/report"
)

// usageMonth is a test month: stampings and print jobs of two seals and custodians, a failed
// job, and a stamping of the next month outside the period.
func usageMonth() []ledger.Record {
	t0 := time.Date(2026, 11, 14, 9, 0, 0, 0, time.Local)
	var out []ledger.Record
	add := func(k ledger.Kind, seal, who string, copies, done int) {
		out = append(out, ledger.Record{Seq: uint64(len(out) + 1), Kind: k, SealID: seal, Custodian: who, Copies: copies, CopiesDone: done,
			Time: t0.Add(time.Duration(len(out)) * time.Hour)})
	}
	add(ledger.KindStampIntent, "公章", "张三", 3, 0)
	add(ledger.KindStampDone, "公章", "张三", 3, 0)
	add(ledger.KindPrintIntent, "公章", "张三", 2, 0)
	add(ledger.KindPrintDone, "公章", "张三", 2, 2)
	add(ledger.KindPrintIntent, "公章", "张三", 1, 0)
	add(ledger.KindPrintFailed, "公章", "张三", 1, 0)
	add(ledger.KindStampDone, "合同专用章", "李四", 5, 0)
	add(ledger.KindPrintDone, "合同专用章", "李四", 4, 4)
	add(ledger.KindStampDone, "公章", "张三", 9, 0)
	out[len(out)-1].Time = t0.AddDate(0, 1, 0)
	return out
}

// TestUsageTable: the month's table has the stampings and the printed copies side by side by
// seal and custodian, with totals, as CSV and in the PDF (read back with pdftotext, Chinese
// included).
func TestUsageTable(t *testing.T) {
	f := report.Filter{From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.Local), To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.Local)}
	z := report.NewSummarizer(f, "办公室-01")
	for _, r := range usageMonth() {
		z.Add(r)
	}
	s := z.Summary()
	want := []report.UsageRow{
		{Period: "2026-11", Seal: "公章", Custodian: "张三", Stamped: 1, Approved: 3, PrintJobs: 2, FailedJobs: 1, Printed: 2},
		{Period: "2026-11", Seal: "合同专用章", Custodian: "李四", Stamped: 1, Approved: 5, PrintJobs: 1, Printed: 4},
	}
	if len(s.Usage) != 2 || s.Usage[0] != want[0] || s.Usage[1] != want[1] || s.TotalPrinted != 6 {
		t.Fatalf("usage %+v (printed %d); want %+v", s.Usage, s.TotalPrinted, want)
	}
	var b bytes.Buffer
	if err := report.WriteUsageCSV(&b, s); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(b.String(), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || strings.Join(rows[0], ",") != strings.Join(report.UsageCSVHeader, ",") ||
		strings.Join(rows[1], ",") != "2026-11,公章,张三,1,3,2,1,2" || strings.Join(rows[3], ",") != "合计 Total,,,2,8,3,1,6" {
		t.Fatalf("CSV:\n%s", b.String())
	}

	b.Reset()
	if err := report.WritePDF(&b, s, report.Fonts{Regular: assets.FontRegular, Bold: assets.FontBold}); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftotext (poppler-utils) is needed to read the PDF back")
		}
		t.Skip("skipped: pdftotext (poppler-utils) not installed: the PDF was written but not read back")
	}
	path := filepath.Join(t.TempDir(), "usage.pdf")
	os.WriteFile(path, b.Bytes(), 0o600)
	out, err := exec.Command("pdftotext", "-layout", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	text := string(out)
	lines := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		lines[strings.Join(strings.Fields(l), " ")] = true
	}
	for _, want := range []string{"2026-11 公章 张三 1 3 2", "2026-11 合同专用章 李四 1 5 4", "合计 Total 2 8 6"} {
		if !lines[want] {
			t.Errorf("the PDF has no line %q:\n%s", want, text)
		}
	}
	if !strings.Contains(text, "电子印章签章和在线打印情况汇总表") {
		t.Errorf("the PDF's table has no title:\n%s", text)
	}
}

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

func records() []ledger.Record {
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	var out []ledger.Record
	add := func(k ledger.Kind, seal, who string, copies int, title string) {
		out = append(out, ledger.Record{Seq: uint64(len(out) + 1), Kind: k, SealID: seal, Custodian: who, Copies: copies,
			DocTitle: title, Time: t0.Add(time.Duration(len(out)) * 6 * time.Hour)})
	}
	add(ledger.KindLoginOK, "", "张三", 0, "")
	add(ledger.KindStampDone, "公章", "张三", 2, "关于召开年度工作会议的通知")
	add(ledger.KindStampDone, "公章", "张三", 1, "=HYPERLINK(\"x\")")
	add(ledger.KindRejected, "合同专用章", "李四", 0, "采购合同")
	add(ledger.KindStampDone, "合同专用章", "李四", 3, "采购合同（修订）")
	add(ledger.KindStampDone, "公章", "张三", 1, "outside the period")
	out[len(out)-1].Time = t0.AddDate(0, 1, 0)
	return out
}

func summary(f report.Filter) report.Summary {
	z := report.NewSummarizer(f, "办公室-01")
	for _, r := range records() {
		z.Add(r)
	}
	return z.Summary()
}

func TestSummary(t *testing.T) {
	f := report.Filter{From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	s := summary(f)
	if s.Total != 5 || s.TotalCopies != 6 || s.Stamped != 3 || len(s.Rows) != 4 {
		t.Fatalf("%+v", s)
	}
	f.Seal = "公章"
	if s := summary(f); s.Total != 2 || s.TotalCopies != 3 {
		t.Fatalf("by seal: %+v", s)
	}
	f.Seal, f.Custodian, f.Kinds = "", "李四", []ledger.Kind{ledger.KindRejected}
	if s := summary(f); s.Total != 1 || s.Rows[0].Kind != ledger.KindRejected {
		t.Fatalf("by custodian and kind: %+v", s)
	}
}

// TestCopiesCountedOncePerStamping: a stamping's intent and its done both name the approved
// copies; the summary's total counts them once.
func TestCopiesCountedOncePerStamping(t *testing.T) {
	z := report.NewSummarizer(report.Filter{}, "办公室-01")
	now := time.Now()
	z.Add(ledger.Record{Seq: 1, Kind: ledger.KindStampIntent, SealID: "公章", Custodian: "张三", Copies: 3, Time: now})
	z.Add(ledger.Record{Seq: 2, Kind: ledger.KindStampDone, SealID: "公章", Custodian: "张三", Copies: 3, Intent: 1, Time: now})
	z.Add(ledger.Record{Seq: 3, Kind: ledger.KindStampIntent, SealID: "公章", Custodian: "张三", Copies: 2, Time: now})
	z.Add(ledger.Record{Seq: 4, Kind: ledger.KindStampFailed, SealID: "公章", Custodian: "张三", Copies: 2, Intent: 3, Time: now})
	if s := z.Summary(); s.TotalCopies != 3 || s.Stamped != 1 {
		t.Fatalf("copies %d, stamped %d; want 3 and 1", s.TotalCopies, s.Stamped)
	}
}

func TestCSV(t *testing.T) {
	var b bytes.Buffer
	c, err := report.NewCSV(&b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records() {
		c.Write(r)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(b.String(), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 7 || rows[0][0] != "seq" || rows[2][7] != "关于召开年度工作会议的通知" {
		t.Fatalf("%q", rows)
	}
	if !strings.HasPrefix(rows[3][7], "'=") {
		t.Fatalf("formula not defused: %q", rows[3][7])
	}
}

// TestPDF writes the summary and, where poppler-utils is installed, extracts its text (the
// Chinese must come back, which needs the right CIDs and ToUnicode) and renders page 1 to
// testdata/out/ for a person to look at.
func TestPDF(t *testing.T) {
	s := summary(report.Filter{From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	// Enough rows for a second page.
	for i := 0; i < 40; i++ {
		s.Rows = append(s.Rows, report.Row{Seal: "财务专用章", Custodian: "王五", Kind: ledger.KindLoginFailed, Count: i})
	}
	var b bytes.Buffer
	if err := report.WritePDF(&b, s, report.Fonts{Regular: assets.FontRegular, Bold: assets.FontBold}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "summary.pdf")
	os.WriteFile(path, b.Bytes(), 0o644)
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext (poppler-utils) not installed: the PDF was written but not read back")
	}
	out, err := exec.Command("pdftotext", "-layout", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v %s", err, out)
	}
	text := string(out)
	for _, want := range []string{"印章使用汇总表", "合同专用章", "李四", "盖章完成", "合计", "第 2 页 / 共 2 页"} {
		if !strings.Contains(text, want) {
			t.Errorf("%q not in the PDF's text:\n%s", want, text)
		}
	}
	if os.Getenv("SEALKEEPER_REPORT_PNG") != "" {
		if out, err := exec.Command("pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", path, os.Getenv("SEALKEEPER_REPORT_PNG")).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v %s", err, out)
		}
	}
}

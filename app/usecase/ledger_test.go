package usecase_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/report"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

func seqs(es []usecase.LedgerEntry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

// TestLedgerView: a desk day (two documents stamped, one returned, synced with the hub that
// co-signs) read back through the ledger view: each filter returns exactly the records the
// stamping and the return wrote, a record's detail has its hashes, placements, output, ticket
// and reason, the CSV export parses back to the same rows, the summary counts them, the
// chain status names the verified, signed and co-signed sizes and a forged co-signature's seq,
// and nothing is read once the custodian logs out.
func TestLedgerView(t *testing.T) {
	d := newDay(t, nil)
	// The sync loop as the workspace wires it: the server's co-signatures go into the ledger.
	d.sync = upstream.NewSyncer(d.cli, d.st, upstream.SyncOptions{Ledger: d.led, OnCosigned: func(cp ledger.Checkpoint, sig []byte) error {
		return d.led.SetCosigned(ledger.SignedCheckpoint{Checkpoint: cp}, sig)
	}})
	a := d.add(t, "关于办公用品采购的通知", 1)
	b := d.add(t, "技术服务合同", 2)
	c := d.add(t, "会议纪要", 1)
	d.syncOnce(t)
	ra, err := d.desk.Stamp(context.Background(), d.seal, d.request(t, a, 1))
	if err != nil {
		t.Fatal(err)
	}
	rb, err := d.desk.Stamp(context.Background(), d.seal, d.request(t, b, 2))
	if err != nil {
		t.Fatal(err)
	}
	rejected, err := d.desk.Reject(c, "审批手续不全", "张伟")
	if err != nil {
		t.Fatal(err)
	}
	// One record from ten days ago, to cut the period with.
	old, err := d.led.Append(ledger.Record{Kind: ledger.KindSettingsChanged, Time: time.Now().AddDate(0, 0, -10), Setting: "language", Old: "en", New: "zh-CN"})
	if err != nil {
		t.Fatal(err)
	}
	v := usecase.NewLedgerView(d.led)

	all, err := v.Records(usecase.LedgerFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(all)) != d.led.Size() || !slices.IsSorted(seqs(all)) || all[0].Seq != 1 {
		t.Fatalf("all records: %d of %d, seqs %v", len(all), d.led.Size(), seqs(all))
	}
	today := time.Now().Format("2006-01-02")
	tenDaysAgo := time.Now().AddDate(0, 0, -10).Format("2006-01-02")
	from, to, err := usecase.ParsePeriod(today, today)
	if err != nil {
		t.Fatal(err)
	}
	oldFrom, oldTo, err := usecase.ParsePeriod(tenDaysAgo, tenDaysAgo)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    usecase.LedgerFilter
		want []uint64
	}{
		{"stampings done", usecase.LedgerFilter{Kinds: []string{"stamp.done"}}, []uint64{ra.Done, rb.Done}},
		{"intents and returns", usecase.LedgerFilter{Kinds: []string{"stamp.intent", "doc.rejected"}}, []uint64{ra.Intent, rb.Intent, rejected}},
		{"one document by title", usecase.LedgerFilter{Text: "服务合同"}, []uint64{rb.Intent, rb.Done}},
		{"one document by id, any case", usecase.LedgerFilter{Text: strings.ToLower(a)}, []uint64{ra.Intent, ra.Done}},
		{"seal and kind", usecase.LedgerFilter{Seal: "SEAL-1", Kinds: []string{"doc.rejected"}}, []uint64{rejected}},
		{"another seal", usecase.LedgerFilter{Seal: "SEAL-2"}, nil},
		{"another custodian", usecase.LedgerFilter{Custodian: "李四", Kinds: []string{"stamp.done"}}, nil},
		{"custodian and kind", usecase.LedgerFilter{Custodian: "张伟", Kinds: []string{"stamp.done"}}, []uint64{ra.Done, rb.Done}},
		{"ten days ago", usecase.LedgerFilter{From: oldFrom, To: oldTo}, []uint64{old[0]}},
		{"up to the day before today", usecase.LedgerFilter{To: from}, []uint64{old[0]}},
	} {
		got, err := v.Records(c.f)
		if err != nil || !slices.Equal(seqs(got), c.want) {
			t.Errorf("%s: records %v, want %v (%v)", c.name, seqs(got), c.want, err)
		}
	}
	if got, _ := v.Records(usecase.LedgerFilter{From: from, To: to}); len(got) != len(all)-1 {
		t.Errorf("today: %d records, want all but the old one (%d)", len(got), len(all)-1)
	}
	if _, _, err := usecase.ParsePeriod("2026/11/01", ""); !errors.Is(err, usecase.ErrBadDate) {
		t.Errorf("a date with slashes: %v", err)
	}
	if _, _, err := usecase.ParsePeriod(today, tenDaysAgo); !errors.Is(err, usecase.ErrBadPeriod) {
		t.Errorf("a period that ends before it begins: %v", err)
	}

	// Each record's detail.
	byseq := map[uint64]usecase.LedgerEntry{}
	for _, e := range all {
		byseq[e.Seq] = e
	}
	done := byseq[ra.Done]
	if done.Kind != "stamp.done" || done.DocID != a || done.Value("output") != ra.Out || done.Value("output_sha256") != ra.OutputSHA256 ||
		done.Value("input_sha256") != ra.InputSHA256 || done.Value("ticket") != ra.TicketID || ra.TicketID == "" ||
		done.Value("intent") != strconv.FormatUint(ra.Intent, 10) || done.Value("custodian") != "张伟" || done.Value("copies") != "2" {
		t.Errorf("stamp.done detail: %+v", done.Fields)
	}
	if p := byseq[rb.Intent].Value("placements"); !strings.HasPrefix(p, "p2 (") {
		t.Errorf("intent placements %q, want page 2", p)
	}
	if r := byseq[rejected]; r.Value("reason") != "审批手续不全" || !strings.Contains(r.Summary, "审批手续不全") || r.Title != "会议纪要" {
		t.Errorf("return detail: %+v", r)
	}

	// CSV: a byte-order mark, the named columns, and the same rows as the records.
	out := filepath.Join(t.TempDir(), "导出", "ledger.csv")
	f := usecase.LedgerFilter{Kinds: []string{"stamp.intent", "stamp.done", "doc.rejected"}}
	n, err := v.ExportCSV(out, f)
	if err != nil || n != 5 {
		t.Fatalf("export: %d, %v", n, err)
	}
	raw, _ := os.ReadFile(out)
	if !bytes.HasPrefix(raw, []byte("\xef\xbb\xbf")) {
		t.Fatalf("no byte-order mark: % x", raw[:4])
	}
	rows, err := csv.NewReader(bytes.NewReader(raw[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := v.Records(f)
	if !slices.Equal(rows[0], report.CSVHeader) || len(rows) != len(want)+1 {
		t.Fatalf("csv header %v, %d rows for %d records", rows[0], len(rows)-1, len(want))
	}
	col := func(name string) int { return slices.Index(report.CSVHeader, name) }
	for i, e := range want {
		row := rows[i+1]
		if row[col("seq")] != strconv.FormatUint(e.Seq, 10) || row[col("kind")] != e.Kind || row[col("document")] != e.DocID ||
			row[col("title")] != e.Title || row[col("custodian")] != e.Custodian || row[col("ticket")] != e.Value("ticket") ||
			row[col("output_sha256")] != e.Value("output_sha256") || row[col("reason")] != e.Value("reason") {
			t.Errorf("csv row %d %v, record %+v", i+1, row, e)
		}
	}
	if _, err := v.ExportCSV(d.led.Path()+".cosigned", f); !errors.Is(err, usecase.ErrExportPath) {
		t.Errorf("export over the ledger's co-signed file: %v", err)
	}

	// The summary of today's stampings and returns.
	rep, err := v.Report(usecase.LedgerFilter{From: from, To: to, Kinds: f.Kinds})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, k := range rep.ByKind {
		kinds[k.Name] = k.Count
	}
	if rep.Total != 5 || rep.Stamped != 2 || rep.Copies != 4 || kinds["stamp.intent"] != 2 || kinds["stamp.done"] != 2 || kinds["doc.rejected"] != 1 ||
		len(rep.BySeal) != 1 || rep.BySeal[0] != (usecase.LedgerCount{Name: "SEAL-1", Count: 5}) || len(rep.ByCustodian) != 1 || rep.ByCustodian[0].Count != 5 {
		t.Fatalf("report %+v", rep)
	}
	pdf := filepath.Join(t.TempDir(), "汇总表.pdf")
	if err := v.ExportReportPDF(pdf, rep.Filter); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(pdf); !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatal("the report is not a PDF")
	}

	// Chain status: verified to the end, the newest seal-signed checkpoint and the co-signed one.
	if _, err := d.led.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	d.syncOnce(t)
	size := d.led.Size()
	st, err := v.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != size || st.VerifiedTo != size || st.Signed != size || st.SignedAt.IsZero() || st.Cosigned != size || st.CosignedAt.IsZero() ||
		len(st.Problems) != 0 || len(st.Interrupted) != 0 {
		t.Fatalf("status %+v, ledger size %d", st, size)
	}
	// The screen's refresh: the same records and status from one pass.
	if es, st2, err := v.Read(usecase.LedgerFilter{Kinds: []string{"stamp.done"}}); err != nil || !slices.Equal(seqs(es), []uint64{ra.Done, rb.Done}) || st2.VerifiedTo != size || st2.Cosigned != size {
		t.Fatalf("read: %v, %+v, %v", seqs(es), st2, err)
	}
	// A co-signed checkpoint of another record at that size (a fork) is named by its seq.
	cosigned := d.led.Path() + ".cosigned"
	good, _ := os.ReadFile(cosigned)
	var cs map[string]any
	if err := json.Unmarshal(good, &cs); err != nil {
		t.Fatal(err)
	}
	cs["checkpoint"].(map[string]any)["head"] = hex.EncodeToString(make([]byte, ledger.HashSize))
	forged, _ := json.Marshal(cs)
	os.WriteFile(cosigned, forged, 0o600)
	st, err = v.Status()
	if err != nil || len(st.Problems) != 1 || !strings.Contains(st.Problems[0], "record "+strconv.FormatUint(size, 10)) {
		t.Fatalf("forged co-signature: %+v, %v", st, err)
	}
	os.WriteFile(cosigned, good, 0o600)

	// Logged out, the ledger is locked and nothing is read.
	d.keys.Logout()
	if _, err := v.Records(usecase.LedgerFilter{}); !errors.Is(err, usecase.ErrLedgerLocked) {
		t.Errorf("records while locked: %v", err)
	}
	if _, err := v.Status(); !errors.Is(err, usecase.ErrLedgerLocked) {
		t.Errorf("status while locked: %v", err)
	}
	if _, err := v.ExportCSV(filepath.Join(t.TempDir(), "x.csv"), usecase.LedgerFilter{}); !errors.Is(err, usecase.ErrLedgerLocked) {
		t.Errorf("export while locked: %v", err)
	}
	if _, err := usecase.NewLedgerView(nil).Records(usecase.LedgerFilter{}); !errors.Is(err, usecase.ErrNoLedger) {
		t.Errorf("no ledger: %v", err)
	}
}

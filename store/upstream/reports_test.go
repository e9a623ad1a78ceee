package upstream_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

func hexSum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func testReport(period, csv, pdf string) upstream.Report {
	return upstream.Report{Period: period, LedgerSeq: 40, UpTo: 39, CSV: []byte(csv), PDF: []byte(pdf), CSVSHA256: hexSum([]byte(csv)), PDFSHA256: hexSum([]byte(pdf))}
}

// TestReportUpload: a workstation's monthly table goes up (PUT /v1/reports) and is kept per
// workstation across a restart of the hub; sent again after a lost answer it is acknowledged,
// another table for the same month, files that are not the SHA-256 sent with them and a month
// that is not the address's are refused; each workstation lists only its own; the store
// remembers which were sent; the sync loop's OnRound functions run after every round, told
// whether it reached the server.
func TestReportUpload(t *testing.T) {
	th := startHub(t, hub.Options{AutoEnrol: true}, nil)
	ctx := context.Background()
	c := newClient(t, th.S.URL, "WS-R1", nil, th.H.TicketKey(), 5*time.Second)
	other := newClient(t, th.S.URL, "WS-R2", nil, th.H.TicketKey(), 5*time.Second)
	rep := testReport("2026-11", "period,seal\n2026-11,SEAL-1\n", "%PDF-1.7 table")
	info, err := c.PutReport(ctx, rep)
	if err != nil || info.Workstation != "WS-R1" || info.Period != "2026-11" || info.PDFSHA256 != rep.PDFSHA256 || info.LedgerSeq != 40 {
		t.Fatalf("put: %+v, %v", info, err)
	}
	if again, err := c.PutReport(ctx, rep); err != nil || !again.ReceivedAt.Equal(info.ReceivedAt) {
		t.Fatalf("the same table again: %+v, %v", again, err)
	}
	if _, err := c.PutReport(ctx, testReport("2026-11", "period\n", "%PDF-1.7 another")); serverCode(err) != upstream.CodeConflict {
		t.Fatalf("another table for the same month: %v", err)
	}
	bad := testReport("2026-10", "x", "y")
	bad.PDF = []byte("z")
	if _, err := c.PutReport(ctx, bad); serverCode(err) != upstream.CodeBadRequest {
		t.Fatalf("a PDF that is not its SHA-256: %v", err)
	}
	if _, err := c.PutReport(ctx, testReport("November", "x", "y")); serverCode(err) != upstream.CodeBadRequest {
		t.Fatalf("a month not written 2026-11: %v", err)
	}
	if _, err := other.PutReport(ctx, testReport("2026-11", "b", "c")); err != nil {
		t.Fatalf("another workstation's table of the same month: %v", err)
	}
	th.restart()
	c = newClient(t, th.S.URL, "WS-R1", nil, th.H.TicketKey(), 5*time.Second)
	mine, err := c.Reports(ctx)
	if err != nil || len(mine) != 1 || mine[0].Period != "2026-11" || mine[0].CSVSize != len(rep.CSV) {
		t.Fatalf("the workstation's tables after a restart: %+v, %v", mine, err)
	}
	all, err := th.H.Reports()
	if err != nil || len(all) != 2 || all[0].Workstation != "WS-R1" || all[1].Workstation != "WS-R2" {
		t.Fatalf("the hub's tables: %+v, %v", all, err)
	}
	f, err := th.H.Report("WS-R1", "2026-11")
	if err != nil || !bytes.Equal(f.PDF, rep.PDF) || !bytes.Equal(f.CSV, rep.CSV) {
		t.Fatalf("the table's files: %v", err)
	}
	if _, err := th.H.Report("WS-R1", "2026-10"); err == nil {
		t.Fatal("a table never sent was found")
	}

	st := openStore(t)
	if ok, err := st.ReportSent("2026-11", rep.PDFSHA256); ok || err != nil {
		t.Fatalf("sent before it was marked: %v, %v", ok, err)
	}
	if err := st.MarkReportSent("2026-11", rep.PDFSHA256); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.ReportSent("2026-11", rep.PDFSHA256); !ok {
		t.Fatal("the sent table is not remembered")
	}
	if ok, _ := st.ReportSent("2026-11", hexSum([]byte("other"))); ok {
		t.Fatal("another table of the month counts as sent")
	}

	s := upstream.NewSyncer(c, st, upstream.SyncOptions{})
	var rounds, online atomic.Int32
	s.OnRound(func(_ context.Context, on bool) {
		rounds.Add(1)
		if on {
			online.Add(1)
		}
	})
	if err := s.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	th.stop()
	if err := s.SyncOnce(ctx); err == nil {
		t.Fatal("a round with the hub stopped succeeded")
	}
	if rounds.Load() != 2 || online.Load() != 1 {
		t.Fatalf("OnRound ran %d times, %d online; want 2, 1", rounds.Load(), online.Load())
	}
}

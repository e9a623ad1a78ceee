package usecase_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device/cups/cupstest"
	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// settable is a clock a test moves: the real time, shifted.
type settable struct{ off atomic.Int64 }

func (c *settable) set(t time.Time) { c.off.Store(int64(time.Until(t))) }
func (c *settable) now() time.Time  { return time.Now().Add(time.Duration(c.off.Load())) }

// reports lists the ledger's report.made records.
func (d *day) reports(t *testing.T) []ledger.Record {
	t.Helper()
	var out []ledger.Record
	if err := d.led.Records(1, func(r ledger.Record) error {
		if r.Kind == ledger.KindReport {
			out = append(out, r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMonthlyReport: the month's summary table (汇总表) is made by itself when the month has
// ended, by the workstation's clock and by the hub's (a clock ahead of the hub's does not end
// the month early): one report.made record with the PDF's and the CSV's SHA-256, and the hub
// on loopback holds the CSV (the totals line) and the PDF (pdftotext shows the totals and the
// Chinese); further rounds and a restart make no second one. A month that ends offline gets its
// table made then, and sent after a restart once the hub is back, made again from the ledger
// byte for byte.
func TestMonthlyReport(t *testing.T) {
	q := cupstest.New(t)
	end := time.Now().Local()
	end = time.Date(end.Year(), end.Month()+1, 1, 0, 0, 0, 0, time.Local) // the month's end
	// The real time until the stamping is done (the test token's certificate is valid a day).
	ws, hubc := &settable{}, &settable{}
	d := newDayClocks(t, ws.now, ws.now, hubc.now)
	ctx := context.Background()
	var desk *usecase.Desk
	var afterSync error
	open := func() {
		desk = previewDesk(t, d)
		d.sync.OnRound(func(ctx context.Context, online bool) { afterSync = desk.AfterSync(ctx, online) })
	}
	round := func(step string, online bool) {
		t.Helper()
		err := d.sync.SyncOnce(ctx)
		if online && err != nil {
			t.Fatalf("%s: sync: %v", step, err)
		}
		if afterSync != nil {
			t.Fatalf("%s: after the round: %v", step, afterSync)
		}
	}
	open()
	id := d.addCopies(t, "关于年终总结的通知", 1, 3)
	round("before", true)
	if _, err := desk.Stamp(ctx, d.seal, d.request(t, id, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := desk.Print(ctx, usecase.PrintRequest{DocID: id, Printer: q.Name, Copies: 2}); err != nil {
		t.Fatal(err)
	}
	q.Next(t)
	round("within the month", true)
	if n := len(d.reports(t)); n != 0 {
		t.Fatalf("%d tables before the month ended", n)
	}

	// The workstation's clock passes the month's end, the hub's not yet: no table.
	ws.set(end.Add(time.Minute))
	round("clock ahead of the hub", true)
	if n := len(d.reports(t)); n != 0 {
		t.Fatalf("%d tables while the hub's month has not ended", n)
	}
	hubc.set(end.Add(time.Minute))
	round("month ended", true)
	reps := d.reports(t)
	period := end.AddDate(0, -1, 0).Format("2006-01")
	if len(reps) != 1 || reps[0].Detail != period || reps[0].OutputHash == "" || reps[0].InputHash == "" {
		t.Fatalf("tables after the month ended: %+v", reps)
	}
	infos, err := d.hub.Reports()
	if err != nil || len(infos) != 1 || infos[0].Workstation != deskWS || infos[0].Period != period || infos[0].LedgerSeq != reps[0].Seq {
		t.Fatalf("the hub's tables: %+v, %v", infos, err)
	}
	f, err := d.hub.Report(deskWS, period)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		b    []byte
		want string
	}{{f.PDF, reps[0].OutputHash}, {f.CSV, reps[0].InputHash}} {
		if s := sha256.Sum256(c.b); hex.EncodeToString(s[:]) != c.want {
			t.Errorf("the hub's file is not the one the ledger recorded")
		}
	}
	// One stamping approved for 3 copies, one job of 2 copies done.
	if csv := string(f.CSV); !strings.Contains(csv, period+",SEAL-1,张伟,1,3,1,0,2") || !strings.Contains(csv, "合计 Total,,,1,3,1,0,2") {
		t.Errorf("the hub's CSV:\n%s", csv)
	}
	txt := pdfText(t, f.PDF)
	for _, want := range []string{"合计", "张伟", "SEAL-1", period} {
		if !strings.Contains(txt, want) {
			t.Errorf("the PDF does not show %q:\n%s", want, txt)
		}
	}

	// More rounds, a restart: still one table, here and on the hub.
	round("again", true)
	d.stop()
	d.start(t)
	open()
	round("restarted", true)
	if n := len(d.reports(t)); n != 1 {
		t.Fatalf("after a restart: %d tables", n)
	}
	if infos, _ := d.hub.Reports(); len(infos) != 1 {
		t.Fatalf("the hub holds %d tables after a restart", len(infos))
	}

	// The next month ends offline: made then, sent after a restart when the hub is back.
	next := end.AddDate(0, 1, 0)
	ws.set(next.Add(time.Minute))
	hubc.set(next.Add(time.Minute))
	addr := d.srv.Addr()
	d.cut(t)
	round("offline", false)
	reps = d.reports(t)
	if len(reps) != 2 || reps[1].Detail != end.Format("2006-01") {
		t.Fatalf("tables after the month ended offline: %+v", reps)
	}
	d.stop()
	d.serve(t, addr)
	d.start(t)
	open()
	round("back online", true)
	infos, err = d.hub.Reports()
	if err != nil || len(infos) != 2 || infos[1].PDFSHA256 != reps[1].OutputHash || len(d.reports(t)) != 2 {
		t.Fatalf("the hub's tables once back: %+v, %v", infos, err)
	}
}

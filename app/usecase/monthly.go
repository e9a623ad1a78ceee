package usecase

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/sealkeeper/sealkeeper/assets"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/report"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// The monthly summary table (汇总表, RULES.md 12) is produced by itself: once a month has ended,
// its table (the usage CSV and the PDF of `sealkeeper ledger report`) is made, recorded in the
// ledger (report.made, with both files' SHA-256 and the last record it counts) and sent to the
// server, once. The ledger record is what makes it once: a restart finds it and makes no second
// one. The files are not kept: they are made again from the records up to the one the record
// names, byte for byte (checked against its SHA-256), whenever they must still be sent.

// maxReportMonths bounds how far back a ledger without tables gets them made.
const maxReportMonths = 24

// AfterSync is the desk's part of each sync round (upstream.Syncer.OnRound), for the window's
// loop and the command line alike: online, the approved allowances for extra copies are taken;
// then the tables of the months that ended are made and sent. Nothing is done while the ledger
// is locked: the first round after a login does it.
func (d *Desk) AfterSync(ctx context.Context, online bool) error {
	if d.ledgerReady() != nil {
		return nil
	}
	var errs []error
	if online && d.cfg.Upstream != nil {
		if _, err := d.FetchAllowances(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := d.MonthlyReports(ctx, online); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// monthStart is the first instant of t's month, local time.
func monthStart(t time.Time) time.Time {
	t = t.Local()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.Local)
}

// monthEnded reports whether the month that ends at end is over: by the workstation's clock,
// which must not be behind the ledger's newest records (clockFloor), and by the server's time
// as the last heartbeat measured it against the workstation's (a clock set forward must not
// close a month early). Why not, when not.
func (d *Desk) monthEnded(now, end time.Time) (bool, string) {
	if now.Before(end) {
		return false, ""
	}
	if floor, _ := d.clockFloor(); !floor.IsZero() && now.Before(floor.Add(-clockSlack)) {
		return false, fmt.Sprintf("the clock (%s) is behind the ledger and the server (%s)", now.Format(time.RFC3339), floor.Format(time.RFC3339))
	}
	if d.cfg.Store != nil {
		if c, err := d.cfg.Store.ServerClock(); err == nil && !c.Server.IsZero() {
			if server := now.Add(c.Server.Sub(c.Local)); server.Before(end.Add(-clockSlack)) {
				return false, fmt.Sprintf("by the server's time (%s) the month has not ended yet; the workstation's clock is ahead", server.Format(time.RFC3339))
			}
		}
	}
	return true, ""
}

// MonthlyReports makes the tables of the months that ended and have none yet, and (online)
// sends every recorded table the server does not hold yet. It returns the records written.
func (d *Desk) MonthlyReports(ctx context.Context, online bool) ([]uint64, error) {
	if err := d.ledgerReady(); err != nil {
		return nil, err
	}
	now := d.cfg.Now()
	end := monthStart(now)
	d.mu.Lock()
	done := d.monthDone.Equal(end)
	d.mu.Unlock()
	if done {
		return nil, nil
	}
	ended, why := d.monthEnded(now, end)
	if !ended {
		end = end.AddDate(0, -1, 0) // earlier months are over whatever the clocks say
	}
	made := map[string]ledger.Record{} // period → its report.made
	var first time.Time
	size := d.cfg.Ledger.Size()
	err := d.cfg.Ledger.Records(1, func(r ledger.Record) error {
		if first.IsZero() && !r.Time.IsZero() {
			first = r.Time
		}
		if r.Kind == ledger.KindReport && r.SealedAt.IsZero() && r.Locked == "" {
			made[r.Detail] = r
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the ledger for the monthly tables: %w", err)
	}
	var seqs []uint64
	var errs []error
	from := monthStart(first)
	if oldest := end.AddDate(0, -maxReportMonths, 0); from.Before(oldest) {
		from = oldest
	}
	for m := from; !first.IsZero() && m.Before(end); m = m.AddDate(0, 1, 0) {
		period := m.Format("2006-01")
		if _, ok := made[period]; ok {
			continue
		}
		rep, err := d.monthTable(m, size)
		if err != nil {
			errs = append(errs, fmt.Errorf("making the table of %s: %w", period, err))
			continue
		}
		r := ledger.Record{Kind: ledger.KindReport, Detail: period, Intent: size, OutputHash: rep.PDFSHA256, InputHash: rep.CSVSHA256}
		s, err := d.record(r)
		if err != nil {
			return seqs, fmt.Errorf("recording the table of %s in the ledger failed: %w", period, err)
		}
		r.Seq = s[0]
		made[period], seqs = r, append(seqs, s...)
	}
	// Sent, or nowhere to send: the next rounds of this month need not read the ledger again.
	settled := len(errs) == 0
	for period, r := range made {
		if d.cfg.Upstream == nil || d.cfg.Store == nil {
			break
		}
		if !online {
			ok, err := d.cfg.Store.ReportSent(period, r.OutputHash)
			settled = settled && ok && err == nil
			continue
		}
		if err := d.sendTable(ctx, period, r); err != nil {
			errs, settled = append(errs, err), false
		}
	}
	if settled && ended {
		d.mu.Lock()
		d.monthDone = monthStart(now)
		d.mu.Unlock()
	}
	if !ended && why != "" && len(made) == 0 {
		d.cfg.Log.Info("monthly table not made yet", "why", why)
	}
	return seqs, errors.Join(errs...)
}

// sendTable sends the recorded table of period unless the server holds it already: made
// again from the ledger and held against the SHA-256 recorded.
func (d *Desk) sendTable(ctx context.Context, period string, r ledger.Record) error {
	if ok, err := d.cfg.Store.ReportSent(period, r.OutputHash); err != nil || ok {
		return err
	}
	m, err := time.ParseInLocation("2006-01", period, time.Local)
	if err != nil {
		return fmt.Errorf("ledger record %d names the month %q: %w", r.Seq, period, err)
	}
	rep, err := d.monthTable(m, r.Intent)
	if err != nil {
		return fmt.Errorf("making the table of %s again to send it: %w", period, err)
	}
	if rep.PDFSHA256 != r.OutputHash || rep.CSVSHA256 != r.InputHash {
		return fmt.Errorf("the table of %s made again from the ledger is not the one ledger record %d recorded (SHA-256 %.12s…, recorded %.12s…); it is not sent: tell the administrator", period, r.Seq, rep.PDFSHA256, r.OutputHash)
	}
	rep.LedgerSeq = r.Seq
	if _, err := d.cfg.Upstream.PutReport(ctx, rep); err != nil {
		return fmt.Errorf("sending the table of %s to the server: %w; it goes with a later sync", period, err)
	}
	return d.cfg.Store.MarkReportSent(period, r.OutputHash)
}

// monthTable makes the table of the month starting at m from the records up to upTo: the same
// records make the same bytes (its Generated time is the month's end, not the clock's).
func (d *Desk) monthTable(m time.Time, upTo uint64) (upstream.Report, error) {
	f := report.Filter{From: m, To: m.AddDate(0, 1, 0)}
	sum := report.NewSummarizer(f, d.cfg.Ledger.Workstation())
	err := d.cfg.Ledger.Records(1, func(r ledger.Record) error {
		if r.Seq > upTo {
			return errStop
		}
		sum.Add(r)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return upstream.Report{}, err
	}
	s := sum.Summary()
	s.Generated = f.To
	var csv, pdf bytes.Buffer
	if err := report.WriteUsageCSV(&csv, s); err != nil {
		return upstream.Report{}, err
	}
	if err := report.WritePDF(&pdf, s, report.Fonts{Regular: assets.FontRegular, Bold: assets.FontBold}); err != nil {
		return upstream.Report{}, err
	}
	hash := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	return upstream.Report{Period: m.Format("2006-01"), UpTo: upTo, CSV: csv.Bytes(), PDF: pdf.Bytes(),
		CSVSHA256: hash(csv.Bytes()), PDFSHA256: hash(pdf.Bytes())}, nil
}

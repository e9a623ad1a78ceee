package hub

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// Monthly summary tables (汇总表) sent by the workstations, kept per workstation and month
// for the administrator. A month's table is written once: the same one sent again is
// acknowledged, another one for that month is refused.

var bReports = []byte("reports")

func reportKey(ws, period string) string { return ws + "/" + period }

// putReport is PUT /v1/reports/{period}.
func (h *Hub) putReport(w http.ResponseWriter, r *http.Request, ws string) error {
	var rep upstream.Report
	if err := readJSON(w, r, upstream.MaxReportBody, &rep); err != nil {
		return err
	}
	if _, err := time.Parse("2006-01", rep.Period); err != nil || rep.Period != r.PathValue("period") {
		return fail(http.StatusBadRequest, upstream.CodeBadRequest, "the table's month %q is not the month %q of the address, written like 2026-11", rep.Period, r.PathValue("period"))
	}
	for _, f := range []struct {
		name string
		b    []byte
		sum  string
	}{{"CSV", rep.CSV, rep.CSVSHA256}, {"PDF", rep.PDF, rep.PDFSHA256}} {
		s := sha256.Sum256(f.b)
		if len(f.b) == 0 || hex.EncodeToString(s[:]) != f.sum {
			return fail(http.StatusBadRequest, upstream.CodeBadRequest, "the %s of the table for %s does not have the SHA-256 sent with it (or is empty)", f.name, rep.Period)
		}
	}
	sr := ReportFile{Info: upstream.ReportInfo{Workstation: ws, Period: rep.Period, LedgerSeq: rep.LedgerSeq, UpTo: rep.UpTo,
		CSVSHA256: rep.CSVSHA256, PDFSHA256: rep.PDFSHA256, CSVSize: len(rep.CSV), PDFSize: len(rep.PDF), ReceivedAt: h.now().UTC()},
		CSV: rep.CSV, PDF: rep.PDF}
	err := h.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bReports)
		if err != nil {
			return err
		}
		if raw := b.Get([]byte(reportKey(ws, rep.Period))); raw != nil {
			var old ReportFile
			if err := json.Unmarshal(raw, &old); err != nil {
				return err
			}
			if old.Info.PDFSHA256 == rep.PDFSHA256 && old.Info.CSVSHA256 == rep.CSVSHA256 {
				sr = old // sent again after a lost answer
				return nil
			}
			return fail(http.StatusConflict, upstream.CodeConflict, "the hub already holds another table for %s from %s (ledger record %d); a month's table is made once", rep.Period, ws, old.Info.LedgerSeq)
		}
		return putJSON(b, reportKey(ws, rep.Period), sr)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sr.Info)
	return nil
}

// reportList is GET /v1/reports: this workstation's tables.
func (h *Hub) reportList(w http.ResponseWriter, r *http.Request, ws string) error {
	all, err := h.Reports()
	return writeOwn(w, all, err, func(i upstream.ReportInfo) bool { return i.Workstation == ws })
}

// Reports lists the tables of every workstation, by workstation and month.
func (h *Hub) Reports() ([]upstream.ReportInfo, error) {
	var out []upstream.ReportInfo
	err := h.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bReports) == nil {
			return nil
		}
		srs, err := listJSON[ReportFile](tx, bReports)
		for _, sr := range srs {
			out = append(out, sr.Info)
		}
		return err
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Workstation != out[j].Workstation {
			return out[i].Workstation < out[j].Workstation
		}
		return out[i].Period < out[j].Period
	})
	return out, err
}

// ReportFile is a table as the hub keeps it and the administrator downloads it.
type ReportFile struct {
	Info     upstream.ReportInfo
	CSV, PDF []byte
}

// Report returns the table of a workstation's month with its CSV and PDF.
func (h *Hub) Report(ws, period string) (ReportFile, error) {
	var f ReportFile
	err := h.db.View(func(tx *bolt.Tx) error {
		var raw []byte
		if b := tx.Bucket(bReports); b != nil {
			raw = b.Get([]byte(reportKey(ws, period)))
		}
		if raw == nil {
			return fmt.Errorf("the hub holds no table for %s from workstation %q (hub reports lists them)", period, ws)
		}
		return json.Unmarshal(raw, &f)
	})
	return f, err
}

// reportAdmin adds the admin API's routes for the tables.
func (h *Hub) reportAdmin(handle func(string, func(*http.Request) (any, error))) {
	handle("GET /admin/reports", func(*http.Request) (any, error) { return h.Reports() })
	handle("GET /admin/reports/{ws}/{period}", func(r *http.Request) (any, error) {
		return h.Report(r.PathValue("ws"), r.PathValue("period"))
	})
}

// ReportAdmin is the administrator's side of the monthly tables, on the database or a running
// hub.
type ReportAdmin interface {
	Reports() ([]upstream.ReportInfo, error)
	Report(ws, period string) (ReportFile, error)
}

func (a *adminClient) Reports() ([]upstream.ReportInfo, error) {
	var out []upstream.ReportInfo
	return out, a.call(http.MethodGet, "/admin/reports", nil, &out)
}

func (a *adminClient) Report(ws, period string) (ReportFile, error) {
	var out ReportFile
	if ws == "" || period == "" {
		return out, errors.New("name the workstation and the month (--get WS/2026-11)")
	}
	return out, a.call(http.MethodGet, "/admin/reports/"+ws+"/"+period, nil, &out)
}

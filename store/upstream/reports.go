package upstream

import (
	"context"
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The monthly summary table (汇总表, RULES.md 12): once a month has ended the workstation makes
// its table, records it in the ledger (report.made) and sends it here (PUT /v1/reports/{period});
// the hub keeps it per workstation for the administrator (hub reports). A table is sent until
// the hub holds it: offline it goes with a later round.

// MaxReportBody bounds PUT /v1/reports: the PDF embeds its Chinese fonts.
const MaxReportBody = 32 << 20

// Report is one month's table as the workstation made it.
type Report struct {
	Period string `json:"period"` // the month, 2026-11 (the workstation's local time)
	// LedgerSeq is the report.made record; UpTo the last record the table counts.
	LedgerSeq uint64 `json:"ledgerSeq"`
	UpTo      uint64 `json:"upTo"`
	CSV       []byte `json:"csv"` // the usage table (sealkeeper ledger report --format usage-csv)
	PDF       []byte `json:"pdf"` // the PDF table (sealkeeper ledger report --format pdf)
	CSVSHA256 string `json:"csvSha256"`
	PDFSHA256 string `json:"pdfSha256"`
}

// ReportInfo is a table the hub holds, without its files.
type ReportInfo struct {
	Workstation string    `json:"workstation"`
	Period      string    `json:"period"`
	LedgerSeq   uint64    `json:"ledgerSeq"`
	UpTo        uint64    `json:"upTo"`
	CSVSHA256   string    `json:"csvSha256"`
	PDFSHA256   string    `json:"pdfSha256"`
	CSVSize     int       `json:"csvSize"`
	PDFSize     int       `json:"pdfSize"`
	ReceivedAt  time.Time `json:"receivedAt"`
}

// PutReport sends a month's table. Sending the same table again is accepted; another table
// for a month the hub already holds is refused (CodeConflict).
func (c *Client) PutReport(ctx context.Context, r Report) (ReportInfo, error) {
	var out ReportInfo
	_, _, err := c.do(ctx, http.MethodPut, APIVersion+"/reports/"+r.Period, nil, r, MaxJSONBody, &out)
	return out, err
}

// Reports lists the tables the hub holds from this workstation.
func (c *Client) Reports(ctx context.Context) ([]ReportInfo, error) {
	var out []ReportInfo
	_, _, err := c.do(ctx, http.MethodGet, APIVersion+"/reports", nil, nil, MaxJSONBody, &out)
	return out, err
}

var mReports = []byte("reportssent")

// ReportSent reports whether the table of period with that PDF was accepted by the hub.
func (s *Store) ReportSent(period, pdfSHA256 string) (bool, error) {
	var sent map[string]string
	err := s.db.View(func(tx *bolt.Tx) error { _, err := getJSON(tx.Bucket(sMeta), mReports, &sent); return err })
	return err == nil && sent[period] == pdfSHA256, err
}

// MarkReportSent notes that the hub accepted the table of period.
func (s *Store) MarkReportSent(period, pdfSHA256 string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(sMeta)
		sent := map[string]string{}
		if _, err := getJSON(b, mReports, &sent); err != nil {
			return err
		}
		sent[period] = pdfSHA256
		return setJSON(b, mReports, sent)
	})
}

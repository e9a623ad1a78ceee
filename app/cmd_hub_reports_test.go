package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// TestHubReports: a table a workstation sent is listed by `hub reports` and written out, CSV
// and PDF as sent, by `hub reports --get WS/MONTH --out DIR`; a month never sent is an error
// that says so.
func TestHubReports(t *testing.T) {
	dir := t.TempDir()
	h, err := hub.Open(dir, hub.Options{Name: "test hub", AutoEnrol: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := h.Serve("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := upstream.NewClient(upstream.ClientConfig{URL: srv.URL, Workstation: "WS-CLI", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	csv, pdf := []byte("\ufeffperiod,seal\n2026-11,SEAL-1\n"), []byte("%PDF-1.7 the table")
	if _, err := c.PutReport(context.Background(), upstream.Report{Period: "2026-11", LedgerSeq: 7, UpTo: 6, CSV: csv, PDF: pdf, CSVSHA256: sum(csv), PDFSHA256: sum(pdf)}); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	h.Close()

	sk := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errs := sk("hub", "reports", "--data", dir); code != 0 || !strings.Contains(out, "WS-CLI/2026-11  ledger record 7") {
		t.Fatalf("hub reports: %d\n%s%s", code, out, errs)
	}
	to := t.TempDir()
	if code, out, errs := sk("hub", "reports", "--data", dir, "--get", "WS-CLI/2026-11", "--out", to); code != 0 {
		t.Fatalf("hub reports --get: %d\n%s%s", code, out, errs)
	}
	for name, want := range map[string][]byte{"WS-CLI-2026-11.csv": csv, "WS-CLI-2026-11.pdf": pdf} {
		if got, err := os.ReadFile(filepath.Join(to, name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	if code, out, errs := sk("hub", "reports", "--data", dir, "--get", "WS-CLI/2026-10", "--out", to); code == 0 || !strings.Contains(errs, "holds no table for 2026-10") {
		t.Fatalf("a month never sent: %d\n%s%s", code, out, errs)
	}
}

package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sealkeeper/sealkeeper/store/atomic"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// openAdminAs opens the hub's administration (the database, or a running hub's socket) as the
// part of it a command needs; what names that part in the error when the hub lacks it.
func openAdminAs[T any](data, what string) (T, func(), error) {
	var part T
	h, err := hub.OpenAdmin(data)
	if err != nil {
		return part, nil, err
	}
	part, ok := h.(T)
	if !ok {
		h.Close()
		return part, nil, fmt.Errorf("this hub cannot handle %s", what)
	}
	return part, func() { h.Close() }, nil
}

// hubReports lists the monthly tables (汇总表) the workstations sent, or writes one's CSV and
// PDF into a folder.
func hubReports(args []string, stdout, stderr io.Writer) error {
	fs, data := hubFlags("reports", stderr)
	get := fs.String("get", "", "download this table: WORKSTATION/2026-11 (as the list names it)")
	out := fs.String("out", ".", "the folder the table's CSV and PDF are written to (with --get)")
	if err := parseHub(fs, data, args); err != nil {
		return err
	}
	ra, closeHub, err := openAdminAs[hub.ReportAdmin](*data, "monthly tables")
	if err != nil {
		return err
	}
	defer closeHub()
	if *get != "" {
		ws, period, ok := strings.Cut(*get, "/")
		if !ok || ws == "" || period == "" {
			return fmt.Errorf("%w: --get names a table as WORKSTATION/2026-11, not %q", errUsage, *get)
		}
		f, err := ra.Report(ws, period)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(*out, 0o700); err != nil {
			return err
		}
		base := filepath.Join(*out, fmt.Sprintf("%s-%s", ws, period))
		for ext, b := range map[string][]byte{".csv": f.CSV, ".pdf": f.PDF} {
			if err := atomic.WriteFile(base+ext, b, 0o600); err != nil {
				return fmt.Errorf("writing the table: %w", err)
			}
		}
		fmt.Fprintf(stdout, "wrote %s.csv and %s.pdf (the table of %s from %s, ledger record %d)\n", base, base, period, ws, f.Info.LedgerSeq)
		return nil
	}
	infos, err := ra.Reports()
	if err != nil {
		return err
	}
	if len(infos) == 0 {
		fmt.Fprintln(stdout, "no monthly tables received")
	}
	for _, i := range infos {
		fmt.Fprintf(stdout, "%s/%s  ledger record %d  received %s  PDF %d bytes sha256 %.16s…  CSV %d bytes\n", i.Workstation, i.Period, i.LedgerSeq,
			i.ReceivedAt.Local().Format("2006-01-02 15:04"), i.PDFSize, i.PDFSHA256, i.CSVSize)
	}
	return nil
}

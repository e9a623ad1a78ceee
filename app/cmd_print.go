package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sealkeeper/sealkeeper/app/usecase"
)

func init() {
	register(command{
		name:    "print",
		summary: "print the approved copies of a stamped document (print --doc ID --printer NAME --copies N; print --printers)",
		run:     runPrint,
	})
}

const printUsage = `sealkeeper print --doc ID --printer NAME [--copies N] [--token T] [--pin-file F]
       sealkeeper print --printers
       sealkeeper print --doc ID --allowance
       sealkeeper print --doc ID --request N --reason TEXT
       sealkeeper print --doc ID --recall N [--reason TEXT]

Prints copies of the document's latest stamping, no more than its approval allows (RULES.md 15);
every page carries a line and a QR code naming the stamping and the copy (check one with
sealkeeper verify --printout CODE). The job is recorded in the ledger with what the printer
reported. Extra copies (加印) are asked for with --request; once the server's administrator
approves (sealkeeper hub copies --approve), the next print or --allowance takes the allowance.
When a corrected document supersedes this one (重印), its printed copies are recalled and the
count returned recorded with --recall before the corrected one can be stamped.`

func runPrint(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("print", stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, printUsage); fs.PrintDefaults() }
	docID := fs.String("doc", "", "the stamped document's id")
	printer := fs.String("printer", "", "the CUPS printer (sealkeeper print --printers lists them)")
	copies := fs.Int("copies", 1, "how many copies")
	list := fs.Bool("printers", false, "list the system's printers")
	allowance := fs.Bool("allowance", false, "say how many copies are approved, printed and left")
	request := fs.Int("request", 0, "ask the server for this many extra copies (加印)")
	reason := fs.String("reason", "", "why extra copies are needed (with --request); a note (with --recall)")
	recall := fs.Int("recall", 0, "record this many printed copies of a superseded version returned")
	token := fs.String("token", "", "token label or serial (default: the only token, or the demo token)")
	pinFile := fs.String("pin-file", "", "read the PIN from this file (default: ask; a demo workspace needs none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || (!*list && *docID == "") || (!*list && !*allowance && *request == 0 && *recall == 0 && *printer == "") {
		return fmt.Errorf("%w: %s", errUsage, printUsage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	w, err := openWorkspace(*cfgPath, stderr)
	if err != nil {
		return err
	}
	defer w.Close()
	if *list {
		ps, err := w.Desk.Printers(ctx)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			fmt.Fprintln(stdout, "The printing system has no printers; add one (lpadmin, or the system's printer settings).")
		}
		for _, p := range ps {
			acc := ""
			if !p.Accepting {
				acc = ", not accepting jobs"
			}
			fmt.Fprintf(stdout, "%-24s %s%s  %s\n", p.Name, p.State, acc, p.Info)
		}
		return nil
	}
	seal, err := login(w, *token, *pinFile, stderr)
	if err != nil {
		return err
	}
	if *recall > 0 {
		out, err := w.Desk.RecordRecall(*docID, *recall, *reason, seal.Custodian)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Recorded %d printed copies of %s returned; %d still out.\n", *recall, *docID, out)
		push(ctx, w, stdout, stderr)
		return nil
	}
	if *request > 0 {
		g, err := w.Desk.RequestCopies(ctx, *docID, *request, *reason, seal.Custodian)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Asked for %d extra copies of %s: request %s, %s.\n", g.Request.Copies, *docID, g.ID, g.Status)
		return nil
	}
	// A sync round takes the allowances approved since the last one (usecase.AfterSync).
	pull(ctx, w, stderr)
	a, err := w.Desk.Allowance(*docID)
	if err != nil {
		return err
	}
	if *allowance {
		fmt.Fprintf(stdout, "%s %q: %d copies approved (%d extra), %d printed, %d left (stamping: ledger record %d)\n", a.DocID, a.Title, a.Approved, a.Extra, a.Printed, a.Left, a.Stamping)
		return nil
	}
	res, err := w.Desk.Print(ctx, usecase.PrintRequest{DocID: *docID, Printer: *printer, Copies: *copies, Custodian: seal.Custodian})
	if res != nil && res.Outcome != 0 {
		fmt.Fprintf(stdout, "Print job %d on %s: %s, %d of %d copies (ledger records %d and %d).\n", res.Job, res.Printer, res.State, res.Done, res.Asked, res.Intent, res.Outcome)
	}
	push(ctx, w, stdout, stderr)
	if err != nil {
		return exitError{code: 1, err: err}
	}
	for _, m := range res.Marks {
		fmt.Fprintf(stdout, "  copy %d of %d: %s\n", m.Copy, m.Copies, m.Check())
	}
	return nil
}

// printoutArg finds --printout CODE among verify's arguments.
func printoutArg(args []string) (code string, rest []string, ok bool) {
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		if v, has := strings.CutPrefix(a, "printout="); has && strings.HasPrefix(args[i], "-") {
			return v, append(append([]string{}, args[:i]...), args[i+1:]...), true
		}
		if a == "printout" && strings.HasPrefix(args[i], "-") && i+1 < len(args) {
			return args[i+1], append(append([]string{}, args[:i]...), args[i+2:]...), true
		}
	}
	return "", args, false
}

// runVerifyPrintout: verify --printout CODE. It needs the ledger the printout was recorded in,
// opened with the custodian's key (or the demo token).
func runVerifyPrintout(code string, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("verify --printout", stderr)
	token := fs.String("token", "", "token label or serial (default: the only token, or the demo token)")
	pinFile := fs.String("pin-file", "", "read the PIN from this file (default: ask; a demo workspace needs none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := usecase.ParsePrintMark(code); err != nil {
		return exitError{code: 2, err: err}
	}
	w, err := openWorkspace(*cfgPath, stderr)
	if err != nil {
		return err
	}
	defer w.Close()
	if _, err := login(w, *token, *pinFile, stderr); err != nil {
		return err
	}
	c, err := usecase.NewLedgerView(w.Ledger).CheckPrintout(code)
	if err != nil {
		return exitError{code: 1, err: err}
	}
	m := c.Mark
	if !c.Genuine {
		return exitError{code: 1, err: fmt.Errorf("NOT a genuine printout of this workstation: %s", c.Reason)}
	}
	fmt.Fprintf(stdout, "Genuine printout (a copy, not the sealed original): document %s %q, copy %d of %d\n", m.DocID, c.Title, m.Copy, m.Copies)
	fmt.Fprintf(stdout, "  printed:   %s on %s by %s (ledger record %d), job %s\n", c.Printed.Local().Format("2006-01-02 15:04:05"), c.Printer, c.Custodian, m.Seq, c.State)
	fmt.Fprintf(stdout, "  stamping:  ledger record %d; stamped file SHA-256 %s\n", c.Stamping, m.SHA256)
	if c.SupersededBy != "" {
		fmt.Fprintf(stdout, "  SUPERSEDED by the corrected document %s (重印): this printout is of the earlier version and is to be recalled\n", c.SupersededBy)
	}
	return nil
}

package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/app/workspace"
	"github.com/sealkeeper/sealkeeper/assets"
	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/report"
)

func init() {
	register(command{
		name:    "ledger",
		summary: "verify, show, export or report the usage ledger (ledger verify|show|export|report, ledger --init)",
		run:     runLedger,
	})
}

const ledgerUsage = `sealkeeper ledger verify|show|export|report [flags]
       sealkeeper ledger --init [--data DIR] [--escrow-public FILE]

  verify   check the whole ledger: file structure, chain, tags, checkpoints, rollback
  show     print the records as a table
  export   print the records as JSON lines, one record a line
  report   summary by period, seal, custodian and kind: --from --to --format csv|usage-csv|pdf --out FILE
           (csv: the records; usage-csv: stampings and printed copies by month, seal and custodian;
           pdf: both tables)

Records are decrypted with a key slot the caller can open: the demo token (demo workspace, with
its PIN) or --escrow-key FILE (the organisation's escrow private key, PEM PKCS#8). Without one,
verify checks only what needs no key (as the server does).`

func runLedger(args []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	if sub == "check-file" { // hidden: the child process of the consistency check
		if code := ledger.CheckFileMain(args, stdout, stderr); code != 0 {
			return exitError{code: code, err: errors.New("the ledger file failed its consistency check")}
		}
		return nil
	}
	fs, cfgPath := newFlags("ledger "+sub, stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, ledgerUsage); fs.PrintDefaults() }
	data := fs.String("data", "", "data folder holding ledger.db (default: the configuration's data_dir)")
	initNew := fs.Bool("init", false, "create a new, empty ledger (never replaces an existing file)")
	escrowKey := fs.String("escrow-key", "", "escrow private key (PEM) to open the ledger with")
	escrowPub := fs.String("escrow-public", "", "escrow public key (PEM) for --init (default: [ledger] escrow_public_key)")
	from := fs.String("from", "", "report: first day, YYYY-MM-DD (local time)")
	to := fs.String("to", "", "report: last day, YYYY-MM-DD (inclusive)")
	format := fs.String("format", "csv", "report: csv (records), usage-csv (stampings and printed copies) or pdf")
	out := fs.String("out", "", "write to this file instead of standard output (pdf needs it)")
	seal := fs.String("seal", "", "report/show: only this seal id")
	custodian := fs.String("custodian", "", "report/show: only this custodian")
	kinds := fs.String("kind", "", "report/show: only these kinds, comma-separated (e.g. stamp.done,doc.rejected)")
	search := fs.String("search", "", "show/export/report: only records whose document id or title contains this text")
	asJSON := fs.Bool("json", false, "verify: print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected %q\n%s", errUsage, fs.Arg(0), ledgerUsage)
	}
	var cfg *config.Config
	if c, err := workspace.LoadConfig(*cfgPath); err == nil {
		cfg = c
	} else if *cfgPath != "" || *data == "" {
		return err
	}
	dir := *data
	if dir == "" {
		dir = cfg.Data()
	}
	path := filepath.Join(dir, ledger.FileName)

	if *initNew {
		if sub != "" {
			return fmt.Errorf("%w: --init is used alone: sealkeeper ledger --init", errUsage)
		}
		return initLedger(cfg, path, *escrowPub, stdout)
	}
	// The same selection as the window's ledger screen.
	filter := usecase.LedgerFilter{Seal: *seal, Custodian: *custodian, Text: *search}
	if *kinds != "" {
		for _, k := range strings.Split(*kinds, ",") {
			filter.Kinds = append(filter.Kinds, strings.TrimSpace(k))
		}
	}
	var err error
	if filter.From, filter.To, err = usecase.ParsePeriod(*from, *to); err != nil {
		return fmt.Errorf("%w: --from/--to: %w", errUsage, err)
	}

	holder, closeHolder, err := ledgerHolder(cfg, *escrowKey, sub != "verify")
	if err != nil {
		return err
	}
	defer closeHolder()

	// Every verification checks the co-signed floor with the server's key where it is pinned.
	vopts := ledger.VerifyOptions{Check: workspace.LedgerCheck}
	if cfg != nil {
		if vopts.ServerKey, err = workspace.PinnedServerKey(cfg); err != nil {
			return err
		}
	}

	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	defer bw.Flush()

	switch sub {
	case "verify":
		rep, err := ledger.Verify(path, holder, vopts)
		if err != nil {
			return exitError{code: 1, err: err}
		}
		if *asJSON {
			enc := json.NewEncoder(bw)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		}
		printLedgerReport(bw, rep)
		return nil
	case "show":
		fmt.Fprintf(bw, "%6s  %-20s  %-17s  %-14s  %-12s  %s\n", "SEQ", "TIME", "KIND", "CUSTODIAN", "SEAL", "DOCUMENT / DETAIL")
		_, err := ledger.Verify(path, holder, ledger.VerifyOptions{Check: vopts.Check, ServerKey: vopts.ServerKey, Visit: func(r ledger.Record) error {
			if !filter.Match(r) {
				return nil
			}
			e := usecase.LedgerEntryOf(r)
			what := e.Summary
			if e.Locked {
				what += " (written while locked)"
			}
			if e.Newer {
				what += " (from a newer SealKeeper: " + e.Value("raw") + ")"
			}
			_, err := fmt.Fprintf(bw, "%6d  %-20s  %-17s  %-14s  %-12s  %s\n", e.Seq, e.Time.Local().Format("2006-01-02 15:04:05"), e.Kind, e.Custodian, e.SealID, what)
			return err
		}})
		if err != nil {
			return exitError{code: 1, err: err}
		}
		return nil
	case "export":
		_, err := ledger.Verify(path, holder, ledger.VerifyOptions{Check: vopts.Check, ServerKey: vopts.ServerKey, Visit: func(r ledger.Record) error {
			if !filter.Match(r) {
				return nil
			}
			// The record exactly as stored (newer fields and kinds included), with its seq.
			_, err := fmt.Fprintf(bw, "{\"seq\":%d,\"record\":%s}\n", r.Seq, r.Raw)
			return err
		}})
		if err != nil {
			return exitError{code: 1, err: err}
		}
		return nil
	case "report":
		var csvw *report.CSV
		switch *format {
		case "csv":
			if csvw, err = report.NewCSV(bw); err != nil {
				return err
			}
		case "usage-csv":
		case "pdf":
			if *out == "" {
				return fmt.Errorf("%w: --format pdf needs --out FILE.pdf", errUsage)
			}
		default:
			return fmt.Errorf("%w: --format is csv, usage-csv or pdf, not %q", errUsage, *format)
		}
		var sum *report.Summarizer
		rep, err := ledger.Verify(path, holder, ledger.VerifyOptions{Check: vopts.Check, ServerKey: vopts.ServerKey, Visit: func(r ledger.Record) error {
			if sum == nil {
				sum = report.NewSummarizer(filter.ReportFilter(), "")
			}
			if filter.Match(r) && sum.Add(r) && csvw != nil {
				return csvw.Write(r)
			}
			return nil
		}})
		if err != nil {
			return exitError{code: 1, err: err}
		}
		if csvw != nil {
			return csvw.Flush()
		}
		s := report.NewSummarizer(filter.ReportFilter(), rep.Workstation).Summary()
		if sum != nil {
			s = sum.Summary()
			s.Workstation = rep.Workstation
		}
		if *format == "usage-csv" {
			return report.WriteUsageCSV(bw, s)
		}
		if err := report.WritePDF(bw, s, report.Fonts{Regular: assets.FontRegular, Bold: assets.FontBold}); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%s: %d records, %d stamped, %d copies approved, %d printed\n", *out, s.Total, s.Stamped, s.TotalCopies, s.TotalPrinted)
		return nil
	}
	return fmt.Errorf("%w: %s", errUsage, ledgerUsage)
}

// ledgerHolder finds a key that opens a slot: --escrow-key, else the demo token (demo PIN),
// else the demo escrow key file. needed: fail when there is none (verify can do without).
func ledgerHolder(cfg *config.Config, escrowKey string, needed bool) (keyslot.Holder, func(), error) {
	nop := func() {}
	if escrowKey != "" {
		b, err := os.ReadFile(escrowKey)
		if err != nil {
			return nil, nop, err
		}
		h, err := keyslot.ParsePrivateKeyPEM(b)
		if err != nil {
			return nil, nop, fmt.Errorf("escrow key %s: %w", escrowKey, err)
		}
		return h, nop, nil
	}
	if cfg != nil && cfg.Demo.Enabled {
		tok, err := workspace.OpenDemoToken(cfg)
		if err == nil {
			return tok.Holder, tok.Close, nil
		}
		if p := workspace.DemoEscrowKeyPath(cfg); p != "" {
			if b, rerr := os.ReadFile(p); rerr == nil {
				if h, perr := keyslot.ParsePrivateKeyPEM(b); perr == nil {
					return h, nop, nil
				}
			}
		}
		if needed {
			return nil, nop, fmt.Errorf("opening the demo token: %w", err)
		}
	}
	if needed {
		return nil, nop, errors.New("no key to open the ledger: pass --escrow-key FILE (the organisation's escrow private key); logging in with a custodian token from the terminal is not supported yet outside the demo")
	}
	return nil, nop, nil
}

func initLedger(cfg *config.Config, path, escrowPub string, stdout io.Writer) error {
	if escrowPub == "" && cfg != nil {
		escrowPub = cfg.Resolve(cfg.Ledger.EscrowPublicKey)
	}
	if escrowPub == "" {
		return errors.New("--init needs the escrow public key: set [ledger] escrow_public_key or pass --escrow-public FILE")
	}
	b, err := os.ReadFile(escrowPub)
	if err != nil {
		return err
	}
	pub, err := keyslot.ParsePublicKeyPEM(b)
	if err != nil {
		return fmt.Errorf("escrow public key %s: %w", escrowPub, err)
	}
	recipients := []ledger.Recipient{{Public: pub, Role: keyslot.RoleEscrow, Label: "escrow"}}
	ws := ""
	opts := ledger.Options{Check: workspace.LedgerCheck}
	if cfg != nil {
		ws = cfg.Workstation
		if cfg.Demo.Enabled {
			if tok, err := workspace.OpenDemoToken(cfg); err == nil {
				defer tok.Close()
				recipients = append(recipients, ledger.Recipient{Public: tok.Holder.Public(), Role: keyslot.RoleCustodian, Label: "demo custodian"})
				opts.Signer = tok.Signer
			}
		}
	}
	if ws == "" {
		ws, _ = os.Hostname()
	}
	opts.Workstation = ws
	l, err := ledger.Create(path, recipients, opts)
	if err != nil {
		return err
	}
	if err := l.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created %s for workstation %q with %d key slot(s).\n", path, ws, len(recipients))
	return nil
}

func printLedgerReport(w io.Writer, r *ledger.Report) {
	fmt.Fprintf(w, "Ledger %s verifies.\n", r.Path)
	fmt.Fprintf(w, "  workstation   %s\n", r.Workstation)
	fmt.Fprintf(w, "  records       %d (head %s)\n", r.Records, hex.EncodeToString(r.Head[:8]))
	fmt.Fprintf(w, "  file          %d bytes\n", r.Bytes)
	if r.Decrypted {
		fmt.Fprintf(w, "  decrypted     every record, with key slot %s\n", r.Slot)
	} else {
		fmt.Fprintf(w, "  decrypted     no (no key slot opened: chain, structure and checkpoints only)\n")
	}
	fmt.Fprintf(w, "  checkpoints   %d signed, last at %d\n", r.Checkpoints, r.LastSigned)
	if r.Cosigned > 0 {
		fmt.Fprintf(w, "  co-signed     %d (server)\n", r.Cosigned)
	}
	for _, s := range r.Slots {
		label := s.Label
		if label == "" && !r.Decrypted {
			label = "(name sealed under the data key)" // store/ledger/sealed.go
		}
		fmt.Fprintf(w, "  key slot      %s %s %s\n", s.ID, s.Role, label)
	}
	if r.Pending > 0 {
		fmt.Fprintf(w, "  pending       %d events written while locked (folded in at the next login)\n", r.Pending)
	}
	if r.Unknown > 0 {
		fmt.Fprintf(w, "  newer kinds   %d records from a newer SealKeeper (kept as written)\n", r.Unknown)
	}
	if len(r.Interrupted) > 0 {
		fmt.Fprintf(w, "  interrupted   stamp intents with no result: %v\n", r.Interrupted)
	}
	if r.Digest {
		fmt.Fprintf(w, "  closed file   unchanged since SealKeeper closed it\n")
	}
	for _, u := range r.Unchecked {
		fmt.Fprintf(w, "  not checked   %s\n", u)
	}
	fmt.Fprintf(w, "  took          %v\n", r.Duration.Round(time.Millisecond))
}

package usecase

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"os"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/sealkeeper/sealkeeper/assets"
	"github.com/sealkeeper/sealkeeper/device/cups"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/report"
)

// Printing the approved copies (RULES.md 15, 17). The allowance of a stamping is counted from
// the ledger alone, so it holds offline: the copies its approval ticket names, less what its
// print jobs took. A job takes the copies it asked for from the moment its print.intent is
// durable; its print.done or print.failed then says how many the printer really made, and a
// failed job gives back the rest. An intent that never got an answer (the program died)
// keeps everything it asked for.

// Printer is a destination of the system's printing system.
type Printer = cups.Printer

// ErrNoCopiesLeft: the approved copies are used up; extra copies need their own approval.
var ErrNoCopiesLeft = errors.New("the approved copies of this document are all printed; extra copies need their own approval (加印) from the seal-management server")

// ErrNotStamped: the document has no stamping on this workstation to print.
var ErrNotStamped = errors.New("this document has not been stamped on this workstation, so there is nothing to print")

// CopyAllowance is what may still be printed of a document's stamping.
type CopyAllowance struct {
	DocID, Title string
	// Stamping is the stamp.done record printed; Out and OutputSHA256 the stamped file.
	Stamping     uint64
	Out          string
	OutputSHA256 string
	SealID       string
	Custodian    string
	Approved     int // the ticket's copies and the extra ones allowed since
	Extra        int // of Approved, allowed as extra copies (加印)
	Printed      int // taken by jobs: done copies, or asked ones while unanswered
	Left         int
	// SupersededBy is the corrected document that replaced this stamping (重印): nothing more
	// is printed of it. Recalled is how many of its printed copies were recorded returned.
	SupersededBy string
	Recalled     int
}

// Allowance is what the ledger says of the latest stamping of docID and what its jobs took
// (kept up to date by the desk's index, copyindex.go, not read from record 1 on each call).
func (d *Desk) Allowance(docID string) (CopyAllowance, error) {
	if err := d.ledgerReady(); err != nil {
		return CopyAllowance{}, err
	}
	var a CopyAllowance
	var found bool
	err := d.copies(func(x *copyIndex) {
		if dc := x.docs[docID]; dc != nil {
			a, found = dc.allowance(), true
		}
	})
	if err != nil {
		return CopyAllowance{DocID: docID}, fmt.Errorf("the copies of %s: %w", docID, err)
	}
	if !found {
		return CopyAllowance{DocID: docID}, fmt.Errorf("%s: %w", docID, ErrNotStamped)
	}
	return a, nil
}

// Printers lists the printers of the system's printing system.
func (d *Desk) Printers(ctx context.Context) ([]Printer, error) {
	return d.printing().Printers(ctx)
}

func (d *Desk) printing() *cups.Client {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cfg.Printing == nil {
		d.cfg.Printing = &cups.Client{}
	}
	return d.cfg.Printing
}

// PrintRequest is one print job of a stamped document.
type PrintRequest struct {
	DocID, Printer string
	Copies         int
	// Custodian is who prints; "" means the custodian who stamped.
	Custodian string
}

// PrintResult is a finished (or failed) job.
type PrintResult struct {
	Intent, Outcome uint64 // the ledger records
	Printer         string
	Job             int
	State           string // the job's final state: completed, canceled, aborted
	Asked, Done     int
	Marks           []PrintMark
	// Document is the PDF sent to the printer (the rendered copies with their marks).
	Document []byte
}

// PrintDPI is the resolution the pages are rendered at for printing.
const PrintDPI = 150

// Print prints copies of the latest stamping of a document: refused when they exceed what is
// left of the approval; recorded (print.intent) before anything goes to the printer; each
// page of copy k carries the mark naming the stamping and the copy; the job is followed until
// the printer says it is done, and its outcome recorded. The stamped file is only read.
func (d *Desk) Print(ctx context.Context, req PrintRequest) (*PrintResult, error) {
	if err := d.ledgerReady(); err != nil {
		return nil, err
	}
	now := d.cfg.Now()
	if err := d.checkClock(now); err != nil {
		return nil, err
	}
	if req.Printer == "" {
		return nil, errors.New("no printer chosen: pick one of the system's printers")
	}
	// One job at a time: the allowance read and the intent that takes from it must not
	// interleave with another job's.
	d.printMu.Lock()
	defer d.printMu.Unlock()
	a, err := d.Allowance(req.DocID)
	if err != nil {
		return nil, err
	}
	if a.SupersededBy != "" {
		return nil, fmt.Errorf("%q: %w by %s", a.Title, ErrSuperseded, a.SupersededBy)
	}
	if req.Copies < 1 {
		return nil, fmt.Errorf("print at least one copy (%d asked)", req.Copies)
	}
	if req.Copies > a.Left {
		return nil, fmt.Errorf("%q: %d copies asked, %d of the %d approved are left: %w", a.Title, req.Copies, a.Left, a.Approved, ErrNoCopiesLeft)
	}
	pdf, err := d.stampedBytes(ctx, a)
	if err != nil {
		return nil, err
	}
	if s := sha256.Sum256(pdf); hex.EncodeToString(s[:]) != a.OutputSHA256 {
		return nil, fmt.Errorf("the stamped file %s is not the one the ledger recorded (SHA-256 %x…, recorded %.12s…): it was changed or replaced, so it is not printed", a.Out, s[:6], a.OutputSHA256)
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	who := req.Custodian
	if who == "" {
		who = a.Custodian
	}
	intent := ledger.Record{Kind: ledger.KindPrintIntent, DocID: a.DocID, DocTitle: a.Title, SealID: a.SealID, Custodian: who,
		OutputHash: a.OutputSHA256, Printer: req.Printer, Copies: req.Copies, Intent: a.Stamping, PrintKey: hex.EncodeToString(key[:])}
	seqs, err := d.record(intent)
	if err != nil {
		return nil, fmt.Errorf("recording the print job in the ledger failed, so nothing was printed: %w", err)
	}
	res := &PrintResult{Intent: seqs[0], Printer: req.Printer, Asked: req.Copies}
	outcome := func(state string, done int, reason error) (*PrintResult, error) {
		r := ledger.Record{Kind: ledger.KindPrintDone, Intent: res.Intent, DocID: a.DocID, SealID: a.SealID, Custodian: who,
			OutputHash: a.OutputSHA256, Printer: req.Printer, Copies: req.Copies, CopiesDone: done, Detail: state}
		if reason != nil {
			r.Kind, r.Reason = ledger.KindPrintFailed, reason.Error()
		}
		res.State, res.Done = state, done
		seqs, err := d.record(r)
		if err != nil {
			return res, errors.Join(reason, fmt.Errorf("recording the print job's outcome failed: %w; the job keeps its %d copies", err, req.Copies))
		}
		res.Outcome = seqs[0]
		return res, reason
	}
	for k := 1; k <= req.Copies; k++ {
		m := PrintMark{DocID: a.DocID, Copy: k, Copies: req.Copies, Seq: res.Intent, SHA256: a.OutputSHA256}
		m.Code = printCode(key[:], m)
		res.Marks = append(res.Marks, m)
	}
	doc, pages, err := d.printout(a, pdf, res.Marks)
	if err != nil {
		return outcome("not sent", 0, fmt.Errorf("preparing the printout of %q: %w", a.Title, err))
	}
	res.Document = doc
	pc := d.printing()
	job, err := pc.Print(ctx, req.Printer, a.Title, doc)
	if err != nil {
		return outcome("not sent", 0, err)
	}
	res.Job = job
	j, err := pc.Wait(ctx, req.Printer, job)
	if err == nil && j.State == cups.JobCompleted {
		return outcome(j.State.String(), req.Copies, nil)
	}
	// A job that ended early: the copies the printer reports, a started copy counted whole;
	// when it reports nothing, every copy asked (the allowance must never undercount).
	done := req.Copies
	if j.Impressions >= 0 && pages > 0 {
		done = min((j.Impressions+pages-1)/pages, req.Copies)
	}
	why := fmt.Errorf("print job %d on %q ended %s", job, req.Printer, j.State)
	if j.Message != "" {
		why = fmt.Errorf("%w: %s", why, j.Message)
	}
	return outcome(j.State.String(), done, errors.Join(why, err))
}

// printout renders the stamped pages once and lays out every copy's sheets with their marks.
func (d *Desk) printout(a CopyAllowance, pdf []byte, marks []PrintMark) (doc []byte, pages int, err error) {
	rd, err := d.renderer().Open(a.DocID+".pdf", pdf)
	if err != nil {
		return nil, 0, err
	}
	defer rd.Close()
	pp := report.PrintPages{Title: a.Title + " (打印件 printout)"}
	for p := 1; p <= rd.NumPages(); p++ {
		info, err := rd.Page(p)
		if err != nil {
			return nil, 0, err
		}
		im, err := rd.Render(p, PrintDPI)
		if err != nil {
			return nil, 0, err
		}
		pp.Images, pp.W, pp.H = append(pp.Images, image.Image(im)), append(pp.W, info.Width), append(pp.H, info.Height)
	}
	for _, m := range marks {
		qr, err := qrcode.New(m.QR(), qrcode.Medium)
		if err != nil {
			return nil, 0, err
		}
		bits := qr.Bitmap()
		for p := range pp.Images {
			pp.Sheets = append(pp.Sheets, report.PrintSheet{Page: p, Line: m.Line(p+1, len(pp.Images)), QR: bits})
		}
	}
	var b bytes.Buffer
	if err := report.WritePrintout(&b, pp, report.Fonts{Regular: assets.FontRegular, Bold: assets.FontBold}); err != nil {
		return nil, 0, err
	}
	return b.Bytes(), len(pp.Images), nil
}

// PrintMark names one printed copy: the document, copy k of n, the ledger record of the job
// (its print.intent) and a code only the holder of the job's key can make: the first 80 bits
// of HMAC-SHA256 under a random key kept in that encrypted ledger record. Whoever can read
// the ledger checks it; nobody without the ledger can make one that passes.
type PrintMark struct {
	DocID        string
	Copy, Copies int
	Seq          uint64
	Code         string
	SHA256       string // the stamped file's
}

const markPrefix = "SKP1"

// QR is the text of the page's QR code: SKP1/doc/k/n/seq/code/sha256.
func (m PrintMark) QR() string {
	return strings.Join([]string{markPrefix, m.DocID, strconv.Itoa(m.Copy), strconv.Itoa(m.Copies), strconv.FormatUint(m.Seq, 10), m.Code, m.SHA256}, "/")
}

// Check is the short form printed in the line, which verify --printout also accepts.
func (m PrintMark) Check() string {
	return strings.Join([]string{markPrefix, m.DocID, strconv.Itoa(m.Copy), strconv.Itoa(m.Copies), strconv.FormatUint(m.Seq, 10), m.Code}, "/")
}

// Line is the margin line of page p of pages.
func (m PrintMark) Line(p, pages int) string {
	return fmt.Sprintf("打印件 / printout · %s · 第 %d/%d 份 copy %d of %d · 第 %d/%d 页 · 台账 ledger #%d · 校验 %s", m.DocID, m.Copy, m.Copies, m.Copy, m.Copies, p, pages, m.Seq, m.Check())
}

func printCode(key []byte, m PrintMark) string {
	h := hmac.New(sha256.New, key)
	fmt.Fprintf(h, "SealKeeper printout v1\x00%s\x00%d\x00%d\x00%d\x00%s", m.DocID, m.Copy, m.Copies, m.Seq, m.SHA256)
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h.Sum(nil)[:10])
}

// ParsePrintMark reads the QR text or the short form of the line.
func ParsePrintMark(s string) (PrintMark, error) {
	f := strings.Split(strings.TrimSpace(s), "/")
	bad := fmt.Errorf("%q is not a printout code: it should read SKP1/document/copy/copies/ledger-seq/code[/sha256], as printed beside the QR code", s)
	if len(f) < 6 || len(f) > 7 || f[0] != markPrefix {
		return PrintMark{}, bad
	}
	m := PrintMark{DocID: f[1], Code: strings.ToUpper(f[5])}
	var err1, err2, err3 error
	m.Copy, err1 = strconv.Atoi(f[2])
	m.Copies, err2 = strconv.Atoi(f[3])
	m.Seq, err3 = strconv.ParseUint(f[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || m.Copy < 1 || m.Copy > m.Copies {
		return PrintMark{}, bad
	}
	if len(f) == 7 {
		m.SHA256 = strings.ToLower(f[6])
	}
	return m, nil
}

// PrintoutCheck is what the ledger says of a printout's mark.
type PrintoutCheck struct {
	Mark PrintMark
	// Genuine: the ledger has the job the mark names, for that document, copy and stamped
	// file, and the code is the one the job's key makes.
	Genuine bool
	Reason  string // why not, when not genuine
	// What the ledger says of the job.
	Title, Printer, Custodian string
	Printed                   time.Time
	Stamping                  uint64
	// State: "completed", "failed: …" or "no outcome recorded".
	State string
	// SupersededBy: the stamping was replaced by this corrected document (重印) since; the
	// printout is of the earlier version and is to be recalled.
	SupersededBy string
}

// CheckPrintout tells whether a printout's mark (QR text or the line's short form) names a
// real print job of a real stamping in this ledger.
func (v *LedgerView) CheckPrintout(text string) (PrintoutCheck, error) {
	m, err := ParsePrintMark(text)
	if err != nil {
		return PrintoutCheck{}, err
	}
	if err := v.ready(); err != nil {
		return PrintoutCheck{Mark: m}, err
	}
	c := PrintoutCheck{Mark: m, State: "no outcome recorded"}
	r, err := v.led.Get(m.Seq)
	if err != nil {
		c.Reason = fmt.Sprintf("the ledger has no record %d: %v", m.Seq, err)
		return c, nil
	}
	c.Title, c.Printer, c.Custodian, c.Printed, c.Stamping = r.DocTitle, r.Printer, r.Custodian, r.Time, r.Intent
	key, kerr := hex.DecodeString(r.PrintKey)
	switch {
	case r.Kind != ledger.KindPrintIntent || kerr != nil || len(key) != 32 || !r.SealedAt.IsZero() || r.Locked != "":
		c.Reason = fmt.Sprintf("ledger record %d is not a print job (%s)", m.Seq, r.Kind)
	case r.DocID != m.DocID:
		c.Reason = fmt.Sprintf("ledger record %d printed document %s, not %s", m.Seq, r.DocID, m.DocID)
	case r.Copies != m.Copies:
		c.Reason = fmt.Sprintf("the job of ledger record %d printed %d copies, not %d", m.Seq, r.Copies, m.Copies)
	case m.SHA256 != "" && m.SHA256 != r.OutputHash:
		c.Reason = "the stamped file's SHA-256 in the code is not the one the job printed"
	default:
		m.SHA256 = r.OutputHash // the short form leaves it out; the code covers it
		if hmac.Equal([]byte(printCode(key, m)), []byte(m.Code)) {
			c.Genuine, c.Mark = true, m
		} else {
			c.Reason = "the verification code does not match: the printout's line was changed or made up"
		}
	}
	if !c.Genuine {
		return c, nil
	}
	err = v.led.Records(m.Seq+1, func(o ledger.Record) error {
		if o.Intent == m.Seq && (o.Kind == ledger.KindPrintDone || o.Kind == ledger.KindPrintFailed) && o.SealedAt.IsZero() && o.Locked == "" {
			c.State = "completed"
			if o.Kind == ledger.KindPrintFailed {
				c.State = fmt.Sprintf("failed (%d of %d copies made): %s", o.CopiesDone, o.Copies, o.Reason)
			}
		}
		if o.Kind == ledger.KindSuperseded && o.OutputHash == m.SHA256 && o.SealedAt.IsZero() && o.Locked == "" {
			c.SupersededBy = o.Detail
		}
		return nil
	})
	return c, err
}

// stampedBytes reads the stamped file to print: where it was written, from the client store
// (decrypted into memory) while its result waits to go up, or, once the workstation deleted
// its copy because the server holds it (docs/architecture.md, "Data on disk"), from the server
// into memory. The caller checks the bytes against the ledger's hash either way.
func (d *Desk) stampedBytes(ctx context.Context, a CopyAllowance) ([]byte, error) {
	path := a.Out
	if d.cfg.Store != nil {
		p, err := d.cfg.Store.StampedFile(a.Out)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("the stamped file of %q: %w", a.Title, err)
		}
		if err == nil {
			path = p
		}
	}
	pdf, err := os.ReadFile(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		if err != nil {
			return nil, fmt.Errorf("reading the stamped file of %q (%s): %w", a.Title, a.Out, err)
		}
		return pdf, nil
	}
	if d.cfg.Upstream == nil {
		return nil, fmt.Errorf("the stamped file of %q (%s) is not on this workstation, and there is no server to fetch it from: %w", a.Title, a.Out, err)
	}
	pdf, ferr := d.cfg.Upstream.FetchStamped(ctx, a.OutputSHA256)
	if ferr != nil {
		return nil, fmt.Errorf("the stamped file of %q was removed from this workstation once the server held it, and fetching it from the server failed: %w; print it when the server can be reached", a.Title, ferr)
	}
	return pdf, nil
}

package usecase_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device/cups/cupstest"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// addCopies puts a document approved for copies printed copies in the hub's queue.
func (d *day) addCopies(t *testing.T, title string, pages, copies int) string {
	t.Helper()
	return d.addApproved(t, title, pages, copies, "")
}

// addApproved is addCopies for a document whose approval may supersede an earlier one (重印).
func (d *day) addApproved(t *testing.T, title string, pages, copies int, supersedes string) string {
	t.Helper()
	doc, err := d.hub.AddDocument(hub.NewDocument{Title: title, Department: "办公室", Requester: upstream.Person{ID: "u1", Name: "陈静"},
		Approvals: []upstream.Approval{{Approver: upstream.Person{ID: "a1", Name: "王主任"}, At: time.Now()}},
		SealID:    "SEAL-1", Workstation: deskWS, Copies: copies, Supersedes: supersedes, PDF: hub.SamplePDF(title, "", pages)})
	if err != nil {
		t.Fatal(err)
	}
	return doc.ID
}

// readQR rasterises page (1-based) of a PDF and reads its QR code back with zbarimg.
func readQR(t *testing.T, pdf []byte, page int) string {
	t.Helper()
	for _, tool := range []string{"pdftoppm", "zbarimg"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is needed to read the printout back; scripts/setup.sh --test installs it", tool)
			}
			t.Skipf("skipped: %s is not installed (scripts/setup.sh --test installs it)", tool)
		}
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "job.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	p := strconv.Itoa(page)
	if out, err := exec.Command("pdftoppm", "-r", "200", "-gray", "-png", "-f", p, "-l", p, "-singlefile", in, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	out, err := exec.Command("zbarimg", "--raw", "-q", filepath.Join(dir, "page.png")).Output()
	if err != nil {
		t.Fatalf("zbarimg found no QR code on page %d of the printout: %v", page, err)
	}
	return strings.TrimSpace(string(out))
}

// TestPrintApprovedCopies: a document approved for 3 copies is stamped, then printed on a real
// CUPS queue: the job reaches the printer as a printout whose every page carries the margin
// line and a QR code that reads back and checks against the ledger; the stamped file is
// untouched; the ledger holds the job; a fourth copy is refused, offline and after a restart
// too; a job to a printer that does not exist is recorded as failed and takes nothing.
func TestPrintApprovedCopies(t *testing.T) {
	q := cupstest.New(t)
	d := newDay(t, time.Now)
	id := d.addCopies(t, "关于印发年度工作要点的通知", 2, 3)
	d.syncOnce(t)
	desk := previewDesk(t, d)
	ctx := context.Background()
	st, err := desk.Stamp(ctx, d.seal, d.request(t, id, 1))
	if err != nil {
		t.Fatal(err)
	}
	stamped, err := os.ReadFile(st.Out)
	if err != nil {
		t.Fatal(err)
	}
	a, err := desk.Allowance(id)
	if err != nil || a.Approved != 3 || a.Left != 3 || a.Stamping != st.Done {
		t.Fatalf("allowance %+v, %v; want 3 approved (from the ticket), 3 left", a, err)
	}
	ps, err := desk.Printers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !hasPrinter(ps, q.Name) {
		t.Fatalf("the test printer %s is not among %v", q.Name, ps)
	}

	res, err := desk.Print(ctx, usecase.PrintRequest{DocID: id, Printer: q.Name, Copies: 2})
	if err != nil {
		t.Fatal(err)
	}
	job := q.Next(t)
	if !bytes.Equal(job, res.Document) || res.State != "completed" || res.Done != 2 || len(res.Marks) != 2 {
		t.Fatalf("job %d: state %s, %d done, %d marks; the device got %d bytes of %d", res.Job, res.State, res.Done, len(res.Marks), len(job), len(res.Document))
	}
	if after, _ := os.ReadFile(st.Out); !bytes.Equal(after, stamped) {
		t.Fatal("printing changed the stamped file")
	}
	// Two copies of two pages: four sheets, each with its line; the QR of copy 2's first
	// sheet (page 3) reads back as that copy's mark.
	txt := pdfText(t, job)
	for _, want := range []string{"打印件 / printout", "copy 1 of 2", "copy 2 of 2", res.Marks[1].Check()} {
		if !strings.Contains(txt, want) {
			t.Errorf("the printed pages do not say %q:\n%s", want, txt)
		}
	}
	if n := strings.Count(txt, "打印件 / printout"); n != 4 {
		t.Errorf("%d sheets carry the line; want 4 (2 copies of 2 pages)", n)
	}
	got := readQR(t, job, 3)
	if got != res.Marks[1].QR() {
		t.Fatalf("the QR code on sheet 3 reads %q; want %q", got, res.Marks[1].QR())
	}
	sum := sha256.Sum256(stamped)
	if !strings.HasSuffix(got, hex.EncodeToString(sum[:])) {
		t.Errorf("the QR code does not carry the stamped file's SHA-256")
	}
	view := usecase.NewLedgerView(d.led)
	for _, text := range []string{got, res.Marks[1].Check()} {
		c, err := view.CheckPrintout(text)
		if err != nil || !c.Genuine || c.State != "completed" || c.Stamping != st.Done || c.Printer != q.Name {
			t.Fatalf("CheckPrintout(%q) = %+v, %v", text, c, err)
		}
	}
	// A changed copy number, a changed code, another document: refused.
	code := res.Marks[1].Code
	for _, forged := range []string{
		strings.Replace(got, "/2/2/", "/1/2/", 1),
		strings.Replace(got, code, strings.Repeat("A", len(code)), 1),
		strings.Replace(got, "/"+id+"/", "/D99999999/", 1),
	} {
		if c, err := view.CheckPrintout(forged); err != nil || c.Genuine {
			t.Errorf("CheckPrintout(%q) = %+v, %v; want not genuine", forged, c, err)
		}
	}

	// A printer that does not exist: the job is recorded as failed and takes no copies.
	if _, err := desk.Print(ctx, usecase.PrintRequest{DocID: id, Printer: q.Name + "-gone", Copies: 1}); err == nil {
		t.Fatal("printing to a printer that does not exist succeeded")
	}
	if _, err := desk.Print(ctx, usecase.PrintRequest{DocID: id, Printer: q.Name, Copies: 2}); !errors.Is(err, usecase.ErrNoCopiesLeft) {
		t.Fatalf("2 more copies with 1 left: %v", err)
	}
	if _, err := desk.Print(ctx, usecase.PrintRequest{DocID: id, Printer: q.Name, Copies: 1}); err != nil {
		t.Fatal(err)
	}
	q.Next(t)
	n := d.kinds(t, id)
	if n[ledger.KindPrintIntent] != 3 || n[ledger.KindPrintDone] != 2 || n[ledger.KindPrintFailed] != 1 {
		t.Fatalf("ledger records of the document: %v", n)
	}

	// The fourth copy: refused online, offline and after a restart (counted from the ledger).
	for _, step := range []string{"online", "offline", "restarted"} {
		switch step {
		case "offline":
			d.cut(t)
		case "restarted":
			d.stop()
			d.start(t)
			desk = previewDesk(t, d)
		}
		if _, err := desk.Print(ctx, usecase.PrintRequest{DocID: id, Printer: q.Name, Copies: 1}); !errors.Is(err, usecase.ErrNoCopiesLeft) {
			t.Fatalf("%s: a fourth copy: %v", step, err)
		}
	}
	if a, err := desk.Allowance(id); err != nil || a.Printed != 3 || a.Left != 0 {
		t.Fatalf("allowance after 3 copies: %+v, %v", a, err)
	}
}

func hasPrinter(ps []usecase.Printer, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
}

// pdfText is the text layer of a PDF as poppler's pdftotext reads it.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("skipped: pdftotext (poppler-utils) is not installed; scripts/setup.sh --test installs it")
	}
	f := filepath.Join(t.TempDir(), "job.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", f, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v %s", err, out)
	}
	return string(out)
}

// TestExtraCopies: the one approved copy printed, a second is refused; a request for extra
// copies (加印) is refused by the hub until it has the stamping, then waits for the admin;
// approved on the hub on loopback, the signed allowance is taken once and then allows exactly
// the copies approved, and survives going offline.
func TestExtraCopies(t *testing.T) {
	q := cupstest.New(t)
	d := newDay(t, time.Now)
	id := d.addCopies(t, "会议纪要", 1, 1)
	d.syncOnce(t)
	desk := previewDesk(t, d)
	ctx := context.Background()
	if _, err := desk.Stamp(ctx, d.seal, d.request(t, id, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := desk.Print(ctx, usecase.PrintRequest{DocID: id, Printer: q.Name, Copies: 1}); err != nil {
		t.Fatal(err)
	}
	q.Next(t)
	if _, err := desk.Print(ctx, usecase.PrintRequest{DocID: id, Printer: q.Name, Copies: 1}); !errors.Is(err, usecase.ErrNoCopiesLeft) {
		t.Fatalf("a second copy of one approved: %v", err)
	}
	if _, err := desk.RequestCopies(ctx, id, 2, "会议需要两份", ""); err == nil || !strings.Contains(err.Error(), "sync the stamping first") {
		t.Fatalf("a request before the hub has the stamping: %v", err)
	}
	d.syncOnce(t)
	g, err := desk.RequestCopies(ctx, id, 2, "会议需要两份", "")
	if err != nil || g.Status != upstream.CopiesPending {
		t.Fatalf("request: %+v, %v", g, err)
	}
	if seqs, err := desk.FetchAllowances(ctx); err != nil || len(seqs) != 0 {
		t.Fatalf("a pending request allowed copies: %v, %v", seqs, err)
	}
	if _, err := d.hub.ApproveCopies(g.ID, "王主任"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.hub.ApproveCopies(g.ID, "王主任"); err == nil {
		t.Fatal("a request was approved twice")
	}
	// The sync loop takes it (AfterSync after each round), so it is known offline from here.
	var afterSync error
	d.sync.OnRound(func(ctx context.Context, online bool) { afterSync = desk.AfterSync(ctx, online) })
	d.syncOnce(t)
	if n := d.kinds(t, id); afterSync != nil || n[ledger.KindCopiesAllowed] != 1 {
		t.Fatalf("the approved allowance after a sync round: %v, %v", n, afterSync)
	}
	d.syncOnce(t)
	if again, err := desk.FetchAllowances(ctx); err != nil || len(again) != 0 || d.kinds(t, id)[ledger.KindCopiesAllowed] != 1 {
		t.Fatalf("the allowance was taken twice: %v, %v", again, err)
	}
	d.cut(t) // offline from here: the allowance is in the ledger
	a, err := desk.Allowance(id)
	if err != nil || a.Approved != 3 || a.Extra != 2 || a.Printed != 1 || a.Left != 2 {
		t.Fatalf("allowance with 2 extra: %+v, %v", a, err)
	}
	if _, err := desk.Print(ctx, usecase.PrintRequest{DocID: id, Printer: q.Name, Copies: 3}); !errors.Is(err, usecase.ErrNoCopiesLeft) {
		t.Fatalf("3 copies with 2 allowed: %v", err)
	}
	res, err := desk.Print(ctx, usecase.PrintRequest{DocID: id, Printer: q.Name, Copies: 2})
	if err != nil || res.Done != 2 {
		t.Fatalf("the 2 extra copies: %+v, %v", res, err)
	}
	q.Next(t)
	if _, err := desk.Print(ctx, usecase.PrintRequest{DocID: id, Printer: q.Name, Copies: 1}); !errors.Is(err, usecase.ErrNoCopiesLeft) {
		t.Fatalf("a copy past the extra ones: %v", err)
	}
	if n := d.kinds(t, id); n[ledger.KindCopiesAllowed] != 1 || n[ledger.KindPrintDone] != 2 {
		t.Fatalf("ledger: %v", n)
	}
}

// TestRestampSupersedes: a corrected document approved as superseding an earlier one (重印).
// Stamping it marks the earlier stamped file superseded, which is then printed no more; while
// printed copies of the earlier one are out, the corrected one cannot be stamped until their
// recall is recorded; both stamped files and the earlier printout stay verifiable. An earlier
// version never printed is simply superseded.
func TestRestampSupersedes(t *testing.T) {
	q := cupstest.New(t)
	d := newDay(t, time.Now)
	ctx := context.Background()
	desk := previewDesk(t, d)
	first := d.addCopies(t, "关于调整作息时间的通知", 1, 3)
	d.syncOnce(t)
	st1, err := desk.Stamp(ctx, d.seal, d.request(t, first, 1))
	if err != nil {
		t.Fatal(err)
	}
	res, err := desk.Print(ctx, usecase.PrintRequest{DocID: first, Printer: q.Name, Copies: 2})
	if err != nil {
		t.Fatal(err)
	}
	q.Next(t)
	corrected := d.addApproved(t, "关于调整作息时间的通知（更正）", 1, 2, first)
	unprinted := d.addCopies(t, "关于召开安全会议的通知", 1, 1)
	d.syncOnce(t)

	if _, err := desk.Stamp(ctx, d.seal, d.request(t, corrected, 1)); !errors.Is(err, usecase.ErrRecallNeeded) {
		t.Fatalf("stamping the correction while 2 copies of the earlier one are out: %v", err)
	}
	if _, err := desk.Print(ctx, usecase.PrintRequest{DocID: first, Printer: q.Name, Copies: 1}); !errors.Is(err, usecase.ErrSuperseded) {
		t.Fatalf("printing the superseded version (1 copy left of its approval): %v", err)
	}
	c, err := usecase.NewLedgerView(d.led).CheckPrintout(res.Marks[0].QR())
	if err != nil || !c.Genuine || c.SupersededBy != corrected {
		t.Fatalf("the earlier printout: %+v, %v", c, err)
	}
	if out, err := desk.RecordRecall(first, 1, "办公室退回", ""); err != nil || out != 1 {
		t.Fatalf("recall 1 of 2: %d out, %v", out, err)
	}
	if _, err := desk.Stamp(ctx, d.seal, d.request(t, corrected, 1)); !errors.Is(err, usecase.ErrRecallNeeded) {
		t.Fatalf("stamping with 1 copy still out: %v", err)
	}
	if _, err := desk.RecordRecall(first, 2, "", ""); err == nil {
		t.Fatal("more copies recorded returned than were printed")
	}
	if out, err := desk.RecordRecall(first, 1, "财务处退回", ""); err != nil || out != 0 {
		t.Fatalf("recall the last copy: %d out, %v", out, err)
	}
	st2, err := desk.Stamp(ctx, d.seal, d.request(t, corrected, 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{st1.Out, st2.Out} {
		if v, err := desk.Verify(f); err != nil || !v.Valid {
			t.Errorf("%s no longer verifies: %+v, %v", f, v, err)
		}
	}
	if n := d.kinds(t, first); n[ledger.KindSuperseded] != 1 || n[ledger.KindRecalled] != 2 {
		t.Fatalf("the earlier document's records: %v", n)
	}

	// Never printed: the correction is stamped at once, the earlier version printed no more.
	if _, err := desk.Stamp(ctx, d.seal, d.request(t, unprinted, 1)); err != nil {
		t.Fatal(err)
	}
	fix := d.addApproved(t, "关于召开安全会议的通知（更正）", 1, 2, unprinted)
	d.syncOnce(t)
	if _, err := desk.Stamp(ctx, d.seal, d.request(t, fix, 1)); err != nil {
		t.Fatalf("the correction of a version never printed: %v", err)
	}
	if _, err := desk.Print(ctx, usecase.PrintRequest{DocID: unprinted, Printer: q.Name, Copies: 1}); !errors.Is(err, usecase.ErrSuperseded) {
		t.Fatalf("printing the superseded, never printed version: %v", err)
	}
}

// TestPrintCancelledJob: a job that waits in a stopped queue until the caller gives up is
// cancelled, recorded as failed with the copies the printer made (none), and gives its copies
// back to the allowance; nothing of it reaches the printer later.
func TestPrintCancelledJob(t *testing.T) {
	q := cupstest.New(t)
	d := newDay(t, time.Now)
	id := d.addCopies(t, "请假审批单", 1, 2)
	d.syncOnce(t)
	desk := previewDesk(t, d)
	if _, err := desk.Stamp(context.Background(), d.seal, d.request(t, id, 1)); err != nil {
		t.Fatal(err)
	}
	q.Stop(t)
	// The caller gives up once the job waits in the stopped queue.
	ctx, cancel := context.WithCancel(context.Background())
	queued := make(chan bool)
	go func() { ok := q.WaitQueued(ctx); cancel(); queued <- ok }()
	res, err := desk.Print(ctx, usecase.PrintRequest{DocID: id, Printer: q.Name, Copies: 2})
	cancel()
	if !<-queued {
		t.Fatalf("the job never waited in the stopped queue: %v", err)
	}
	if err == nil || res == nil || res.State != "canceled" || res.Done != 0 || res.Outcome == 0 {
		if res != nil {
			t.Fatalf("a job given up on in a stopped queue: %s, %d done, outcome record %d; %v", res.State, res.Done, res.Outcome, err)
		}
		t.Fatalf("a job given up on in a stopped queue: %v", err)
	}
	if r, err := d.led.Get(res.Outcome); err != nil || r.Kind != ledger.KindPrintFailed || r.CopiesDone != 0 || !strings.Contains(r.Reason, "canceled") {
		t.Fatalf("its ledger record: %+v, %v", r, err)
	}
	if a, err := desk.Allowance(id); err != nil || a.Left != 2 {
		t.Fatalf("the allowance after the cancelled job: %+v, %v", a, err)
	}
	q.Start(t)
	res, err = desk.Print(context.Background(), usecase.PrintRequest{DocID: id, Printer: q.Name, Copies: 2})
	if err != nil || res.Done != 2 {
		t.Fatalf("printing after the queue resumed: %v", err)
	}
	if job := q.Next(t); !bytes.Equal(job, res.Document) {
		t.Fatal("the printer received something else than the second job (the cancelled one came out?)")
	}
}

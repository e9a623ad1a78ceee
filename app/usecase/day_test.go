package usecase_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/softhsmtest"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// dayChildEnv makes the test binary the workstation's program for one stamping (TestFullDay's
// SIGKILL); its value is a dayChild in JSON.
const dayChildEnv = "SEALKEEPER_TEST_DAY_CHILD"

// dayChild is what the child needs to open the same workstation (what its configuration would
// say) and the document to stamp.
type dayChild struct {
	URL, Ledger, Store, Out, Doc, PIN string
	CA, ServerKey                     []byte // DER
}

// stampedDoc is one stamping as the workstation saw it.
type stampedDoc struct {
	out, sha string
	widgets  int // one per whole seal, one per seam slice
	seam     bool
}

// TestFullDay: a custodian's day against SoftHSM, a ledger file and the hub on loopback,
// through the use cases. 20 documents are approved for the workstation (1 to 6 pages, one for
// a riding seam across its pages). Some are stamped through the preview, some with StampAt,
// five in one batch with the one login of the morning; two are returned with reasons. The
// network is cut: three stampings go on offline (the policy's limit, the fourth is refused),
// the syncer says offline and the outbox grows; the hub comes back and everything goes up.
// Then the program is killed (SIGKILL) in a child process between a stamping's intent and
// its done, and the next start settles it. Afterwards the hub's results and files equal the
// workstation's, every stamped file verifies (ours and pdfsig), the ledger has one intent and
// one done per stamping and the two returns with their reasons, and it verifies in full.
func TestFullDay(t *testing.T) {
	if spec := os.Getenv(dayChildEnv); spec != "" {
		runDayChild(t, spec)
		return
	}
	ctx := context.Background()
	t0 := time.Now()
	d := newDay(t, nil)
	pages := []int{1, 2, 3, 1, 4, 2, 1, 5, 3, 2, 1, 6, 2, 3, 1, 2, 4, 1, 3, 2}
	const seamDoc = 7
	ids := make([]string, len(pages))
	for i, n := range pages {
		if i != seamDoc {
			ids[i] = d.add(t, fmt.Sprintf("文件 %02d", i+1), n)
			continue
		}
		// Approved for a riding seam over every page's right edge, and a seal on the last page.
		var pos []upstream.Position
		for p := 1; p <= n; p++ {
			pos = append(pos, upstream.Position{Page: p, X: 595, Y: 500, Kind: "seam"})
		}
		pos = append(pos, upstream.Position{Page: n, X: 400, Y: 200})
		ids[i] = d.addPDF(t, "骑缝合同", hub.SamplePDF("骑缝合同", "", n), nil, pos)
	}
	d.syncOnce(t)
	desk := previewDesk(t, d)
	q, err := desk.Queue()
	if err != nil || len(q) != len(ids) {
		t.Fatalf("queue: %d documents, %v", len(q), err)
	}
	for _, it := range q {
		if !it.Ready {
			t.Fatalf("%s is not ready: %s", it.ID, it.Problem)
		}
	}

	did := map[string]stampedDoc{}  // what the workstation stamped
	returned := map[string]string{} // and returned, with the reason
	keep := func(id string, res *usecase.StampResult, err error, widgets int) {
		t.Helper()
		if err != nil {
			t.Fatalf("stamping %s: %v", id, err)
		}
		did[id] = stampedDoc{out: res.Out, sha: res.OutputSHA256, widgets: widgets}
	}
	viaPreview := func(desk *usecase.Desk, i int) {
		t.Helper()
		p, err := desk.OpenPreview(ids[i])
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if _, _, err := p.Put(usecase.Place{Page: pages[i], XMM: 150, YMM: 230}); err != nil {
			t.Fatal(err)
		}
		widgets := 1
		if i == seamDoc {
			// Put anywhere near, the seam goes to the height the approval names.
			if err := p.SetSeam(&usecase.Seam{Right: true, YMM: 40}); err != nil {
				t.Fatal(err)
			}
			widgets += pages[i]
		}
		res, err := desk.StampPreview(ctx, p)
		keep(ids[i], res, err, widgets)
		if i == seamDoc {
			s := did[ids[i]]
			s.seam = true
			did[ids[i]] = s
		}
	}

	// Morning, online: the preview, the riding seam, StampAt (default place, two pages), returns.
	for _, i := range []int{0, 1, 2, seamDoc} {
		viaPreview(desk, i)
	}
	for _, i := range []int{3, 4} {
		res, err := desk.StampAt(ctx, ids[i], nil)
		keep(ids[i], res, err, 1)
	}
	res, err := desk.StampAt(ctx, ids[5], []usecase.Place{{Page: 1, XMM: 60, YMM: 250}, {Page: 2, XMM: 150, YMM: 230}})
	keep(ids[5], res, err, 2)
	if _, err := desk.RejectQueued(ids[6], "  "); !errors.Is(err, usecase.ErrReasonRequired) {
		t.Fatalf("return without a reason: %v", err)
	}
	if _, err := desk.RejectQueued(ids[6], usecase.RejectReasons[1]); err != nil {
		t.Fatal(err)
	}
	returned[ids[6]] = usecase.RejectReasons[1]
	d.syncOnce(t)

	// A batch of five with the morning's login.
	var reqs []usecase.StampRequest
	for _, id := range ids[9:14] {
		reqs = append(reqs, d.request(t, id, 1))
	}
	tb := time.Now()
	items, err := desk.StampBatch(ctx, d.seal, reqs, nil)
	batch := time.Since(tb)
	if err != nil || len(items) != 5 {
		t.Fatalf("batch: %d items, %v", len(items), err)
	}
	for _, it := range items {
		keep(it.Request.DocID, it.Result, it.Err, 1)
	}
	d.syncOnce(t)
	if s := d.sync.Status(); !s.Online || s.Outbox != 0 || s.Unsynced != 0 {
		t.Fatalf("after the morning's sync: %+v", s)
	}

	// The network is cut. Stamping goes on within the offline policy (3 stamps).
	addr := d.srv.Addr()
	d.cut(t)
	if err := d.sync.SyncOnce(ctx); err == nil {
		t.Fatal("a sync round with the hub's server stopped succeeded")
	}
	if s := d.sync.Status(); s.Online || s.LastError == "" {
		t.Fatalf("the syncer does not say offline: %+v", s)
	}
	viaPreview(desk, 14)
	res, err = desk.StampAt(ctx, ids[15], nil)
	keep(ids[15], res, err, 1)
	res, err = d.desk.Stamp(ctx, d.seal, d.request(t, ids[16], 1))
	keep(ids[16], res, err, 1)
	if _, err := desk.StampAt(ctx, ids[17], nil); err == nil || !strings.Contains(err.Error(), "working offline") {
		t.Fatalf("a fourth stamping offline (the policy allows 3): %v", err)
	}
	if k := d.kinds(t, ids[17]); len(k) != 0 {
		t.Fatalf("the refused offline stamping left records: %v", k)
	}
	if _, err := desk.Reject(ids[8], usecase.RejectReasons[0], "张伟"); err != nil { // returns are not limited offline
		t.Fatal(err)
	}
	returned[ids[8]] = usecase.RejectReasons[0]
	if err := d.sync.SyncOnce(ctx); err == nil {
		t.Fatal("a sync round with the network cut succeeded")
	}
	if s := d.sync.Status(); s.Online || s.Outbox != 4 || s.Unsynced == 0 {
		t.Fatalf("offline with 3 stampings and a return waiting: %+v", s)
	}

	// The network is back: the same hub on the same address; everything goes up.
	d.serve(t, addr)
	d.syncOnce(t)
	if s := d.sync.Status(); !s.Online || s.Outbox != 0 || s.Unsynced != 0 {
		t.Fatalf("after the network came back: %+v", s)
	}
	res, err = desk.StampAt(ctx, ids[17], []usecase.Place{{Page: 1, XMM: 100, YMM: 200}})
	keep(ids[17], res, err, 1)
	d.syncOnce(t)

	// The program is killed between a stamping's intent and its done.
	killed := ids[19]
	tk := time.Now()
	d.stop()
	d.killDuringStamping(t, killed)
	kill := time.Since(tk)
	// As the kill left it (no clean close), the chain holds, with the one intent open.
	key, logout := d.ledgerKey(t)
	rep, err := ledger.Verify(d.ledPath, key, ledger.VerifyOptions{Check: ledger.CheckFile})
	logout()
	if err != nil || len(rep.Interrupted) != 1 {
		t.Fatalf("the ledger after the kill: %+v, %v", rep, err)
	}
	d.start(t) // the next start, with a login
	open, err := d.led.Interrupted()
	if err != nil || len(open) != 1 || open[0].DocID != killed {
		t.Fatalf("after the kill, interrupted intents %+v, %v (want the one of %s)", open, err, killed)
	}
	desk = previewDesk(t, d)
	settled, err := desk.ReconcileNow()
	if err != nil || len(settled) != 1 || !settled[0].Signed || settled[0].DocID != killed {
		t.Fatalf("reconciled %+v, %v", settled, err)
	}
	out, err := os.ReadFile(settled[0].Output)
	if err != nil {
		t.Fatal(err)
	}
	did[killed] = stampedDoc{out: settled[0].Output, sha: sha256Hex(out), widgets: 1}
	viaPreview(desk, 18) // the day goes on after the restart
	d.syncOnce(t)
	day := time.Since(t0)

	// Nothing is left to do, and the hub has it all.
	if q, err := desk.Queue(); err != nil || len(q) != 0 {
		t.Fatalf("left in the queue: %+v, %v", q, err)
	}
	if s := d.sync.Status(); !s.Online || s.Outbox != 0 || s.Unsynced != 0 {
		t.Fatalf("at the end of the day: %+v", s)
	}
	if len(did)+len(returned) != len(ids) {
		t.Fatalf("%d stamped and %d returned of %d", len(did), len(returned), len(ids))
	}
	recs := map[uint64]ledger.Record{}
	if err := d.led.Records(1, func(r ledger.Record) error { recs[r.Seq] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := d.hub.Received()
	if err != nil || len(got) != 1 || got[0].Workstation != deskWS || got[0].LedgerSize != d.led.Size() {
		t.Fatalf("hub received %+v, %v (workstation's ledger %d records)", got, err, d.led.Size())
	}
	if n, err := d.hub.VerifyChain(deskWS); err != nil || n != d.led.Size() {
		t.Fatalf("the hub's copy of the ledger: %d records, %v", n, err)
	}
	results := map[string]upstream.Result{}
	for _, r := range got[0].Results {
		if _, dup := results[r.DocumentID]; dup {
			t.Errorf("the hub has two results for %s", r.DocumentID)
		}
		results[r.DocumentID] = r
	}
	if len(results) != len(ids) {
		t.Errorf("the hub has results for %d documents, want %d", len(results), len(ids))
	}
	for id, why := range returned {
		r := results[id]
		if rec := recs[r.LedgerSeq]; r.Outcome != upstream.OutcomeRejected || r.Reason != why || rec.Kind != ledger.KindRejected || rec.DocID != id || rec.Reason != why {
			t.Errorf("returned %s: the hub has %+v, the ledger's record %d is %s %q", id, r, r.LedgerSeq, rec.Kind, rec.Reason)
		}
	}
	for id, s := range did {
		r := results[id]
		rec := recs[r.LedgerSeq]
		if r.Outcome != upstream.OutcomeStamped || r.OutputSHA256 != s.sha || rec.Kind != ledger.KindStampDone || rec.DocID != id || rec.OutputHash != s.sha {
			t.Errorf("stamped %s (%s): the hub has %+v, the ledger's record %d is %s %s", id, s.sha, r, r.LedgerSeq, rec.Kind, rec.OutputHash)
			continue
		}
		local, err := os.ReadFile(s.out)
		if err != nil || sha256Hex(local) != s.sha {
			t.Errorf("%s: the stamped file %s is not the one recorded (%v)", id, s.out, err)
		}
		remote := filepath.Join(t.TempDir(), id+".pdf")
		if err := d.cli.Download(ctx, r.OutputSHA256, r.OutputSize, remote); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(remote); !bytes.Equal(b, local) {
			t.Errorf("the hub's copy of %s differs from the workstation's", id)
		}
		rep, err := verify.File(s.out, verify.Options{Roots: d.seal.Chain[1:]})
		if err != nil || !rep.Valid || !rep.Trusted || len(rep.Signatures) != 1 ||
			len(rep.Signatures[0].Widgets) != s.widgets || rep.Signatures[0].RidingSeam != s.seam {
			t.Errorf("%s: our verifier: %+v, %v (want %d widgets, riding seam %v)", id, rep, err, s.widgets, s.seam)
		}
		// pdfsig lists the signature once per widget.
		if valid, total, out := pdftest.Pdfsig(t, s.out); valid != s.widgets || total != s.widgets {
			t.Errorf("%s: pdfsig: %d of %d valid, want %d\n%s", id, valid, total, s.widgets, out)
		}
	}

	// The ledger: one intent and one done or failed per attempt, nothing for a refusal.
	per := d.attempts(t)
	for _, id := range ids {
		want := 1
		if returned[id] != "" {
			want = 0
		}
		if per[id] != want {
			t.Errorf("%s: %d stamping intents, want %d", id, per[id], want)
		}
	}
	count := map[ledger.Kind]int{}
	for _, r := range recs {
		count[r.Kind]++
	}
	// The morning's, the killed program's, the next start's: the batch asked for no PIN.
	if count[ledger.KindStampIntent] != len(did) || count[ledger.KindStampDone] != len(did) || count[ledger.KindStampFailed] != 0 ||
		count[ledger.KindRejected] != len(returned) || count[ledger.KindLoginOK] != 3 {
		t.Errorf("ledger records by kind: %v", count)
	}
	size := d.led.Size()
	d.stop()
	key, logout = d.ledgerKey(t)
	rep, err = ledger.Verify(d.ledPath, key, ledger.VerifyOptions{Check: ledger.CheckFile, ServerKey: d.serverKey})
	logout()
	if err != nil || !rep.Decrypted || rep.Records != size || len(rep.Interrupted) != 0 || rep.Kinds[ledger.KindStampDone] != len(did) {
		t.Fatalf("full ledger verify: %+v, %v", rep, err)
	}
	t.Logf("%d documents (%d pages): %d stamped (5 in one batch in %v, 3 offline, 1 settled after a SIGKILL), %d returned; %d ledger records; unchecked by verify: %q",
		len(ids), sum(pages), len(did), batch.Round(time.Millisecond), len(returned), size, rep.Unchecked)
	t.Logf("the day took %v; stop, child run to its kill: %v", day.Round(time.Millisecond), kill.Round(time.Millisecond))
}

// killDuringStamping runs one stamping of doc in a child process on the day's files (stop
// them first) and kills it with SIGKILL after the key signed and the output was written, before
// the done is recorded. The child tells the moment through a pipe: its desk's clock is read
// for the done's time, and it signals there when the output exists.
func (d *day) killDuringStamping(t *testing.T, doc string) {
	t.Helper()
	caDER := d.ca.Raw
	keyDER, err := x509.MarshalPKIXPublicKey(d.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(dayChild{URL: d.url, Ledger: d.ledPath, Store: d.stPath, Out: d.out, Doc: doc, PIN: d.pin, CA: caDER, ServerKey: keyDER})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFullDay$")
	cmd.Env = append(os.Environ(), dayChildEnv+"="+string(spec)) // SOFTHSM2_CONF is the test's
	cmd.ExtraFiles = []*os.File{w}                               // fd 3 in the child
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		cmd.Wait()
		t.Fatalf("the child ended before its output was written (%v):\n%s", err, log.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("the child was not killed (%v, it said %q):\n%s", err, line, log.String())
	}
}

// runDayChild is the child of killDuringStamping: the workstation's program, started on the
// same files, syncs and stamps one document; it never gets to record the done.
func runDayChild(t *testing.T, spec string) {
	var c dayChild
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(c.CA)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKIXPublicKey(c.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	m, err := device.OpenModule(softhsmtest.ModulePath)
	if err != nil {
		t.Fatal(err)
	}
	signal := os.NewFile(3, "signal")
	out := filepath.Join(c.Out, c.Doc+".pdf")
	d := &day{mod: m, url: c.URL, ledPath: c.Ledger, stPath: c.Store, serverKey: key.(*ecdsa.PublicKey), ca: ca, pin: c.PIN, out: c.Out,
		now: func() time.Time {
			// The clock is read for the done's time only once the output is there.
			if _, err := os.Stat(out); err == nil {
				fmt.Fprintln(signal, "output written")
				time.Sleep(time.Minute) // the parent kills now
			}
			return time.Now()
		}}
	d.start(t)
	d.syncOnce(t)
	_, err = d.desk.Stamp(context.Background(), d.seal, d.request(t, c.Doc, 1))
	t.Fatalf("the stamping finished (%v) although it was to be killed before its done", err)
}

// ledgerKey is the token's seal key, which opens the ledger's key slot, for a full Verify
// while the workstation is stopped; logout ends its session.
func (d *day) ledgerKey(t *testing.T) (key *device.ECDHKey, logout func()) {
	t.Helper()
	sess, err := d.mod.Login(d.tok.Info, d.pin)
	if err != nil {
		t.Fatal(err)
	}
	logout = func() { sess.Close() }
	keys, err := sess.Seals()
	if err != nil {
		logout()
		t.Fatal(err)
	}
	i := slices.IndexFunc(keys, func(k device.SealKey) bool { return bytes.Equal(k.ID, softhsmtest.ECKeyID) })
	if i < 0 {
		logout()
		t.Fatalf("no EC seal key on the token: %+v", keys)
	}
	h, err := sess.ECDH(keys[i])
	if err != nil {
		logout()
		t.Fatal(err)
	}
	return h, logout
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

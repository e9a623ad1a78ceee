package usecase_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/softhsmtest"
	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

const deskWS = "WS-DESK-01"

// day is a workstation on real parts: a SoftHSM token, a ledger file with the token's key
// slot, the reference hub on 127.0.0.1 and the sync store. start and stop open and close the
// workstation's side (ledger, sync store, link, key use case, desk), as a program run does, so
// a test can stop it, let another process use the same files, and start it again.
type day struct {
	tok    *softhsmtest.Token
	mod    *device.Module
	hub    *hub.Hub
	hubDir string
	srv    *hub.Server // nil while the network is cut
	// What a program run needs to open the workstation; a child process gets these alone.
	url, ledPath, stPath string
	serverKey            *ecdsa.PublicKey
	ca                   *x509.Certificate
	pin                  string
	label                string // the token start logs in to; "" for the only one
	now                  func() time.Time
	syncNow              func() time.Time // the sync loop's clock (nil: the real one)

	led  *ledger.Ledger
	st   *upstream.Store
	sync *upstream.Syncer
	cli  *upstream.Client
	keys *usecase.Keys
	desk *usecase.Desk
	seal usecase.Seal
	out  string
}

func newDay(t testing.TB, now func() time.Time) *day {
	t.Helper()
	return newDayClocks(t, now, nil, nil)
}

// newDayClocks is newDay with the sync loop and the hub on clocks of their own too (nil: the
// real one).
func newDayClocks(t testing.TB, now, syncNow, hubNow func() time.Time) *day {
	t.Helper()
	d := &day{tok: softhsmtest.New(t), out: t.TempDir(), now: now, syncNow: syncNow}
	d.mod = d.tok.Open(t)
	d.hubDir = t.TempDir()
	h, err := hub.Open(d.hubDir, hub.Options{Name: "test hub", AutoEnrol: true, Now: hubNow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.hub.Close() })
	d.hub, d.serverKey, d.ca, d.pin = h, h.TicketKey(), d.tok.CA, d.tok.UserPIN
	if err := h.SetSeal(upstream.SealStatus{ID: "SEAL-1", Name: "公章", Status: upstream.SealActive}); err != nil {
		t.Fatal(err)
	}
	d.serve(t, "127.0.0.1:0")
	t.Cleanup(func() { d.cut(t) })
	d.ledPath, d.stPath = filepath.Join(t.TempDir(), ledger.FileName), filepath.Join(t.TempDir(), "sync.db")
	d.led, err = ledger.Create(d.ledPath, []ledger.Recipient{
		{Public: d.tok.ECCert.PublicKey, Role: keyslot.RoleCustodian, Label: "张伟"},
	}, ledger.Options{Workstation: deskWS, Check: ledger.CheckFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	d.start(t)
	return d
}

// serve puts the hub on the network at addr.
func (d *day) serve(t testing.TB, addr string) {
	t.Helper()
	srv, err := d.hub.Serve(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.srv, d.url = srv, srv.URL
}

// cut takes the hub off the network: its listener is closed.
func (d *day) cut(t testing.TB) {
	if d.srv != nil {
		if err := d.srv.Close(); err != nil {
			t.Errorf("stopping the hub's server: %v", err)
		}
		d.srv = nil
	}
}

// start opens the workstation as a program run does: the ledger (unless still open), the sync
// store, the link to the hub, the key use case with the custodian logged in, and the desk.
func (d *day) start(t testing.TB) {
	t.Helper()
	var err error
	if d.led == nil {
		if d.led, err = ledger.Open(d.ledPath, ledger.Options{Check: ledger.CheckFile}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := upstream.NewClient(upstream.ClientConfig{URL: d.url, Workstation: deskWS, ServerKey: d.serverKey, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if d.st, err = upstream.OpenStore(d.stPath, d.led); err != nil {
		t.Fatal(err)
	}
	d.sync, d.cli = upstream.NewSyncer(c, d.st, upstream.SyncOptions{Ledger: d.led, Now: d.syncNow}), c
	d.keys = usecase.NewKeys(usecase.KeysConfig{
		Watch: device.WatchConfig{Modules: []*device.Module{d.mod}, NoUSB: true}, Custodian: "张伟",
		SealKeyID: "454301", Ledger: d.led, Workstation: deskWS, Anchors: []*x509.Certificate{d.ca},
	})
	if err := d.keys.Find(d.label); err != nil {
		t.Fatal(err)
	}
	if err := d.keys.Login(d.pin); err != nil {
		t.Fatal(err)
	}
	if d.seal, err = d.keys.Seal(); err != nil {
		t.Fatal(err)
	}
	d.desk = usecase.NewDesk(usecase.DeskConfig{
		Ledger: d.led, Store: d.st, ServerKey: d.serverKey, SealID: "SEAL-1", OutDir: d.out, Workstation: deskWS, Now: d.now,
		Online: func() bool { return d.sync.Status().Online }, Policy: upstream.Policy{MaxAge: time.Hour, MaxStamps: 3},
	})
}

// stop closes what start opened (the program quits), so another process can open the files.
func (d *day) stop() {
	if d.keys != nil {
		d.keys.Close()
	}
	if d.st != nil {
		d.st.Close()
	}
	if d.led != nil {
		d.led.Close()
	}
	d.keys, d.st, d.led, d.sync, d.cli, d.desk = nil, nil, nil, nil, nil, nil
}

func (d *day) add(t *testing.T, title string, pages int, allowed ...int) string {
	t.Helper()
	doc, err := d.hub.AddDocument(hub.NewDocument{Title: title, Department: "办公室", Requester: upstream.Person{ID: "u1", Name: "陈静"},
		Approvals: []upstream.Approval{{Approver: upstream.Person{ID: "a1", Name: "王主任"}, At: time.Now()}},
		SealID:    "SEAL-1", Workstation: deskWS, Copies: 2, AllowedPages: allowed, PDF: hub.SamplePDF(title, "", pages)})
	if err != nil {
		t.Fatal(err)
	}
	return doc.ID
}

func (d *day) syncOnce(t testing.TB) {
	t.Helper()
	if err := d.sync.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// request places the seal on page 1 (or the given page) of a queue document.
func (d *day) request(t *testing.T, id string, page int) usecase.StampRequest {
	t.Helper()
	file, err := d.desk.DocumentFile(id)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := pdfinspect.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := placement.AtViewMM(doc.Pages[page-1].Page, 150, 230, placement.Size{W: 119, H: 119})
	if err != nil {
		t.Fatal(err)
	}
	return usecase.StampRequest{DocID: id, Placement: pl, Image: pdftest.Seal(256)}
}

// kinds counts the ledger's records of each kind for one document.
func (d *day) kinds(t *testing.T, docID string) map[ledger.Kind]int {
	t.Helper()
	n := map[ledger.Kind]int{}
	if err := d.led.Records(1, func(r ledger.Record) error {
		if r.DocID == docID {
			n[r.Kind]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDeskDay: pull the queue, stamp (checked by our verifier and pdfsig), refuse a second use
// of the approval, return a document with a reason, refuse a page the approval does not
// allow, refuse a revoked seal; afterwards the hub holds what the workstation did and the
// ledger has one intent and one done or failed per attempt.
func TestDeskDay(t *testing.T) {
	d := newDay(t, nil)
	a := d.add(t, "关于办公用品采购的通知", 1)
	b := d.add(t, "技术服务合同", 3)
	c := d.add(t, "会议纪要", 2, 2) // the seal only on page 2
	e := d.add(t, "在职证明", 1)
	d.syncOnce(t)
	q, err := d.desk.Queue()
	if err != nil || len(q) != 4 || !q[0].Ready || q[0].Title != "关于办公用品采购的通知" || q[0].Approvers[0] != "王主任" || q[0].Copies != 2 {
		t.Fatalf("queue %+v, %v", q, err)
	}

	res, err := d.desk.Stamp(context.Background(), d.seal, d.request(t, a, 1))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.File(res.Out, verify.Options{Roots: d.seal.Chain[1:]})
	if err != nil || !rep.Valid || !rep.Trusted || len(rep.Signatures) != 1 {
		t.Fatalf("stamped file: %+v, %v", rep, err)
	}
	if valid, total, out := pdftest.Pdfsig(t, res.Out); valid != 1 || total != 1 {
		t.Fatalf("pdfsig: %d of %d valid\n%s", valid, total, out)
	}
	if k := d.kinds(t, a); k[ledger.KindStampIntent] != 1 || k[ledger.KindStampDone] != 1 {
		t.Fatalf("ledger for %s: %v", a, k)
	}
	if _, err := d.desk.Stamp(context.Background(), d.seal, usecase.StampRequest{DocID: a, Placement: d.request(t, b, 1).Placement, Image: pdftest.Seal(256), Out: filepath.Join(d.out, "again.pdf")}); err == nil || !strings.Contains(err.Error(), "already stamped") {
		t.Fatalf("second use of an approval: %v", err)
	}

	if _, err := d.desk.Reject(b, "  ", "张伟"); !errors.Is(err, usecase.ErrReasonRequired) {
		t.Fatalf("reject without a reason: %v", err)
	}
	if _, err := d.desk.Reject(b, "审批手续不全", "张伟"); err != nil {
		t.Fatal(err)
	}

	if _, err := d.desk.Stamp(context.Background(), d.seal, d.request(t, c, 1)); !errors.Is(err, usecase.ErrPageNotAllowed) || !strings.Contains(err.Error(), "page 1 (allowed: 2)") {
		t.Fatalf("a page the approval does not allow: %v", err)
	}
	if k := d.kinds(t, c); len(k) != 0 {
		t.Fatalf("a refused placement was recorded as a stamping: %v", k)
	}
	if _, err := d.desk.Stamp(context.Background(), d.seal, d.request(t, c, 2)); err != nil {
		t.Fatal(err)
	}

	// A revoked seal is refused, with the reason, and nothing is signed.
	reqE := d.request(t, e, 1)
	if err := d.hub.SetSeal(upstream.SealStatus{ID: "SEAL-1", Name: "公章", Status: upstream.SealRevoked, Reason: "密钥遗失"}); err != nil {
		t.Fatal(err)
	}
	d.syncOnce(t)
	if _, err := d.desk.Stamp(context.Background(), d.seal, reqE); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked seal: %v", err)
	}
	if k := d.kinds(t, e); len(k) != 0 {
		t.Fatalf("a refused stamping left records: %v", k)
	}

	// The hub has the results and the stamped files; the ledger chain is the same there.
	d.syncOnce(t)
	got, err := d.hub.Received()
	if err != nil || len(got) != 1 {
		t.Fatalf("hub received %+v, %v", got, err)
	}
	outcome := map[string]string{}
	for _, r := range got[0].Results {
		outcome[r.DocumentID] = r.Outcome
		if r.Outcome == upstream.OutcomeStamped {
			local, _ := os.ReadFile(filepath.Join(d.out, r.DocumentID+".pdf"))
			remote := filepath.Join(t.TempDir(), "remote.pdf")
			if err := d.cli.Download(context.Background(), r.OutputSHA256, r.OutputSize, remote); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(remote); !bytes.Equal(b, local) {
				t.Errorf("the hub's copy of %s differs from the workstation's", r.DocumentID)
			}
		}
	}
	if outcome[a] != upstream.OutcomeStamped || outcome[b] != upstream.OutcomeRejected || outcome[c] != upstream.OutcomeStamped || len(outcome) != 3 {
		t.Fatalf("hub outcomes %v", outcome)
	}
	if s := d.sync.Status(); s.Unsynced != 0 || s.Outbox != 0 {
		t.Fatalf("not everything went up: %+v", s)
	}
	if n, err := d.hub.VerifyChain(deskWS); err != nil || n != d.led.Size() {
		t.Fatalf("hub's copy of the ledger: %d records (workstation %d), %v", n, d.led.Size(), err)
	}
	// Once the custodian is logged in, the ledger's checkpoints are signed with the seal key.
	d.led.Append(ledger.Record{Kind: ledger.KindSettingsChanged, Setting: "test"})
	cp, err := d.led.Checkpoint()
	if err != nil || cp == nil {
		t.Fatalf("checkpoint after login: %+v, %v", cp, err)
	}
	der, _ := x509.MarshalPKIXPublicKey(d.seal.Cert().PublicKey)
	if ok, err := cp.VerifyBy([][]byte{der}); !ok || err != nil {
		t.Fatalf("the checkpoint is not signed by the logged-in seal key: %v %v", ok, err)
	}
}

// TestDeskRefusals: no stamping with the seal certificate outside its validity, a local file
// without a ticket only where the policy allows (then with an alarm), never over the original.
func TestDeskRefusals(t *testing.T) {
	later := func() time.Time { return time.Now().Add(48 * time.Hour) } // the test certificate lasts 24 h
	d := newDay(t, later)
	id := d.add(t, "通知", 1)
	d.syncOnce(t)
	if _, err := d.desk.Stamp(context.Background(), d.seal, d.request(t, id, 1)); !errors.Is(err, usecase.ErrSealCertificate) {
		t.Fatalf("expired seal certificate: %v", err)
	}
	if k := d.kinds(t, id); len(k) != 0 {
		t.Fatalf("refusal recorded as a stamping: %v", k)
	}

	local := filepath.Join(t.TempDir(), "local.pdf")
	os.WriteFile(local, pdftest.PDF(pdftest.Options{Pages: 1}), 0o600)
	req := usecase.StampRequest{File: local, Out: filepath.Join(d.out, "local-stamped.pdf"), Placement: d.request(t, id, 1).Placement, Image: pdftest.Seal(256)}
	if err := d.desk.Precheck(req); !errors.Is(err, usecase.ErrUnapproved) {
		t.Fatalf("unapproved file, policy off: %v", err)
	}

	allow := usecase.NewDesk(usecase.DeskConfig{Ledger: d.led, AllowUnapproved: true, OutDir: d.out, Workstation: deskWS})
	res, err := allow.Stamp(context.Background(), d.seal, req)
	if err != nil {
		t.Fatal(err)
	}
	var intent, done, alarm int
	d.led.Records(1, func(r ledger.Record) error {
		switch {
		case r.Kind == ledger.KindStampIntent && r.Reason == "no approval ticket" && r.InputHash == res.InputSHA256:
			intent++
		case r.Kind == ledger.KindStampDone && r.OutputHash == res.OutputSHA256 && r.Intent == res.Intent:
			done++
		case r.Kind == ledger.KindAlarm && r.Alarm == "unapproved-file":
			alarm++
		}
		return nil
	})
	if intent != 1 || done != 1 || alarm != 1 {
		t.Fatalf("local file records: intent %d done %d alarm %d", intent, done, alarm)
	}
	if _, err := allow.Stamp(context.Background(), d.seal, usecase.StampRequest{File: local, Out: local, Overwrite: true, Placement: req.Placement}); err == nil {
		t.Fatal("stamped over the original")
	}
}

// TestReconcile: intents left without a result (the process died between the intent and the
// done) are settled at the next start: an output that exists, begins with the approved bytes
// and verifies becomes done (and goes to the server); a missing one becomes failed.
func TestReconcile(t *testing.T) {
	d := newDay(t, nil)
	signed, missing := d.add(t, "已签未记", 1), d.add(t, "未签", 1)
	d.syncOnce(t)
	reqs := map[string]usecase.StampRequest{}
	for _, id := range []string{signed, missing} {
		req := d.request(t, id, 1)
		reqs[id] = req
		file, _ := d.desk.DocumentFile(id)
		raw, _ := os.ReadFile(file)
		out := filepath.Join(d.out, id+".pdf")
		cached, _ := d.st.Document(id)
		tk, err := ticket.Parse(cached.Ticket)
		if err != nil {
			t.Fatal(err)
		}
		// What Stamp writes before the key signs: the intent, naming its approval and output.
		if _, err := d.led.Append(ledger.Record{Kind: ledger.KindStampIntent, DocID: id, TicketID: tk.ID(), SealID: "SEAL-1", InputHash: sha256Hex(raw), Output: out}); err != nil {
			t.Fatal(err)
		}
		if id == signed {
			// The key signed and the file was written; then the power went.
			if _, err := stamp.SignFile(context.Background(), file, out, false, stamp.Request{Placement: req.Placement, Image: req.Image, Signer: d.seal.Signer, Chain: d.seal.Chain}); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := d.desk.Reconcile(d.seal)
	if err != nil || len(got) != 2 {
		t.Fatalf("reconciled %+v, %v", got, err)
	}
	for _, it := range got {
		switch it.DocID {
		case signed:
			if !it.Signed || it.Problem != "" {
				t.Errorf("signed output: %+v", it)
			}
		case missing:
			if it.Signed || !strings.Contains(it.Problem, "no output") {
				t.Errorf("missing output: %+v", it)
			}
		}
	}
	if left, _ := d.led.Interrupted(); len(left) != 0 {
		t.Fatalf("still interrupted: %+v", left)
	}
	if k := d.kinds(t, signed); k[ledger.KindStampDone] != 1 {
		t.Fatalf("signed: %v", k)
	}
	if k := d.kinds(t, missing); k[ledger.KindStampFailed] != 1 {
		t.Fatalf("missing: %v", k)
	}
	d.syncOnce(t)
	// The hub has both outcomes: the signed one stamped, the missing one failed (its approval
	// spent, TestFailedStampingSpendsTheApproval).
	rec, _ := d.hub.Received()
	outcomes := map[string]string{}
	for _, r := range rec {
		for _, res := range r.Results {
			outcomes[res.DocumentID] = res.Outcome
		}
	}
	if len(outcomes) != 2 || outcomes[signed] != upstream.OutcomeStamped || outcomes[missing] != upstream.OutcomeFailed {
		t.Fatalf("hub received %+v", rec)
	}
	// The failed one spent its approval: the queue says so instead of offering it, and it cannot
	// be opened for stamping.
	q, err := d.desk.Queue()
	if err != nil || len(q) != 1 || q[0].ID != missing || q[0].Ready || q[0].Problem != usecase.ErrApprovalSpent.Error() {
		t.Fatalf("queue after the failed stamping: %+v, %v", q, err)
	}
	if err := d.desk.Precheck(reqs[missing]); !errors.Is(err, usecase.ErrApprovalSpent) {
		t.Fatalf("precheck of the spent approval: %v", err)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestKeyRemovedWhileStamping: the key pulled out after the intent was recorded: the stamping
// fails with a clear error the window translates, the ledger says so (intent, then failed with
// the reason), no file is left, and the spent approval is not offered again.
func TestKeyRemovedWhileStamping(t *testing.T) {
	d := newDay(t, nil)
	id := d.add(t, "拔出钥匙", 1)
	d.syncOnce(t)
	req := d.request(t, id, 1)
	d.tok.Remove()
	_, err := d.desk.Stamp(context.Background(), d.seal, req)
	if !errors.Is(err, device.ErrKeyRemoved) {
		t.Fatalf("stamping with the key pulled out: %v", err)
	}
	if kind, _ := usecase.Explain(err); kind != usecase.ProblemKeyRemoved {
		t.Errorf("Explain says %q", kind)
	}
	k := d.kinds(t, id)
	if k[ledger.KindStampIntent] != 1 || k[ledger.KindStampFailed] != 1 || k[ledger.KindStampDone] != 0 {
		t.Fatalf("ledger: %v", k)
	}
	var reason string
	d.led.Records(1, func(r ledger.Record) error {
		if r.Kind == ledger.KindStampFailed && r.DocID == id {
			reason = r.Reason
		}
		return nil
	})
	if !strings.Contains(reason, "pulled out") {
		t.Errorf("the failed record's reason: %q", reason)
	}
	if got := alarmsIn(t, d.led, usecase.AlarmKeyRemoved); len(got) != 1 || got[0].DocID != id || !strings.Contains(got[0].Detail, "pulled out") {
		t.Errorf("key-removed alarms %+v", got)
	}
	if _, err := os.Stat(filepath.Join(d.out, id+".pdf")); err == nil {
		t.Error("a stamped file was left")
	}
	q, _ := d.desk.Queue()
	if len(q) != 1 || q[0].Ready {
		t.Fatalf("queue after the failure: %+v", q)
	}
}

// TestClockSetBackIsRefused (issue 16, "only the local clock is trusted"): after a stamping, the
// clock is set back a day. Stamping and returning are refused with the reason, nothing is
// signed, an alarm dated at the floor is recorded, and logins made meanwhile (records with the
// wrong time) do not lower the floor. With the clock right again, stamping works.
func TestClockSetBackIsRefused(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	d := newDay(t, clock)
	first, second := d.add(t, "正常", 1), d.add(t, "时钟倒退", 1)
	d.syncOnce(t)
	if _, err := d.desk.Stamp(context.Background(), d.seal, d.request(t, first, 1)); err != nil {
		t.Fatal(err)
	}
	right := now
	now = now.Add(-24 * time.Hour)
	for range 3 { // a few events with the wrong time: they do not lower the floor
		if _, err := d.led.Append(ledger.Record{Kind: ledger.KindLoginOK, Time: now}); err != nil {
			t.Fatal(err)
		}
	}
	req := d.request(t, second, 1)
	_, err := d.desk.Stamp(context.Background(), d.seal, req)
	if !errors.Is(err, usecase.ErrClockBehind) || !strings.Contains(err.Error(), "correct the clock") {
		t.Fatalf("stamping with the clock a day back: %v", err)
	}
	if _, err := d.desk.Reject(second, "测试", "张伟"); !errors.Is(err, usecase.ErrClockBehind) {
		t.Fatalf("returning with the clock a day back: %v", err)
	}
	if k := d.kinds(t, second); k[ledger.KindStampIntent] != 0 || k[ledger.KindRejected] != 0 {
		t.Fatalf("the refused acts were recorded: %v", k)
	}
	var alarms []ledger.Record
	d.led.Records(1, func(r ledger.Record) error {
		if r.Kind == ledger.KindAlarm && r.Alarm == "clock-behind" {
			alarms = append(alarms, r)
		}
		return nil
	})
	if len(alarms) != 2 || alarms[0].Time.Before(right.Add(-time.Minute)) || !strings.Contains(alarms[0].Detail, "the act was refused") {
		t.Fatalf("clock alarms %+v", alarms)
	}
	now = right.Add(time.Minute)
	if _, err := d.desk.Stamp(context.Background(), d.seal, req); err != nil {
		t.Fatalf("with the clock right again: %v", err)
	}
}

package ui

import (
	"context"
	"crypto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/softhsmtest"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/render"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// TestQueueStampAndReturn drives the queue screen by taps on Fyne's headless driver, over a
// real SoftHSM token, a real ledger file, the demo hub on 127.0.0.1 and the real use cases:
// the documents arrive with a sync round; nothing can be stamped before login; Stamp asks for
// confirmation, signs, and the stamped file verifies; Return needs a reason; the hub gets both.
// deskWindow is the window on real parts: a SoftHSM token, a ledger file, the demo hub on
// 127.0.0.1 (with more documents where a test adds them), the sync store and the use cases.
type deskWindow struct {
	u      *UI
	tok    *softhsmtest.Token
	h      *hub.Hub
	led    *ledger.Ledger
	syncer *upstream.Syncer
	keys   *usecase.Keys
	desk   *usecase.Desk
	cust   *usecase.Custody
	alarms *usecase.Alarms
	out    string
	pin    string // the token's user PIN
}

// deskKey is the seal key a desk window runs on: its module, public key (the ledger's slot),
// PIN, and the key use case's seal settings.
type deskKey struct {
	m    *device.Module
	pub  crypto.PublicKey
	pin  string
	keys usecase.KeysConfig // SealKeyID and, for a GM key, GMSeal and GMAnchors
}

func newDeskWindow(t *testing.T, ws string, setup func(h *hub.Hub, led *ledger.Ledger)) *deskWindow {
	t.Helper()
	tok := softhsmtest.New(t)
	w := newDeskWindowOn(t, ws, deskKey{m: tok.Open(t), pub: tok.ECCert.PublicKey, pin: tok.UserPIN, keys: usecase.KeysConfig{SealKeyID: "454301"}}, setup)
	w.tok = tok
	return w
}

// newDeskWindowOn is newDeskWindow on key (w.tok is then nil).
func newDeskWindowOn(t *testing.T, ws string, key deskKey, setup func(h *hub.Hub, led *ledger.Ledger)) *deskWindow {
	t.Helper()
	w := &deskWindow{out: t.TempDir(), pin: key.pin}
	m := key.m
	h, srv, err := hub.Demo(t.TempDir(), ws)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); h.Close() })
	w.h = h
	w.led, err = ledger.Create(filepath.Join(t.TempDir(), ledger.FileName), []ledger.Recipient{
		{Public: key.pub, Role: keyslot.RoleCustodian, Label: "张伟"},
	}, ledger.Options{Workstation: ws, Check: ledger.CheckFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.led.Close() })
	if setup != nil {
		setup(h, w.led)
	}
	c, err := upstream.NewClient(upstream.ClientConfig{URL: srv.URL, Workstation: ws, ServerKey: h.TicketKey(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st, err := upstream.OpenStore(filepath.Join(t.TempDir(), "sync.db"), w.led)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w.syncer = upstream.NewSyncer(c, st, upstream.SyncOptions{Ledger: w.led})
	w.alarms = usecase.NewAlarms(w.led, nil)
	kc := key.keys
	kc.Watch = device.WatchConfig{Modules: []*device.Module{m}, Interval: 50 * time.Millisecond, NoUSB: true}
	kc.Custodian, kc.Ledger, kc.Workstation, kc.Alarms = "张伟", w.led, ws, w.alarms
	w.keys = usecase.NewKeys(kc)
	r := render.New(render.Options{CacheDir: filepath.Join(os.TempDir(), "sealkeeper-test-pdfium")})
	t.Cleanup(func() { r.Close() })
	w.desk = usecase.NewDesk(usecase.DeskConfig{Ledger: w.led, Store: st, ServerKey: h.TicketKey(), SealID: hub.DemoSeal, OutDir: w.out,
		Workstation: ws, Keys: w.keys, Seal: usecase.SealArt{Image: pdftest.Seal(256), SizeMM: 42}, Renderer: r,
		Online: func() bool { return w.syncer.Status().Online }, Policy: upstream.Policy{MaxAge: time.Hour, MaxStamps: 5}, Alarms: w.alarms, Upstream: c})
	w.cust = usecase.NewCustody(usecase.CustodyConfig{Ledger: w.led, Store: st, Keys: w.keys, SealID: hub.DemoSeal, Workstation: ws,
		Online: func() bool { return w.syncer.Status().Online }, Policy: upstream.Policy{MaxAge: time.Hour, MaxStamps: 5}})
	w.u = New(test.NewTempApp(t), Options{Keys: w.keys, Sync: w.syncer, Desk: w.desk, Ledger: usecase.NewLedgerView(w.led), Custody: w.cust, Alarms: w.alarms,
		Demo: true, Language: LangEnglish})
	t.Cleanup(w.u.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.keys.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; w.keys.Close() })
	return w
}

// login syncs the queue in and logs in with the token's PIN.
func (w *deskWindow) login(t *testing.T, docs int) {
	t.Helper()
	u := w.u
	if err := w.syncer.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, u, "the sync round brings the documents", func() bool { return len(u.queue.items) == docs })
	eventually(t, u, "key found", func() bool { return w.keys.State().Phase == usecase.KeyPresent })
	if err := w.keys.Login(w.pin); err != nil {
		t.Fatal(err)
	}
	eventually(t, u, "logged in", func() bool { return w.keys.State().Phase == usecase.LoggedIn })
}

// TestQueueStampAndReturn drives the queue screen by taps on Fyne's headless driver, over a
// real SoftHSM token, a real ledger file, the demo hub on 127.0.0.1 and the real use cases:
// the documents arrive with a sync round; nothing can be stamped before login; Place seal opens
// the preview, the seal is dropped with the keyboard, Stamp asks for confirmation, signs, and
// the result screen shows the verifier's findings on the file; Return needs a reason; the hub
// gets both.
func TestQueueStampAndReturn(t *testing.T) {
	const ws = "WS-UI-QUEUE"
	var interrupted []uint64
	w := newDeskWindow(t, ws, func(_ *hub.Hub, led *ledger.Ledger) {
		// A stamping a crash cut short, before this start: its intent, and no output.
		var err error
		interrupted, err = led.Append(ledger.Record{Kind: ledger.KindStampIntent, DocID: "D00000005", DocTitle: "在职证明", SealID: hub.DemoSeal,
			InputHash: "00", Output: filepath.Join(t.TempDir(), "never-written.pdf")})
		if err != nil {
			t.Fatal(err)
		}
	})
	u, h, led, syncer, keys, tok, out := w.u, w.h, w.led, w.syncer, w.keys, w.tok, w.out

	q := u.queue
	eventually(t, u, "the empty queue says so", func() bool {
		return q.empty.Visible() && q.empty.Text == "No approved documents are waiting to be stamped."
	})
	if err := syncer.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, u, "the sync round brings the demo documents", func() bool { return len(q.items) == 5 && !q.empty.Visible() })
	u.mu.Lock()
	q.list.Select(0)
	u.mu.Unlock()
	eventually(t, u, "before login the first document cannot be stamped and says why", func() bool {
		return q.sel == 0 && q.stamp.Disabled() && strings.Contains(q.problem.Text, "Log in")
	})
	// Search narrows the list (every word must match), and says so when nothing matches.
	u.mu.Lock() // the sync loop's updates wait meanwhile
	test.Type(q.search, "no such document")
	if len(q.items) != 0 || !q.empty.Visible() || !strings.Contains(q.empty.Text, "No waiting document matches") {
		t.Errorf("a search matching nothing: %d items, %q", len(q.items), q.empty.Text)
	}
	q.search.SetText("")
	q.order.SetSelected("By title")
	u.mu.Unlock()
	for i := 1; i < len(q.items); i++ {
		if q.items[i-1].Title > q.items[i].Title {
			t.Errorf("sorted by title: %q before %q", q.items[i-1].Title, q.items[i].Title)
		}
	}
	u.mu.Lock()
	q.order.SetSelected("Oldest approval first")
	q.list.Select(0)
	u.mu.Unlock()
	eventually(t, u, "key found", func() bool { return keys.State().Phase == usecase.KeyPresent })
	if err := keys.Login(tok.UserPIN); err != nil {
		t.Fatal(err)
	}
	eventually(t, u, "logged in, Stamp is enabled", func() bool { return !q.stamp.Disabled() && q.problem.Text == "" })
	eventually(t, u, "the interrupted stamping is reconciled at login and shown", func() bool { return q.reconciled != nil })
	if open, _ := led.Interrupted(); len(open) != 0 {
		t.Fatalf("still interrupted after login: %+v", open)
	}
	var failed bool
	led.Records(interrupted[0], func(r ledger.Record) error {
		failed = failed || r.Kind == ledger.KindStampFailed && r.Intent == interrupted[0]
		return nil
	})
	if !failed {
		t.Fatal("no stamp.failed names the interrupted intent")
	}
	u.mu.Lock()
	q.reconciled.Hide()
	u.mu.Unlock()
	first := q.items[0]

	test.Tap(q.stamp)
	p := q.preview
	if p == nil {
		t.Fatalf("Place seal opened no preview: %q", q.problem.Text)
	}
	eventually(t, u, "the first page is drawn", func() bool { return p.view.pic != nil && p.view.pic.Image != nil })
	// The keyboard alone: the seal starts on the pointer at the default place; Enter drops it.
	if !p.placing || !p.stamp.Disabled() {
		t.Fatalf("preview opened not placing (%v) or with Stamp enabled", p.placing)
	}
	p.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if len(p.p.Layout().Seals) != 1 || p.stamp.Disabled() {
		t.Fatalf("Enter dropped no seal: %+v", p.p.Layout())
	}
	u.shortcut(scStamp) // Ctrl+Enter
	if p.confirm == nil || p.confirmOK == nil || !strings.Contains(p.confirmed, "seal on page 1 at") {
		t.Fatal("Ctrl+Enter opened no confirmation naming the place")
	}
	test.Tap(p.certify) // the first seal of this document certifies it
	test.Tap(p.confirmOK)
	eventually(t, u, "stamped: the result screen", func() bool { return q.done != nil })
	if !strings.HasPrefix(q.done.heading.Text, "Stamped “"+first.Title) || !formHas(q.done.form, "Signatures", "valid") ||
		!formHas(q.done.form, "Signature format", "CMS (PAdES / PKCS #7)") {
		t.Fatalf("result says %q", q.done.heading.Text)
	}
	test.Tap(q.done.back)
	eventually(t, u, "back in the queue, the document gone", func() bool {
		return q.preview == nil && strings.HasPrefix(q.result.Text, "Stamped “"+first.Title) && len(q.items) == 4
	})
	rep, err := verify.File(filepath.Join(out, first.ID+".pdf"), verify.Options{})
	if err != nil || !rep.Valid || len(rep.Signatures) != 1 || rep.Signatures[0].DocMDP != 2 {
		t.Fatalf("the window's stamped file (certified, DocMDP P=2): %+v, %v", rep, err)
	}

	u.mu.Lock()
	q.list.Select(0)
	u.mu.Unlock()
	eventually(t, u, "the next document is selected", func() bool { return q.sel == 0 && !q.reject.Disabled() })
	second := q.items[0]
	test.Tap(q.reject)
	r := q.returnD
	if r == nil {
		t.Fatal("Return opened no dialog")
	}
	test.Tap(r.ok)
	if r.err.Text != "Say why the document is returned: a reason is required." {
		t.Errorf("no reason: %q", r.err.Text)
	}
	test.Type(r.reason, "审批手续不全")
	test.Tap(r.ok)
	eventually(t, u, "returned and gone from the queue", func() bool {
		return q.returnD == nil && len(q.items) == 3 && strings.HasPrefix(q.result.Text, "Returned “"+second.Title)
	})

	if err := syncer.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec, err := h.Received()
	if err != nil || len(rec) != 1 || len(rec[0].Results) != 2 {
		t.Fatalf("hub received %+v, %v", rec, err)
	}
	got := map[string]string{}
	for _, r := range rec[0].Results {
		got[r.DocumentID] = r.Outcome
	}
	if got[first.ID] != upstream.OutcomeStamped || got[second.ID] != upstream.OutcomeRejected {
		t.Fatalf("hub outcomes %v", got)
	}
}

// formHas tells whether a form has a row whose label is key and whose value is want.
func formHas(f *widget.Form, key, want string) bool {
	for _, it := range f.Items {
		if l, ok := it.Widget.(*widget.Label); ok && it.Text == key && l.Text == want {
			return true
		}
	}
	return false
}

// TestQueueSaysTheSealIsRevoked: the hub revokes the seal; after the round that brings the
// list, the queue's documents cannot be stamped and the window says why in its words, with
// the server's reason beside them.
func TestQueueSaysTheSealIsRevoked(t *testing.T) {
	w := newDeskWindow(t, "WS-UI-REVOKED", func(h *hub.Hub, _ *ledger.Ledger) {
		if err := h.SetSeal(upstream.SealStatus{ID: hub.DemoSeal, Name: "示范公章", Status: upstream.SealRevoked, Reason: "印章遗失"}); err != nil {
			t.Fatal(err)
		}
	})
	w.login(t, 5)
	u, q := w.u, w.u.queue
	u.mu.Lock()
	q.list.Select(0)
	u.mu.Unlock()
	eventually(t, u, "the selected document says the seal is revoked, and why", func() bool {
		return q.sel == 0 && q.stamp.Disabled() && strings.Contains(q.problem.Text, "The seal is revoked") && strings.Contains(q.problem.Text, "印章遗失")
	})
}

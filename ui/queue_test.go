package ui

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/softhsmtest"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
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
func TestQueueStampAndReturn(t *testing.T) {
	const ws = "WS-UI-QUEUE"
	tok := softhsmtest.New(t)
	m := tok.Open(t)
	h, srv, err := hub.Demo(t.TempDir(), ws)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); h.Close() })
	led, err := ledger.Create(filepath.Join(t.TempDir(), ledger.FileName), []ledger.Recipient{
		{Public: tok.ECCert.PublicKey, Role: keyslot.RoleCustodian, Label: "张伟"},
	}, ledger.Options{Workstation: ws, Check: ledger.CheckFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	// A stamping a crash cut short, before this start: its intent, and no output.
	interrupted, err := led.Append(ledger.Record{Kind: ledger.KindStampIntent, DocID: "D00000005", DocTitle: "在职证明", SealID: hub.DemoSeal,
		InputHash: "00", Output: filepath.Join(t.TempDir(), "never-written.pdf")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := upstream.NewClient(upstream.ClientConfig{URL: srv.URL, Workstation: ws, ServerKey: h.TicketKey(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st, err := upstream.OpenStore(filepath.Join(t.TempDir(), "sync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	syncer := upstream.NewSyncer(c, st, upstream.SyncOptions{Ledger: led})
	keys := usecase.NewKeys(usecase.KeysConfig{
		Watch:     device.WatchConfig{Modules: []*device.Module{m}, Interval: 50 * time.Millisecond, NoUSB: true},
		Custodian: "张伟", SealKeyID: "454301", Ledger: led, Workstation: ws,
	})
	out := t.TempDir()
	desk := usecase.NewDesk(usecase.DeskConfig{Ledger: led, Store: st, ServerKey: h.TicketKey(), SealID: hub.DemoSeal, OutDir: out,
		Workstation: ws, Keys: keys, Seal: usecase.SealArt{Image: pdftest.Seal(256), SizeMM: 42},
		Online: func() bool { return syncer.Status().Online }, Policy: upstream.Policy{MaxAge: time.Hour, MaxStamps: 5}})
	u := New(test.NewTempApp(t), Options{Keys: keys, Sync: syncer, Desk: desk, Demo: true, Language: LangEnglish})
	t.Cleanup(u.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { keys.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; keys.Close() })

	q := u.queue
	if !q.empty.Visible() || q.empty.Text != "No approved documents are waiting to be stamped." {
		t.Errorf("empty queue says %q", q.empty.Text)
	}
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
	if q.confirm == nil || q.confirmOK == nil {
		t.Fatal("Stamp opened no confirmation")
	}
	test.Tap(q.confirmOK)
	eventually(t, u, "stamped and gone from the queue", func() bool {
		return strings.HasPrefix(q.result.Text, "Stamped “"+first.Title) && len(q.items) == 4
	})
	rep, err := verify.File(filepath.Join(out, first.ID+".pdf"), verify.Options{})
	if err != nil || !rep.Valid || len(rep.Signatures) != 1 {
		t.Fatalf("the window's stamped file: %+v, %v", rep, err)
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

package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/app/workspace"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// TestLedgerVerifyAlarm (RULES.md 13): the demo workspace's ledger is broken between two runs
// (a byte of a record flipped with bbolt, as an attacker with the file would). The next start
// finds it (the file is moved aside) and raises ledger-verify; with no ledger to write it to,
// the alarm is shown (Alarms.Open, the status bar's source) and goes to the hub on 127.0.0.1
// in the heartbeat; every later start says so again until a ledger is restored.
func TestLedgerVerifyAlarm(t *testing.T) {
	needSoftHSM(t)
	demo := filepath.Join(t.TempDir(), "demo")
	if _, err := workspace.ProvisionDemo(demo, io.Discard); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(demo, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	open := func() *workspace.Workspace {
		t.Helper()
		w, err := workspace.Open(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	w := open()
	if len(w.Problems) > 0 || w.Ledger == nil {
		t.Fatalf("the demo workspace before the damage: %v", w.Problems)
	}
	if err := w.Link.Syncer.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	w.Close()

	path := filepath.Join(cfg.Data(), "ledger.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("records"))
		k, v := b.Cursor().First()
		if k == nil {
			return errors.New("the demo ledger has no record")
		}
		v = append([]byte(nil), v...)
		v[len(v)-1] ^= 1
		return b.Put(k, v)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	shown := func(w *workspace.Workspace, want string) {
		t.Helper()
		open, err := w.Alarms.Open()
		if err != nil || len(open) != 1 || open[0].Name != usecase.AlarmLedgerVerify || open[0].Seq != 0 || !strings.Contains(open[0].Detail, want) {
			t.Fatalf("alarms shown: %+v, %v; want one ledger-verify saying %q", open, err, want)
		}
		if err := w.Alarms.Acknowledge(open[0].Seq, "张伟"); !errors.Is(err, usecase.ErrAlarmWaiting) {
			t.Fatalf("acknowledging an alarm with no ledger to record it: %v", err)
		}
	}
	w = open()
	if w.Ledger != nil || len(w.Problems) == 0 || !strings.Contains(w.Problems[0].Error(), "moved aside") {
		t.Fatalf("opening the damaged ledger: ledger %v, problems %v", w.Ledger != nil, w.Problems)
	}
	shown(w, "moved aside")
	if err := w.Link.Syncer.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	w.Close()
	h, err := hub.Open(cfg.Resolve(cfg.Demo.HubData), hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wss, err := h.Workstations()
	h.Close()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ws := range wss {
		if ws.Name == cfg.Workstation && ws.Heartbeat != nil {
			for _, a := range ws.Heartbeat.Alarms {
				got = append(got, a.Name+": "+a.Detail)
			}
		}
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], usecase.AlarmLedgerVerify+": opening the ledger") {
		t.Fatalf("the hub's last heartbeat from %s holds the alarms %q", cfg.Workstation, got)
	}

	// The next start: no ledger, only the moved file; the alarm is raised again.
	w = open()
	defer w.Close()
	if len(w.Problems) == 0 || !errors.Is(w.Problems[0], workspace.ErrLedgerMovedAside) {
		t.Fatalf("the start after the ledger was moved aside: %v", w.Problems)
	}
	shown(w, "ledger.db.corrupt-")
}

package ui

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// TestStatusBarFollowsTheServer runs the demo hub on 127.0.0.1 and a real sync loop: the status
// bar says online once a round reached it, and offline after the hub is gone.
func TestStatusBarFollowsTheServer(t *testing.T) {
	h, srv, err := hub.Demo(t.TempDir(), "WS-UI")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c, err := upstream.NewClient(upstream.ClientConfig{URL: srv.URL, Workstation: "WS-UI", ServerKey: h.TicketKey(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st, err := upstream.OpenStore(filepath.Join(t.TempDir(), "sync.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	syncer := upstream.NewSyncer(c, st, upstream.SyncOptions{})

	u, _, _ := window(t, LangEnglish, device.PINPolicy{}, syncer)
	defer u.Close()
	if got := u.bar.sync.Text; got != "Offline" {
		t.Errorf("before any round: %q, want Offline", got)
	}
	if err := syncer.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, u, "online after a round reached the hub", func() bool { return strings.HasPrefix(u.bar.sync.Text, "Online") })

	srv.Close()
	_ = syncer.SyncOnce(context.Background()) // fails: nobody listens any more
	eventually(t, u, "offline after the hub went away, with the time of the last sync", func() bool {
		return strings.HasPrefix(u.bar.sync.Text, "Offline · last sync ") && strings.Contains(u.bar.sync.Text, syncer.Status().LastContact.Local().Format("15:04"))
	})
}

// TestStartupProblemsAreShown: a problem found while starting (here: a ledger file moved aside)
// is put in front of the custodian in a dialog, not only in the log.
func TestStartupProblemsAreShown(t *testing.T) {
	u, _, _ := window(t, LangEnglish, device.PINPolicy{})
	u.opt.Problems = []error{errors.New("ledger /data/ledger.db is damaged and was moved aside to /data/ledger.db.corrupt-1")}
	u.mu.Lock()
	u.showProblems()
	u.mu.Unlock()
	if u.problems == nil || u.win.Canvas().Overlays().Top() == nil {
		t.Fatal("no dialog shows the start-up problem")
	}
}

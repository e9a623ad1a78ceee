package ui

import (
	"context"
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
	st, err := upstream.OpenStore(filepath.Join(t.TempDir(), "sync.db"))
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
	eventually(t, u, "offline after the hub went away", func() bool { return strings.HasPrefix(u.bar.sync.Text, "Offline") })
}

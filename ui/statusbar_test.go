package ui

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/store/ledger"
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

// TestStatusBarAlarmWithoutLedger: the ledger failed its checks at start (workspace.Open then
// raises ledger-verify over no ledger): the bar shows the alarm, which cannot be acknowledged
// (there is no chain to record that in).
func TestStatusBarAlarmWithoutLedger(t *testing.T) {
	u, _, _ := window(t, LangEnglish, device.PINPolicy{})
	alarms := usecase.NewAlarms(nil, nil)
	if err := alarms.Raise(ledger.Record{Alarm: usecase.AlarmLedgerVerify, Detail: "opening the ledger: record 3: bad tag"}); !errors.Is(err, usecase.ErrNoLedger) {
		t.Fatalf("raising an alarm with no ledger: %v", err)
	}
	u.mu.Lock()
	u.opt.Alarms = alarms
	u.bar.refreshAlarms()
	u.mu.Unlock()
	eventually(t, u, "the ledger alarm is shown, not acknowledgeable", func() bool {
		return u.bar.alarmsBox.Visible() && strings.HasPrefix(u.bar.alarms.Text, "1 alarm(s): ledger does not verify") && u.bar.ack.Disabled()
	})
}

// TestStatusBarAlarms: three wrong PINs raise an alarm the status bar shows at once, while
// nobody is logged in (it cannot be acknowledged yet: it is not in the ledger's chain); after
// the login it can, a tap on Acknowledge records that in the ledger, and the bar clears.
func TestStatusBarAlarms(t *testing.T) {
	w := newDeskWindow(t, "WS-UI-ALARM", nil)
	w.led.Lock() // as at start: nobody has logged in yet
	u, b := w.u, w.u.bar
	eventually(t, u, "key found, no alarm shown", func() bool {
		return w.keys.State().Phase == usecase.KeyPresent && !b.alarmsBox.Visible()
	})
	for range 3 {
		if err := w.keys.Login("999999"); !errors.Is(err, usecase.ErrWrongPIN) {
			t.Fatalf("wrong PIN: %v", err)
		}
	}
	eventually(t, u, "the alarm is shown, not yet acknowledgeable", func() bool {
		return b.alarmsBox.Visible() && strings.HasPrefix(b.alarms.Text, "1 alarm(s): repeated wrong PINs") && b.ack.Disabled()
	})
	if err := w.keys.Login(w.tok.UserPIN); err != nil {
		t.Fatal(err)
	}
	eventually(t, u, "logged in, the alarm is in the chain and can be acknowledged", func() bool {
		return b.alarmsBox.Visible() && b.oldest.Seq != 0 && !b.ack.Disabled()
	})
	u.mu.Lock()
	seq := b.oldest.Seq
	u.mu.Unlock()
	test.Tap(b.ack)
	eventually(t, u, "acknowledged, the bar shows no alarm", func() bool { return !b.alarmsBox.Visible() })
	var acks []ledger.Record
	if err := w.led.Records(1, func(r ledger.Record) error {
		if r.Kind == ledger.KindAlarmAck {
			acks = append(acks, r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(acks) != 1 || acks[0].AlarmSeq != seq || acks[0].Custodian != "张伟" || acks[0].Alarm != usecase.AlarmWrongPINs {
		t.Fatalf("acknowledgements in the ledger: %+v", acks)
	}
}

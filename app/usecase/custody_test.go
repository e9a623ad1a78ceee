package usecase_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/softhsmtest"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/pinages"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// alarmsIn lists the ledger's alarm records by name.
func alarmsIn(t *testing.T, led *ledger.Ledger, name string) []ledger.Record {
	t.Helper()
	var out []ledger.Record
	if err := led.Records(1, func(r ledger.Record) error {
		if r.Kind == ledger.KindAlarm && r.Alarm == name {
			out = append(out, r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// deskWith is the day's desk again, with what a test changes.
func (d *day) deskWith(change func(*usecase.DeskConfig)) *usecase.Desk {
	cfg := usecase.DeskConfig{
		Ledger: d.led, Store: d.st, ServerKey: d.serverKey, SealID: "SEAL-1", OutDir: d.out, Workstation: deskWS, Now: d.now,
		Online: func() bool { return d.sync.Status().Online }, Policy: upstream.Policy{MaxAge: time.Hour, MaxStamps: 3},
	}
	change(&cfg)
	return usecase.NewDesk(cfg)
}

// TestSealRevokedOffline (RULES.md 11): the hub suspends, then revokes the seal; the list is
// pulled, the network is cut, and the workstation still refuses, saying why (the reason and
// the time), in the queue, at opening and at stamping, for a local file too. Each try is an
// alarm, and the alarms reach the hub at the next round, ahead of everything else.
func TestSealRevokedOffline(t *testing.T) {
	d := newDay(t, nil)
	id := d.add(t, "吊销后的文件", 1)
	d.syncOnce(t)
	req := d.request(t, id, 1)

	for _, c := range []struct {
		status, reason, kind string
		is                   error
	}{
		{upstream.SealSuspended, "印章停用审查", usecase.ProblemSealSuspended, upstream.ErrSealSuspended},
		{upstream.SealRevoked, "密钥遗失", usecase.ProblemSealRevoked, upstream.ErrSealRevoked},
	} {
		if err := d.hub.SetSeal(upstream.SealStatus{ID: "SEAL-1", Name: "公章", Status: c.status, Reason: c.reason}); err != nil {
			t.Fatal(err)
		}
		d.syncOnce(t)
		hubURL := d.url
		d.cut(t)
		if err := d.sync.SyncOnce(context.Background()); err == nil {
			t.Fatal("a round succeeded with the network cut")
		}
		q, err := d.desk.Queue()
		if err != nil || len(q) != 1 || q[0].Ready || q[0].ProblemKind != c.kind || !strings.Contains(q[0].Problem, c.reason) {
			t.Fatalf("%s: queue %+v, %v", c.status, q, err)
		}
		if _, err := d.desk.DocumentFile(id); !errors.Is(err, c.is) {
			t.Fatalf("%s: opening the document: %v", c.status, err)
		}
		_, err = d.desk.Stamp(context.Background(), d.seal, req)
		if kind, _ := usecase.Explain(err); !errors.Is(err, c.is) || kind != c.kind || !strings.Contains(err.Error(), c.reason) {
			t.Fatalf("%s: stamping offline: %v (kind %q)", c.status, err, kind)
		}
		u, _ := url.Parse(hubURL)
		d.serve(t, u.Host)
	}
	if k := d.kinds(t, id); k[ledger.KindStampIntent] != 0 {
		t.Fatalf("a refused stamping was recorded: %v", k)
	}

	// A local file is stamped with the same seal: refused as well.
	local := filepath.Join(t.TempDir(), "local.pdf")
	if err := os.WriteFile(local, pdftest.PDF(pdftest.Options{Pages: 1}), 0o600); err != nil {
		t.Fatal(err)
	}
	free := d.deskWith(func(c *usecase.DeskConfig) { c.AllowUnapproved = true })
	if _, err := free.Stamp(context.Background(), d.seal, usecase.StampRequest{File: local, Out: local + ".out.pdf", Placement: req.Placement, Image: req.Image}); !errors.Is(err, upstream.ErrSealRevoked) {
		t.Fatalf("a local file with the revoked seal: %v", err)
	}
	tried := alarmsIn(t, d.led, usecase.AlarmRevokedSeal)
	if len(tried) < 3 || !strings.Contains(tried[len(tried)-1].Detail, "密钥遗失") {
		t.Fatalf("revoked-seal alarms %+v", tried)
	}
	d.syncOnce(t)
	if n, err := d.hub.VerifyChain(deskWS); err != nil || n != d.led.Size() {
		t.Fatalf("the hub holds %d records of %d: %v", n, d.led.Size(), err)
	}
}

// TestClockAgainstTheServer: the server's time at the last heartbeat is a floor (a clock set
// behind it is refused, with an alarm), a clock found ahead of it at a heartbeat raises a
// clock-jump alarm once, and so does a clock far past the newest record.
func TestClockAgainstTheServer(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	d := newDay(t, clock)
	first, second := d.add(t, "服务器时间", 1), d.add(t, "时钟跳变", 1)
	d.syncOnce(t) // the heartbeat's time is the hub's, later than every record

	now = time.Now().Add(-2 * time.Hour)
	_, err := d.desk.Stamp(context.Background(), d.seal, d.request(t, first, 1))
	if !errors.Is(err, usecase.ErrClockBehind) || !strings.Contains(err.Error(), "the server's time") {
		t.Fatalf("stamping two hours behind the server: %v", err)
	}
	if got := alarmsIn(t, d.led, usecase.AlarmClockBehind); len(got) != 1 || !strings.Contains(got[0].Detail, "the server's time") {
		t.Fatalf("clock-behind alarms %+v", got)
	}

	// The workstation's clock an hour ahead at the heartbeat.
	ahead := upstream.NewSyncer(d.cli, d.st, upstream.SyncOptions{Ledger: d.led, Now: func() time.Time { return time.Now().Add(time.Hour) }})
	if err := ahead.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	now = time.Now().Add(time.Hour)
	desk := d.deskWith(func(c *usecase.DeskConfig) { c.MaxClockJump = 7 * 24 * time.Hour })
	if _, err := desk.Stamp(context.Background(), d.seal, d.request(t, first, 1)); err != nil {
		t.Fatal(err)
	}
	jumps := alarmsIn(t, d.led, usecase.AlarmClockJump)
	if len(jumps) != 1 || !strings.Contains(jumps[0].Detail, "ahead of the server's") {
		t.Fatalf("clock-jump alarms after a heartbeat an hour ahead: %+v", jumps)
	}

	// Forty days after the last record, past the policy's seven.
	now = now.Add(40 * 24 * time.Hour)
	req := d.request(t, second, 1)
	_, err = desk.Stamp(context.Background(), d.seal, req) // the approval has expired by then
	jumps = alarmsIn(t, d.led, usecase.AlarmClockJump)
	if len(jumps) != 2 || !strings.Contains(jumps[1].Detail, "more than the 168h0m0s the policy allows") {
		t.Fatalf("clock-jump alarms 40 days on (stamping: %v): %+v", err, jumps)
	}
	// The alarm moved the floor: trying again raises no second one.
	_, _ = desk.Stamp(context.Background(), d.seal, req)
	if n := len(alarmsIn(t, d.led, usecase.AlarmClockJump)); n != 2 {
		t.Fatalf("%d clock-jump alarms after a second try", n)
	}

	// The next round takes them to the hub, and they are shown until acknowledged.
	d.syncOnce(t)
	if n, err := d.hub.VerifyChain(deskWS); err != nil || n != d.led.Size() || n < jumps[1].Seq {
		t.Fatalf("the hub holds %d records of %d (the last clock-jump alarm is %d): %v", n, d.led.Size(), jumps[1].Seq, err)
	}
	clockAlarms := func() []usecase.Alarm {
		t.Helper()
		open, err := usecase.NewAlarms(d.led, nil).Open() // as the next start reads them
		if err != nil {
			t.Fatal(err)
		}
		var out []usecase.Alarm
		for _, a := range open {
			if a.Name == usecase.AlarmClockJump || a.Name == usecase.AlarmClockBehind {
				out = append(out, a)
			}
		}
		return out
	}
	shown := clockAlarms()
	if len(shown) != 3 || shown[1].Seq != jumps[0].Seq || shown[2].Seq != jumps[1].Seq {
		t.Fatalf("clock alarms shown: %+v", shown)
	}
	alarms := usecase.NewAlarms(d.led, nil)
	for _, a := range shown {
		if err := alarms.Acknowledge(a.Seq, "张伟"); err != nil {
			t.Fatal(err)
		}
	}
	if left := clockAlarms(); len(left) != 0 {
		t.Fatalf("clock alarms shown after they were acknowledged: %+v", left)
	}
}

// TestOutOfHours: a stamping outside the configured working hours goes ahead, with an alarm in
// its transaction; inside them there is none.
func TestOutOfHours(t *testing.T) {
	d := newDay(t, nil)
	in, out := d.add(t, "上班时间", 1), d.add(t, "下班以后", 1)
	d.syncOnce(t)
	now := time.Now()
	hm := func(t time.Time) string { return t.Format("15:04") }
	inside, err := usecase.ParseWorkingHours(fmt.Sprintf("%s-%s", hm(now.Add(-time.Hour)), hm(now.Add(time.Hour))))
	if err != nil {
		t.Fatal(err)
	}
	outside, err := usecase.ParseWorkingHours(fmt.Sprintf("sun-sat %s-%s", hm(now.Add(time.Hour)), hm(now.Add(2*time.Hour))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.deskWith(func(c *usecase.DeskConfig) { c.WorkingHours = inside }).Stamp(context.Background(), d.seal, d.request(t, in, 1)); err != nil {
		t.Fatal(err)
	}
	if got := alarmsIn(t, d.led, usecase.AlarmOutOfHours); len(got) != 0 {
		t.Fatalf("alarm within the working hours (%s): %+v", inside, got)
	}
	res, err := d.deskWith(func(c *usecase.DeskConfig) { c.WorkingHours = outside }).Stamp(context.Background(), d.seal, d.request(t, out, 1))
	if err != nil {
		t.Fatal(err)
	}
	got := alarmsIn(t, d.led, usecase.AlarmOutOfHours)
	if len(got) != 1 || got[0].Seq != res.Intent+1 || !strings.Contains(got[0].Detail, outside.String()) {
		t.Fatalf("out-of-hours alarms %+v (intent %d)", got, res.Intent)
	}
}

func TestParseWorkingHours(t *testing.T) {
	mon := time.Date(2026, 11, 30, 0, 0, 0, 0, time.Local) // a Monday
	for _, c := range []struct {
		spec string
		at   time.Time
		want bool
	}{
		{"", mon.Add(3 * time.Hour), true},
		{"mon-fri 08:30-17:30", mon.Add(9 * time.Hour), true},
		{"mon-fri 08:30-17:30", mon.Add(8 * time.Hour), false},
		{"mon-fri 08:30-17:30", mon.Add(17*time.Hour + 30*time.Minute), false},
		{"mon-fri 08:30-17:30", mon.Add(-24*time.Hour + 10*time.Hour), false}, // Sunday
		{"sat,sun 09:00-12:00", mon.Add(-24*time.Hour + 10*time.Hour), true},
		{"fri-mon 22:00-06:00", mon.Add(5 * time.Hour), true},            // Monday night shift
		{"mon 22:00-06:00", mon.Add(24*time.Hour + 5*time.Hour), true},   // Tuesday morning, Monday's shift
		{"mon 22:00-06:00", mon.Add(24*time.Hour + 23*time.Hour), false}, // Tuesday night
	} {
		w, err := usecase.ParseWorkingHours(c.spec)
		if err != nil {
			t.Fatalf("%q: %v", c.spec, err)
		}
		if got := w.Within(c.at); got != c.want {
			t.Errorf("%q at %s: %v, want %v", c.spec, c.at.Format("Mon 15:04"), got, c.want)
		}
	}
	for _, bad := range []string{"8-17", "mon-fry 08:00-17:00", "mon 08:00", "mon tue 08:00-09:00"} {
		if _, err := usecase.ParseWorkingHours(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// custodianKeys is a key use case over a fresh token whose ledger has the token's slot, found
// without the watcher (as the command line does), on an injected clock.
func custodianKeys(t *testing.T, policy device.PINPolicy, now func() time.Time, ages *pinages.Ages) (*softhsmtest.Token, *usecase.Keys, *ledger.Ledger, *usecase.Alarms) {
	t.Helper()
	tok := softhsmtest.New(t)
	m := tok.Open(t)
	led, err := ledger.Create(filepath.Join(t.TempDir(), "ledger.db"), []ledger.Recipient{{Public: tok.ECCert.PublicKey, Role: keyslot.RoleCustodian, Label: "张伟"}},
		ledger.Options{Workstation: "WS-1", Check: ledger.CheckFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	led.Lock()
	alarms := usecase.NewAlarms(led, nil)
	k := usecase.NewKeys(usecase.KeysConfig{
		Watch: device.WatchConfig{Modules: []*device.Module{m}, NoUSB: true}, Policy: policy, Ages: ages, Now: now,
		Custodian: "张伟", SealKeyID: "454301", Ledger: led, Workstation: "WS-1", Anchors: []*x509.Certificate{tok.CA}, Alarms: alarms,
	})
	t.Cleanup(k.Close)
	if err := k.Find(""); err != nil {
		t.Fatal(err)
	}
	return tok, k, led, alarms
}

// TestPINAgeFromTheLedger (RULES.md 3): a new key's PIN must be changed at first use; the
// change is a ledger record, which is what the policy reads (the side file saying otherwise
// changes nothing); a week before expiry the state warns; past it, the change is forced and the
// seal does not sign.
func TestPINAgeFromTheLedger(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	ages, err := pinages.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tok, k, led, _ := custodianKeys(t, device.PINPolicy{ChangeInitial: true, MaxAge: 60 * 24 * time.Hour}, clock, ages)
	if err := k.Login(tok.UserPIN); err != nil {
		t.Fatal(err)
	}
	if pc := k.State().PINChange; pc.Kind != usecase.PINChangeInitial {
		t.Fatalf("first use of a new key: %+v", pc)
	}
	if _, err := k.Seal(); err == nil {
		t.Fatal("the seal signs before the initial PIN is changed")
	}
	const newPIN = "246813"
	if err := k.ChangePIN(tok.UserPIN, newPIN); err != nil {
		t.Fatal(err)
	}
	if pc := k.State().PINChange; pc.Kind != usecase.NoPINChange || pc.Soon || !pc.Due.Equal(now.Add(60*24*time.Hour).UTC()) {
		t.Fatalf("after the change: %+v", pc)
	}
	var changes []ledger.Record
	led.Records(1, func(r ledger.Record) error {
		if r.Kind == ledger.KindPINChanged {
			changes = append(changes, r)
		}
		return nil
	})
	if len(changes) != 1 || changes[0].Token != tok.Serial || !changes[0].Time.Equal(now.UTC()) {
		t.Fatalf("pin.changed records %+v", changes)
	}
	// The side file says the PIN was changed yesterday-in-the-future: the ledger wins.
	if err := ages.Record(tok.Serial, now.Add(100*24*time.Hour)); err != nil {
		t.Fatal(err)
	}

	relogin := func(at time.Duration) usecase.PINChange {
		t.Helper()
		k.Logout()
		now = changes[0].Time.Add(at)
		if err := k.Login(newPIN); err != nil {
			t.Fatal(err)
		}
		return k.State().PINChange
	}
	if pc := relogin(52 * 24 * time.Hour); pc.Kind != usecase.NoPINChange || pc.Soon {
		t.Fatalf("52 days on: %+v", pc)
	}
	if pc := relogin(54 * 24 * time.Hour); pc.Kind != usecase.NoPINChange || !pc.Soon {
		t.Fatalf("54 days on, 6 before expiry: %+v", pc)
	}
	if _, err := k.Seal(); err != nil {
		t.Fatalf("a warning does not stop the seal: %v", err)
	}
	pc := relogin(61 * 24 * time.Hour)
	if pc.Kind != usecase.PINChangeTooOld || !pc.LastChanged.Equal(changes[0].Time) {
		t.Fatalf("61 days on: %+v", pc)
	}
	if _, err := k.Seal(); err == nil || !strings.Contains(err.Error(), "change the PIN first") {
		t.Fatalf("the seal with an expired PIN: %v", err)
	}
	if err := k.ChangePIN(newPIN, tok.UserPIN); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Seal(); err != nil {
		t.Fatalf("after changing the expired PIN: %v", err)
	}
}

// TestWrongPINsAcrossRuns (RULES.md 13): wrong PINs are counted across runs, as the command
// line makes one per command: two tries in one run, one in the next raise the alarm there (in
// its heartbeat list too, sealed in the ledger); a fourth in a third run raises no second one;
// a good login ends the count, and two more wrong ones after it raise none.
func TestWrongPINsAcrossRuns(t *testing.T) {
	tok := softhsmtest.New(t)
	m := tok.Open(t)
	data := t.TempDir()
	path := filepath.Join(data, "ledger.db")
	opts := ledger.Options{Workstation: "WS-1", Check: ledger.CheckFile}
	led, err := ledger.Create(path, []ledger.Recipient{{Public: tok.ECCert.PublicKey, Role: keyslot.RoleCustodian, Label: "张伟"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	led.Close()
	// run opens the workstation as a new process would (the ledger, the PIN ages file), tries
	// the PINs, and returns the alarms shown then (after inspect, if set, read the ledger).
	var inspect func(*ledger.Ledger)
	run := func(pins ...string) []usecase.Alarm {
		t.Helper()
		led, err := ledger.Open(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer led.Close()
		ages, err := pinages.Load(data)
		if err != nil {
			t.Fatal(err)
		}
		alarms := usecase.NewAlarms(led, nil)
		k := usecase.NewKeys(usecase.KeysConfig{Watch: device.WatchConfig{Modules: []*device.Module{m}, NoUSB: true}, Ages: ages,
			Custodian: "张伟", SealKeyID: "454301", Ledger: led, Workstation: "WS-1", Anchors: []*x509.Certificate{tok.CA}, Alarms: alarms})
		defer k.Close()
		if err := k.Find(""); err != nil {
			t.Fatal(err)
		}
		for _, pin := range pins {
			err := k.Login(pin)
			if pin == tok.UserPIN && err != nil || pin != tok.UserPIN && !errors.Is(err, device.ErrWrongPIN) {
				t.Fatalf("login with %q: %v", pin, err)
			}
		}
		open, err := alarms.Open()
		if err != nil && !errors.Is(err, usecase.ErrLedgerLocked) {
			t.Fatal(err)
		}
		if got := alarms.Unrecorded(); k.State().Phase != usecase.LoggedIn && len(got) != len(open) {
			t.Fatalf("alarms for the heartbeat %+v, shown %+v", got, open)
		}
		if inspect != nil {
			inspect(led)
		}
		k.Logout()
		return open
	}
	if open := run("111111", "222222"); len(open) != 0 {
		t.Fatalf("two wrong PINs: alarms %+v", open)
	}
	open := run("333333")
	if len(open) != 1 || open[0].Name != usecase.AlarmWrongPINs || !strings.Contains(open[0].Detail, "3 wrong PINs in a row") {
		t.Fatalf("a third wrong PIN in the next run: alarms %+v", open)
	}
	if open := run("444444"); len(open) != 0 {
		t.Fatalf("a fourth wrong PIN in a third run: alarms %+v", open)
	}
	run(tok.UserPIN) // folds the sealed events into the chain and ends the count
	if open := run("555555", "666666"); len(open) != 0 {
		t.Fatalf("two wrong PINs after a good login: alarms %+v", open)
	}
	inspect = func(led *ledger.Ledger) {
		failed := 0
		led.Records(1, func(r ledger.Record) error {
			if r.Kind == ledger.KindLoginFailed && r.Token == tok.Serial {
				failed++
			}
			return nil
		})
		if got := alarmsIn(t, led, usecase.AlarmWrongPINs); failed != 6 || len(got) != 1 || got[0].Token != tok.Serial {
			t.Fatalf("the ledger holds %d login.failed and the wrong-pins alarms %+v", failed, got)
		}
	}
	run(tok.UserPIN)
}

// TestWrongPINsAlarm (RULES.md 13): three wrong PINs in a row raise an alarm, while nobody is
// logged in (sealed to the key slots, shown for this run); the next login puts it in the
// chain, where a custodian acknowledges it, and the acknowledgement is a record too.
func TestWrongPINsAlarm(t *testing.T) {
	tok, k, led, alarms := custodianKeys(t, device.PINPolicy{}, nil, nil)
	for i := range 3 {
		if err := k.Login("999999"); !errors.Is(err, device.ErrWrongPIN) {
			t.Fatalf("wrong PIN %d: %v", i+1, err)
		}
		if open, _ := alarms.Open(); len(open) != i/2 {
			t.Fatalf("after %d wrong PINs: alarms %+v", i+1, open)
		}
	}
	open, err := alarms.Open()
	if err != nil || len(open) != 1 || open[0].Name != usecase.AlarmWrongPINs || open[0].Seq != 0 || !strings.Contains(open[0].Detail, tok.Serial) {
		t.Fatalf("alarms while locked: %+v, %v", open, err)
	}
	if err := alarms.Acknowledge(0, "张伟"); !errors.Is(err, usecase.ErrAlarmWaiting) {
		t.Fatalf("acknowledging an alarm not in the chain yet: %v", err)
	}
	if err := k.Login(tok.UserPIN); err != nil {
		t.Fatal(err)
	}
	open, err = alarms.Open()
	if err != nil || len(open) != 1 || open[0].Seq == 0 || open[0].Name != usecase.AlarmWrongPINs {
		t.Fatalf("alarms after the login: %+v, %v", open, err)
	}
	rec, err := led.Get(open[0].Seq)
	if err != nil || rec.Kind != ledger.KindAlarm || rec.Token != tok.Serial || rec.Locked != ledger.LockedClaim && rec.Locked != ledger.LockedAuthenticated {
		t.Fatalf("the alarm record: %+v, %v", rec, err)
	}
	if err := alarms.Acknowledge(open[0].Seq, "张伟"); err != nil {
		t.Fatal(err)
	}
	if open, err := alarms.Open(); err != nil || len(open) != 0 {
		t.Fatalf("after the acknowledgement: %+v, %v", open, err)
	}
	// Another run reads the same from the ledger.
	if open, err := usecase.NewAlarms(led, nil).Open(); err != nil || len(open) != 0 {
		t.Fatalf("a fresh reader: %+v, %v", open, err)
	}
	var acks []ledger.Record
	led.Records(1, func(r ledger.Record) error {
		if r.Kind == ledger.KindAlarmAck {
			acks = append(acks, r)
		}
		return nil
	})
	if len(acks) != 1 || acks[0].AlarmSeq != rec.Seq || acks[0].Custodian != "张伟" {
		t.Fatalf("acknowledgements %+v", acks)
	}
	if err := alarms.Acknowledge(rec.Seq, "张伟"); err == nil {
		t.Fatal("an alarm acknowledged twice")
	}
}

// TestLedgerForkAlarm: the workstation's ledger replaced by another one (the hub holds other
// records at the same seqs): the sync loop's report becomes a ledger-fork alarm, once.
func TestLedgerForkAlarm(t *testing.T) {
	d := newDay(t, nil)
	d.add(t, "分叉", 1)
	d.syncOnce(t)
	d.stop()
	if err := os.Remove(d.ledPath); err != nil {
		t.Fatal(err)
	}
	var err error
	d.led, err = ledger.Create(d.ledPath, []ledger.Recipient{{Public: d.tok.ECCert.PublicKey, Role: keyslot.RoleCustodian, Label: "张伟"}},
		ledger.Options{Workstation: deskWS, Check: ledger.CheckFile})
	if err != nil {
		t.Fatal(err)
	}
	d.start(t)
	alarms := usecase.NewAlarms(d.led, nil)
	statuses, stop := d.sync.Watch()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { alarms.FollowSync(ctx, statuses); close(done) }()
	for range 2 {
		if err := d.sync.SyncOnce(context.Background()); !errors.Is(err, upstream.ErrLedgerAlarm) {
			t.Fatalf("sync with a replaced ledger: %v", err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	var open []usecase.Alarm
	for time.Now().Before(deadline) {
		if open, _ = alarms.Open(); len(open) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	stop()
	<-done
	if len(open) != 1 || open[0].Name != usecase.AlarmLedgerFork || !strings.Contains(open[0].Detail, "fork") {
		t.Fatalf("alarms %+v", open)
	}
}

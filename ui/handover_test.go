package ui

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// TestHandoverScreen drives the handover tab by taps over two SoftHSM tokens, a ledger file,
// the demo hub on 127.0.0.1 (whose approval is a delegation from 张敏 to 李伟) and the real use
// cases: the approval is listed; each step opens only after the one before; a wrong PIN and
// differing new PINs are refused on the screen; after it the delegate's key has a slot, its
// issued PIN fails, the outgoing custodian is logged out and the hub has the record.
func TestHandoverScreen(t *testing.T) {
	w := newDeskWindow(t, "WS-UI-HANDOVER", nil)
	u := w.u
	eventually(t, u, "key found", func() bool { return w.keys.State().Phase == usecase.KeyPresent })
	in := w.tok.Another(t, "李伟")
	for _, c := range []upstream.Custodian{
		{Person: upstream.Person{ID: "c-001", Name: "张敏"}, CertSHA256: upstream.CertHash(w.tok.ECCert.Raw)},
		{Person: upstream.Person{ID: "c-002", Name: "李伟"}, CertSHA256: upstream.CertHash(in.ECCert.Raw)},
	} {
		if err := w.h.AddCustodian(c); err != nil {
			t.Fatal(err)
		}
	}
	w.led.Lock() // as at a start: nobody logged in, so the roster arrives sealed to the key slots
	if err := w.syncer.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := u.hand
	u.tabs.SelectIndex(4)
	// The cached approvals are encrypted in sync.db: before the login none is shown.
	if len(h.approval.Options) != 0 || !h.begin.Disabled() || !strings.Contains(h.offer.Text, "Log in") || h.problem.Text != "" {
		t.Fatalf("before login: approvals %q, begin disabled %v, %q, problem %q", h.approval.Options, h.begin.Disabled(), h.offer.Text, h.problem.Text)
	}
	if err := w.keys.Login(w.tok.UserPIN); err != nil {
		t.Fatal(err)
	}
	eventually(t, u, "logged in", func() bool { return w.keys.State().Phase == usecase.LoggedIn })
	u.tabs.SelectIndex(0)
	u.tabs.SelectIndex(4)
	if len(h.approval.Options) != 1 || !strings.Contains(h.approval.Options[0], "H000001") || !strings.Contains(h.approval.Options[0], "Delegation") {
		t.Fatalf("approvals after login %q", h.approval.Options)
	}
	if h.begin.Disabled() || !h.identify.Disabled() || !h.complete.Disabled() {
		t.Fatalf("after login: begin disabled %v, identify disabled %v, complete disabled %v", h.begin.Disabled(), h.identify.Disabled(), h.complete.Disabled())
	}
	test.Tap(h.begin)
	if h.identify.Disabled() || h.problem.Text != "" {
		t.Fatalf("after Begin: identify disabled %v, problem %q", h.identify.Disabled(), h.problem.Text)
	}

	test.Type(h.token, in.Label)
	test.Type(h.pin, "000000")
	test.Tap(h.identify)
	if !strings.Contains(h.problem.Text, "wrong PIN") || h.who.Text != "" || !h.outgoing.Disabled() {
		t.Fatalf("a wrong PIN: problem %q, who %q", h.problem.Text, h.who.Text)
	}
	h.pin.SetText(in.UserPIN)
	test.Tap(h.identify)
	if !strings.Contains(h.who.Text, "李伟") || !strings.Contains(h.inventory.Text, "Documents waiting: 5") || !strings.Contains(h.inventory.Text, "Inventory digest: ") {
		t.Fatalf("identified %q, inventory %q, problem %q", h.who.Text, h.inventory.Text, h.problem.Text)
	}
	if !h.complete.Disabled() {
		t.Fatal("Complete is enabled before both confirmed")
	}
	test.Tap(h.outgoing)
	if !h.complete.Disabled() {
		t.Fatal("Complete is enabled with one confirmation")
	}
	test.Tap(h.incoming)
	if h.complete.Disabled() {
		t.Fatalf("Complete stays disabled after both confirmed: %q", h.problem.Text)
	}
	test.Type(h.newPIN, "13572468")
	test.Type(h.again, "13572460")
	test.Tap(h.complete)
	if !strings.Contains(h.problem.Text, "differ") || h.result.Text != "" {
		t.Fatalf("differing new PINs: problem %q, result %q", h.problem.Text, h.result.Text)
	}
	h.again.SetText("13572468")
	test.Tap(h.complete)
	if !strings.Contains(h.result.Text, "Delegation (代管) carried out: 李伟 now keeps seal SEAL-DEMO-001") || h.problem.Text != "" {
		t.Fatalf("result %q, problem %q", h.result.Text, h.problem.Text)
	}
	eventually(t, u, "the outgoing custodian is logged out", func() bool { return w.keys.State().Phase != usecase.LoggedIn })
	// The window's key use case follows the delegate's key, plugged in already: he logs in
	// to it with the new PIN without re-plugging, and his key opens the ledger.
	if st := w.keys.State(); st.Phase != usecase.KeyPresent || st.Token.Serial != in.Info.Serial {
		t.Fatalf("after the delegation the key use case follows %+v, not the delegate's key %s", st.Token, in.Info.Serial)
	}
	if err := w.keys.Login("13572468"); err != nil || !w.led.Unlocked() {
		t.Fatalf("the delegate logs in without re-plugging: %v (ledger open %v)", err, w.led.Unlocked())
	}
	w.keys.Logout()

	slots, err := w.led.Slots()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := keyslot.ID(in.ECCert.PublicKey)
	found := false
	for _, s := range slots {
		found = found || s.ID == want
	}
	if !found || len(slots) != 2 {
		t.Fatalf("slots after the delegation %+v", slots)
	}
	m := in.Open(t)
	if _, err := m.Login(in.Info, in.UserPIN); !errors.Is(err, device.ErrWrongPIN) {
		t.Fatalf("the issued PIN after the delegation: %v", err)
	}
	if err := w.syncer.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs, err := w.h.HandoverRecords()
	if err != nil || len(recs) != 1 || recs[0].Kind != upstream.CustodyDelegation {
		t.Fatalf("hub handover records %+v, %v", recs, err)
	}
	// The delegate logs in (the approvals are encrypted): the approval shows as carried out.
	if err := w.keys.Login("13572468"); err != nil {
		t.Fatal(err)
	}
	u.tabs.SelectIndex(0)
	u.tabs.SelectIndex(4)
	if len(h.approval.Options) != 1 || !h.begin.Disabled() || !strings.Contains(h.offer.Text, "already carried out") {
		t.Fatalf("after the delegation: %q, begin disabled %v, %q", h.approval.Options, h.begin.Disabled(), h.offer.Text)
	}
}

// TestHandoverScreenByCode: when the approval names a one-time code, the screen asks for the
// code and the seal key's PIN instead of the incoming person's key; a wrong code is refused on
// the screen; after it the seal key's slot is the incoming person's, the old PIN fails and the
// window's key use case logs in with the new PIN on the same key.
func TestHandoverScreenByCode(t *testing.T) {
	w := newDeskWindow(t, "WS-UI-HANDOVER-CODE", nil)
	u := w.u
	zhao := upstream.Person{ID: "c-003", Name: "赵强"}
	if err := w.h.AddCustodian(upstream.Custodian{Person: upstream.Person{ID: "c-001", Name: "张敏"}, CertSHA256: upstream.CertHash(w.tok.ECCert.Raw)}); err != nil {
		t.Fatal(err)
	}
	if err := w.h.AddCustodian(upstream.Custodian{Person: zhao}); err != nil {
		t.Fatal(err)
	}
	code, hash, err := upstream.NewHandoverCode()
	if err != nil {
		t.Fatal(err)
	}
	ho, err := w.h.ApproveHandover(upstream.Handover{SealID: hub.DemoSeal, From: upstream.Person{ID: "c-001", Name: "张敏"}, To: zhao,
		ApprovedBy: upstream.Person{ID: "a-001", Name: "王主任"}, CodeSHA256: hash})
	if err != nil {
		t.Fatal(err)
	}
	w.login(t, 5)
	h := u.hand
	u.tabs.SelectIndex(0)
	u.tabs.SelectIndex(4)
	pick := slices.IndexFunc(h.approval.Options, func(o string) bool { return strings.Contains(o, ho.ID) })
	if pick < 0 {
		t.Fatalf("the approval by code is not offered: %q", h.approval.Options)
	}
	h.approval.SetSelectedIndex(pick)
	test.Tap(h.begin)
	if h.byCode.Hidden || !h.byKey.Hidden || h.code.Disabled() || !strings.Contains(h.step1.Text, "one-time code") {
		t.Fatalf("the code step: by code hidden %v, by key hidden %v, code disabled %v, %q; problem %q", h.byCode.Hidden, h.byKey.Hidden, h.code.Disabled(), h.step1.Text, h.problem.Text)
	}
	test.Type(h.code, "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GG")
	test.Type(h.sealPIN, w.tok.UserPIN)
	test.Tap(h.identify)
	if !strings.Contains(h.problem.Text, "not the one-time code") || h.who.Text != "" || !h.outgoing.Disabled() {
		t.Fatalf("a wrong code: problem %q, who %q", h.problem.Text, h.who.Text)
	}
	h.code.SetText(code)
	test.Tap(h.identify)
	if !strings.Contains(h.who.Text, "赵强") || !strings.Contains(h.inventory.Text, "Inventory digest: ") {
		t.Fatalf("identified %q, inventory %q, problem %q", h.who.Text, h.inventory.Text, h.problem.Text)
	}
	test.Tap(h.outgoing)
	test.Tap(h.incoming)
	test.Type(h.newPIN, "24681357")
	test.Type(h.again, "24681357")
	test.Tap(h.complete)
	if !strings.Contains(h.result.Text, "Handover (交接) carried out: 赵强 now keeps seal "+hub.DemoSeal) || h.problem.Text != "" {
		t.Fatalf("result %q, problem %q", h.result.Text, h.problem.Text)
	}
	eventually(t, u, "the outgoing custodian is logged out", func() bool { return w.keys.State().Phase == usecase.KeyPresent })
	// One slot; its name is sealed under the data key while nobody is logged in.
	slots, err := w.led.Slots()
	if err != nil || len(slots) != 1 || slots[0].Label != "" {
		t.Fatalf("slots after the handover by code %+v, %v", slots, err)
	}
	if err := w.keys.Login(w.tok.UserPIN); !errors.Is(err, device.ErrWrongPIN) {
		t.Fatalf("the old PIN after the handover: %v", err)
	}
	if err := w.keys.Login("24681357"); err != nil || !w.led.Unlocked() {
		t.Fatalf("the new custodian logs in with the new PIN: %v (ledger open %v)", err, w.led.Unlocked())
	}
	if slots, err := w.led.Slots(); err != nil || len(slots) != 1 || slots[0].Label != "赵强" {
		t.Fatalf("slots once the new custodian is logged in %+v, %v", slots, err)
	}
	if err := w.syncer.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if recs, err := w.h.HandoverRecords(); err != nil || len(recs) != 1 || recs[0].CodeSHA256 != hash {
		t.Fatalf("hub handover records %+v, %v", recs, err)
	}
}

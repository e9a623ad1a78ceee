package usecase_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/softhsmtest"
	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

var (
	zhang = upstream.Person{ID: "c-001", Name: "张伟"}
	li    = upstream.Person{ID: "c-002", Name: "李娜"}
	head  = upstream.Person{ID: "h-001", Name: "王主任"}
)

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// custodyDay is a day with a second person's key (李娜's token, in the same SoftHSM) and both
// people on the hub's roster with their certificates as credentials; the seal's listed
// certificate is 张伟's.
func custodyDay(t *testing.T, now func() time.Time) (*day, *softhsmtest.Token) {
	t.Helper()
	d := newDay(t, now)
	in := d.tok.Another(t, "李娜")
	for _, c := range []upstream.Custodian{
		{Person: zhang, Seals: []string{"SEAL-1"}, CertSHA256: upstream.CertHash(d.tok.ECCert.Raw)},
		{Person: li, CertSHA256: upstream.CertHash(in.ECCert.Raw)},
	} {
		if err := d.hub.AddCustodian(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.hub.SetSealCertificate("SEAL-1", d.tok.ECCert.Raw); err != nil {
		t.Fatal(err)
	}
	return d, in
}

func (d *day) custody(now func() time.Time) *usecase.Custody {
	return usecase.NewCustody(usecase.CustodyConfig{Ledger: d.led, Store: d.st, Keys: d.keys, SealID: "SEAL-1", Workstation: deskWS, Now: now,
		Online: func() bool { return d.sync.Status().Online }, Policy: upstream.Policy{MaxAge: time.Hour, MaxStamps: 3}})
}

// carryOut runs the whole flow on the approval: identify with the incoming key, both confirm
// the inventory, the new PIN.
func carryOut(t *testing.T, c *usecase.Custody, in *softhsmtest.Token, newPIN string) (*usecase.HandoverDone, usecase.Inventory) {
	t.Helper()
	s, err := c.Begin("")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Identify(in.Label, "wrong-pin"); !errors.Is(err, device.ErrWrongPIN) {
		t.Fatalf("identify with a wrong PIN: %v", err)
	}
	sum, err := s.Identify(in.Label, in.UserPIN)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sum.Subject, "李娜") {
		t.Fatalf("identified as %+v", sum)
	}
	inv, err := s.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Complete(newPIN); !errors.Is(err, usecase.ErrInventoryNotConfirmed) {
		t.Fatalf("complete before both confirmed: %v", err)
	}
	if err := s.Confirm(usecase.PartyOutgoing, inv.Digest()); err != nil {
		t.Fatal(err)
	}
	if err := s.Confirm(usecase.PartyIncoming, "0000"); !errors.Is(err, usecase.ErrInventoryNotConfirmed) {
		t.Fatalf("confirming another inventory: %v", err)
	}
	if err := s.Confirm(usecase.PartyIncoming, inv.Digest()); err != nil {
		t.Fatal(err)
	}
	done, err := s.Complete(newPIN)
	if err != nil {
		t.Fatal(err)
	}
	return done, inv
}

// restartAs starts the workstation again, logged in to tok with pin.
func (d *day) restartAs(t *testing.T, tok *softhsmtest.Token, pin string) {
	t.Helper()
	d.stop()
	d.tok, d.pin, d.label = tok, pin, tok.Label
	d.start(t)
}

// slotIDs are the ledger's key slots.
func slotIDs(t *testing.T, l *ledger.Ledger) map[string]bool {
	t.Helper()
	slots, err := l.Slots()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, s := range slots {
		out[s.ID] = true
	}
	return out
}

func slotOf(t *testing.T, tok *softhsmtest.Token) string {
	t.Helper()
	id, err := keyslot.ID(tok.ECCert.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestHandover: a full handover (交接) on two SoftHSM tokens and the hub on 127.0.0.1. Before
// it 张伟 stamps; after it 李娜's issued PIN fails, 张伟's key no longer opens the ledger, 李娜
// stamps with her key and new PIN, the hub holds the signed record (and marked the approval
// done, before the new stamping arrived), and the ledger chain verifies.
func TestHandover(t *testing.T) {
	d, in := custodyDay(t, nil)
	before := d.add(t, "交接前的通知", 1)
	after := d.add(t, "交接后的合同", 1)
	c := d.custody(nil)
	if _, err := c.Begin(""); !errors.Is(err, usecase.ErrNoHandoverApproval) || !strings.Contains(err.Error(), "never pulled") {
		t.Fatalf("handover before any approval was pulled: %v", err)
	}
	ho, err := d.hub.ApproveHandover(upstream.Handover{SealID: "SEAL-1", From: zhang, To: li, ApprovedBy: head, Reason: "岗位调整"})
	if err != nil {
		t.Fatal(err)
	}
	d.syncOnce(t)
	if _, err := d.desk.Stamp(context.Background(), d.seal, d.request(t, before, 1)); err != nil {
		t.Fatalf("the outgoing custodian stamps before the handover: %v", err)
	}
	offers, err := c.Offers()
	if err != nil || len(offers) != 1 || offers[0].Problem != "" || offers[0].To.Name != "李娜" {
		t.Fatalf("offers %+v, %v", offers, err)
	}

	done, inv := carryOut(t, c, in, "246810")
	if len(inv.Seals) != 2 || len(inv.Pending) != 1 || inv.Pending[0].ID != after || !inv.Pending[0].Cached || inv.LedgerSize == 0 {
		t.Fatalf("inventory %+v", inv)
	}
	if done.Record.Inventory != inv.Digest() || done.Record.From != zhang || done.Record.To != li || done.Seq == 0 {
		t.Fatalf("record %+v", done.Record)
	}
	if _, _, err := done.Record.Verify(); err != nil {
		t.Fatal(err)
	}
	if st := d.keys.State(); st.Phase == usecase.LoggedIn {
		t.Fatalf("the outgoing custodian is still logged in: %+v", st)
	}
	slots := slotIDs(t, d.led)
	if slots[slotOf(t, d.tok)] || !slots[slotOf(t, in)] {
		t.Fatalf("slots after the handover: %v", slots)
	}
	// The approvals are encrypted in sync.db: with nobody logged in they cannot be read.
	if _, err := c.Begin(""); !errors.Is(err, usecase.ErrLedgerLocked) {
		t.Fatalf("a handover with nobody logged in: %v", err)
	}

	// The issued PIN of 李娜's key fails now; 张伟's key opens no slot.
	if _, err := d.mod.Login(in.Info, in.UserPIN); !errors.Is(err, device.ErrWrongPIN) {
		t.Fatalf("the issued PIN after the handover: %v", err)
	}
	key, logout := d.ledgerKey(t)
	if err := d.led.Unlock(key); !errors.Is(err, keyslot.ErrNoSlot) {
		t.Fatalf("the old custodian's key opens the ledger: %v", err)
	}
	logout()

	// 李娜 logs in with her key and new PIN and stamps, in the same run: the key use case
	// follows her key, plugged in already. The next sync sends the handover record first, so
	// the hub takes her stamping with her certificate.
	if st := d.keys.State(); st.Phase != usecase.KeyPresent || st.Token.Serial != in.Info.Serial {
		t.Fatalf("after the handover the key use case follows %+v, not the incoming key %s", st.Token, in.Info.Serial)
	}
	if err := d.keys.Login("246810"); err != nil {
		t.Fatalf("the new custodian logs in without re-plugging: %v", err)
	}
	d.tok, d.pin, d.label = in, "246810", in.Label
	if _, err := c.Begin(""); !errors.Is(err, usecase.ErrNoHandoverApproval) || !strings.Contains(err.Error(), "already carried out") {
		t.Fatalf("the same approval again: %v", err)
	}
	if d.seal, err = d.keys.Seal(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.desk.Stamp(context.Background(), d.seal, d.request(t, after, 1)); err != nil {
		t.Fatalf("the new custodian stamps: %v", err)
	}
	d.syncOnce(t)
	recs, err := d.hub.HandoverRecords()
	if err != nil || len(recs) != 1 || recs[0].HandoverID != ho.ID || recs[0].Inventory != inv.Digest() || recs[0].Kind != upstream.CustodyHandover {
		t.Fatalf("hub handover records %+v, %v", recs, err)
	}
	ro, err := d.hub.Roster()
	if err != nil || len(ro.Handovers) != 1 || !ro.Handovers[0].Done {
		t.Fatalf("hub approvals %+v, %v", ro.Handovers, err)
	}
	got, err := d.hub.Received()
	if err != nil || len(got) != 1 || len(got[0].Results) != 2 {
		t.Fatalf("hub received %+v, %v", got, err)
	}
	if n, err := d.hub.VerifyChain(deskWS); err != nil || n != d.led.Size() {
		t.Fatalf("hub chain: %d records, %v (local %d)", n, err, d.led.Size())
	}
	size := d.led.Size()
	d.stop()
	key, logout = d.ledgerKey(t)
	rep, err := ledger.Verify(d.ledPath, key, ledger.VerifyOptions{Check: ledger.CheckFile, ServerKey: d.serverKey})
	logout()
	if err != nil || !rep.Decrypted || rep.Records != size || rep.Kinds[ledger.KindHandover] != 1 || rep.Kinds[ledger.KindSlotAdded] != 1 || rep.Kinds[ledger.KindSlotRemoved] != 1 {
		t.Fatalf("ledger verify after the handover: %+v, %v", rep, err)
	}
}

// TestDelegation: 李娜 keeps the seal while 张伟 is away (代管) until an end date; she stamps
// before it; once the injected clock passes it her stamping is refused, she is logged out, her
// slot is gone and the return is recorded (and reaches the hub); 张伟 stamps again.
func TestDelegation(t *testing.T) {
	clk := &clock{t: time.Now()}
	d, in := custodyDay(t, clk.now)
	docs := []string{d.add(t, "代管期间一", 1), d.add(t, "代管期间二", 1), d.add(t, "回来以后", 1)}
	ho, err := d.hub.ApproveHandover(upstream.Handover{Kind: upstream.CustodyDelegation, SealID: "SEAL-1", From: zhang, To: li, ApprovedBy: head,
		Until: time.Now().Add(2 * time.Hour), Reason: "张伟休假"})
	if err != nil {
		t.Fatal(err)
	}
	d.syncOnce(t)
	c := d.custody(clk.now)
	done, _ := carryOut(t, c, in, "135790")
	if done.Record.Kind != upstream.CustodyDelegation || !done.Record.Until.Equal(ho.Until) {
		t.Fatalf("record %+v", done.Record)
	}
	if slots := slotIDs(t, d.led); !slots[slotOf(t, d.tok)] || !slots[slotOf(t, in)] {
		t.Fatalf("a delegation keeps the custodian's slot and adds the delegate's: %v", slots)
	}

	old := d.tok
	d.restartAs(t, in, "135790")
	c = d.custody(clk.now)
	d.desk = usecase.NewDesk(usecase.DeskConfig{Ledger: d.led, Store: d.st, ServerKey: d.serverKey, SealID: "SEAL-1", OutDir: d.out, Workstation: deskWS,
		Now: clk.now, Custody: c, Online: func() bool { return d.sync.Status().Online }, Policy: upstream.Policy{MaxAge: time.Hour, MaxStamps: 3}})
	if _, err := d.desk.Stamp(context.Background(), d.seal, d.request(t, docs[0], 1)); err != nil {
		t.Fatalf("the delegate stamps during the delegation: %v", err)
	}
	d.syncOnce(t)

	// Made while the documents are open: once the delegate is out they stay sealed.
	late := d.request(t, docs[1], 1)
	clk.add(3 * time.Hour)
	if _, err := d.desk.Stamp(context.Background(), d.seal, late); !errors.Is(err, usecase.ErrDelegationEnded) {
		t.Fatalf("the delegate stamps after the end date: %v", err)
	}
	if st := d.keys.State(); st.Phase == usecase.LoggedIn {
		t.Fatalf("the delegate is still logged in after the end: %+v", st)
	}
	if slots := slotIDs(t, d.led); slots[slotOf(t, in)] || !slots[slotOf(t, old)] {
		t.Fatalf("slots after the delegation ended: %v", slots)
	}
	if err := d.keys.Login("135790"); err != nil {
		t.Fatal(err)
	}
	if d.led.Unlocked() {
		t.Fatal("the delegate's key still opens the ledger after the end date")
	}
	if _, err := d.desk.Stamp(context.Background(), d.seal, late); !errors.Is(err, usecase.ErrLedgerLocked) {
		t.Fatalf("the delegate logged in again after the end: %v", err)
	}

	// 张伟 is back: he logs in, stamps, and the sync carries the return to the hub.
	d.restartAs(t, old, old.UserPIN)
	c = d.custody(clk.now)
	if dl, err := c.Delegations(); err != nil || len(dl) != 0 {
		t.Fatalf("delegations in force after the return: %+v, %v", dl, err)
	}
	d.syncOnce(t)
	if _, err := d.desk.Stamp(context.Background(), d.seal, d.request(t, docs[2], 1)); err != nil {
		t.Fatalf("the custodian stamps after the return: %v", err)
	}
	d.syncOnce(t)
	// The hub took the delegate's stamping (her certificate, during the delegation) and his.
	if got, err := d.hub.Received(); err != nil || len(got) != 1 || len(got[0].Results) != 2 {
		t.Fatalf("hub received %+v, %v", got, err)
	}
	recs, err := d.hub.HandoverRecords()
	if err != nil || len(recs) != 2 {
		t.Fatalf("hub handover records %+v, %v", recs, err)
	}
	kinds := map[string]bool{}
	for _, r := range recs {
		kinds[r.Kind] = true
	}
	if !kinds[upstream.CustodyDelegation] || !kinds[upstream.CustodyReturn] {
		t.Fatalf("hub handover records %+v", recs)
	}
	var returns int
	if err := d.led.Records(1, func(r ledger.Record) error {
		if r.Kind == ledger.KindHandover && r.Reason == upstream.CustodyReturn {
			returns++
		}
		return nil
	}); err != nil || returns != 1 {
		t.Fatalf("%d return records, %v", returns, err)
	}
}

// TestOfflineHandover: with the network cut, an approval pulled earlier is used within the
// offline age and the record reaches the hub at the next sync; past that age, or with no
// approval pulled, the handover is refused with the reason.
func TestOfflineHandover(t *testing.T) {
	clk := &clock{t: time.Now()}
	d, in := custodyDay(t, clk.now)
	c := d.custody(clk.now)
	if _, err := d.hub.ApproveHandover(upstream.Handover{SealID: "SEAL-1", From: zhang, To: li, ApprovedBy: head}); err != nil {
		t.Fatal(err)
	}
	d.syncOnce(t)
	addr := d.srv.Addr()
	d.cut(t)
	if err := d.sync.SyncOnce(context.Background()); err == nil {
		t.Fatal("a sync with the network cut went through")
	}

	clk.add(2 * time.Hour) // past the offline age of the cached roster
	if _, err := c.Begin(""); !errors.Is(err, usecase.ErrNoHandoverApproval) || !strings.Contains(err.Error(), "working offline") {
		t.Fatalf("an approval older than the offline age: %v", err)
	}
	clk.add(-2 * time.Hour)
	done, _ := carryOut(t, c, in, "112233")
	if pend, err := d.st.PendingHandovers(); err != nil || len(pend) != 1 || pend[0].HandoverID != done.Record.HandoverID {
		t.Fatalf("queued handover records %+v, %v", pend, err)
	}

	d.serve(t, addr)
	d.restartAs(t, in, "112233")
	d.syncOnce(t)
	if recs, err := d.hub.HandoverRecords(); err != nil || len(recs) != 1 {
		t.Fatalf("hub handover records after the network came back: %+v, %v", recs, err)
	}
	if pend, err := d.st.PendingHandovers(); err != nil || len(pend) != 0 {
		t.Fatalf("handover records still queued: %+v, %v", pend, err)
	}
}

// TestHandoverRefusedWithoutApproval: offline with no approval pulled, and with approvals the
// incoming person cannot carry out (their key lacks the roster's credential), nothing changes.
func TestHandoverRefusedWithoutApproval(t *testing.T) {
	d, in := custodyDay(t, nil)
	c := d.custody(nil)
	d.cut(t)
	if _, err := c.Begin(""); !errors.Is(err, usecase.ErrNoHandoverApproval) || !strings.Contains(err.Error(), "approved no handover") {
		t.Fatalf("offline, no approval: %v", err)
	}
	if len(slotIDs(t, d.led)) != 1 {
		t.Fatal("slots changed without an approval")
	}
	// An approval for someone whose roster credential is another certificate: 李娜's key does
	// not identify her.
	d.serve(t, "127.0.0.1:0")
	d.restartAs(t, d.tok, d.pin)
	if err := d.hub.AddCustodian(upstream.Custodian{Person: li, CertSHA256: upstream.CertHash(d.tok.RSACert.Raw)}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.hub.ApproveHandover(upstream.Handover{SealID: "SEAL-1", From: zhang, To: li, ApprovedBy: head}); err != nil {
		t.Fatal(err)
	}
	d.syncOnce(t)
	c = d.custody(nil)
	s, err := c.Begin("")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Identify(d.tok.Label, d.tok.UserPIN); !errors.Is(err, usecase.ErrNotIdentified) {
		t.Fatalf("identifying with the outgoing key: %v", err)
	}
	if _, err := s.Identify(in.Label, in.UserPIN); !errors.Is(err, usecase.ErrNotIdentified) || !strings.Contains(err.Error(), "no certificate the roster names") {
		t.Fatalf("a key without the roster's credential: %v", err)
	}
	if len(slotIDs(t, d.led)) != 1 {
		t.Fatal("slots changed without an identified incoming custodian")
	}
}

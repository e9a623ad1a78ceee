package usecase_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// codeDay is a day where 李娜 is on the roster without a certificate of her own: a handover
// to her is approved with a one-time code, whose hash the approval carries.
func codeDay(t *testing.T, now func() time.Time, expires time.Time) (d *day, code string, ho upstream.Handover) {
	t.Helper()
	d = newDay(t, now)
	for _, c := range []upstream.Custodian{
		{Person: zhang, Seals: []string{"SEAL-1"}, CertSHA256: upstream.CertHash(d.tok.ECCert.Raw)},
		{Person: li},
	} {
		if err := d.hub.AddCustodian(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.hub.SetSealCertificate("SEAL-1", d.tok.ECCert.Raw); err != nil {
		t.Fatal(err)
	}
	code, hash, err := upstream.NewHandoverCode()
	if err != nil {
		t.Fatal(err)
	}
	ho, err = d.hub.ApproveHandover(upstream.Handover{SealID: "SEAL-1", From: zhang, To: li, ApprovedBy: head, Reason: "岗位调整", CodeSHA256: hash, Expires: expires})
	if err != nil {
		t.Fatal(err)
	}
	d.syncOnce(t)
	return d, code, ho
}

// confirmBoth has both people confirm the inventory as it is.
func confirmBoth(t *testing.T, s *usecase.HandoverSession) usecase.Inventory {
	t.Helper()
	inv, err := s.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{usecase.PartyOutgoing, usecase.PartyIncoming} {
		if err := s.Confirm(p, inv.Digest()); err != nil {
			t.Fatal(err)
		}
	}
	return inv
}

// TestHandoverByCode: a full handover (交接) to someone with no key of their own, who
// identifies with the hub's one-time code, on SoftHSM and the hub on 127.0.0.1. Before it 张伟
// stamps; after it his PIN fails on the seal key, his slot is gone (the seal key's slot is
// 李娜's now, opened with her PIN), she stamps with the new PIN, the hub holds the record
// naming the code, the chain verifies; the code is not taken twice.
func TestHandoverByCode(t *testing.T) {
	d, code, ho := codeDay(t, nil, time.Time{})
	before, after := d.add(t, "交接前的通知", 1), d.add(t, "交接后的合同", 1)
	d.syncOnce(t)
	if _, err := d.desk.Stamp(context.Background(), d.seal, d.request(t, before, 1)); err != nil {
		t.Fatalf("the outgoing custodian stamps before the handover: %v", err)
	}
	c := d.custody(nil)
	offers, err := c.Offers()
	if err != nil || len(offers) != 1 || offers[0].Problem != "" || !offers[0].ByCode() {
		t.Fatalf("offers %+v, %v", offers, err)
	}
	s, err := c.Begin("")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Identify("", "123456"); !errors.Is(err, usecase.ErrNotIdentified) || !strings.Contains(err.Error(), "one-time code") {
		t.Fatalf("identifying by key for an approval by code: %v", err)
	}
	// Typed in lower case and without the dashes, it is the same code.
	if err := s.IdentifyByCode(strings.ToLower(strings.ReplaceAll(code, "-", "")), d.pin); err != nil {
		t.Fatal(err)
	}
	inv := confirmBoth(t, s)
	done, err := s.Complete("975310")
	if err != nil {
		t.Fatal(err)
	}
	if done.Record.CodeSHA256 != ho.CodeSHA256 || done.Record.To != li || done.Record.Inventory != inv.Digest() || done.Seq == 0 {
		t.Fatalf("record %+v", done.Record)
	}
	if _, _, err := done.Record.Verify(); err != nil {
		t.Fatal(err)
	}
	if st := d.keys.State(); st.Phase == usecase.LoggedIn {
		t.Fatalf("the outgoing custodian is still logged in: %+v", st)
	}
	// With nobody logged in the slot's name is sealed under the data key; it is checked below,
	// once the new custodian has logged in.
	slots, err := d.led.Slots()
	if err != nil || len(slots) != 1 || slots[0].ID != slotOf(t, d.tok) || slots[0].Label != "" {
		t.Fatalf("slots after the handover by code: %+v, %v", slots, err)
	}
	// 张伟's PIN no longer opens the seal key, so his credential opens no slot.
	if err := d.keys.Login(d.pin); !errors.Is(err, device.ErrWrongPIN) {
		t.Fatalf("the old custodian logs in after the handover: %v", err)
	}
	if _, err := d.mod.Login(d.tok.Info, d.pin); !errors.Is(err, device.ErrWrongPIN) {
		t.Fatalf("the old custodian's PIN after the handover: %v", err)
	}

	d.restartAs(t, d.tok, "975310")
	if slots, err := d.led.Slots(); err != nil || len(slots) != 1 || slots[0].ID != slotOf(t, d.tok) || slots[0].Label != li.Name {
		t.Fatalf("slots once the new custodian is logged in: %+v, %v", slots, err)
	}
	if _, err := d.custody(nil).Begin(""); !errors.Is(err, usecase.ErrNoHandoverApproval) || !strings.Contains(err.Error(), "already carried out") {
		t.Fatalf("the same approval again: %v", err)
	}
	if _, err := d.desk.Stamp(context.Background(), d.seal, d.request(t, after, 1)); err != nil {
		t.Fatalf("the new custodian stamps: %v", err)
	}
	d.syncOnce(t)
	recs, err := d.hub.HandoverRecords()
	if err != nil || len(recs) != 1 || recs[0].HandoverID != ho.ID || recs[0].CodeSHA256 != ho.CodeSHA256 {
		t.Fatalf("hub handover records %+v, %v", recs, err)
	}
	if got, err := d.hub.Received(); err != nil || len(got) != 1 || len(got[0].Results) != 2 {
		t.Fatalf("hub received %+v, %v", got, err)
	}
	if n, err := d.hub.VerifyChain(deskWS); err != nil || n != d.led.Size() {
		t.Fatalf("hub chain: %d records, %v (local %d)", n, err, d.led.Size())
	}

	// An approval that names the same code again (back to 张伟): the ledger names it as used.
	if _, err := d.hub.ApproveHandover(upstream.Handover{ID: "H-AGAIN", SealID: "SEAL-1", From: li, To: zhang, ApprovedBy: head, CodeSHA256: ho.CodeSHA256}); err != nil {
		t.Fatal(err)
	}
	d.syncOnce(t)
	if _, err := d.custody(nil).Begin("H-AGAIN"); !errors.Is(err, usecase.ErrNoHandoverApproval) || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("a reused code: %v", err)
	}

	size := d.led.Size()
	d.stop()
	key, logout := d.ledgerKey(t)
	rep, err := ledger.Verify(d.ledPath, key, ledger.VerifyOptions{Check: ledger.CheckFile, ServerKey: d.serverKey})
	logout()
	if err != nil || !rep.Decrypted || rep.Records != size || rep.Kinds[ledger.KindHandover] != 1 || rep.Kinds[ledger.KindSlotAdded] != 1 || rep.Kinds[ledger.KindSlotRemoved] != 1 {
		t.Fatalf("ledger verify after the handover: %+v, %v", rep, err)
	}
}

// TestHandoverByCodeRefused: a wrong code, a wrong PIN for the seal key, and an approval that
// expires (before it is begun, or while it is carried out) change nothing: the slot stays
// 张伟's and his PIN still works.
func TestHandoverByCodeRefused(t *testing.T) {
	clk := &clock{t: time.Now()}
	d, code, ho := codeDay(t, clk.now, time.Now().Add(time.Hour))
	c := d.custody(clk.now)
	s, err := c.Begin("")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.IdentifyByCode("AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GG", d.pin); !errors.Is(err, usecase.ErrNotIdentified) || !strings.Contains(err.Error(), "not the one-time code of approval "+ho.ID) {
		t.Fatalf("a wrong code: %v", err)
	}
	if _, err := s.Inventory(); err != nil {
		t.Fatal(err)
	}
	if err := s.Confirm(usecase.PartyOutgoing, "x"); !errors.Is(err, usecase.ErrNotIdentified) {
		t.Fatalf("confirming after a wrong code: %v", err)
	}
	if err := s.IdentifyByCode(code, "000000"); err != nil {
		t.Fatal(err)
	}
	confirmBoth(t, s)
	if _, err := s.Complete("975310"); !errors.Is(err, device.ErrWrongPIN) || !strings.Contains(err.Error(), "张伟") {
		t.Fatalf("a wrong seal key PIN: %v", err)
	}
	if err := s.IdentifyByCode(code, d.pin); err != nil {
		t.Fatal(err)
	}
	confirmBoth(t, s)
	clk.add(2 * time.Hour)
	if _, err := s.Complete("975310"); !errors.Is(err, usecase.ErrNoHandoverApproval) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("completing after the approval expired: %v", err)
	}
	if _, err := c.Begin(""); !errors.Is(err, usecase.ErrNoHandoverApproval) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("beginning an expired approval: %v", err)
	}
	slots, err := d.led.Slots()
	if err != nil || len(slots) != 1 || slots[0].Label != zhang.Name {
		t.Fatalf("slots after refusals: %+v, %v", slots, err)
	}
	d.stop()
	_, logout := d.ledgerKey(t) // 张伟's PIN still opens the seal key
	logout()
}

// TestHandoverByCodeNotForDelegation: by code the seal key itself passes, so a delegation
// (which must come back by itself) cannot be approved with a code.
func TestHandoverByCodeNotForDelegation(t *testing.T) {
	d := newDay(t, nil)
	_, hash, err := upstream.NewHandoverCode()
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.hub.ApproveHandover(upstream.Handover{Kind: upstream.CustodyDelegation, SealID: "SEAL-1", From: zhang, To: li, ApprovedBy: head,
		Until: time.Now().Add(time.Hour), CodeSHA256: hash})
	if err == nil || !strings.Contains(err.Error(), "cannot be carried out by one-time code") {
		t.Fatalf("a delegation by code: %v", err)
	}
}

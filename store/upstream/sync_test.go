package upstream_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

const ws = "WS-OFFICE-01"

func addDoc(t testing.TB, h *hub.Hub, title string, pages int, seal string) upstream.Document {
	t.Helper()
	d, err := h.AddDocument(hub.NewDocument{
		Title: title, Department: "办公室", Requester: upstream.Person{ID: "u1", Name: "陈静"},
		Approvals: []upstream.Approval{{Approver: upstream.Person{ID: "a1", Name: "王主任"}, At: time.Now(), Comment: "同意"}},
		SealID:    seal, Workstation: ws, PDF: hub.SamplePDF(title, "", pages),
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPullStampPush is the whole round trip over mutual TLS: enrol, pull approvals and bytes,
// check the ticket, "stamp" (an incremental update appended to the approved bytes), push the
// ledger and the result; the hub holds every record once and the chain verifies there.
func TestPullStampPush(t *testing.T) {
	p := newPKI(t)
	th := startHub(t, hub.Options{RequireClientCert: true}, p.serverTLS())
	h := th.H
	sealCertOn(t, h, "SEAL-1")
	d1 := addDoc(t, h, "关于办公用品采购的通知", 1, "SEAL-1")
	addDoc(t, h, "年度工作总结报告", 40, "SEAL-1")
	ec, err := h.EnrolCode(ws, 0)
	if err != nil {
		t.Fatal(err)
	}
	code := ec.Code

	// This hub takes the workstation certificates of an outside CA and requires one in the
	// handshake: without a client certificate the hub refuses, and says why.
	bare := newClient(t, th.S.URL, ws, p.clientTLS(t, ""), nil, 5*time.Second)
	if _, err := bare.Enrol(context.Background(), code, "host", nil); err == nil || !strings.Contains(err.Error(), "client certificate") {
		t.Fatalf("enrol without client certificate: %v", err)
	}

	cliTLS := p.clientTLS(t, ws)
	c := newClient(t, th.S.URL, ws, cliTLS, nil, 5*time.Second)
	en, err := c.Enrol(context.Background(), code, "host", nil)
	if err != nil {
		t.Fatal(err)
	}
	key := en.ServerKey
	if !key.Equal(h.TicketKey()) {
		t.Fatal("enrolment pinned another key than the hub's")
	}
	pinned := filepath.Join(t.TempDir(), "server_key.pem")
	if err := upstream.PinServerKey(pinned, key); err != nil {
		t.Fatal(err)
	}
	if k, err := upstream.LoadServerKey(pinned); err != nil || !k.Equal(key) {
		t.Fatalf("pinned key round trip: %v", err)
	}
	if _, err := c.Enrol(context.Background(), code, "host", nil); err == nil {
		t.Fatal("an enrolment code worked twice")
	}

	st := openStore(t)
	// The real ledger (store/ledger), encrypted, with a custodian and an escrow key slot.
	custodian, _ := ecdh.P256().GenerateKey(rand.Reader)
	escrow, _ := ecdh.P256().GenerateKey(rand.Reader)
	sealKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ledgerPath := filepath.Join(t.TempDir(), ledger.FileName)
	led, err := ledger.Create(ledgerPath, []ledger.Recipient{
		{Public: custodian.Public(), Role: keyslot.RoleCustodian, Label: "张敏"},
		{Public: escrow.Public(), Role: keyslot.RoleEscrow, Label: "escrow"},
	}, ledger.Options{Workstation: ws, Signer: sealKey, CheckpointEvery: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	appendRec := func(r ledger.Record) uint64 {
		t.Helper()
		seqs, err := led.Append(r)
		if err != nil {
			t.Fatal(err)
		}
		return seqs[0]
	}
	appendRec(ledger.Record{Kind: ledger.KindKeyInserted, Token: "T-1"})
	appendRec(ledger.Record{Kind: ledger.KindLoginOK, Custodian: "张敏", Token: "T-1"})
	sy := upstream.NewSyncer(c, st, upstream.SyncOptions{Ledger: led, OnCosigned: func(cp ledger.Checkpoint, sig []byte) error {
		return led.SetCosigned(ledger.SignedCheckpoint{Checkpoint: cp}, sig)
	}})
	if err := sy.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	docs, err := st.Documents()
	if err != nil || len(docs) != 2 {
		t.Fatalf("pulled %d documents, %v", len(docs), err)
	}
	cd, err := st.Document(d1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cd.Title != "关于办公用品采购的通知" || cd.Requester.Name != "陈静" || cd.SealID != "SEAL-1" || cd.File == "" {
		t.Fatalf("cached document: %+v", cd)
	}
	pdf, err := os.ReadFile(cd.File)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pdf)
	if hex.EncodeToString(sum[:]) != cd.SHA256 {
		t.Fatal("downloaded bytes do not match the approved hash")
	}

	check := upstream.StampCheck{DocumentID: cd.ID, DocSHA256: sum, SealID: "SEAL-1", Workstation: ws, ServerKey: key, Online: true,
		Policy: upstream.Policy{MaxAge: time.Hour, MaxStamps: 5}}
	tk, err := st.CheckStamp(check)
	if err != nil {
		t.Fatal(err)
	}
	// Stamp: intent in the ledger, ticket used, output written, done in the ledger.
	if err := st.MarkTicketUsed(tk.ID(), time.Now()); err != nil {
		t.Fatal(err)
	}
	intent := appendRec(ledger.Record{Kind: ledger.KindStampIntent, DocID: cd.ID, TicketID: tk.ID(), SealID: "SEAL-1", Custodian: "张敏"})
	out := filepath.Join(t.TempDir(), "stamped.pdf")
	stamped := stampWithEngine(t, cd.File, out)
	outSum := sha256.Sum256(stamped)
	done := appendRec(ledger.Record{Kind: ledger.KindStampDone, DocID: cd.ID, TicketID: tk.ID(), Intent: intent, SealID: "SEAL-1",
		InputHash: cd.SHA256, OutputHash: hex.EncodeToString(outSum[:]), Custodian: "张敏", Copies: 1})
	if err := st.Enqueue(upstream.Result{DocumentID: cd.ID, TicketID: tk.ID(), Outcome: upstream.OutcomeStamped, At: time.Now(), LedgerSeq: done}, out); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkDone(cd.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CheckStamp(check); err == nil {
		t.Fatal("a document already stamped could be stamped again")
	}
	if err := sy.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var local []ledger.Envelope
	led.Envelopes(1, func(e ledger.Envelope) error { local = append(local, e); return nil })
	sameLedger(t, h, ws, local)
	rec, err := h.Received()
	if err != nil || len(rec) != 1 || len(rec[0].Results) != 1 {
		t.Fatalf("hub received %+v, %v", rec, err)
	}
	r := rec[0].Results[0]
	if r.DocumentID != cd.ID || r.OutputSHA256 != hex.EncodeToString(outSum[:]) || r.OutputSize != int64(len(stamped)) {
		t.Fatalf("hub result %+v", r)
	}
	ob, _ := st.Outbox()
	if len(ob) != 0 {
		t.Fatalf("outbox not drained: %+v", ob)
	}
	cp, err := st.Cosigned()
	if err != nil || cp == nil || cp.Size != led.Size() {
		t.Fatalf("co-signed checkpoint %+v, %v", cp, err)
	}
	if err := cp.Verify(key); err != nil {
		t.Fatal(err)
	}
	// The ledger keeps the co-signature: it will refuse to open shorter than this.
	if lc, err := ledger.ReadCosigned(ledgerPath); err != nil || lc == nil || lc.Checkpoint.Size != led.Size() {
		t.Fatalf("ledger's co-signed checkpoint %+v, %v", lc, err)
	}
	// The stamped file is on the hub, by hash.
	got := filepath.Join(t.TempDir(), "back.pdf")
	if err := c.Download(context.Background(), r.OutputSHA256, r.OutputSize, got); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, stamped) {
		t.Fatal("the hub's copy of the stamped file differs")
	}
	// The hub no longer lists the stamped document; the other one stays.
	if err := sy.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := sy.Status(); !s.Online || s.Pending != 1 || s.Unsynced != 0 || s.Outbox != 0 {
		t.Fatalf("status %+v", s)
	}
}

// TestLedgerPushRules checks the idempotency rules directly: same again is acknowledged, the
// same seq with another hash is a fork, a gap names the expected seq, a broken link is refused.
func TestLedgerPushRules(t *testing.T) {
	p := newPKI(t)
	th := startHub(t, hub.Options{AutoEnrol: true}, p.serverTLS())
	c := newClient(t, th.S.URL, ws, p.clientTLS(t, ws), th.H.TicketKey(), 5*time.Second)
	ctx := context.Background()
	led := &memLedger{}
	led.Append(10)
	envs := led.all()
	head, err := c.PushLedger(ctx, envs[:6])
	if err != nil || head.Size != 6 || head.Checkpoint == nil || head.Checkpoint.Size != 6 {
		t.Fatalf("push 1..6: %+v, %v", head, err)
	}
	if head, err = c.PushLedger(ctx, envs[2:6]); err != nil || head.Size != 6 {
		t.Fatalf("same records again: %+v, %v", head, err)
	}
	forked := envs[4]
	forked.Ciphertext = append([]byte(nil), forked.Ciphertext...)
	forked.Ciphertext[0] ^= 1
	_, err = c.PushLedger(ctx, []ledger.Envelope{forked})
	if serverCode(err) != upstream.CodeFork {
		t.Fatalf("same seq, other hash: %v", err)
	}
	_, err = c.PushLedger(ctx, envs[8:])
	var se *upstream.ServerError
	if serverCode(err) != upstream.CodeGap || !asServerError(err, &se) || se.Body.ExpectedSeq != 7 || se.Status != 409 {
		t.Fatalf("gap: %v", err)
	}
	other := &memLedger{}
	other.Append(7)
	_, err = c.PushLedger(ctx, other.all()[6:])
	if serverCode(err) != upstream.CodeBadChain {
		t.Fatalf("record 7 from another chain: %v", err)
	}
	if head, err = c.PushLedger(ctx, envs[6:]); err != nil || head.Size != 10 {
		t.Fatalf("push 7..10: %+v, %v", head, err)
	}
	sameLedger(t, th.H, ws, envs)

	// A workstation whose ledger was rolled back below what the hub holds raises an alarm.
	st := openStore(t)
	short := &memLedger{envs: envs[:8]}
	sy := upstream.NewSyncer(c, st, upstream.SyncOptions{Ledger: short})
	err = sy.SyncOnce(ctx)
	if err == nil || !strings.Contains(err.Error(), "rolled back") || sy.Status().Alarm == "" {
		t.Fatalf("rolled-back ledger: %v, status %+v", err, sy.Status())
	}
	// A workstation whose ledger is another chain (replaced file, or a second machine using
	// this name) raises a fork alarm and pushes nothing.
	replaced := &memLedger{}
	replaced.Append(12)
	sy = upstream.NewSyncer(c, openStore(t), upstream.SyncOptions{Ledger: replaced})
	err = sy.SyncOnce(ctx)
	if !errors.Is(err, upstream.ErrLedgerAlarm) || !strings.Contains(err.Error(), "fork at record 10") {
		t.Fatalf("replaced ledger: %v", err)
	}
	sameLedger(t, th.H, ws, envs)
}

// testSeal is the seal key and self-signed certificate the tests stamp with; sealCertOn lists
// its certificate for a seal on a hub (a hub records stampings only by the listed certificate).
var testSeal = sync.OnceValue(func() struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
} {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "示范单位公章"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return struct {
		key  *ecdsa.PrivateKey
		cert *x509.Certificate
	}{key, cert}
})

// sealCertOn puts seal id on h's seal list as active, with the test seal's certificate.
func sealCertOn(t *testing.T, h *hub.Hub, id string) {
	t.Helper()
	if err := h.SetSeal(upstream.SealStatus{ID: id, Status: upstream.SealActive}); err != nil {
		t.Fatal(err)
	}
	if err := h.SetSealCertificate(id, testSeal().cert.Raw); err != nil {
		t.Fatal(err)
	}
}

// stampWithEngine seals page 1 with the stamp engine and the test seal, and checks the result
// with our verifier.
func stampWithEngine(t *testing.T, in, out string) []byte {
	t.Helper()
	return stampWith(t, in, out, testSeal().key, testSeal().cert)
}

// stampWith seals page 1 of in into out with the given key and certificate.
func stampWith(t *testing.T, in, out string, key crypto.Signer, cert *x509.Certificate) []byte {
	t.Helper()
	pl, err := placement.AtPoint(placement.Page{Number: 1, Crop: placement.Rect{X1: 595, Y1: 842}}, 450, 150, placement.Size{W: 119, H: 119}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stamp.SignFile(context.Background(), in, out, false, stamp.Request{Placement: pl, Image: pdftest.Seal(240), Signer: key, Chain: []*x509.Certificate{cert}}); err != nil {
		t.Fatal(err)
	}
	rep, err := verify.File(out, verify.Options{})
	if err != nil || !rep.Valid || len(rep.Signatures) != 1 {
		t.Fatalf("stamped file: %+v, %v", rep, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func asServerError(err error, se **upstream.ServerError) bool {
	for e := err; e != nil; {
		if s, ok := e.(*upstream.ServerError); ok {
			*se = s
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// TestTicketsAndSealStatus: forged tickets are refused with readable reasons, and a revoked or
// suspended seal is refused also while offline, once the list was pulled; the offline policy
// limits age and count.
func TestTicketsAndSealStatus(t *testing.T) {
	p := newPKI(t)
	th := startHub(t, hub.Options{AutoEnrol: true}, p.serverTLS())
	h := th.H
	for _, s := range []upstream.SealStatus{{ID: "SEAL-1", Status: upstream.SealActive}, {ID: "SEAL-2", Status: upstream.SealActive}} {
		if err := h.SetSeal(s); err != nil {
			t.Fatal(err)
		}
	}
	d1 := addDoc(t, h, "合同", 2, "SEAL-1")
	d2 := addDoc(t, h, "证明", 1, "SEAL-2")
	c := newClient(t, th.S.URL, ws, p.clientTLS(t, ws), h.TicketKey(), 5*time.Second)
	st := openStore(t)
	sy := upstream.NewSyncer(c, st, upstream.SyncOptions{})
	if err := sy.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	hashOf := func(d upstream.Document) [32]byte {
		b, _ := hex.DecodeString(d.SHA256)
		var h [32]byte
		copy(h[:], b)
		return h
	}
	pol := upstream.Policy{MaxAge: time.Hour, MaxStamps: 2}
	base := upstream.StampCheck{DocumentID: d1.ID, DocSHA256: hashOf(d1), SealID: "SEAL-1", Workstation: ws, ServerKey: h.TicketKey(), Online: true, Policy: pol}

	changed := base
	changed.DocSHA256[0] ^= 1
	otherWS := base
	otherWS.Workstation = "WS-OTHER"
	late := base
	late.Now = time.Now().Add(30 * 24 * time.Hour)
	wrongSeal := base
	wrongSeal.SealID = "SEAL-2"
	other := startHub(t, hub.Options{AutoEnrol: true}, p.serverTLS())
	wrongKey := base
	wrongKey.ServerKey = other.H.TicketKey()
	for name, tc := range map[string]struct {
		c    upstream.StampCheck
		want ticket.Reason
		text string
	}{
		"changed hash": {changed, ticket.ChangedHash, "not the ones that were approved"},
		"other ws":     {otherWS, ticket.OtherWorkstation, "issued to workstation"},
		"expired":      {late, ticket.Expired, "expired"},
		"wrong seal":   {wrongSeal, ticket.WrongSeal, "the seal on the key is"},
		"wrong key":    {wrongKey, ticket.WrongKey, "not signed by the seal-management server"},
	} {
		_, err := st.CheckStamp(tc.c)
		if ticket.ReasonOf(err) != tc.want || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: got %v (reason %d)", name, err, ticket.ReasonOf(err))
		}
	}
	tk, err := st.CheckStamp(base)
	if err != nil {
		t.Fatal(err)
	}

	// A server with another key (an impostor, or a re-keyed server the workstation was not
	// re-enrolled with): its seal list is not signed by the pinned key, so the round stops
	// there and none of its documents enter the queue.
	addDoc(t, other.H, "伪造的审批", 1, "SEAL-1")
	if err := other.H.SetSeal(upstream.SealStatus{ID: "SEAL-1", Status: upstream.SealActive}); err != nil {
		t.Fatal(err)
	}
	impostor := newClient(t, other.S.URL, ws, p.clientTLS(t, ws), h.TicketKey(), 5*time.Second)
	st2 := openStore(t)
	if err := upstream.NewSyncer(impostor, st2, upstream.SyncOptions{}).SyncOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "not signed by the pinned server key") {
		t.Fatalf("a round with a server under another key: %v", err)
	}
	if forged, _ := st2.Documents(); len(forged) != 0 {
		t.Fatalf("documents from a server under another key: %+v", forged)
	}
	st.MarkTicketUsed(tk.ID(), time.Now())
	if _, err := st.CheckStamp(base); ticket.ReasonOf(err) != ticket.Reused || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("reused ticket: %v", err)
	}

	// Revoke SEAL-2 on the hub; the workstation pulls once, then goes offline.
	if err := h.SetSeal(upstream.SealStatus{ID: "SEAL-2", Status: upstream.SealRevoked, Reason: "密钥遗失"}); err != nil {
		t.Fatal(err)
	}
	if err := sy.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	th.stop()
	if err := sy.SyncOnce(context.Background()); err == nil || sy.Status().Online {
		t.Fatalf("with the hub down: %v, %+v", err, sy.Status())
	}
	off := upstream.StampCheck{DocumentID: d2.ID, DocSHA256: hashOf(d2), SealID: "SEAL-2", Workstation: ws, ServerKey: h.TicketKey(), Online: false, Policy: pol}
	if _, err := st.CheckStamp(off); err == nil || !strings.Contains(err.Error(), "revoked") || !strings.Contains(err.Error(), "密钥遗失") {
		t.Fatalf("revoked seal offline: %v", err)
	}

	// Offline policy on a third document: count and age.
	// (The hub is down; the document was cached before.)
	d3c := base
	d3c.Online = false
	docs, _ := st.Documents()
	if len(docs) != 2 {
		t.Fatalf("offline queue shows %d documents", len(docs))
	}
	for _, d := range docs {
		if d.FetchedAt.IsZero() {
			t.Fatalf("offline queue: %s has no cached time", d.ID)
		}
	}
	d3c.Used = neverUsed{}
	if _, err := st.CheckStamp(d3c); err != nil {
		t.Fatalf("offline within policy: %v", err)
	}
	st.CountStamp(true)
	st.CountStamp(true)
	if _, err := st.CheckStamp(d3c); err == nil || !strings.Contains(err.Error(), "most allowed offline") {
		t.Fatalf("offline over the count: %v", err)
	}
	old := d3c
	old.Now = time.Now().Add(2 * time.Hour)
	old.Policy.MaxStamps = 100
	if _, err := st.CheckStamp(old); err == nil || !strings.Contains(err.Error(), "allowed offline") {
		t.Fatalf("offline past the age: %v", err)
	}
}

type neverUsed struct{}

func (neverUsed) TicketUsed(string) (bool, error) { return false, nil }

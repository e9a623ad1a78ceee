package hub_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/tjfoc/gmsm/sm2"

	"github.com/sealkeeper/sealkeeper/stamp/gmseal/gmca"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// person is a key and a certificate for it.
type person struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newPerson(t *testing.T, cn string) person {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return person{k, c}
}

// hubAndWorkstation starts a hub on 127.0.0.1 and enrols workstation WS1 by its first
// heartbeat (AutoEnrol); both are closed when the test ends.
func hubAndWorkstation(t *testing.T) (*hub.Hub, *upstream.Client) {
	t.Helper()
	h, err := hub.Open(t.TempDir(), hub.Options{Name: "test hub", AutoEnrol: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	srv, err := h.Serve("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := upstream.NewClient(upstream.ClientConfig{URL: srv.URL, Workstation: "WS1", ServerKey: h.TicketKey(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Heartbeat(context.Background(), upstream.Heartbeat{}); err != nil {
		t.Fatal(err)
	}
	return h, c
}

// TestHandoverRecordChecks: the hub takes a handover record only for its approval, between the
// people it named, signed by both with the certificates it knows; then the approval is done and
// the taker's certificate is the seal's. A record sent again is taken once.
func TestHandoverRecordChecks(t *testing.T) {
	h, c := hubAndWorkstation(t)
	ctx := context.Background()
	a, b, x := newPerson(t, "张伟"), newPerson(t, "李娜"), newPerson(t, "冒名者")
	zhang, li := upstream.Person{ID: "c-001", Name: "张伟"}, upstream.Person{ID: "c-002", Name: "李娜"}
	if err := h.SetSeal(upstream.SealStatus{ID: "S1", Name: "公章", Status: upstream.SealActive}); err != nil {
		t.Fatal(err)
	}
	if err := h.SetSealCertificate("S1", a.cert.Raw); err != nil {
		t.Fatal(err)
	}
	if err := h.AddCustodian(upstream.Custodian{Person: li, CertSHA256: upstream.CertHash(b.cert.Raw)}); err != nil {
		t.Fatal(err)
	}
	ho, err := h.ApproveHandover(upstream.Handover{SealID: "S1", From: zhang, To: li, ApprovedBy: upstream.Person{ID: "h1", Name: "王主任"}})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(r upstream.HandoverRecord, from, to person) upstream.HandoverRecord {
		r.FromCert, r.ToCert = from.cert.Raw, to.cert.Raw
		var err error
		if r.FromSig, err = upstream.SignHandover(r, from.key); err != nil {
			t.Fatal(err)
		}
		if r.ToSig, err = upstream.SignHandover(r, to.key); err != nil {
			t.Fatal(err)
		}
		return r
	}
	base := upstream.HandoverRecord{HandoverID: ho.ID, Kind: upstream.CustodyHandover, SealID: "S1", Workstation: "WS1", From: zhang, To: li,
		Inventory: "00", At: time.Now().UTC()}
	status := func(err error) int {
		var se *upstream.ServerError
		if errors.As(err, &se) {
			return se.Status
		}
		return 0
	}
	tampered := sign(base, a, b)
	tampered.Inventory = "11"
	other := base
	other.HandoverID = "H999999"
	for _, tc := range []struct {
		name string
		rec  upstream.HandoverRecord
		want int
	}{
		{"changed after signing", tampered, 422},
		{"taker's key not on the roster", sign(base, a, x), 403},
		{"giver not the seal's certificate", sign(base, x, b), 403},
		{"another workstation's", func() upstream.HandoverRecord { r := base; r.Workstation = "WS2"; return sign(r, a, b) }(), 403},
		{"no such approval", sign(other, a, b), 404},
	} {
		if err := c.PostHandover(ctx, tc.rec); status(err) != tc.want {
			t.Errorf("%s: %v, want %d", tc.name, err, tc.want)
		}
	}
	if recs, _ := h.HandoverRecords(); len(recs) != 0 {
		t.Fatalf("refused records kept: %+v", recs)
	}
	good := sign(base, a, b)
	for range 2 {
		if err := c.PostHandover(ctx, good); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := h.HandoverRecords()
	if err != nil || len(recs) != 1 || recs[0].Inventory != "00" {
		t.Fatalf("records %+v, %v", recs, err)
	}
	ro, err := h.Roster()
	if err != nil || !ro.Handovers[0].Done {
		t.Fatalf("approval after the record: %+v, %v", ro.Handovers, err)
	}
	seals, err := h.Seals()
	if err != nil || seals[0].CertSHA256 != upstream.CertHash(b.cert.Raw) {
		t.Fatalf("the seal's certificate after the handover: %+v, %v", seals, err)
	}
}

// TestHandoverWithSM2CertificatesIsRefused: handover records are checked with RSA or P-256
// certificates only (upstream.HandoverRecord.Verify). A GM seal's custodians sign with SM2
// keys: the hub lists the SM2 seal certificate and takes an SM2 roster credential, but refuses
// their record with a message that names the seal and says SM2 is not supported for handovers,
// keeps no record and leaves the approval open and the seal's certificate as it was.
func TestHandoverWithSM2CertificatesIsRefused(t *testing.T) {
	h, c := hubAndWorkstation(t)
	ctx := context.Background()
	ca, err := gmca.New("GM Test CA")
	if err != nil {
		t.Fatal(err)
	}
	sm2Person := func(cn string) (*sm2.PrivateKey, []byte) {
		k, err := sm2.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := ca.Issue(cn, "测试单位", &k.PublicKey, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return k, der
	}
	sealKey, sealCert := sm2Person("测试单位公章")
	liKey, liCert := sm2Person("李娜")
	zhang, li := upstream.Person{ID: "c-001", Name: "张伟"}, upstream.Person{ID: "c-002", Name: "李娜"}
	if err := h.SetSeal(upstream.SealStatus{ID: "GM1", Name: "国密公章", Status: upstream.SealActive}); err != nil {
		t.Fatal(err)
	}
	if err := h.SetSealCertificate("GM1", sealCert); err != nil {
		t.Fatal(err)
	}
	if err := h.AddCustodian(upstream.Custodian{Person: li, CertSHA256: upstream.CertHash(liCert)}); err != nil {
		t.Fatal(err)
	}
	ho, err := h.ApproveHandover(upstream.Handover{SealID: "GM1", From: zhang, To: li, ApprovedBy: upstream.Person{ID: "h1", Name: "王主任"}})
	if err != nil {
		t.Fatal(err)
	}
	r := upstream.HandoverRecord{HandoverID: ho.ID, Kind: upstream.CustodyHandover, SealID: "GM1", Workstation: "WS1", From: zhang, To: li,
		Inventory: "00", At: time.Now().UTC(), FromCert: sealCert, ToCert: liCert}
	if r.FromSig, err = upstream.SignHandover(r, sealKey); err != nil {
		t.Fatal(err)
	}
	if r.ToSig, err = upstream.SignHandover(r, liKey); err != nil {
		t.Fatal(err)
	}
	err = c.PostHandover(ctx, r)
	var se *upstream.ServerError
	if !errors.As(err, &se) || se.Status != 422 || !strings.Contains(err.Error(), "seal GM1") || !strings.Contains(err.Error(), "SM2") {
		t.Fatalf("an SM2-signed handover record: %v, want 422 naming seal GM1 and SM2", err)
	}
	if recs, _ := h.HandoverRecords(); len(recs) != 0 {
		t.Errorf("refused record kept: %+v", recs)
	}
	ro, err := h.Roster()
	if err != nil || ro.Handovers[0].Done {
		t.Errorf("approval after the refusal: %+v, %v", ro.Handovers, err)
	}
	if seals, err := h.Seals(); err != nil || seals[0].CertSHA256 != upstream.CertHash(sealCert) {
		t.Errorf("the seal's certificate after the refusal: %+v, %v", seals, err)
	}
}

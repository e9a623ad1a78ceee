package workspace

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/permtest"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// TestEnrolThenSync is the workstation's side of enrolment against a hub on 127.0.0.1 over
// TLS: before it the hub answers nothing; Enrol saves the key, the certificate and the pinned
// server key in the data folder (0600), and OpenSync then connects with them.
func TestEnrolThenSync(t *testing.T) {
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hub TLS CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "hub-ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)

	h, err := hub.Open(filepath.Join(dir, "hub"), hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.SetSeal(upstream.SealStatus{ID: "SEAL-1", Status: upstream.SealActive}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddDocument(hub.NewDocument{Title: "通知", SealID: "SEAL-1", Workstation: "WS-1", PDF: hub.SamplePDF("通知", "", 1)}); err != nil {
		t.Fatal(err)
	}
	srv, err := h.Serve("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	cfg := &config.Config{Workstation: "WS-1", DataDir: filepath.Join(dir, "data"), Upstream: config.Upstream{URL: srv.URL, CA: caFile}}
	cfg.Defaults()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()

	l, err := OpenSync(cfg, nil, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Syncer.SyncOnce(ctx); err == nil {
		t.Fatal("a workstation that never enrolled synced")
	}
	l.Close()

	code, err := h.EnrolCode("WS-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	e, files, err := Enrol(cfg, code.Code, "pc-01")
	if err != nil {
		t.Fatal(err)
	}
	if e.Certificate == nil || files.Cert != filepath.Join(cfg.Data(), "upstream", "client-cert.pem") {
		t.Fatalf("enrolment %+v, files %+v", e, files)
	}
	for _, f := range []string{files.Cert, files.Key, files.ServerKey} {
		if fi, err := os.Stat(f); err != nil || !permtest.Is(fi, 0o600) {
			t.Fatalf("%s: %v", f, err)
		}
	}
	// The ledger whose key slots the documents are encrypted under (none: none are kept).
	escrow, _ := ecdh.P256().GenerateKey(rand.Reader)
	led, err := ledger.Create(filepath.Join(cfg.Data(), ledger.FileName), []ledger.Recipient{{Public: escrow.Public(), Role: keyslot.RoleEscrow, Label: "escrow"}},
		ledger.Options{Workstation: "WS-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	l, err = OpenSync(cfg, led, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.ServerKey == nil || !l.ServerKey.Equal(h.TicketKey()) {
		t.Fatal("OpenSync did not load the pinned server key")
	}
	if err := l.Syncer.SyncOnce(ctx); err != nil {
		t.Fatalf("after enrolment: %v", err)
	}
	if docs, err := l.Store.Documents(); err != nil || len(docs) != 1 {
		t.Fatalf("pulled %d documents, %v", len(docs), err)
	}
	if _, _, err := Enrol(cfg, code.Code, "pc-01"); err == nil {
		t.Fatal("the code enrolled twice")
	}
}

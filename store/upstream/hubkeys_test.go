package upstream_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/device/softhsmtest"
	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// tokenKeys makes two P-256 key pairs on a fresh SoftHSM token and returns signers for them.
func tokenKeys(t *testing.T) (ticketKey, caKey crypto.Signer) {
	t.Helper()
	tok := softhsmtest.New(t)
	sess, err := tok.Open(t).Login(tok.Info, tok.UserPIN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	ids := [][]byte{[]byte("hub-ticket"), []byte("hub-ca")}
	for _, id := range ids {
		if _, err := sess.GenerateKeyPair("p256", string(id), id); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := sess.Seals()
	if err != nil {
		t.Fatal(err)
	}
	var out []crypto.Signer
	for _, id := range ids {
		for _, k := range keys {
			if bytes.Equal(k.ID, id) {
				s, err := sess.Signer(k)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, s)
			}
		}
	}
	if len(out) != 2 {
		t.Fatalf("found %d of the 2 keys made on the token", len(out))
	}
	return out[0], out[1]
}

func samePublic(a, b crypto.PublicKey) bool {
	da, _ := x509.MarshalPKIXPublicKey(a)
	db, _ := x509.MarshalPKIXPublicKey(b)
	return bytes.Equal(da, db)
}

// TestHubKeysOnToken (issue 16, "the hub's signing key unencrypted in hub.db"): with its keys on
// a PKCS#11 token the hub signs tickets, signed answers and workstation certificates with them,
// keeps no private key in hub.db, refuses to open without the token or with another key, and
// 'hub key' (ReadTicketKey) still reads the key to pin from the database.
func TestHubKeysOnToken(t *testing.T) {
	ticketKey, caKey := tokenKeys(t)
	p := newPKI(t)
	th := startHub(t, hub.Options{TicketSigner: ticketKey, CASigner: caKey}, p.serverTLS())
	if !samePublic(th.H.TicketKey(), ticketKey.Public()) {
		t.Fatal("the hub's ticket key is not the token's")
	}
	if !samePublic(th.H.WorkstationCA().PublicKey, caKey.Public()) {
		t.Fatal("the hub's workstation CA key is not the token's")
	}
	if err := th.H.SeedDemo("WS-A"); err != nil {
		t.Fatal(err)
	}

	// Enrolment: the certificate comes from the CA key on the token.
	ctx := context.Background()
	code, err := th.H.EnrolCode("WS-A", 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := upstream.ClientConfig{URL: th.S.URL, Workstation: "WS-A", TLS: p.clientTLS(t, ""), Timeout: 5 * time.Second}
	files := upstream.DefaultCredentialFiles(t.TempDir())
	e, err := upstream.EnrolWithSoftwareKey(ctx, cfg, code.Code, "pc-01", files)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Certificate.CheckSignatureFrom(th.H.WorkstationCA()); err != nil {
		t.Fatalf("the workstation certificate is not signed by the CA key on the token: %v", err)
	}
	if !e.ServerKey.Equal(th.H.TicketKey()) {
		t.Fatal("enrolment pinned another key than the token's ticket key")
	}

	// The listing is a signed answer and its tickets are signed: both checked by the client
	// against the token's key.
	tlsConf, err := upstream.LoadTLS(writeCA(t, p), files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, th.S.URL, "WS-A", tlsConf, e.ServerKey, 5*time.Second)
	docs, err := c.Documents(ctx)
	if err != nil || len(docs) == 0 {
		t.Fatalf("documents: %d, %v", len(docs), err)
	}
	for _, d := range docs {
		sum, err := hex.DecodeString(d.SHA256)
		if err != nil || len(sum) != 32 {
			t.Fatalf("document %s: SHA-256 %q", d.ID, d.SHA256)
		}
		want := ticket.Expect{DocumentID: d.ID, DocSHA256: [32]byte(sum), Workstation: "WS-A", Now: time.Now()}
		if _, err := ticket.Verify(d.Ticket, e.ServerKey, want, noneUsed{}); err != nil {
			t.Fatalf("ticket of %s does not verify with the token's key: %v", d.ID, err)
		}
	}
	if _, err := c.Seals(ctx); err != nil {
		t.Fatalf("the signed seal list: %v", err)
	}
	th.stop()

	raw, err := os.ReadFile(filepath.Join(th.dir, hub.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("ticketkey\x00")) || bytes.Contains(raw, []byte("workstationca.key")) {
		t.Error("hub.db holds a private key entry although its keys are on the token")
	}
	pinned, err := hub.ReadTicketKey(th.dir)
	if err != nil || !samePublic(pinned, ticketKey.Public()) {
		t.Fatalf("hub key reads %v, %v; want the token's ticket key", pinned, err)
	}

	// Without the token the database does not open; with the keys swapped neither.
	if _, err := hub.Open(th.dir, hub.Options{}); !errors.Is(err, hub.ErrKeyOnToken) {
		t.Fatalf("opening without the token: %v, want ErrKeyOnToken", err)
	}
	if _, err := hub.Open(th.dir, hub.Options{TicketSigner: caKey, CASigner: caKey}); err == nil || !strings.Contains(err.Error(), "not the key") {
		t.Fatalf("opening with another ticket key: %v", err)
	}
	if _, err := hub.Open(th.dir, hub.Options{TicketSigner: ticketKey, CASigner: ticketKey}); err == nil || !strings.Contains(err.Error(), "not the key") {
		t.Fatalf("opening with another CA key: %v", err)
	}
	h, err := hub.Open(th.dir, hub.Options{TicketSigner: ticketKey, CASigner: caKey})
	if err != nil {
		t.Fatalf("reopening with the token: %v", err)
	}
	h.Close()
}

// TestSoftwareHubKeepsItsKey: a hub made with its keys in hub.db cannot be moved to a token
// holding other keys (every workstation pinned the first one).
func TestSoftwareHubKeepsItsKey(t *testing.T) {
	dir := t.TempDir()
	h, err := hub.Open(dir, hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	ticketKey, caKey := tokenKeys(t)
	if _, err := hub.Open(dir, hub.Options{TicketSigner: ticketKey, CASigner: caKey}); err == nil || !strings.Contains(err.Error(), "workstations have pinned") {
		t.Fatalf("a software hub opened with a token's other key: %v", err)
	}
}

// writeCA saves the test PKI's CA, which the hub's TLS certificate comes from, as a PEM file.
func writeCA(t *testing.T, p *pki) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.ca.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// noneUsed is the used-ticket set of a workstation that has stamped nothing yet.
type noneUsed struct{}

func (noneUsed) TicketUsed(string) (bool, error) { return false, nil }

package upstream_test

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// pki is a throw-away CA with a server certificate for 127.0.0.1 and client certificates.
type pki struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	pool   *x509.CertPool
	server tls.Certificate
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test seal CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &pki{ca: ca, caKey: key, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.server = p.leaf(t, "127.0.0.1", true)
	return p
}

func (p *pki) leaf(t testing.TB, cn string, server bool) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (p *pki) serverTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool}
}

func (p *pki) clientTLS(t testing.TB, ws string) *tls.Config {
	c := &tls.Config{RootCAs: p.pool}
	if ws != "" {
		c.Certificates = []tls.Certificate{p.leaf(t, ws, false)}
	}
	return c
}

// testHub is a hub on 127.0.0.1 that can be restarted on the same address and folder.
type testHub struct {
	t    testing.TB
	dir  string
	opt  hub.Options
	tls  *tls.Config
	addr string
	H    *hub.Hub
	S    *hub.Server
}

func startHub(t testing.TB, opt hub.Options, tlsConf *tls.Config) *testHub {
	t.Helper()
	th := &testHub{t: t, dir: t.TempDir(), opt: opt, tls: tlsConf, addr: "127.0.0.1:0"}
	th.start()
	t.Cleanup(th.stop)
	return th
}

func (th *testHub) start() {
	th.t.Helper()
	h, err := hub.Open(th.dir, th.opt)
	if err != nil {
		th.t.Fatal(err)
	}
	var s *hub.Server
	for i := 0; ; i++ { // the port may linger for a moment after a restart
		s, err = h.Serve(th.addr, th.tls)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		h.Close()
		th.t.Fatal(err)
	}
	th.H, th.S, th.addr = h, s, s.Addr()
}

func (th *testHub) stop() {
	if th.S != nil {
		th.S.Close()
		th.H.Close()
		th.S, th.H = nil, nil
	}
}

func (th *testHub) restart() { th.stop(); th.start() }

// memLedger is a chained ledger in memory with real envelopes (random ciphertext: the hub
// cannot read them anyway).
type memLedger struct {
	mu   sync.Mutex
	envs []ledger.Envelope
}

func (l *memLedger) Append(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range n {
		e := ledger.Envelope{Seq: uint64(len(l.envs) + 1)}
		if len(l.envs) > 0 {
			e.PrevHash = l.envs[len(l.envs)-1].Hash()
		}
		rand.Read(e.Nonce[:])
		e.Ciphertext = make([]byte, 120)
		rand.Read(e.Ciphertext)
		l.envs = append(l.envs, e)
	}
}

func (l *memLedger) Size() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.envs))
}

func (l *memLedger) Envelopes(from uint64, fn func(ledger.Envelope) error) error {
	l.mu.Lock()
	envs := l.envs
	l.mu.Unlock()
	if from == 0 {
		from = 1
	}
	for i := from - 1; i < uint64(len(envs)); i++ {
		if err := fn(envs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (l *memLedger) all() []ledger.Envelope {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ledger.Envelope(nil), l.envs...)
}

func newClient(t testing.TB, url, ws string, tlsConf *tls.Config, key *ecdsa.PublicKey, timeout time.Duration) *upstream.Client {
	t.Helper()
	c, err := upstream.NewClient(upstream.ClientConfig{URL: url, Workstation: ws, TLS: tlsConf, ServerKey: key, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// docKeys is a real ledger, unlocked (Create leaves it so), whose key slots the document store
// encrypts with; escrow opens it.
func docKeys(t testing.TB) (led *ledger.Ledger, escrow *ecdh.PrivateKey) {
	t.Helper()
	escrow, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	led, err = ledger.Create(filepath.Join(t.TempDir(), ledger.FileName), []ledger.Recipient{{Public: escrow.Public(), Role: keyslot.RoleEscrow, Label: "escrow"}},
		ledger.Options{Workstation: "WS-DOCS"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	return led, escrow
}

func openStore(t testing.TB) *upstream.Store {
	t.Helper()
	led, _ := docKeys(t)
	s, err := upstream.OpenStore(t.TempDir()+"/sync.db", led)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func serverCode(err error) string {
	var se *upstream.ServerError
	if errors.As(err, &se) {
		return se.Body.Code
	}
	return ""
}

func sameLedger(t testing.TB, h *hub.Hub, ws string, local []ledger.Envelope) {
	t.Helper()
	got, err := h.Ledger(ws)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(local) {
		t.Fatalf("hub holds %d records, workstation has %d", len(got), len(local))
	}
	for i := range got {
		if got[i].Hash() != local[i].Hash() {
			t.Fatalf("record %d differs between hub and workstation", i+1)
		}
	}
	n, err := h.VerifyChain(ws)
	if err != nil || n != uint64(len(local)) {
		t.Fatalf("chain on hub: %d records, %v", n, err)
	}
}

package upstream_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/permtest"
	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// These tests attack the hub's notion of who is calling, on a real hub on 127.0.0.1 over real
// TLS. The hub runs in its normal mode (Options without AutoEnrol), which is how it runs off
// loopback; its TLS configuration trusts the test CA as an outside workstation CA
// (--client-ca) without requiring a certificate in the handshake.

// testClock is a hub clock that tests can move forward.
type testClock struct{ off atomic.Int64 }

func (c *testClock) Now() time.Time      { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *testClock) add(d time.Duration) { c.off.Add(int64(d)) }

// enrolled enrols name on the hub with a fresh code and a key made here, and returns a client
// that presents the certificate the hub issued.
func enrolled(t *testing.T, th *testHub, p *pki, name string) (*upstream.Client, *upstream.Enrolment) {
	t.Helper()
	code, err := th.H.EnrolCode(name, 0)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e, err := newClient(t, th.S.URL, name, p.clientTLS(t, ""), nil, 5*time.Second).Enrol(context.Background(), code.Code, "host-"+name, key)
	if err != nil {
		t.Fatalf("enrolling %s: %v", name, err)
	}
	return withCert(t, th, p, name, e), e
}

// withCert is a client that says it is name and presents e's certificate.
func withCert(t *testing.T, th *testHub, p *pki, name string, e *upstream.Enrolment) *upstream.Client {
	t.Helper()
	cert, err := e.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return newClient(t, th.S.URL, name, &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{cert}}, e.ServerKey, 5*time.Second)
}

func addDocFor(t *testing.T, h *hub.Hub, station, title string, pages int) upstream.Document {
	t.Helper()
	d, err := h.AddDocument(hub.NewDocument{Title: title, SealID: "SEAL-1", Workstation: station, PDF: hub.SamplePDF(title, "", pages),
		Approvals: []upstream.Approval{{Approver: upstream.Person{ID: "a1", Name: "王主任"}, At: time.Now()}}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// refused fails the test unless err is the hub refusing the caller (401 or 403).
func refused(t *testing.T, what string, err error) {
	t.Helper()
	var se *upstream.ServerError
	if !errors.As(err, &se) || (se.Status != http.StatusUnauthorized && se.Status != http.StatusForbidden) {
		t.Errorf("%s: want the hub to refuse the caller, got %v", what, err)
	}
}

func ticketOf(t *testing.T, d upstream.Document) string {
	t.Helper()
	tk, err := ticket.Parse(d.Ticket)
	if err != nil {
		t.Fatal(err)
	}
	return tk.ID()
}

// TestHeaderAloneIsNotAnIdentity: a client that only names another workstation in the
// X-SealKeeper-Workstation header cannot read its queue, tickets, files or ledger head, cannot
// reject its document, report a stamping, upload, or push a forged ledger record (which used to
// be co-signed and then made the real workstation's pushes fail with ledger_fork for ever).
// A certificate of another workstation does not help. The mode that does take the header is
// refused off loopback.
func TestHeaderAloneIsNotAnIdentity(t *testing.T) {
	p := newPKI(t)
	th := startHub(t, hub.Options{}, p.serverTLS())
	if err := th.H.SetSeal(upstream.SealStatus{ID: "SEAL-1", Status: upstream.SealActive}); err != nil {
		t.Fatal(err)
	}
	d := addDocFor(t, th.H, "WS-A", "关于办公用品采购的通知", 1)
	a, ea := enrolled(t, th, p, "WS-A")
	ctx := context.Background()
	led := &memLedger{}
	led.Append(3)
	if _, err := a.PushLedger(ctx, led.all()); err != nil {
		t.Fatal(err)
	}

	forged := &memLedger{envs: led.all()}
	forged.Append(1)
	stolen := filepath.Join(t.TempDir(), "stolen.pdf")
	junk := filepath.Join(t.TempDir(), "junk.pdf")
	os.WriteFile(junk, []byte("%PDF-1.7 not a stamping"), 0o600)
	attacks := func(name string, c *upstream.Client) {
		t.Helper()
		_, err := c.Documents(ctx)
		refused(t, name+": queue and tickets", err)
		_, err = c.LedgerHead(ctx)
		refused(t, name+": ledger head", err)
		refused(t, name+": the PDF", c.Download(ctx, d.SHA256, d.Size, stolen))
		refused(t, name+": reject", c.PostResult(ctx, upstream.Result{DocumentID: d.ID, TicketID: ticketOf(t, d), Outcome: upstream.OutcomeRejected, Reason: "伪造的退签"}))
		refused(t, name+": stamped", c.PostResult(ctx, upstream.Result{DocumentID: d.ID, TicketID: ticketOf(t, d), Outcome: upstream.OutcomeStamped, OutputSHA256: d.SHA256}))
		_, err = c.PushLedger(ctx, forged.all()[3:])
		refused(t, name+": forged ledger record", err)
		_, err = c.Heartbeat(ctx, upstream.Heartbeat{Custodian: "冒充者"})
		refused(t, name+": heartbeat", err)
		_, _, err = c.Upload(ctx, junk)
		refused(t, name+": upload", err)
	}
	attacks("header only", newClient(t, th.S.URL, "WS-A", p.clientTLS(t, ""), ea.ServerKey, 5*time.Second))

	// With its own certificate, another enrolled workstation still cannot be WS-A.
	_, eb := enrolled(t, th, p, "WS-B")
	attacks("WS-B's certificate naming WS-A", withCert(t, th, p, "WS-A", eb))

	// Nothing changed for WS-A: its document is pending, its ledger goes on without a fork.
	if _, err := os.Stat(stolen); err == nil {
		t.Error("the attacker got the PDF")
	}
	docs, err := a.Documents(ctx)
	if err != nil || len(docs) != 1 || docs[0].ID != d.ID {
		t.Fatalf("WS-A's queue: %+v, %v", docs, err)
	}
	led.Append(2)
	if head, err := a.PushLedger(ctx, led.all()[3:]); err != nil || head.Size != 5 {
		t.Fatalf("WS-A's next push: %+v, %v", head, err)
	}
	sameLedger(t, th.H, "WS-A", led.all())
	if wss, _ := th.H.Workstations(); len(wss) != 2 {
		t.Errorf("workstations on the hub: %+v", wss)
	}

	// The demo and test mode, which takes the header, cannot be served off loopback ...
	dh, err := hub.Open(t.TempDir(), hub.Options{AutoEnrol: true})
	if err != nil {
		t.Fatal(err)
	}
	defer dh.Close()
	for _, addr := range []string{":0", "0.0.0.0:0", "192.0.2.1:8443", "localhost.example:0"} {
		if s, err := dh.Serve(addr, p.serverTLS()); err == nil || !strings.Contains(err.Error(), "loopback") {
			if s != nil {
				s.Close()
			}
			t.Errorf("auto-enrol hub served on %s: %v", addr, err)
		}
	}
	// ... and its handler takes the header only on a connection between loopback addresses.
	for _, tc := range []struct {
		local, remote string
		want          int
	}{
		{"127.0.0.1:8443", "127.0.0.1:5555", http.StatusOK},
		{"10.0.0.5:8443", "127.0.0.1:5555", http.StatusUnauthorized},
		{"127.0.0.1:8443", "10.0.0.9:5555", http.StatusUnauthorized},
	} {
		req := httptest.NewRequest(http.MethodGet, "/v1/documents", nil)
		la, _ := net.ResolveTCPAddr("tcp", tc.local)
		req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, la))
		req.RemoteAddr = tc.remote
		req.Header.Set(upstream.HeaderWorkstation, "WS-DEMO")
		rec := httptest.NewRecorder()
		dh.Handler().ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("auto-enrol hub, header only, %s -> %s: %d %s, want %d", tc.remote, tc.local, rec.Code, rec.Body, tc.want)
		}
	}
	// And a hub that knows workstations by certificate does not serve plain HTTP at all.
	ph, err := hub.Open(t.TempDir(), hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	if s, err := ph.Serve("127.0.0.1:0", nil); err == nil {
		s.Close()
		t.Error("a hub without auto-enrol served plain HTTP")
	}
}

// TestBoundWorkstationMustPresentItsCertificate: a workstation bound to a certificate is
// refused without it, with a valid certificate of the outside CA bearing its name, with the
// certificate it had before it was enrolled again, and with another workstation's; also on a
// demo and test hub.
func TestBoundWorkstationMustPresentItsCertificate(t *testing.T) {
	p := newPKI(t)
	for _, mode := range []struct {
		name string
		opt  hub.Options
	}{{"normal", hub.Options{}}, {"auto-enrol on loopback", hub.Options{AutoEnrol: true}}} {
		t.Run(mode.name, func(t *testing.T) {
			th := startHub(t, mode.opt, p.serverTLS())
			ctx := context.Background()
			a, ea := enrolled(t, th, p, "WS-A")
			_, eb := enrolled(t, th, p, "WS-B")
			if _, err := a.Documents(ctx); err != nil {
				t.Fatal(err)
			}
			_, err := newClient(t, th.S.URL, "WS-A", p.clientTLS(t, ""), ea.ServerKey, 5*time.Second).Documents(ctx)
			refused(t, "no certificate", err)
			_, err = newClient(t, th.S.URL, "WS-A", p.clientTLS(t, "WS-A"), ea.ServerKey, 5*time.Second).Documents(ctx)
			refused(t, "a valid certificate of the outside CA named WS-A", err)
			_, err = withCert(t, th, p, "WS-A", eb).Documents(ctx)
			refused(t, "WS-B's certificate", err)

			// Binding a new key to WS-A takes a code, also on the demo and test hub.
			thief, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			_, err = newClient(t, th.S.URL, "WS-A", p.clientTLS(t, ""), nil, 5*time.Second).Enrol(ctx, "", "thief", thief)
			refused(t, "enrolling over WS-A without a code", err)
			if _, err := a.Documents(ctx); err != nil {
				t.Fatalf("WS-A after the attempt: %v", err)
			}

			// Enrolled again (a replaced machine): the old certificate, issued by the hub's own
			// CA for the same name and still within its validity, is no longer WS-A.
			a2, _ := enrolled(t, th, p, "WS-A")
			_, err = a.Documents(ctx)
			refused(t, "the certificate from before re-enrolment", err)
			if _, err := a2.Documents(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestEnrolIssuesCredential: the one-time code becomes a client certificate for a key the
// workstation made (CSR); the credential is saved with mode 0600 and works over mutual TLS.
// The code cannot be used again, not for another name, and not after it expired (24 hours by
// default); a code cannot mint a certificate for another workstation's name.
func TestEnrolIssuesCredential(t *testing.T) {
	p := newPKI(t)
	clock := &testClock{}
	th := startHub(t, hub.Options{Now: clock.Now}, p.serverTLS())
	ctx := context.Background()
	code, err := th.H.EnrolCode("WS-A", 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(code.Expires); d < 23*time.Hour || d > 24*time.Hour {
		t.Errorf("a code is valid for %s by default", d)
	}
	cfg := upstream.ClientConfig{URL: th.S.URL, Workstation: "WS-A", TLS: p.clientTLS(t, ""), Timeout: 5 * time.Second}
	files := upstream.DefaultCredentialFiles(t.TempDir())
	e, err := upstream.EnrolWithSoftwareKey(ctx, cfg, code.Code, "pc-01", files)
	if err != nil {
		t.Fatal(err)
	}
	if e.Certificate == nil || e.Certificate.Subject.CommonName != "WS-A" || !e.ServerKey.Equal(th.H.TicketKey()) {
		t.Fatalf("enrolment gave %+v", e)
	}
	roots := x509.NewCertPool()
	roots.AddCert(th.H.WorkstationCA())
	if _, err := e.Certificate.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the issued certificate is not a client certificate of the hub's CA: %v", err)
	}
	if sum := sha256.Sum256(e.Certificate.Raw); e.CertSHA256 != hex.EncodeToString(sum[:]) {
		t.Error("the hub reports another certificate hash than the certificate it issued")
	}
	for _, f := range []string{files.Cert, files.Key, files.ServerKey} {
		if fi, err := os.Stat(f); err != nil || !permtest.Is(fi, 0o600) {
			t.Errorf("%s: %v, %v", f, fi.Mode(), err)
		}
	}
	if fi, _ := os.Stat(filepath.Dir(files.Key)); !permtest.Is(fi, 0o700) {
		t.Errorf("credential folder mode %v", fi.Mode().Perm())
	}
	wss, _ := th.H.Workstations()
	if len(wss) != 1 || wss[0].CertSHA256 != e.CertSHA256 || wss[0].KeySHA256 == "" || wss[0].Host != "pc-01" {
		t.Fatalf("the hub holds %+v", wss)
	}

	// The saved files are what the workstation connects with.
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.ca.Raw}), 0o600)
	tlsConf, err := upstream.LoadTLS(caFile, files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	key, err := upstream.LoadServerKey(files.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	a := newClient(t, th.S.URL, "WS-A", tlsConf, key, 5*time.Second)
	if _, err := a.Documents(ctx); err != nil {
		t.Fatalf("with the saved credential: %v", err)
	}
	if _, err := a.Heartbeat(ctx, upstream.Heartbeat{}); err != nil {
		t.Fatal(err)
	}

	// Used once.
	_, err = upstream.EnrolWithSoftwareKey(ctx, cfg, code.Code, "pc-02", upstream.DefaultCredentialFiles(t.TempDir()))
	refused(t, "the same code again", err)
	if _, err := a.Documents(ctx); err != nil {
		t.Fatalf("the reused code disturbed WS-A: %v", err)
	}

	// Made for one name: not for another; the code stays good for its own.
	codeB, _ := th.H.EnrolCode("WS-B", 0)
	cfgC := cfg
	cfgC.Workstation = "WS-C"
	_, err = upstream.EnrolWithSoftwareKey(ctx, cfgC, codeB.Code, "", upstream.DefaultCredentialFiles(t.TempDir()))
	refused(t, "WS-B's code for WS-C", err)
	// A CSR naming another workstation is refused before the code is spent.
	csrKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "WS-A"}}, csrKey)
	if st, body := rawEnrol(t, th, p, upstream.EnrolRequest{Workstation: "WS-B", Code: codeB.Code, CSR: csr}); st != http.StatusBadRequest || !strings.Contains(body, `names \"WS-A\", not workstation \"WS-B\"`) {
		t.Errorf("a CSR for WS-A with WS-B's code: %d %s", st, body)
	}
	if st, body := rawEnrol(t, th, p, upstream.EnrolRequest{Workstation: "WS-B", Code: codeB.Code}); st != http.StatusBadRequest || !strings.Contains(body, "csr") {
		t.Errorf("enrolment without a CSR or a certificate: %d %s", st, body)
	}
	cfgB := cfg
	cfgB.Workstation = "WS-B"
	if _, err := upstream.EnrolWithSoftwareKey(ctx, cfgB, codeB.Code, "", upstream.DefaultCredentialFiles(t.TempDir())); err != nil {
		t.Fatalf("WS-B's own code after the refused attempts: %v", err)
	}

	// Expired: a code made for an hour, tried two hours later; a default code after a day.
	short, _ := th.H.EnrolCode("WS-D", time.Hour)
	day, _ := th.H.EnrolCode("WS-E", 0)
	clock.add(2 * time.Hour)
	cfgD := cfg
	cfgD.Workstation = "WS-D"
	_, err = upstream.EnrolWithSoftwareKey(ctx, cfgD, short.Code, "", upstream.DefaultCredentialFiles(t.TempDir()))
	refused(t, "an expired code", err)
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("the refusal does not say the code expired: %v", err)
	}
	clock.add(22*time.Hour + time.Minute)
	cfgE := cfg
	cfgE.Workstation = "WS-E"
	_, err = upstream.EnrolWithSoftwareKey(ctx, cfgE, day.Code, "", upstream.DefaultCredentialFiles(t.TempDir()))
	refused(t, "a default code after 24 hours", err)
	if _, err := th.H.EnrolCode("WS-F", 31*24*time.Hour); err == nil {
		t.Error("a code valid for 31 days was made")
	}
}

func rawEnrol(t *testing.T, th *testHub, p *pki, req upstream.EnrolRequest) (int, string) {
	t.Helper()
	body, _ := json.Marshal(req)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: p.clientTLS(t, "")}, Timeout: 5 * time.Second}
	resp, err := hc.Post(th.S.URL+"/v1/enrol", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestFileServedOnlyToItsWorkstation: a document's bytes go only to the workstation it was
// approved for, a stamped file only to the workstation that uploaded it; to any other
// workstation, also one with a valid certificate, the file does not exist, and the upload
// status does not tell it otherwise.
func TestFileServedOnlyToItsWorkstation(t *testing.T) {
	p := newPKI(t)
	th := startHub(t, hub.Options{}, p.serverTLS())
	ctx := context.Background()
	a, _ := enrolled(t, th, p, "WS-A")
	b, eb := enrolled(t, th, p, "WS-B")
	dA := addDocFor(t, th.H, "WS-A", "合同", 2)
	dB := addDocFor(t, th.H, "WS-B", "证明", 1)
	dir := t.TempDir()
	notFound := func(what string, err error) {
		t.Helper()
		if serverCode(err) != upstream.CodeNotFound {
			t.Errorf("%s: want not_found, got %v", what, err)
		}
	}
	notFound("WS-B reads WS-A's document", b.Download(ctx, dA.SHA256, dA.Size, filepath.Join(dir, "x.pdf")))
	notFound("WS-A reads WS-B's document", a.Download(ctx, dB.SHA256, dB.Size, filepath.Join(dir, "y.pdf")))
	if err := a.Download(ctx, dA.SHA256, dA.Size, filepath.Join(dir, "a.pdf")); err != nil {
		t.Fatal(err)
	}
	if err := b.Download(ctx, dB.SHA256, dB.Size, filepath.Join(dir, "b.pdf")); err != nil {
		t.Fatal(err)
	}

	// WS-A's stamped file: WS-A reads it back, WS-B does not.
	out := filepath.Join(dir, "a-stamped.pdf")
	stampWithEngine(t, filepath.Join(dir, "a.pdf"), out)
	sha, size, err := a.Upload(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Download(ctx, sha, size, filepath.Join(dir, "a-back.pdf")); err != nil {
		t.Fatal(err)
	}
	notFound("WS-B reads WS-A's stamped file", b.Download(ctx, sha, size, filepath.Join(dir, "z.pdf")))

	// The upload status says nothing to WS-B about WS-A's files, and an empty or partial PUT
	// does not make them WS-B's.
	cert, _ := eb.TLSCertificate()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{cert}}}, Timeout: 5 * time.Second}
	for _, h := range []upstream.Document{dA, {SHA256: sha, Size: size}} {
		req, _ := http.NewRequest(http.MethodPut, th.S.URL+"/v1/files/"+h.SHA256, nil)
		req.Header.Set(upstream.HeaderUploadOffset, "0")
		req.Header.Set(upstream.HeaderUploadLength, "1")
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
		}
		resp, err := hc.Get(th.S.URL + "/v1/files/" + h.SHA256 + "/status")
		if err != nil {
			t.Fatal(err)
		}
		var st upstream.UploadStatus
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if st.Complete || st.Received != 0 {
			t.Errorf("WS-B sees the upload status of %s: %+v", h.SHA256[:12], st)
		}
		notFound("WS-B reads after its claims", b.Download(ctx, h.SHA256, h.Size, filepath.Join(dir, "w.pdf")))
	}
}

// TestStampedResultMustExtendApprovedBytes: the hub records "stamped" only for a file the
// workstation uploaded that begins with the approved document's bytes and adds a signed
// update: not the unsigned original, not the approved bytes with something unsigned or a fake
// signature dictionary appended, not another document's stamping, not another workstation's
// upload.
func TestStampedResultMustExtendApprovedBytes(t *testing.T) {
	p := newPKI(t)
	th := startHub(t, hub.Options{}, p.serverTLS())
	sealCertOn(t, th.H, "SEAL-1")
	ctx := context.Background()
	a, _ := enrolled(t, th, p, "WS-A")
	b, _ := enrolled(t, th, p, "WS-B")
	d1 := addDocFor(t, th.H, "WS-A", "通知", 1)
	d2 := addDocFor(t, th.H, "WS-A", "纪要", 2)
	dir := t.TempDir()
	orig1, orig2 := filepath.Join(dir, "d1.pdf"), filepath.Join(dir, "d2.pdf")
	if err := a.Download(ctx, d1.SHA256, d1.Size, orig1); err != nil {
		t.Fatal(err)
	}
	if err := a.Download(ctx, d2.SHA256, d2.Size, orig2); err != nil {
		t.Fatal(err)
	}
	approved, _ := os.ReadFile(orig1)
	upload := func(c *upstream.Client, name string, data []byte) (string, int64) {
		t.Helper()
		f := filepath.Join(dir, name)
		if data != nil {
			os.WriteFile(f, data, 0o600)
		}
		sha, size, err := c.Upload(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return sha, size
	}
	stamped := func(sha string, size int64) error {
		return a.PostResult(ctx, upstream.Result{DocumentID: d1.ID, TicketID: ticketOf(t, d1), Outcome: upstream.OutcomeStamped, OutputSHA256: sha, OutputSize: size})
	}
	notStamped := func(what string, err error) {
		t.Helper()
		if serverCode(err) != upstream.CodeNotStamped {
			t.Errorf("%s: want not_stamped, got %v", what, err)
		}
	}

	notStamped("the unsigned original", stamped(d1.SHA256, d1.Size))
	junkSHA, junkSize := upload(a, "junk.pdf", append(bytes.Clone(approved), "\n% stamped, honestly\n"...))
	notStamped("the approved bytes and an unsigned comment", stamped(junkSHA, junkSize))
	fake := append(bytes.Clone(approved), "\n5 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange [0 10 20 30] /Contents <00> >>\nendobj\n%%EOF\n"...)
	fakeSHA, fakeSize := upload(a, "fake.pdf", fake)
	notStamped("the approved bytes and a fake signature dictionary", stamped(fakeSHA, fakeSize))
	stampWithEngine(t, orig2, filepath.Join(dir, "d2-stamped.pdf"))
	otherSHA, otherSize := upload(a, "d2-stamped.pdf", nil)
	notStamped("the stamping of another document", stamped(otherSHA, otherSize))

	// A real stamping of d1, but uploaded by WS-B: WS-A did not send it.
	real1 := stampWithEngine(t, orig1, filepath.Join(dir, "d1-stamped.pdf"))
	bSHA, bSize := upload(b, "d1-stamped-by-b.pdf", real1)
	if err := stamped(bSHA, bSize); serverCode(err) != upstream.CodeUploadFirst {
		t.Errorf("a file WS-B uploaded: want upload_first, got %v", err)
	}
	if docs, _ := th.H.Documents(); docs[0].State != hub.StatePending {
		t.Fatalf("after the refusals the document is %s", docs[0].State)
	}

	// WS-A's own upload of the real stamping is recorded, and again is the same answer.
	sha, size := upload(a, "d1-stamped.pdf", nil)
	if sha != bSHA {
		t.Fatal("the same bytes have another hash")
	}
	if err := stamped(sha, size); err != nil {
		t.Fatalf("a real stamping: %v", err)
	}
	if err := stamped(sha, size); err != nil {
		t.Fatalf("the same result again: %v", err)
	}
	if docs, _ := th.H.Documents(); docs[0].State != hub.StateStamped || docs[0].Result.OutputSHA256 != sha {
		t.Fatalf("the hub holds %+v", docs[0])
	}
}

// TestUnenrolledWorkstationIsRefused: un-enrolling a workstation makes its certificate worthless
// at once and withdraws its unused codes; it can be enrolled again with a new code.
func TestUnenrolledWorkstationIsRefused(t *testing.T) {
	p := newPKI(t)
	th := startHub(t, hub.Options{}, p.serverTLS())
	ctx := context.Background()
	a, _ := enrolled(t, th, p, "WS-A")
	led := &memLedger{}
	led.Append(2)
	if _, err := a.PushLedger(ctx, led.all()); err != nil {
		t.Fatal(err)
	}
	spare, _ := th.H.EnrolCode("WS-A", 0)
	if err := th.H.Unenrol("WS-A"); err != nil {
		t.Fatal(err)
	}
	_, err := a.Documents(ctx)
	if serverCode(err) != upstream.CodeUnknownWS {
		t.Errorf("un-enrolled, its certificate: %v", err)
	}
	led.Append(1)
	_, err = a.PushLedger(ctx, led.all()[2:])
	refused(t, "un-enrolled, a ledger push", err)
	_, err = upstream.EnrolWithSoftwareKey(ctx, upstream.ClientConfig{URL: th.S.URL, Workstation: "WS-A", TLS: p.clientTLS(t, ""), Timeout: 5 * time.Second}, spare.Code, "", upstream.DefaultCredentialFiles(t.TempDir()))
	refused(t, "a code made before the un-enrolment", err)
	if err := th.H.Unenrol("WS-A"); err == nil {
		t.Error("un-enrolled twice")
	}
	if wss, _ := th.H.Workstations(); len(wss) != 0 {
		t.Errorf("workstations after un-enrolment: %+v", wss)
	}
	// What it sent stays; enrolled again, it continues its ledger.
	a2, _ := enrolled(t, th, p, "WS-A")
	if head, err := a2.PushLedger(ctx, led.all()[2:]); err != nil || head.Size != 3 {
		t.Fatalf("enrolled again: %+v, %v", head, err)
	}
	_, err = a.Documents(ctx)
	refused(t, "the certificate from before", err)
}

// TestStampedResultMustBeSignedBySealCertificate: the hub used to record "stamped" for any
// valid signature over the approved bytes, whoever's key made it. Now the signature must be made
// by the certificate the hub's seal list gives for the document's seal: a valid signature by
// another key is refused, and so is one by a certificate that copies the seal certificate's
// subject, issuer and serial number with another key; a seal with no listed certificate cannot
// be reported stamped (outside the demo and test mode). The seal list gives the certificate's
// SHA-256; a stamping by the listed certificate is recorded.
func TestStampedResultMustBeSignedBySealCertificate(t *testing.T) {
	p := newPKI(t)
	th := startHub(t, hub.Options{}, p.serverTLS())
	ctx := context.Background()
	sealCertOn(t, th.H, "SEAL-1")
	if err := th.H.SetSeal(upstream.SealStatus{ID: "SEAL-2", Status: upstream.SealActive}); err != nil {
		t.Fatal(err)
	}
	a, _ := enrolled(t, th, p, "WS-A")
	d1 := addDocFor(t, th.H, "WS-A", "通知", 1)
	d2, err := th.H.AddDocument(hub.NewDocument{Title: "证明", SealID: "SEAL-2", Workstation: "WS-A", PDF: hub.SamplePDF("证明", "", 1)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	report := func(d upstream.Document, key crypto.Signer, cert *x509.Certificate, name string) error {
		t.Helper()
		orig, out := filepath.Join(dir, d.ID+".pdf"), filepath.Join(dir, name)
		if err := a.Download(ctx, d.SHA256, d.Size, orig); err != nil {
			t.Fatal(err)
		}
		stampWith(t, orig, out, key, cert)
		sha, size, err := a.Upload(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		return a.PostResult(ctx, upstream.Result{DocumentID: d.ID, TicketID: ticketOf(t, d), Outcome: upstream.OutcomeStamped, OutputSHA256: sha, OutputSize: size})
	}
	notStamped := func(what string, err error, want string) {
		t.Helper()
		if serverCode(err) != upstream.CodeNotStamped || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want not_stamped saying %q, got %v", what, want, err)
		}
	}
	seal := testSeal().cert
	selfSigned := func(tmpl *x509.Certificate) (*ecdsa.PrivateKey, *x509.Certificate) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return key, c
	}

	// Another key with a certificate of its own: the signature is valid, the signer is not the seal.
	k2, c2 := selfSigned(&x509.Certificate{SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: "某人的章"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature})
	notStamped("a valid signature by another key", report(d1, k2, c2, "other.pdf"), "not by the certificate of seal SEAL-1")
	// A copy of the seal certificate's names and serial number over another key.
	k3, c3 := selfSigned(&x509.Certificate{SerialNumber: seal.SerialNumber, Subject: seal.Subject,
		NotBefore: seal.NotBefore, NotAfter: seal.NotAfter, KeyUsage: x509.KeyUsageDigitalSignature})
	if c3.Issuer.String() != seal.Issuer.String() || c3.SerialNumber.Cmp(seal.SerialNumber) != 0 {
		t.Fatal("the look-alike certificate does not copy the seal certificate's issuer and serial")
	}
	notStamped("a look-alike of the seal certificate", report(d1, k3, c3, "lookalike.pdf"), "not by the certificate of seal SEAL-1")
	// A seal with no certificate listed.
	notStamped("a seal with no listed certificate", report(d2, testSeal().key, seal, "d2.pdf"), "hub seal --id SEAL-2 --cert")
	if docs, _ := th.H.Documents(); docs[0].State != hub.StatePending || docs[1].State != hub.StatePending {
		t.Fatalf("after the refusals: %s, %s", docs[0].State, docs[1].State)
	}

	// The seal list names the certificate; a stamping by it is recorded.
	list, err := a.Seals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(seal.Raw)
	for _, s := range list.Seals {
		if s.ID == "SEAL-1" && s.CertSHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("the seal list gives certificate %q for SEAL-1", s.CertSHA256)
		}
	}
	if err := report(d1, testSeal().key, seal, "real.pdf"); err != nil {
		t.Fatalf("a stamping by the seal's certificate: %v", err)
	}
	// Once listed, SEAL-2's stamping is recorded too.
	if err := th.H.SetSealCertificate("SEAL-2", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: seal.Raw})); err != nil {
		t.Fatal(err)
	}
	if err := report(d2, testSeal().key, seal, "d2-again.pdf"); err != nil {
		t.Fatalf("SEAL-2 after its certificate was listed: %v", err)
	}
}

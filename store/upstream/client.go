package upstream

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
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sealkeeper/sealkeeper/store/atomic"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/ticket"
)

// ClientConfig says where the server is and how to trust it.
type ClientConfig struct {
	// URL is the server's base URL (https://host:port). http:// is accepted only for a loopback
	// host (the demo hub).
	URL         string
	Workstation string
	// TLS carries RootCAs (the configured CA) and, for mutual TLS, the workstation certificate.
	// Nil means the system roots and no client certificate.
	TLS *tls.Config
	// ServerKey is the ticket key pinned at enrolment; checkpoints are verified with it. Nil
	// before enrolment.
	ServerKey *ecdsa.PublicKey
	// Timeout bounds each request, body included (default 30 s), so a server that drips its
	// answer slowly cannot hold the client.
	Timeout time.Duration
}

// Client speaks the protocol. It is safe for concurrent use.
type Client struct {
	cfg  ClientConfig
	base *url.URL
	hc   *http.Client
}

// NewClient checks the configuration and builds a client.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("upstream URL %q is not a URL like https://seal.example.org", cfg.URL)
	}
	switch u.Scheme {
	case "https":
		// Only the configured CA: with the system's roots any certificate a public CA issued
		// for the name would do, and the impostor behind it would be "the server".
		if cfg.TLS == nil || cfg.TLS.RootCAs == nil {
			return nil, fmt.Errorf("upstream URL %s: no CA is configured for the seal-management server (upstream.ca); the system's trust roots are not used for it: set upstream.ca to the CA that issued the server's TLS certificate", cfg.URL)
		}
	case "http":
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("upstream URL %s uses plain http; the seal server must be reached over https (plain http is only for the demo on 127.0.0.1)", cfg.URL)
		}
	default:
		return nil, fmt.Errorf("upstream URL %s: scheme must be https", cfg.URL)
	}
	if cfg.Workstation == "" {
		return nil, errors.New("the workstation has no name; set workstation in the configuration")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	tr := &http.Transport{
		Proxy:                  nil, // the seal server is reached directly; no proxy sees tickets
		DialContext:            (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  cfg.Timeout,
		IdleConnTimeout:        60 * time.Second,
		MaxIdleConnsPerHost:    4,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      true,
	}
	if cfg.TLS != nil {
		tr.TLSClientConfig = cfg.TLS.Clone()
		if tr.TLSClientConfig.MinVersion < tls.VersionTLS12 {
			tr.TLSClientConfig.MinVersion = tls.VersionTLS12
		}
	}
	return &Client{cfg: cfg, base: u, hc: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return errors.New("the server answered with a redirect; the protocol has none")
	}}}, nil
}

// LoadTLS builds the client TLS configuration from PEM files: the CA the server's certificate
// must chain to (required: the system's roots are never used for the server), and optionally
// the workstation's certificate and key for mutual TLS.
func LoadTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return nil, errors.New("no CA is configured for the seal-management server (upstream.ca is empty); the system's trust roots are not used for it: set upstream.ca to the CA that issued the server's TLS certificate")
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the server CA (upstream.ca): %w", err)
	}
	c.RootCAs = x509.NewCertPool()
	if !c.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the server CA file %s holds no PEM certificate", caFile)
	}
	if certFile != "" || keyFile != "" {
		kp, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the workstation certificate (upstream.client_cert/client_key): %w", err)
		}
		c.Certificates = []tls.Certificate{kp}
	}
	return c, nil
}

// Workstation is the name this client sends.
func (c *Client) Workstation() string { return c.cfg.Workstation }

// ServerKey is the pinned server key (nil before enrolment).
func (c *Client) ServerKey() *ecdsa.PublicKey { return c.cfg.ServerKey }

// Error kinds the sync loop acts on.
var (
	// ErrOffline: the server could not be reached or did not answer in time.
	ErrOffline = errors.New("seal-management server unreachable")
	// ErrBadResponse: the server answered, but not with something this protocol allows.
	ErrBadResponse = errors.New("unexpected answer from the seal-management server")
)

// ServerError is a protocol error answered by the server (a non-2xx status with an ErrorBody).
type ServerError struct {
	Method, Path string
	Status       int
	Body         ErrorBody
}

func (e *ServerError) Error() string {
	msg := e.Body.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	code := e.Body.Code
	if code == "" {
		code = http.StatusText(e.Status)
	}
	return fmt.Sprintf("seal-management server refused %s %s (%d %s): %s", e.Method, e.Path, e.Status, code, msg)
}

// Temporary reports whether retrying later may help (server-side trouble, not a refusal).
func (e *ServerError) Temporary() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// do sends one request and reads at most limit bytes of answer. in is JSON-encoded unless it is
// already []byte. out, when non-nil, receives the JSON answer.
func (c *Client) do(ctx context.Context, method, path string, hdr http.Header, in any, limit int64, out any) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var body io.Reader
	ctype := ""
	switch v := in.(type) {
	case nil:
	case []byte:
		body, ctype = bytes.NewReader(v), "application/octet-stream"
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, nil, err
		}
		body, ctype = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	id := newRequestID()
	req.Header.Set(HeaderRequestID, id)
	req.Header.Set(HeaderWorkstation, c.cfg.Workstation)
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, c.netErr(method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err == nil && ctx.Err() != nil {
		err = ctx.Err() // the deadline cut the body: never parse what arrived before it
	}
	if err != nil {
		return nil, nil, c.netErr(method, path, err)
	}
	if int64(len(raw)) > limit {
		return nil, nil, fmt.Errorf("%w: %s %s: the answer is over the %d-byte limit; the server or something in between is misbehaving", ErrBadResponse, method, path, limit)
	}
	if got := resp.Header.Get(HeaderRequestID); got != id {
		// A proxy or a broken server mixed up answers; acting on it could skip records.
		return nil, nil, fmt.Errorf("%w: %s %s: the answer belongs to another request (request id %q, sent %q)", ErrBadResponse, method, path, got, id)
	}
	if resp.StatusCode/100 != 2 {
		se := &ServerError{Method: method, Path: path, Status: resp.StatusCode}
		if json.Unmarshal(raw, &se.Body) != nil {
			se.Body = ErrorBody{Code: "", Message: strings.TrimSpace(printable(raw, 200))}
		}
		return resp, raw, se
	}
	if out != nil {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			return nil, nil, fmt.Errorf("%w: %s %s: answer is %q, not JSON", ErrBadResponse, method, path, ct)
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, nil, fmt.Errorf("%w: %s %s: answer is not the expected JSON: %v", ErrBadResponse, method, path, err)
		}
	}
	return resp, raw, nil
}

func printable(b []byte, n int) string {
	s := strings.ToValidUTF8(string(b[:min(len(b), n)]), "?")
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' {
			return '?'
		}
		return r
	}, s)
}

func (c *Client) netErr(method, path string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	if errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie) {
		return fmt.Errorf("%w: %s is not the configured server: its certificate does not verify (%v); check upstream.url and upstream.ca", ErrOffline, c.base.Host, err)
	}
	if strings.Contains(err.Error(), "certificate required") || strings.Contains(err.Error(), "bad certificate") || strings.Contains(err.Error(), "unknown certificate authority") {
		return fmt.Errorf("the server at %s refused this workstation's TLS client certificate (%v); it requires one it trusts: configure upstream.client_cert and upstream.client_key", c.base.Host, err)
	}
	if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
		return fmt.Errorf("%w: %s %s: no complete answer within %s; working offline", ErrOffline, method, path, c.cfg.Timeout)
	}
	return fmt.Errorf("%w: %s %s on %s: %v; working offline", ErrOffline, method, path, c.base.Host, err)
}

// Hello asks who the server is.
func (c *Client) Hello(ctx context.Context) (*Hello, error) {
	var h Hello
	_, _, err := c.do(ctx, http.MethodGet, APIVersion+"/hello", nil, nil, MaxJSONBody, &h)
	return &h, err
}

// Enrolment is what enrolment gave the workstation: the server key it pinned and, when it sent
// a key, the client certificate the server issued for it.
type Enrolment struct {
	EnrolResponse
	ServerKey *ecdsa.PublicKey
	// Certificate is the client certificate issued for Key; nil when no key was sent (the
	// server then bound the certificate this client presented, or is a demo hub).
	Certificate *x509.Certificate
	Key         crypto.Signer
}

// TLSCertificate is the issued certificate with its key, for ClientConfig.TLS.
func (e *Enrolment) TLSCertificate() (tls.Certificate, error) {
	if e.Certificate == nil || e.Key == nil {
		return tls.Certificate{}, errors.New("this enrolment issued no client certificate")
	}
	return tls.Certificate{Certificate: [][]byte{e.Certificate.Raw}, PrivateKey: e.Key, Leaf: e.Certificate}, nil
}

// Enrol enrols the workstation with a one-time code and returns the server key to pin. When a
// key is already pinned, a server with another key is refused.
//
// With key non-nil the workstation sends a certificate signing request for it, and the server
// answers with the client certificate the workstation must present from then on (mutual TLS);
// Enrol checks that the certificate is for this key and this workstation name. The key should
// be made for this and kept where only the workstation can use it: on its token where the token
// can make one (see EnrolWithSoftwareKey). With key nil the server binds the certificate this
// client presents (ClientConfig.TLS, from an outside workstation CA).
func (c *Client) Enrol(ctx context.Context, code, host string, key crypto.Signer) (*Enrolment, error) {
	req := EnrolRequest{Workstation: c.cfg.Workstation, Code: code, Host: host}
	if key != nil {
		csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: c.cfg.Workstation}}, key)
		if err != nil {
			return nil, fmt.Errorf("making the certificate signing request for the workstation key: %w", err)
		}
		req.CSR = csr
	}
	var r EnrolResponse
	_, _, err := c.do(ctx, http.MethodPost, APIVersion+"/enrol", nil, req, MaxJSONBody, &r)
	if err != nil {
		return nil, err
	}
	pub, err := ticket.ParsePublicKey([]byte(r.TicketKey))
	if err != nil {
		return nil, fmt.Errorf("%w: enrolment: %v", ErrBadResponse, err)
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: enrolment: server key is %T", ErrBadResponse, pub)
	}
	if c.cfg.ServerKey != nil && !c.cfg.ServerKey.Equal(k) {
		return nil, errors.New("the server's key is not the one pinned at enrolment; if the server key was really replaced, remove upstream.server_key and enrol again")
	}
	if r.Workstation != c.cfg.Workstation {
		return nil, fmt.Errorf("%w: enrolment answered for workstation %q", ErrBadResponse, r.Workstation)
	}
	e := &Enrolment{EnrolResponse: r, ServerKey: k, Key: key}
	if key != nil {
		if e.Certificate, err = c.checkIssued(r, key); err != nil {
			return nil, fmt.Errorf("%w: enrolment: %v", ErrBadResponse, err)
		}
	}
	c.cfg.ServerKey = k
	return e, nil
}

// checkIssued checks the certificate the server issued: for our key and name, for client
// authentication, valid now, signed by the CA that came with it, and the hash the server bound.
func (c *Client) checkIssued(r EnrolResponse, key crypto.Signer) (*x509.Certificate, error) {
	if len(r.Certificate) == 0 {
		return nil, errors.New("the server issued no client certificate for the workstation key")
	}
	cert, err := x509.ParseCertificate(r.Certificate)
	if err != nil {
		return nil, fmt.Errorf("the issued certificate: %v", err)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("the issued certificate is not for the workstation's key")
	}
	if cert.Subject.CommonName != c.cfg.Workstation {
		return nil, fmt.Errorf("the issued certificate names %q, not this workstation", cert.Subject.CommonName)
	}
	if s := sha256.Sum256(cert.Raw); hex.EncodeToString(s[:]) != r.CertSHA256 {
		return nil, errors.New("the server bound another certificate than the one it returned")
	}
	ca, err := x509.ParseCertificate(r.CACertificate)
	if err != nil {
		return nil, fmt.Errorf("the workstation CA certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("the issued certificate does not verify as a client certificate: %v", err)
	}
	return cert, nil
}

// CredentialFiles are where a workstation keeps what enrolment gave it.
type CredentialFiles struct {
	Cert      string // the client certificate, PEM (upstream.client_cert)
	Key       string // its private key, PEM PKCS#8, mode 0600 (upstream.client_key)
	ServerKey string // the pinned server key, PEM (upstream.server_key)
}

// DefaultCredentialFiles are the files in the workstation's data folder, DATA/upstream/.
func DefaultCredentialFiles(dataDir string) CredentialFiles {
	d := filepath.Join(dataDir, "upstream")
	return CredentialFiles{Cert: filepath.Join(d, "client-cert.pem"), Key: filepath.Join(d, "client-key.pem"), ServerKey: filepath.Join(d, "server-key.pem")}
}

// Save writes the pinned server key, the certificate and (a software key only) the private key,
// each atomically with mode 0600, in folders made with mode 0700.
func (e *Enrolment) Save(f CredentialFiles) error {
	for _, p := range []string{f.Cert, f.Key, f.ServerKey} {
		if p != "" {
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
		}
	}
	if e.Certificate != nil {
		kd, err := x509.MarshalPKCS8PrivateKey(e.Key)
		if err != nil {
			return fmt.Errorf("the workstation key cannot be written to a file (%T): a token key stays on the token; save only the certificate", e.Key)
		}
		if err := atomic.WriteFile(f.Key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
			return err
		}
		if err := atomic.WriteFile(f.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.Certificate.Raw}), 0o600); err != nil {
			return err
		}
	}
	return PinServerKey(f.ServerKey, e.ServerKey)
}

// EnrolWithSoftwareKey enrols with a P-256 key made here in software, then saves the pinned
// server key, the issued certificate and the key (mode 0600) in files. cfg.TLS carries the CA
// the server's certificate must chain to.
//
// The key is a file in the workstation's data folder, readable by its user only. A token key
// goes here instead: generate the key pair on the workstation's PKCS#11 token (CKA_TOKEN,
// CKA_SENSITIVE, not CKA_EXTRACTABLE), pass its crypto.Signer to Client.Enrol, save only the
// certificate, and give LoadTLS that signer instead of files.Key.
func EnrolWithSoftwareKey(ctx context.Context, cfg ClientConfig, code, host string, files CredentialFiles) (*Enrolment, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	e, err := c.Enrol(ctx, code, host, key)
	if err != nil {
		return nil, err
	}
	if err := e.Save(files); err != nil {
		return nil, fmt.Errorf("enrolled, but the credential could not be saved (enrol again with a new code): %w", err)
	}
	return e, nil
}

// Heartbeat reports the workstation's state.
func (c *Client) Heartbeat(ctx context.Context, hb Heartbeat) (*HeartbeatReply, error) {
	var r HeartbeatReply
	_, _, err := c.do(ctx, http.MethodPost, APIVersion+"/heartbeat", nil, hb, MaxJSONBody, &r)
	return &r, err
}

// maxPages bounds how many pages one listing may take, so a server that always says "more"
// cannot keep the client in a loop.
const maxPages = 1000

// Documents lists every pending document for this workstation, following pages.
func (c *Client) Documents(ctx context.Context) ([]Document, error) {
	var all []Document
	after := ""
	for range maxPages {
		var p DocumentPage
		q := url.Values{"limit": {strconv.Itoa(MaxPage)}}
		if after != "" {
			q.Set("after", after)
		}
		if err := c.signed(ctx, "/documents?"+q.Encode(), "/documents", "document listing", MaxJSONBody*4, &p); err != nil {
			return nil, err
		}
		all = append(all, p.Documents...)
		if p.Next == "" {
			return all, nil
		}
		if p.Next <= after {
			return nil, fmt.Errorf("%w: document listing does not advance (next %q after %q)", ErrBadResponse, p.Next, after)
		}
		after = p.Next
	}
	return nil, fmt.Errorf("%w: document listing has more than %d pages", ErrBadResponse, maxPages)
}

// Seals fetches the seal status list, signed by the pinned server key for this request.
func (c *Client) Seals(ctx context.Context) (*SealList, error) {
	var s SealList
	return &s, c.signed(ctx, "/seals", "/seals", "seal list", MaxJSONBody, &s)
}

// Roster fetches the custodian roster and handover approvals, signed like the seal list.
func (c *Client) Roster(ctx context.Context) (*Roster, error) {
	var r Roster
	return &r, c.signed(ctx, "/custodians", "/custodians", "custodian roster", MaxJSONBody, &r)
}

// signed GETs path (with its query) and decodes the answer only if the pinned server key
// signed exactly these bytes for the protocol path signedPath, this workstation and this
// request (SignedAnswerDigest). Anything else is ErrBadResponse: a server without the key, or
// something in between, cannot make one.
func (c *Client) signed(ctx context.Context, path, signedPath, what string, limit int64, out any) error {
	key := c.cfg.ServerKey
	if key == nil {
		return fmt.Errorf("no server key is pinned, so the %s cannot be checked; enrol the workstation first", what)
	}
	resp, raw, err := c.do(ctx, http.MethodGet, APIVersion+path, nil, nil, limit, nil)
	if err != nil {
		return err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("%w: GET %s: answer is %q, not JSON", ErrBadResponse, APIVersion+path, ct)
	}
	sig, err := base64.StdEncoding.DecodeString(resp.Header.Get(HeaderSignature))
	if err != nil || len(sig) == 0 || !ecdsa.VerifyASN1(key, SignedAnswerDigest(APIVersion+signedPath, c.cfg.Workstation, resp.Header.Get(HeaderRequestID), raw), sig) {
		return fmt.Errorf("%w: the %s is not signed by the pinned server key (%s header missing or wrong); it was not used", ErrBadResponse, what, HeaderSignature)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%w: the %s is not the expected JSON: %v", ErrBadResponse, what, err)
	}
	return nil
}

// PostResult reports a stamped or rejected document. The same result twice is accepted.
func (c *Client) PostResult(ctx context.Context, r Result) error {
	_, _, err := c.do(ctx, http.MethodPost, APIVersion+"/results", nil, r, MaxJSONBody, nil)
	return err
}

// LedgerHead asks how much of this workstation's ledger the server holds.
func (c *Client) LedgerHead(ctx context.Context) (*LedgerHead, error) {
	var h LedgerHead
	_, _, err := c.do(ctx, http.MethodGet, APIVersion+"/ledger", nil, nil, MaxJSONBody, &h)
	if err == nil {
		err = c.checkHead(&h)
	}
	return &h, err
}

func (c *Client) checkHead(h *LedgerHead) error {
	if h.Checkpoint == nil {
		return nil
	}
	if h.Checkpoint.Workstation != c.cfg.Workstation {
		return fmt.Errorf("%w: checkpoint is for workstation %q", ErrBadResponse, h.Checkpoint.Workstation)
	}
	if c.cfg.ServerKey == nil {
		return errors.New("no server key is pinned, so the server's checkpoint cannot be checked; enrol the workstation")
	}
	if err := h.Checkpoint.Verify(c.cfg.ServerKey); err != nil {
		return fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	return nil
}

// PushLedger sends consecutive envelopes (ascending seq, at most MaxLedgerBatch). The answer
// is the server's head with a co-signed checkpoint, already verified with the pinned key.
// Refusals are *ServerError with Code CodeFork, CodeGap (Body.ExpectedSeq) or CodeBadChain.
func (c *Client) PushLedger(ctx context.Context, envs []ledger.Envelope) (*LedgerHead, error) {
	if len(envs) > MaxLedgerBatch {
		return nil, fmt.Errorf("%d records in one push; at most %d", len(envs), MaxLedgerBatch)
	}
	p := LedgerPush{Records: make([]LedgerRecord, len(envs))}
	for i, e := range envs {
		raw, err := e.MarshalBinary()
		if err != nil {
			return nil, err
		}
		p.Records[i] = LedgerRecord{Seq: e.Seq, Envelope: raw}
	}
	var h LedgerHead
	if _, _, err := c.do(ctx, http.MethodPost, APIVersion+"/ledger", nil, p, MaxJSONBody, &h); err != nil {
		return nil, err
	}
	if err := c.checkHead(&h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Download fetches a file by SHA-256 into dst, resuming from dst+".part" if an earlier attempt
// was cut off, and checks the hash before renaming into place. Each request asks for at most
// MaxUploadChunk bytes and has the client's timeout.
func (c *Client) Download(ctx context.Context, sha string, size int64, dst string) error {
	if err := checkSize(sha, size); err != nil {
		return err
	}
	part := dst + ".part"
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if have > size {
		if err := f.Truncate(0); err != nil {
			return err
		}
		have, _ = f.Seek(0, io.SeekStart)
	}
	if err := c.fetchInto(ctx, sha, size, have, f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if err := checkSum(sha, h.Sum(nil)); err != nil {
		f.Close()
		os.Remove(part)
		return err
	}
	f.Close()
	return os.Rename(part, dst)
}

// FetchStamped fetches a stamped file this workstation uploaded, by its SHA-256, from the
// server into memory: the workstation deletes its own copy once the server holds it (nothing
// stays readable on disk), and printing it later needs the bytes again. The size comes from the
// server's upload status; Fetch checks the bytes against the hash.
func (c *Client) FetchStamped(ctx context.Context, sha string) ([]byte, error) {
	var st UploadStatus
	if _, _, err := c.do(ctx, http.MethodGet, APIVersion+"/files/"+sha+"/status", nil, nil, MaxJSONBody, &st); err != nil {
		return nil, err
	}
	if !st.Complete || st.Length <= 0 {
		return nil, fmt.Errorf("the server does not hold the stamped file %.12s… (it has %d of %d bytes)", sha, st.Received, st.Length)
	}
	return c.Fetch(ctx, sha, st.Length)
}

// Fetch fetches a file by SHA-256 into memory and checks the hash: an approved document, which
// the workstation keeps only encrypted (docs.go), never in a file of its own.
func (c *Client) Fetch(ctx context.Context, sha string, size int64) ([]byte, error) {
	if err := checkSize(sha, size); err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	if err := c.fetchInto(ctx, sha, size, 0, &memWriter{buf}); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(buf)
	if err := checkSum(sha, sum[:]); err != nil {
		return nil, err
	}
	return buf, nil
}

type memWriter struct{ b []byte }

func (m *memWriter) WriteAt(p []byte, off int64) (int, error) { return copy(m.b[off:], p), nil }

func checkSize(sha string, size int64) error {
	if size <= 0 || size > MaxDocumentSize {
		return fmt.Errorf("document %s: size %d is outside 1 to %d bytes", sha, size, MaxDocumentSize)
	}
	return nil
}

func checkSum(sha string, sum []byte) error {
	if got := hex.EncodeToString(sum); got != sha {
		return fmt.Errorf("%w: downloaded file has SHA-256 %s, not the approved %s; it was discarded and will be fetched again", ErrBadResponse, got[:16], sha[:16])
	}
	return nil
}

// fetchInto fetches bytes have..size of a file into w, at most MaxUploadChunk per request.
func (c *Client) fetchInto(ctx context.Context, sha string, size, have int64, w io.WriterAt) error {
	for have < size {
		end := min(have+MaxUploadChunk, size) - 1
		hdr := http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", have, end)}, "Accept": {"application/pdf"}}
		resp, raw, err := c.do(ctx, http.MethodGet, APIVersion+"/files/"+sha, hdr, nil, MaxUploadChunk, nil)
		if err != nil {
			return err
		}
		switch {
		case resp.StatusCode == http.StatusPartialContent:
			var from int64
			if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-", &from); err != nil || from != have {
				return fmt.Errorf("%w: file %s: asked for bytes from %d, got %q", ErrBadResponse, sha, have, resp.Header.Get("Content-Range"))
			}
		case resp.StatusCode == http.StatusOK && have == 0:
		default:
			return fmt.Errorf("%w: file %s: status %d to a range request", ErrBadResponse, sha, resp.StatusCode)
		}
		if len(raw) == 0 || have+int64(len(raw)) > size {
			return fmt.Errorf("%w: file %s: %d bytes at offset %d for a %d-byte file", ErrBadResponse, sha, len(raw), have, size)
		}
		if _, err := w.WriteAt(raw, have); err != nil {
			return err
		}
		have += int64(len(raw))
	}
	return nil
}

// Upload sends a stamped file, resuming where the server's copy stops.
func (c *Client) Upload(ctx context.Context, path string) (sha string, size int64, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", 0, err
	}
	if len(data) == 0 || len(data) > MaxDocumentSize {
		return "", 0, fmt.Errorf("stamped file %s: %d bytes is outside 1 to %d", path, len(data), MaxDocumentSize)
	}
	sum := sha256.Sum256(data)
	sha = hex.EncodeToString(sum[:])
	size = int64(len(data))
	var st UploadStatus
	if _, _, err := c.do(ctx, http.MethodGet, APIVersion+"/files/"+sha+"/status", nil, nil, MaxJSONBody, &st); err != nil {
		return sha, size, err
	}
	off := st.Received
	for range 2 * (MaxDocumentSize/MaxUploadChunk + 1) {
		if st.Complete {
			return sha, size, nil
		}
		if off < 0 || off > size {
			return sha, size, fmt.Errorf("%w: server holds %d bytes of a %d-byte upload", ErrBadResponse, off, size)
		}
		end := min(off+MaxUploadChunk, size)
		hdr := http.Header{HeaderUploadOffset: {strconv.FormatInt(off, 10)}, HeaderUploadLength: {strconv.FormatInt(size, 10)}}
		_, _, err := c.do(ctx, http.MethodPut, APIVersion+"/files/"+sha, hdr, data[off:end], MaxJSONBody, &st)
		var se *ServerError
		if errors.As(err, &se) && se.Body.Code == CodeConflict && se.Body.Offset >= 0 && se.Body.Offset != off {
			off = se.Body.Offset // the server holds more (an earlier answer was lost) or less
			continue
		}
		if err != nil {
			return sha, size, err
		}
		off = st.Received
	}
	return sha, size, fmt.Errorf("%w: upload of %s does not progress", ErrBadResponse, sha)
}

// LoadServerKey reads the server key pinned at enrolment (upstream.server_key, PEM).
func LoadServerKey(path string) (*ecdsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the pinned server key (upstream.server_key): %w; enrol the workstation", err)
	}
	pub, err := ticket.ParsePublicKey(b)
	if err != nil {
		return nil, err
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the pinned server key is a %T; this version checks ECDSA P-256 only", pub)
	}
	return k, nil
}

// PinServerKey writes the server key received at enrolment (atomically, mode 0600).
func PinServerKey(path string, key *ecdsa.PublicKey) error {
	b, err := ticket.MarshalPublicKey(key)
	if err != nil {
		return err
	}
	return atomic.WriteFile(path, b, 0o600)
}

package upstream_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// TestGarbageFromServer points the client at a server that answers nonsense: every case ends
// in a clear error, within the timeout, and nothing panics.
func TestGarbageFromServer(t *testing.T) {
	p := newPKI(t)
	pinned, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var mode atomic.Value
	mode.Store("")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.server}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(upstream.HeaderRequestID)
		w.Header().Set("Content-Type", "application/json")
		// signed answers as a real server under the pinned key would: only the content is wrong.
		signed := func(body string) {
			sig, _ := ecdsa.SignASN1(rand.Reader, pinned, upstream.SignedAnswerDigest(r.URL.Path, r.Header.Get(upstream.HeaderWorkstation), id, []byte(body)))
			w.Header().Set(upstream.HeaderSignature, base64.StdEncoding.EncodeToString(sig))
			w.Write([]byte(body))
		}
		switch mode.Load().(string) {
		case "badjson":
			w.Header().Set(upstream.HeaderRequestID, id)
			signed(`{"asOf": "yesterday", "documents": [`)
		case "wrongtype":
			w.Header().Set(upstream.HeaderRequestID, id)
			signed(`{"documents": "all of them"}`)
		case "unsigned":
			w.Header().Set(upstream.HeaderRequestID, id)
			w.Header().Set(upstream.HeaderSignature, "MEUCIQ==")
			w.Write([]byte(`{"asOf": "2026-01-01T00:00:00Z", "seals": [{"id": "SEAL-1", "status": "active"}]}`))
		case "huge":
			w.Header().Set(upstream.HeaderRequestID, id)
			chunk := []byte(strings.Repeat(" ", 64<<10))
			for range 50 << 20 / len(chunk) { // 50 MB of whitespace
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "drip":
			w.Header().Set(upstream.HeaderRequestID, id)
			w.WriteHeader(200)
			for range 100 {
				if _, err := w.Write([]byte(" ")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-time.After(100 * time.Millisecond):
				case <-r.Context().Done():
					return
				}
			}
		case "html":
			w.Header().Set(upstream.HeaderRequestID, id)
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>login portal</html>"))
		case "noid":
			w.Write([]byte(`{"seals": []}`))
		case "error500":
			w.Header().Set(upstream.HeaderRequestID, id)
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(500)
			w.Write([]byte("<html>\x00\x01 upstream exploded</html>"))
		case "endless":
			w.Header().Set(upstream.HeaderRequestID, id)
			signed(`{"documents": [], "next": "A"}`)
		case "wrongbytes":
			w.Header().Set(upstream.HeaderRequestID, id)
			w.Header().Set("Content-Type", "application/pdf")
			w.Write([]byte("%PDF-1.7 not the approved bytes"))
		}
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c := newClient(t, "https://"+ln.Addr().String(), ws, p.clientTLS(t, ""), &pinned.PublicKey, time.Second)
	// The huge answer is cut by the size limit, not by the clock, also on a loaded machine.
	patient := newClient(t, "https://"+ln.Addr().String(), ws, p.clientTLS(t, ""), &pinned.PublicKey, 20*time.Second)
	ctx := context.Background()
	seals := func() error { _, err := c.Seals(ctx); return err }
	docs := func() error { _, err := c.Documents(ctx); return err }
	for _, tc := range []struct {
		mode string
		call func() error
		kind error
		text string
	}{
		{"badjson", docs, upstream.ErrBadResponse, "not the expected JSON"},
		{"wrongtype", docs, upstream.ErrBadResponse, "not the expected JSON"},
		{"unsigned", seals, upstream.ErrBadResponse, "not signed by the pinned server key"},
		{"huge", func() error { _, err := patient.Seals(ctx); return err }, upstream.ErrBadResponse, "over the"},
		{"drip", seals, upstream.ErrOffline, "no complete answer within"},
		{"html", seals, upstream.ErrBadResponse, "not JSON"},
		{"noid", seals, upstream.ErrBadResponse, "belongs to another request"},
		{"error500", seals, nil, "upstream exploded"},
		{"endless", func() error { _, err := c.Documents(ctx); return err }, upstream.ErrBadResponse, "does not advance"},
		{"wrongbytes", func() error {
			return c.Download(ctx, strings.Repeat("ab", 32), 31, filepath.Join(t.TempDir(), "x.pdf"))
		}, upstream.ErrBadResponse, "not the approved"},
	} {
		mode.Store(tc.mode)
		// The client must give up on each of these servers by itself; the deadline only
		// catches one that hangs (how fast it gives up is no test's business).
		answered := make(chan error, 1)
		go func() { answered <- tc.call() }()
		var err error
		select {
		case err = <-answered:
		case <-time.After(2 * time.Minute):
			t.Fatalf("%s: the client still waits after 2 minutes: it hangs on this server", tc.mode)
		}
		if err == nil || !strings.Contains(err.Error(), tc.text) || (tc.kind != nil && !errors.Is(err, tc.kind)) {
			t.Errorf("%s: got %v", tc.mode, err)
		}
		t.Logf("%s: %v", tc.mode, err)
	}

	// A server whose certificate does not chain to the configured CA is not talked to.
	other := newPKI(t)
	c2 := newClient(t, "https://"+ln.Addr().String(), ws, other.clientTLS(t, ""), &pinned.PublicKey, time.Second)
	if _, err := c2.Seals(ctx); err == nil || !strings.Contains(err.Error(), "certificate does not verify") {
		t.Errorf("untrusted server: %v", err)
	}
	// Plain http is refused except on loopback.
	if _, err := upstream.NewClient(upstream.ClientConfig{URL: "http://seal.example.org", Workstation: ws}); err == nil {
		t.Error("plain http to a remote host was accepted")
	}
}

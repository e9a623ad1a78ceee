package upstream_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// TestRefusalIsNotOnline: a server that answers every request with a refusal (403, as a
// stranger or a proxy in front of the hub would) is not "online": online lifts the offline
// limits on stamping and means the workstation has a fresh view of the seal list, so only a
// round that completed counts.
func TestRefusalIsNotOnline(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
	}{
		{"403 with a protocol error body", http.StatusForbidden, `{"code":"forbidden","message":"no"}`},
		{"404 plain text", http.StatusNotFound, "not here"},
		{"400 TLS-looking alert bytes", http.StatusBadRequest, "\x15\x03\x01\x00\x02\x02\x28"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// It speaks the protocol's envelope (echoes the request id) but refuses.
				w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			st := openStore(t)
			c := newClient(t, srv.URL, ws, nil, nil, 2*time.Second)
			sy := upstream.NewSyncer(c, st, upstream.SyncOptions{})
			err := sy.SyncOnce(context.Background())
			if err == nil {
				t.Fatal("a refusing server gave a successful round")
			}
			t.Logf("round: %v", err)
			if s := sy.Status(); s.Online || !s.LastContact.IsZero() {
				t.Fatalf("status after refusals: %+v", s)
			}
			if seen, _ := st.LastContact(); !seen.IsZero() {
				t.Fatalf("a refusal was stored as contact with the server at %v", seen)
			}
		})
	}
}

// TestTLSFailureIsNotOnline: the review's form of the attack. Something on the hub's address
// answers an https client with a plaintext TLS alert, or shows a certificate the configured CA
// did not issue. A "bad certificate" or "certificate required" alert reads as the server
// refusing this workstation's certificate, which is not retried, and the round used to count
// such an error as "online": the offline limits were lifted and revocations no longer pulled.
func TestTLSFailureIsNotOnline(t *testing.T) {
	p := newPKI(t)
	alert := func(desc byte) func(*testing.T) string {
		return func(t *testing.T) string { return alertServer(t, desc) }
	}
	stranger := func(t *testing.T) string {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{}`))
		}))
		srv.TLS = newPKI(t).serverTLS() // a valid certificate, of a CA the workstation does not trust
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv.URL
	}
	for _, tc := range []struct {
		name string
		url  func(*testing.T) string
	}{
		{"plaintext alert handshake_failure", alert(40)},
		{"plaintext alert bad_certificate", alert(42)},
		{"plaintext alert certificate_required", alert(116)},
		{"certificate of another CA", stranger},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			sy := upstream.NewSyncer(newClient(t, tc.url(t), ws, p.clientTLS(t, ""), nil, 2*time.Second), st, upstream.SyncOptions{})
			err := sy.SyncOnce(context.Background())
			if err == nil {
				t.Fatal("a failed handshake gave a successful round")
			}
			t.Logf("round: %v", err)
			if s := sy.Status(); s.Online || !s.LastContact.IsZero() {
				t.Fatalf("status after a failed handshake: %+v", s)
			}
			if seen, _ := st.LastContact(); !seen.IsZero() {
				t.Fatalf("a failed handshake was stored as contact with the server at %v", seen)
			}
		})
	}
}

// alertServer listens on 127.0.0.1 and answers every connection with one fatal TLS alert
// record of the given description, in the clear, and closes it; it returns an https URL.
func alertServer(t *testing.T, desc byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte{0x15, 0x03, 0x01, 0x00, 0x02, 0x02, desc}) // alert, TLS 1.0, length 2, fatal
			c.Close()
		}
	}()
	return "https://" + ln.Addr().String()
}

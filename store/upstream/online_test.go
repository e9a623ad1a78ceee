package upstream_test

import (
	"context"
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

package upstream_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// TestImpostorCannotReinstateRevokedSeal: an impostor server (another key, a TLS certificate
// the workstation trusts) used to reinstate a revoked seal and plant a handover, because the
// seal list and roster were not signed. Now they and the document listing (whose omissions
// withdraw documents) are signed by the pinned key for each request:
// the impostor's round stops at the seal list, and the workstation keeps the revoked seal and
// the roster it had. The real hub's lists are taken; a list older than the one held (the hub
// rolled back to an old state, its clock or database) is refused, and the seal stays usable
// only as the newest list says.
func TestImpostorCannotReinstateRevokedSeal(t *testing.T) {
	p := newPKI(t)
	clock := &testClock{}
	th := startHub(t, hub.Options{Now: clock.Now}, p.serverTLS())
	ctx := context.Background()
	if err := th.H.SetSeal(upstream.SealStatus{ID: "SEAL-1", Status: upstream.SealRevoked, Reason: "密钥遗失"}); err != nil {
		t.Fatal(err)
	}
	if err := th.H.SetSeal(upstream.SealStatus{ID: "SEAL-2", Status: upstream.SealActive}); err != nil {
		t.Fatal(err)
	}
	a, e := enrolled(t, th, p, "WS-A")
	st := openStore(t)
	if err := upstream.NewSyncer(a, st, upstream.SyncOptions{}).Pull(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.SealUsable("SEAL-1"); err == nil {
		t.Fatal("the revoked seal is usable after the real list")
	}

	// The impostor: its own hub and key, the same trusted TLS certificate; it takes the
	// workstation by its name.
	imp := startHub(t, hub.Options{AutoEnrol: true}, p.serverTLS())
	imp.H.SetSeal(upstream.SealStatus{ID: "SEAL-1", Status: upstream.SealActive})
	imp.H.AddCustodian(upstream.Custodian{Person: upstream.Person{ID: "x", Name: "冒充者"}})
	imp.H.ApproveHandover(upstream.Handover{SealID: "SEAL-1", From: upstream.Person{ID: "c1", Name: "张敏"}, To: upstream.Person{ID: "x", Name: "冒充者"}, ApprovedBy: upstream.Person{ID: "a1", Name: "王主任"}})
	fake := newClient(t, imp.S.URL, "WS-A", p.clientTLS(t, ""), e.ServerKey, 5*time.Second)
	if err := upstream.NewSyncer(fake, st, upstream.SyncOptions{}).Pull(ctx); err == nil || !strings.Contains(err.Error(), "not signed by the pinned server key") {
		t.Fatalf("a pull from the impostor: %v", err)
	}
	if err := st.SealUsable("SEAL-1"); err == nil {
		t.Fatal("the impostor reinstated the revoked seal")
	}
	if ro, _ := st.Roster(); len(ro.Handovers) != 0 || len(ro.Custodians) != 0 {
		t.Fatalf("the impostor planted a roster: %+v", ro)
	}
	// The round stopped at the seal list; the roster, which would plant the handover, is
	// refused on its own too.
	if ro, err := fake.Roster(ctx); err == nil || !strings.Contains(err.Error(), "not signed by the pinned server key") {
		t.Fatalf("the impostor's roster: %+v, %v", ro, err)
	}
	// Nor can its document listing withdraw the real documents (a listing is signed too).
	if _, err := fake.Documents(ctx); err == nil || !strings.Contains(err.Error(), "not signed by the pinned server key") {
		t.Fatalf("the impostor's document listing: %v", err)
	}

	// The real hub with its clock an hour back signs a list older than the one held: refused.
	clock.add(-time.Hour)
	if err := upstream.NewSyncer(a, st, upstream.SyncOptions{}).Pull(ctx); err == nil || !strings.Contains(err.Error(), "older than the one held") {
		t.Fatalf("an older list: %v", err)
	}
	clock.add(time.Hour)
	th.H.SetSeal(upstream.SealStatus{ID: "SEAL-2", Status: upstream.SealSuspended, Reason: "证书更新"})
	if err := upstream.NewSyncer(a, st, upstream.SyncOptions{}).Pull(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.SealUsable("SEAL-2"); err == nil || !strings.Contains(err.Error(), "suspended") {
		t.Fatalf("the newer list's suspension: %v", err)
	}
}

// TestRevocationIsFinalOnTheWorkstation: a seal list signed by the pinned key that shows a
// seal revoked before as active (or leaves it out) does not make it usable again on the
// workstation: a revoked seal is never used again (docs/rules.md 11), whatever the server says later.
func TestRevocationIsFinalOnTheWorkstation(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var status atomic.Value
	status.Store(upstream.SealRevoked)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(upstream.HeaderRequestID)
		w.Header().Set(upstream.HeaderRequestID, id)
		w.Header().Set("Content-Type", "application/json")
		var v any
		switch r.URL.Path {
		case "/v1/seals":
			var seals []upstream.SealStatus
			if s := status.Load().(string); s != "" {
				seals = append(seals, upstream.SealStatus{ID: "SEAL-1", Status: s, Reason: "密钥遗失"})
			}
			v = upstream.SealList{AsOf: time.Now().UTC(), Seals: seals}
		case "/v1/custodians":
			v = upstream.Roster{AsOf: time.Now().UTC()}
		default:
			v = upstream.DocumentPage{AsOf: time.Now().UTC()}
		}
		body, _ := json.Marshal(v)
		sig, _ := ecdsa.SignASN1(rand.Reader, key, upstream.SignedAnswerDigest(r.URL.Path, r.Header.Get(upstream.HeaderWorkstation), id, body))
		w.Header().Set(upstream.HeaderSignature, base64.StdEncoding.EncodeToString(sig))
		w.Write(body)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, ws, nil, &key.PublicKey, 5*time.Second)
	st := openStore(t)
	pull := func() {
		t.Helper()
		if err := upstream.NewSyncer(c, st, upstream.SyncOptions{}).Pull(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	pull()
	for _, later := range []string{upstream.SealActive, ""} {
		status.Store(later)
		pull()
		if err := st.SealUsable("SEAL-1"); err == nil || !strings.Contains(err.Error(), "revoked") {
			t.Errorf("after a signed list with the seal %q: %v", later, err)
		}
	}
}

// TestEmptyCADoesNotFallBackToSystemRoots: with upstream.ca empty the client used to trust the
// system's roots, so any server with a certificate from a public CA for the name was "the
// server" (the review's impostor then reinstated a revoked seal). Now an https server needs the
// configured CA: an empty upstream.ca, or a TLS configuration without roots, is refused before
// anything is sent, even when the system's roots would trust the impostor (SSL_CERT_FILE).
func TestEmptyCADoesNotFallBackToSystemRoots(t *testing.T) {
	imp := newPKI(t)
	th := startHub(t, hub.Options{AutoEnrol: true}, imp.serverTLS())
	caFile := filepath.Join(t.TempDir(), "public-ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: imp.ca.Raw}), 0o600)
	t.Setenv("SSL_CERT_FILE", caFile) // the impostor's CA is now one of the "system" roots

	if _, err := upstream.LoadTLS("", "", ""); err == nil || !strings.Contains(err.Error(), "upstream.ca") {
		t.Errorf("an empty upstream.ca: %v", err)
	}
	for name, tc := range map[string]*tls.Config{"no TLS configuration": nil, "no roots": {MinVersion: tls.VersionTLS12}} {
		c, err := upstream.NewClient(upstream.ClientConfig{URL: th.S.URL, Workstation: ws, TLS: tc})
		if err == nil {
			_, err = c.Seals(context.Background())
			t.Errorf("%s: a client was made (its request: %v)", name, err)
		} else if !strings.Contains(err.Error(), "upstream.ca") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// With the CA configured the same server is reached.
	tc, err := upstream.LoadTLS(caFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newClient(t, th.S.URL, ws, tc, nil, 5*time.Second).Hello(context.Background()); err != nil {
		t.Fatalf("with upstream.ca: %v", err)
	}
}

// TestOlderRosterIsRefused: a hub restored from an old backup (or with its clock set back) still
// signs with the pinned key; its roster, older than the one held, would bring back a handover
// approval that was already carried out. The workstation refuses a roster older than the one it
// holds, or dated ahead of its clock, and keeps the one it has. The seal list in these answers is
// always fresh, so the round reaches the roster (with the real hub, the older seal list stops the
// round first: TestImpostorCannotReinstateRevokedSeal).
func TestOlderRosterIsRefused(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var roster atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(upstream.HeaderRequestID)
		w.Header().Set(upstream.HeaderRequestID, id)
		w.Header().Set("Content-Type", "application/json")
		var v any = upstream.SealList{AsOf: time.Now().UTC(), Seals: []upstream.SealStatus{{ID: "SEAL-1", Status: upstream.SealActive}}}
		if r.URL.Path == "/v1/custodians" {
			v = roster.Load()
		}
		body, _ := json.Marshal(v)
		sig, _ := ecdsa.SignASN1(rand.Reader, key, upstream.SignedAnswerDigest(r.URL.Path, r.Header.Get(upstream.HeaderWorkstation), id, body))
		w.Header().Set(upstream.HeaderSignature, base64.StdEncoding.EncodeToString(sig))
		w.Write(body)
	}))
	defer srv.Close()
	st := openStore(t)
	pull := func() error {
		return upstream.NewSyncer(newClient(t, srv.URL, ws, nil, &key.PublicKey, 5*time.Second), st, upstream.SyncOptions{}).Pull(context.Background())
	}
	now := time.Now().UTC()
	roster.Store(upstream.Roster{AsOf: now, Custodians: []upstream.Custodian{{Person: upstream.Person{ID: "c2", Name: "李娜"}}}})
	if err := pull(); err != nil {
		t.Fatal(err)
	}
	planted := upstream.Handover{ID: "H1", SealID: "SEAL-1", From: upstream.Person{ID: "c1", Name: "张敏"}, To: upstream.Person{ID: "x", Name: "冒充者"},
		ApprovedBy: upstream.Person{ID: "a1", Name: "王主任"}, ApprovedAt: now.Add(-2 * time.Hour), Expires: now.Add(24 * time.Hour)}
	for _, tc := range []struct {
		name string
		asOf time.Time
		want string
	}{
		{"an hour older than the one held", now.Add(-time.Hour), "older than the one held"},
		{"dated ten minutes ahead", time.Now().UTC().Add(10 * time.Minute), "not a time up to now"},
	} {
		roster.Store(upstream.Roster{AsOf: tc.asOf, Handovers: []upstream.Handover{planted}})
		if err := pull(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("a roster %s: %v", tc.name, err)
		}
		if ro, _ := st.Roster(); len(ro.Handovers) != 0 || len(ro.Custodians) != 1 || !ro.AsOf.Equal(now) {
			t.Fatalf("after a roster %s the workstation holds %+v", tc.name, ro)
		}
	}
}

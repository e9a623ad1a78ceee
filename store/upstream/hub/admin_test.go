package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// socketClient is an HTTP client for the admin socket in dir.
func socketClient(dir string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", filepath.Join(dir, "admin.sock"))
	}}}
}

// TestAdminWhileRunning administers a running hub through its admin socket: the database is
// locked by the hub, so OpenAdmin goes through the socket, which only this user can reach.
func TestAdminWhileRunning(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hub") // made by Open, mode 0700
	h, err := hub.Open(dir, hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	as, err := h.ServeAdmin()
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "admin.sock")); err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket: %v, %v", fi.Mode(), err)
	}
	a, err := hub.OpenAdmin(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.(*hub.Hub); ok {
		t.Fatal("OpenAdmin opened the database of a running hub")
	}
	if err := a.SetSeal(upstream.SealStatus{ID: "S1", Status: upstream.SealRevoked}); err == nil {
		t.Fatal("revoking without a reason went through the admin API")
	}
	if err := a.SetSeal(upstream.SealStatus{ID: "S1", Status: upstream.SealRevoked, Reason: "印章损毁"}); err != nil {
		t.Fatal(err)
	}
	docs, err := a.AddDocuments([]hub.NewDocument{{Title: "通知", SealID: "S1", Workstation: "WS", PDF: hub.SamplePDF("通知", "", 2)}})
	if err != nil || len(docs) != 1 || docs[0].Pages != 2 {
		t.Fatalf("%+v, %v", docs, err)
	}
	if _, err := a.ApproveHandover(upstream.Handover{SealID: "S1", From: upstream.Person{ID: "a", Name: "甲"}, To: upstream.Person{ID: "b", Name: "乙"}, ApprovedBy: upstream.Person{ID: "c", Name: "丙"}}); err != nil {
		t.Fatal(err)
	}
	code, err := a.EnrolCode("WS", time.Hour)
	if err != nil || len(code.Code) != 20 || code.Workstation != "WS" || time.Until(code.Expires) > time.Hour || time.Until(code.Expires) < 59*time.Minute {
		t.Fatalf("code %+v, %v", code, err)
	}
	if err := a.Unenrol("WS"); err != nil {
		t.Fatalf("withdrawing the code through the admin API: %v", err)
	}
	if err := a.Unenrol("WS"); err == nil {
		t.Fatal("un-enrolling a workstation that is not enrolled went through")
	}
	snap, err := a.Snapshot()
	if err != nil || len(snap.Documents) != 1 || len(snap.Seals) != 1 || snap.Seals[0].Reason != "印章损毁" || len(snap.Roster.Handovers) != 1 || snap.TicketKey == "" {
		t.Fatalf("snapshot %+v, %v", snap, err)
	}
	// A body over the limit is refused (only document batches may be large).
	resp, err := socketClient(dir).Post("http://hub/admin/seals", "application/json", bytes.NewReader(bytes.Repeat([]byte(" "), upstream.MaxJSONBody+1)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a %d-byte admin request: status %d", upstream.MaxJSONBody+1, resp.StatusCode)
	}
	// hub key reads the database, which the running hub holds.
	if _, err := hub.ReadTicketKey(dir); err == nil || !strings.Contains(err.Error(), "in use by the running hub") {
		t.Errorf("reading the key while the hub runs: %v", err)
	}
	as.Close()
	h.Close()
	// Stopped: the socket is gone and the database opens directly.
	if _, err := os.Lstat(filepath.Join(dir, "admin.sock")); !os.IsNotExist(err) {
		t.Errorf("the admin socket outlived the hub: %v", err)
	}
	a, err = hub.OpenAdmin(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, ok := a.(*hub.Hub); !ok {
		t.Fatalf("after the hub stopped OpenAdmin gave %T", a)
	}
}

// TestStaleAdminRecordCannotBeAnswered: after a hub crashed, its admin.json named a loopback
// TCP port and token that any local user could then listen on; `hub key` asked that port and
// printed the attacker's key, which administrators pin. Now the admin endpoint is a Unix socket
// in the 0700 data folder and admin.json is never read: with an impostor on the old record's
// port and a dead socket left by the crash, admin commands open the database, `hub key` reads
// the key from it, and the impostor is never asked. A data folder others may enter is refused
// by both ends.
func TestStaleAdminRecordCannotBeAnswered(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hub") // made by Open, mode 0700
	h, err := hub.Open(dir, hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	real, _ := ticket.MarshalPublicKey(h.TicketKey())
	h.Close()

	// The impostor answers every admin request with its own key.
	var asked atomic.Int32
	imp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		json.NewEncoder(w).Encode(hub.Snapshot{TicketKey: "-----BEGIN PUBLIC KEY-----\nATTACKER\n-----END PUBLIC KEY-----\n"})
	}))
	defer imp.Close()
	rec, _ := json.Marshal(map[string]any{"url": imp.URL, "token": "x", "pid": 1})
	os.WriteFile(filepath.Join(dir, "admin.json"), rec, 0o600)
	// The dead socket of the crashed hub.
	ln, err := net.Listen("unix", filepath.Join(dir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()

	a, err := hub.OpenAdmin(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.(*hub.Hub); !ok {
		t.Fatalf("with a stale record and a dead socket OpenAdmin gave %T", a)
	}
	snap, err := a.Snapshot()
	a.Close()
	if err != nil || snap.TicketKey != string(real) {
		t.Fatalf("snapshot key %q, %v", snap.TicketKey, err)
	}
	key, err := hub.ReadTicketKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := ticket.MarshalPublicKey(key); !bytes.Equal(got, real) {
		t.Fatal("hub key read another key than the database's")
	}
	if n := asked.Load(); n != 0 {
		t.Fatalf("the impostor on the stale record's port was asked %d times", n)
	}

	// A hub on the folder again takes over the dead socket and drops the old record.
	h, err = hub.Open(dir, hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	as, err := h.ServeAdmin()
	if err != nil {
		t.Fatalf("serving admin over a dead socket: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "admin.json")); !os.IsNotExist(err) {
		t.Errorf("the old admin.json is still there: %v", err)
	}
	as.Close()
	h.Close()

	// A folder others may enter: someone else could have put the socket there.
	os.Chmod(dir, 0o755)
	defer os.Chmod(dir, 0o700)
	ln, err = net.Listen("unix", filepath.Join(dir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(ln, imp.Config.Handler)
	if _, err := hub.OpenAdmin(dir); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("a socket in a folder of mode 0755: %v", err)
	}
	ln.Close()
	if h, err = hub.Open(dir, hub.Options{}); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.ServeAdmin(); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("serving admin in a folder of mode 0755: %v", err)
	}
	if n := asked.Load(); n != 0 {
		t.Fatalf("the impostor was asked %d times", n)
	}
}

// TestAdminServerBoundsRequests: the admin server had no timeouts and took bodies of 512 MiB,
// so one local connection could hold it or fill its memory. A request over the 4 MiB limit is
// refused with 413 too_large before it is used, and a connection that stops in the middle of
// its header is closed by the server.
func TestAdminServerBoundsRequests(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hub")
	h, err := hub.Open(dir, hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	as, err := h.ServeAdmin()
	if err != nil {
		t.Fatal(err)
	}
	defer as.Close()

	big := append(append([]byte(`{"id":"S1","status":"active","reason":"`), bytes.Repeat([]byte("x"), upstream.MaxJSONBody)...), `"}`...)
	resp, err := socketClient(dir).Post("http://hub/admin/seals", "application/json", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	var e upstream.ErrorBody
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || e.Code != upstream.CodeTooLarge {
		t.Fatalf("a %d-byte admin request: %d %+v", len(big), resp.StatusCode, e)
	}
	if snap, err := h.Snapshot(); err != nil || len(snap.Seals) != 0 {
		t.Fatalf("the refused request changed the seals: %+v, %v", snap.Seals, err)
	}

	// Half a header, then nothing: the server hangs up (its header timeout is 10 s). The read
	// deadline only keeps a broken server from holding the test; the check is that the
	// connection ends from the server's side, not that the deadline passes.
	c, err := net.Dial("unix", filepath.Join(dir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("POST /admin/seals HTTP/1.1\r\nHost: hub\r\n"))
	c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("a stalled admin connection was not closed by the server: %v", err)
	}
}

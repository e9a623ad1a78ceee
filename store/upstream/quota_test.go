package upstream_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// putChunk sends one raw PUT of data at off of a total-byte upload named hash, as a client
// that ignores the protocol's client would.
func putChunk(t *testing.T, hc *http.Client, url, hash string, off, total int64, data []byte) (int, upstream.ErrorBody) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url+"/v1/files/"+hash, bytes.NewReader(data))
	req.Header.Set(upstream.HeaderUploadOffset, strconv.FormatInt(off, 10))
	req.Header.Set(upstream.HeaderUploadLength, strconv.FormatInt(total, 10))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb upstream.ErrorBody
	if resp.StatusCode != http.StatusOK {
		json.NewDecoder(resp.Body).Decode(&eb)
	}
	return resp.StatusCode, eb
}

// TestUploadsHaveAQuota: the review grew hub.db to 117 MB with 12 PUTs of 8 MiB from one
// workstation (uploads had no quota). Now a workstation's uploads that no result names count
// against its quota: the same 12 PUTs (complete files and the starts of large ones) are refused
// with over_quota once over it, naming the quota, and hub.db stays within the quota plus the
// database's own slack. Expired uploads are deleted (their space reused), a file a result names
// is kept, and another workstation's quota is its own.
func TestUploadsHaveAQuota(t *testing.T) {
	const quota = 24 << 20
	p := newPKI(t)
	clock := &testClock{}
	th := startHub(t, hub.Options{UploadQuota: quota, UploadExpiry: 24 * time.Hour, Now: clock.Now}, p.serverTLS())
	ctx := context.Background()
	a, ea := enrolled(t, th, p, "WS-A")
	b, eb := enrolled(t, th, p, "WS-B")
	cert, _ := ea.TLSCertificate()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{cert}}}, Timeout: 30 * time.Second}
	dbPath := filepath.Join(th.dir, hub.FileName)
	size := func() int64 {
		fi, err := os.Stat(dbPath)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()

	accepted, refusedAt := 0, -1
	for i := range 12 {
		chunk := make([]byte, upstream.MaxUploadChunk)
		rand.Read(chunk)
		total := int64(len(chunk)) // a whole file
		sum := sha256.Sum256(chunk)
		hash := hex.EncodeToString(sum[:])
		if i%2 == 1 {
			total = upstream.MaxDocumentSize // the first chunk of a large file that never finishes
			rand.Read(sum[:])
			hash = hex.EncodeToString(sum[:])
		}
		status, eb := putChunk(t, hc, th.S.URL, hash, 0, total, chunk)
		switch {
		case status == http.StatusOK:
			accepted++
		case status == http.StatusRequestEntityTooLarge && eb.Code == upstream.CodeOverQuota:
			if refusedAt < 0 {
				refusedAt = i
				if !strings.Contains(eb.Message, strconv.Itoa(quota)) || !strings.Contains(eb.Message, "WS-A") {
					t.Errorf("the refusal does not name the workstation and its quota: %q", eb.Message)
				}
			}
		default:
			t.Fatalf("PUT %d: status %d %+v", i+1, status, eb)
		}
	}
	grown := size() - before
	t.Logf("12 PUTs of 8 MiB: %d accepted, first refused PUT %d; hub.db %d -> %d bytes (+%.1f MiB, quota %d MiB)",
		accepted, refusedAt+1, before, size(), float64(grown)/(1<<20), quota>>20)
	if accepted != quota/upstream.MaxUploadChunk || refusedAt != accepted {
		t.Fatalf("accepted %d PUTs, first refusal at PUT %d; want %d accepted, then refusals", accepted, refusedAt+1, quota/upstream.MaxUploadChunk)
	}
	// The database's own slack: bbolt grows its file in steps of up to 16 MiB (AllocSize) and
	// keeps the pages of a chunk's last copy until the next write.
	if limit := int64(quota + 2*upstream.MaxUploadChunk + 16<<20); grown > limit {
		t.Fatalf("hub.db grew by %d bytes for a quota of %d (limit %d)", grown, quota, limit)
	}

	// The protocol's client gets the same refusal, with the reason, for its stamped file.
	dir := t.TempDir()
	big := filepath.Join(dir, "big.pdf")
	junk := make([]byte, 1<<20)
	rand.Read(junk)
	os.WriteFile(big, junk, 0o600)
	if _, _, err := a.Upload(ctx, big); serverCode(err) != upstream.CodeOverQuota || !strings.Contains(err.Error(), "quota") {
		t.Fatalf("client upload over the quota: %v", err)
	}
	// Another workstation has its own quota.
	if _, _, err := b.Upload(ctx, big); err != nil {
		t.Fatalf("WS-B's upload: %v", err)
	}

	// A day later the unreported uploads have expired: the space is reused, not added to.
	clock.add(25 * time.Hour)
	full := size()
	for i := range 3 {
		chunk := make([]byte, upstream.MaxUploadChunk)
		rand.Read(chunk)
		sum := sha256.Sum256(chunk)
		if status, eb := putChunk(t, hc, th.S.URL, hex.EncodeToString(sum[:]), 0, int64(len(chunk)), chunk); status != http.StatusOK {
			t.Fatalf("after expiry, PUT %d: %d %+v", i+1, status, eb)
		}
	}
	t.Logf("after expiry, 3 more PUTs: hub.db %d -> %d bytes", full, size())
	if size() > full+2*upstream.MaxUploadChunk {
		t.Errorf("after expiry hub.db grew from %d to %d bytes: the expired uploads' space was not reused", full, size())
	}

	// A stamped file a result names survives the expiry of the rest.
	sealCertOn(t, th.H, "SEAL-1")
	d := addDocFor(t, th.H, "WS-B", "通知", 1)
	orig, out := filepath.Join(dir, "d.pdf"), filepath.Join(dir, "d-stamped.pdf")
	if err := b.Download(ctx, d.SHA256, d.Size, orig); err != nil {
		t.Fatal(err)
	}
	stampWithEngine(t, orig, out)
	sha, n, err := b.Upload(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.PostResult(ctx, upstream.Result{DocumentID: d.ID, TicketID: ticketOf(t, d), Outcome: upstream.OutcomeStamped, OutputSHA256: sha, OutputSize: n}); err != nil {
		t.Fatal(err)
	}
	clock.add(30 * 24 * time.Hour)
	if err := th.H.SweepUploads(); err != nil {
		t.Fatal(err)
	}
	if err := b.Download(ctx, sha, n, filepath.Join(dir, "back.pdf")); err != nil {
		t.Fatalf("the reported stamped file after a month: %v", err)
	}
	bc, _ := eb.TLSCertificate()
	hcB := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{bc}}}, Timeout: 30 * time.Second}
	bigSum := sha256.Sum256(junk)
	resp, err := hcB.Get(th.S.URL + "/v1/files/" + hex.EncodeToString(bigSum[:]) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var st upstream.UploadStatus
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Complete || st.Received != 0 {
		t.Errorf("WS-B's unreported upload survived a month: %+v", st)
	}
}

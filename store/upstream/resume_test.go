package upstream_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// TestResumeAndRestart: downloads resume from a partial file, uploads resume from what the hub
// holds, and a rejection queued while the hub is down survives closing and reopening the store
// and is delivered when the hub is back. Status changes are announced to watchers.
func TestResumeAndRestart(t *testing.T) {
	p := newPKI(t)
	th := startHub(t, hub.Options{AutoEnrol: true}, p.serverTLS())
	if err := th.H.SetSeal(upstream.SealStatus{ID: "SEAL-1", Status: upstream.SealActive}); err != nil {
		t.Fatal(err)
	}
	d := addDoc(t, th.H, "年度工作总结报告", 40, "SEAL-1")
	cliTLS := p.clientTLS(t, ws)
	c := newClient(t, th.S.URL, ws, cliTLS, th.H.TicketKey(), 5*time.Second)
	ctx := context.Background()

	// Download: a partial file is continued, not fetched again. A partial file with wrong
	// bytes is therefore caught by the hash check, discarded, and the next try succeeds.
	dir := t.TempDir()
	dst := filepath.Join(dir, "doc.pdf")
	full := hub.SamplePDF(d.Title, "", d.Pages)
	os.WriteFile(dst+".part", full[:d.Size/2], 0o600)
	if err := c.Download(ctx, d.SHA256, d.Size, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); !bytes.Equal(b, full) {
		t.Fatal("resumed download differs")
	}
	dst2 := filepath.Join(dir, "doc2.pdf")
	bad := bytes.Repeat([]byte{'x'}, int(d.Size/2))
	os.WriteFile(dst2+".part", bad, 0o600)
	if err := c.Download(ctx, d.SHA256, d.Size, dst2); err == nil || !strings.Contains(err.Error(), "discarded") {
		t.Fatalf("resume onto wrong bytes: %v", err)
	}
	if err := c.Download(ctx, d.SHA256, d.Size, dst2); err != nil {
		t.Fatal(err)
	}

	// Upload: the hub already holds the first half (an earlier, interrupted upload).
	out := filepath.Join(dir, "stamped.pdf")
	stamped := append(bytes.Clone(full), []byte("\n%stamped\n")...)
	os.WriteFile(out, stamped, 0o600)
	sum := sha256.Sum256(stamped)
	hash := hex.EncodeToString(sum[:])
	half := len(stamped) / 2
	req, _ := http.NewRequest(http.MethodPut, th.S.URL+"/v1/files/"+hash, bytes.NewReader(stamped[:half]))
	req.Header.Set(upstream.HeaderWorkstation, ws)
	req.Header.Set(upstream.HeaderUploadOffset, "0")
	req.Header.Set(upstream.HeaderUploadLength, strconv.Itoa(len(stamped)))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cliTLS}, Timeout: 5 * time.Second}
	resp, err := hc.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first half: %v %v", resp, err)
	}
	resp.Body.Close()
	gotHash, size, err := c.Upload(ctx, out)
	if err != nil || gotHash != hash || size != int64(len(stamped)) {
		t.Fatalf("resumed upload: %s %d %v", gotHash, size, err)
	}
	back := filepath.Join(dir, "back.pdf")
	if err := c.Download(ctx, hash, size, back); err != nil {
		t.Fatal(err)
	}

	// A rejection without a reason is refused by the hub.
	tk := ticketID(t, d.Ticket)
	if err := c.PostResult(ctx, upstream.Result{DocumentID: d.ID, TicketID: tk, Outcome: upstream.OutcomeRejected}); serverCode(err) != upstream.CodeBadRequest {
		t.Fatalf("rejection without reason: %v", err)
	}

	// Restart survival: pull, then the hub goes away; a rejection is queued; the store is
	// closed and reopened; when the hub is back the queue drains.
	storePath := filepath.Join(t.TempDir(), "sync.db")
	keys, _ := docKeys(t)
	st, err := upstream.OpenStore(storePath, keys)
	if err != nil {
		t.Fatal(err)
	}
	sy := upstream.NewSyncer(c, st, upstream.SyncOptions{})
	watch, stop := sy.Watch()
	defer stop()
	<-watch // the current status
	if err := sy.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if s := <-watch; !s.Online || s.Pending != 1 {
		t.Fatalf("watched status after pull: %+v", s)
	}
	th.stop()
	if err := sy.SyncOnce(ctx); err == nil {
		t.Fatal("sync with the hub down succeeded")
	}
	if s := <-watch; s.Online || s.LastError == "" {
		t.Fatalf("watched status with the hub down: %+v", s)
	}
	if err := st.Enqueue(upstream.Result{DocumentID: d.ID, TicketID: tk, Outcome: upstream.OutcomeRejected, Reason: "附件缺页，退回重报"}, ""); err != nil {
		t.Fatal(err)
	}
	st.MarkDone(d.ID)
	st.Close()

	th.start()
	st, err = upstream.OpenStore(storePath, keys)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if ob, _ := st.Outbox(); len(ob) != 1 || ob[0].Result.Reason != "附件缺页，退回重报" {
		t.Fatalf("outbox after reopening: %+v", ob)
	}
	sy = upstream.NewSyncer(c, st, upstream.SyncOptions{State: func() upstream.Heartbeat {
		return upstream.Heartbeat{TokenPresent: true, Custodian: "张敏"}
	}})
	if err := sy.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	docs, _ := th.H.Documents()
	if len(docs) != 1 || docs[0].State != hub.StateRejected || docs[0].Result.Reason != "附件缺页，退回重报" {
		t.Fatalf("hub after the rejection: %+v", docs)
	}
	wss, _ := th.H.Workstations()
	if len(wss) != 1 || wss[0].Heartbeat == nil || wss[0].Heartbeat.Custodian != "张敏" || !wss[0].Heartbeat.TokenPresent {
		t.Fatalf("heartbeat on the hub: %+v", wss)
	}
	if s := sy.Status(); s.Outbox != 0 || s.Pending != 0 {
		t.Fatalf("status %+v", s)
	}
}

func ticketID(t *testing.T, s string) string {
	t.Helper()
	tk, err := ticketParse(s)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func ticketParse(s string) (string, error) {
	tk, err := ticket.Parse(s)
	if err != nil {
		return "", err
	}
	return tk.ID(), nil
}

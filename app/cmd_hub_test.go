package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// TestHubAddSignsLimits: `hub add --pages --region` puts the page and region limits into the
// document's signed ticket; a region on a page the document lacks is refused, naming it.
func TestHubAddSignsLimits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hub")
	pdf := filepath.Join(t.TempDir(), "notice.pdf")
	if err := os.WriteFile(pdf, pdftest.PDF(pdftest.Options{Pages: 3}), 0o600); err != nil {
		t.Fatal(err)
	}
	sk := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := sk("hub", "add", "--data", dir, "--workstation", "WS-01", "--seal", "SEAL-1", "--region", "9:1,1,10,10", pdf); code == 0 || !strings.Contains(out, "has 3 pages; the region's page 9 does not exist") {
		t.Fatalf("a region on page 9 of 3: %d\n%s", code, out)
	}
	if code, out := sk("hub", "add", "--data", dir, "--workstation", "WS-01", "--seal", "SEAL-1", "--region", "last:1,1,0,10", pdf); code == 0 || !strings.Contains(out, "--region") {
		t.Fatalf("an empty region: %d\n%s", code, out)
	}
	if code, out := sk("hub", "add", "--data", dir, "--workstation", "WS-01", "--seal", "SEAL-1", "--pages", "2,last",
		"--region", "last:120,200,60,45.5", "--region", "2:10,20,30,40", pdf); code != 0 {
		t.Fatalf("hub add: %d\n%s", code, out)
	}
	h, err := hub.Open(dir, hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	docs, err := h.Documents()
	if err != nil || len(docs) != 1 {
		t.Fatalf("documents %+v, %v", docs, err)
	}
	want := ticket.Expect{Workstation: "WS-01"}
	hex.Decode(want.DocSHA256[:], []byte(docs[0].SHA256))
	tk, err := ticket.Verify(docs[0].Ticket, h.TicketKey(), want, usedNone{})
	if err != nil {
		t.Fatal(err)
	}
	regions := []ticket.Region{{Page: ticket.LastPage, X: 120, Y: 200, W: 60, H: 45.5}, {Page: 2, X: 10, Y: 20, W: 30, H: 40}}
	if !slices.Equal(tk.Pages, []int{2, ticket.LastPage}) || !slices.Equal(tk.Regions, regions) {
		t.Fatalf("the ticket signs pages %v, regions %v", tk.Pages, tk.Regions)
	}
}

type usedNone struct{}

func (usedNone) TicketUsed(string) (bool, error) { return false, nil }

// TestHubListShowsSpentApproval: after a workstation reports a stamping that failed after its
// intent, `hub list` shows the document failed with its approval spent and the reason.
func TestHubListShowsSpentApproval(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hub")
	h, err := hub.Open(dir, hub.Options{Name: "test hub", AutoEnrol: true})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := h.AddDocument(hub.NewDocument{Title: "通知", SealID: "SEAL-1", Workstation: "WS-01", PDF: pdftest.PDF(pdftest.Options{Pages: 1})})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := h.Serve("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := upstream.NewClient(upstream.ClientConfig{URL: srv.URL, Workstation: "WS-01", ServerKey: h.TicketKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := ticket.Parse(doc.Ticket)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PostResult(context.Background(), upstream.Result{DocumentID: doc.ID, TicketID: tk.ID(), Outcome: upstream.OutcomeFailed,
		Reason: "the seal key was pulled out while it was signing", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	h.Close()
	var out, errb bytes.Buffer
	if code := run([]string{"hub", "list", "--data", dir}, &out, &errb); code != 0 {
		t.Fatalf("hub list: %d\n%s%s", code, out.String(), errb.String())
	}
	want := doc.ID + "  failed: approval spent, needs a new approval"
	if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "(the stamping failed: the seal key was pulled out while it was signing)") {
		t.Fatalf("hub list does not show the spent approval (%q):\n%s", want, out.String())
	}
}

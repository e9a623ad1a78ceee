package hub_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode"

	"github.com/sealkeeper/sealkeeper/stamp/verify"
	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// TestDemo runs the demo hub in-process on 127.0.0.1 and pulls from it like the app does: several
// documents with Chinese titles, 1 to 40 pages, one already signed by its approver (a valid
// signature), a suspended and a revoked seal, and an approved handover. A restart keeps state.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	h, srv, err := hub.Demo(dir, "DEMO-WS")
	if err != nil {
		t.Fatal(err)
	}
	c, err := upstream.NewClient(upstream.ClientConfig{URL: srv.URL, Workstation: "DEMO-WS", ServerKey: h.TicketKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// The workstation keeps documents encrypted under its ledger's key slots.
	escrow, _ := ecdh.P256().GenerateKey(rand.Reader)
	led, err := ledger.Create(filepath.Join(t.TempDir(), ledger.FileName), []ledger.Recipient{{Public: escrow.Public(), Role: keyslot.RoleEscrow, Label: "escrow"}},
		ledger.Options{Workstation: "DEMO-WS"})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	st, err := upstream.OpenStore(filepath.Join(t.TempDir(), "sync.db"), led)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := upstream.NewSyncer(c, st, upstream.SyncOptions{}).SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	docs, err := st.Documents()
	if err != nil || len(docs) < 4 {
		t.Fatalf("%d documents, %v", len(docs), err)
	}
	minP, maxP, signed := 1000, 0, 0
	for _, d := range docs {
		if d, err = st.Document(d.ID); err != nil { // with its bytes
			t.Fatal(err)
		}
		if !hasHan(d.Title) {
			t.Errorf("title %q has no Chinese", d.Title)
		}
		minP, maxP = min(minP, d.Pages), max(maxP, d.Pages)
		for _, a := range d.Approvals {
			if a.Signed {
				signed++
				rep, err := verify.File(d.File, verify.Options{})
				if err != nil {
					t.Fatalf("verifying the approver-signed %q: %v", d.Title, err)
				}
				if len(rep.Signatures) != 1 || !rep.Valid {
					t.Errorf("approver-signed %q: %d signatures, valid %v", d.Title, len(rep.Signatures), rep.Valid)
				}
			}
		}
		if b, err := os.ReadFile(d.File); err != nil || int64(len(b)) != d.Size {
			t.Errorf("%q: file %s, %v", d.Title, d.File, err)
		}
	}
	if minP != 1 || maxP != 40 || signed != 1 {
		t.Errorf("pages %d..%d, %d signed by an approver", minP, maxP, signed)
	}
	seals, _ := st.SealList()
	statuses := map[string]bool{}
	for _, s := range seals.Seals {
		statuses[s.Status] = true
	}
	if len(statuses) != 3 {
		t.Errorf("seal statuses %v", statuses)
	}
	if r, _ := st.Roster(); len(r.Handovers) != 1 || len(r.Custodians) != 2 {
		t.Errorf("roster %+v", r)
	}
	srv.Close()
	h.Close()

	// A restarted demo keeps its documents instead of seeding again.
	h, srv, err = hub.Demo(dir, "DEMO-WS")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	defer srv.Close()
	all, _ := h.Documents()
	if len(all) != len(docs) {
		t.Errorf("after restart %d documents, before %d", len(all), len(docs))
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

package usecase_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// addLimited approves a PDF of n pages with page and region limits signed into its ticket.
func (d *day) addLimited(t *testing.T, title string, n int, pages []int, regions []ticket.Region) string {
	t.Helper()
	doc, err := d.hub.AddDocument(hub.NewDocument{Title: title, SealID: "SEAL-1", Workstation: deskWS, Copies: 1,
		AllowedPages: pages, Regions: regions, PDF: pdftest.PDF(pdftest.Options{Pages: n})})
	if err != nil {
		t.Fatal(err)
	}
	return doc.ID
}

// TestSignedRegionsAreEnforced: the ticket's pages ("last") and region hold in the preview
// (drawn, a drop elsewhere refused, the seal starts inside) and at stamping, where a placement
// outside is refused before the intent, with an error naming the page and the allowed region;
// a placement inside is signed (our verifier and pdfsig).
func TestSignedRegionsAreEnforced(t *testing.T) {
	d := newDay(t, nil)
	id := d.addLimited(t, "限区", 3, []int{ticket.LastPage}, []ticket.Region{{Page: ticket.LastPage, X: 100, Y: 200, W: 60, H: 40}})
	d.syncOnce(t)
	desk := previewDesk(t, d)
	p := openPreview(t, desk, id)
	var allowed []int
	for _, pg := range p.Pages() {
		if pg.Allowed {
			allowed = append(allowed, pg.Number)
		}
	}
	if !slices.Equal(allowed, []int{3}) {
		t.Fatalf("allowed pages %v, want the last, 3", allowed)
	}
	if rs := p.Regions(3); len(rs) != 1 || rs[0] != (usecase.Region{Page: 3, X0: 100, Y0: 200, X1: 160, Y1: 240}) {
		t.Fatalf("regions on page 3: %+v", rs)
	}
	if rs := p.Regions(1); len(rs) != 0 {
		t.Fatalf("regions on page 1: %+v", rs)
	}
	if _, _, err := p.Put(usecase.Place{Page: 1, XMM: 130, YMM: 220}); !errors.Is(err, usecase.ErrPageNotAllowed) || !strings.Contains(err.Error(), "page 1 (allowed: 3)") {
		t.Fatalf("page 1: %v", err)
	}
	if _, _, err := p.Put(usecase.Place{Page: 3, XMM: 50, YMM: 50}); !errors.Is(err, usecase.ErrOutsideRegion) {
		t.Fatalf("outside the region: %v", err)
	}
	if at := p.DefaultPlace(3); at != (usecase.Place{Page: 3, XMM: 130, YMM: 220}) {
		t.Fatalf("a new seal starts at %+v, not in the region's centre", at)
	}
	size := d.led.Size()
	_, err := desk.StampAt(context.Background(), id, []usecase.Place{{Page: 3, XMM: 50, YMM: 50}})
	if !errors.Is(err, usecase.ErrOutsideRegion) || !strings.Contains(err.Error(), "on page 3 is at x 50.0 mm, y 50.0 mm; allowed there: x 100.0-160.0 mm, y 200.0-240.0 mm") {
		t.Fatalf("stamping outside the region: %v", err)
	}
	if d.led.Size() != size {
		t.Fatalf("a refused placement wrote %d ledger records", d.led.Size()-size)
	}
	if _, _, err := p.Put(usecase.Place{Page: 3, XMM: 150, YMM: 230}); err != nil {
		t.Fatal(err)
	}
	res, err := desk.StampPreview(context.Background(), p)
	if err != nil {
		t.Fatalf("inside the region, the approval not spent by the refusal: %v", err)
	}
	d.checkStamped(t, res)
}

// TestListingWideningPagesIsIgnored: the listing's allowedPages is an unsigned copy. A hub
// database edited after the approval (file access, no ticket key needed) lists pages 1-3 for a
// ticket that signs page 2 only; the workstation keeps to the ticket in the preview and at
// stamping.
func TestListingWideningPagesIsIgnored(t *testing.T) {
	d := newDay(t, nil)
	id := d.addLimited(t, "只限第二页", 3, []int{2}, nil)
	d.editHub(t, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("documents"))
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(b.Get([]byte(id)), &rec); err != nil {
			return err
		}
		var doc upstream.Document
		if err := json.Unmarshal(rec["doc"], &doc); err != nil {
			return err
		}
		doc.AllowedPages = []int{1, 2, 3}
		raw, _ := json.Marshal(doc)
		rec["doc"] = raw
		raw, _ = json.Marshal(rec)
		return b.Put([]byte(id), raw)
	})
	d.syncOnce(t)
	if c, err := d.st.Document(id); err != nil || !slices.Equal(c.AllowedPages, []int{1, 2, 3}) {
		t.Fatalf("the edited listing did not arrive (%v, %v): the test would prove nothing", c.AllowedPages, err)
	}
	desk := previewDesk(t, d)
	p := openPreview(t, desk, id)
	if pages := p.Pages(); pages[0].Allowed || !pages[1].Allowed || pages[2].Allowed {
		t.Fatalf("allowed pages %+v: the listing's copy was trusted over the ticket", pages)
	}
	if _, err := desk.StampAt(context.Background(), id, []usecase.Place{{Page: 1, XMM: 100, YMM: 100}}); !errors.Is(err, usecase.ErrPageNotAllowed) {
		t.Fatalf("stamping page 1 under a widened listing: %v", err)
	}
	res, err := desk.StampAt(context.Background(), id, []usecase.Place{{Page: 2, XMM: 100, YMM: 100}})
	if err != nil {
		t.Fatal(err)
	}
	d.checkStamped(t, res)
}

// editHub stops the hub, changes its database file directly, and serves it again on the same
// address.
func (d *day) editHub(t *testing.T, edit func(tx *bolt.Tx) error) {
	t.Helper()
	u, err := url.Parse(d.url)
	if err != nil {
		t.Fatal(err)
	}
	d.cut(t)
	d.hub.Close()
	db, err := bolt.Open(filepath.Join(d.hubDir, hub.FileName), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(edit); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if d.hub, err = hub.Open(d.hubDir, hub.Options{Name: "test hub", AutoEnrol: true}); err != nil {
		t.Fatal(err)
	}
	d.serve(t, u.Host)
}

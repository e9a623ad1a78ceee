package hub_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// TestAdminWhileRunning administers a running hub through its admin endpoint: the database is
// locked by the hub, so OpenAdmin goes through the API, which needs the token.
func TestAdminWhileRunning(t *testing.T) {
	dir := t.TempDir()
	h, err := hub.Open(dir, hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	as, err := h.ServeAdmin("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
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
	resp, err := http.Get(as.URL + "/admin/snapshot")
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without the token: %v %v", resp, err)
	}
	resp.Body.Close()
	as.Close()
	h.Close()
	// Stopped: the admin record is gone and the database opens directly.
	a, err = hub.OpenAdmin(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, ok := a.(*hub.Hub); !ok {
		t.Fatalf("after the hub stopped OpenAdmin gave %T", a)
	}
}

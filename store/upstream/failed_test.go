package upstream_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// TestFailedOutcome: the "failed" outcome (a stamping that failed after its intent spent the
// ticket) needs a reason, takes the document out of the hub's queue as failed, is idempotent,
// and any other result for that ticket afterwards is refused (409 conflict).
func TestFailedOutcome(t *testing.T) {
	p := newPKI(t)
	th := startHub(t, hub.Options{AutoEnrol: true}, p.serverTLS())
	if err := th.H.SetSeal(upstream.SealStatus{ID: "SEAL-1", Status: upstream.SealActive}); err != nil {
		t.Fatal(err)
	}
	d := addDoc(t, th.H, "失败的盖章", 2, "SEAL-1")
	c := newClient(t, th.S.URL, ws, p.clientTLS(t, ws), th.H.TicketKey(), 5*time.Second)
	ctx := context.Background()
	tk := ticketOf(t, d)
	failed := upstream.Result{DocumentID: d.ID, TicketID: tk, Outcome: upstream.OutcomeFailed, At: time.Now().UTC().Truncate(time.Second), LedgerSeq: 7}
	if err := c.PostResult(ctx, failed); serverCode(err) != upstream.CodeBadRequest {
		t.Fatalf("a failed result without a reason: %v", err)
	}
	failed.Reason = "the seal key was pulled out while it was signing"
	for range 2 { // the answer may be lost: the same result again is 200
		if err := c.PostResult(ctx, failed); err != nil {
			t.Fatal(err)
		}
	}
	docs, err := th.H.Documents()
	if err != nil || len(docs) != 1 || docs[0].State != hub.StateFailed || docs[0].Result == nil || docs[0].Result.Reason != failed.Reason {
		t.Fatalf("hub documents %+v, %v", docs, err)
	}
	if listed, err := c.Documents(ctx); err != nil || len(listed) != 0 {
		t.Fatalf("listed after the failure: %+v, %v", listed, err)
	}
	err = c.PostResult(ctx, upstream.Result{DocumentID: d.ID, TicketID: tk, Outcome: upstream.OutcomeRejected, Reason: "退回"})
	if serverCode(err) != upstream.CodeConflict || !strings.Contains(err.Error(), "spent by a stamping that failed") {
		t.Fatalf("a rejection under the spent ticket: %v", err)
	}
}

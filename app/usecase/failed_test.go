package usecase_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// TestFailedStampingSpendsTheApproval: a stamping that fails after its intent (the key pulled
// out) spent its approval. The workstation tells the hub "failed"; the hub shows the document
// failed (approval spent) and stops offering it; the same ticket is then refused by the
// workstation (queue and precheck) and by the hub (a genuine stamping of the document under
// that ticket, uploaded and reported, is 409).
func TestFailedStampingSpendsTheApproval(t *testing.T) {
	d := newDay(t, nil)
	id := d.add(t, "签名失败", 1)
	d.syncOnce(t)
	req := d.request(t, id, 1)
	cached, err := d.st.Document(id)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := ticket.Parse(cached.Ticket)
	if err != nil {
		t.Fatal(err)
	}
	// A genuine stamping of the approved bytes, made while the key is in, for the hub to be
	// offered under the spent ticket below.
	file, err := d.desk.DocumentFile(id)
	if err != nil {
		t.Fatal(err)
	}
	genuine := filepath.Join(t.TempDir(), "genuine.pdf")
	if _, err := stamp.SignFile(context.Background(), file, genuine, false, stamp.Request{Placement: req.Placement, Image: req.Image, Signer: d.seal.Signer, Chain: d.seal.Chain}); err != nil {
		t.Fatal(err)
	}

	d.tok.Remove()
	if _, err := d.desk.Stamp(context.Background(), d.seal, req); !errors.Is(err, device.ErrKeyRemoved) {
		t.Fatalf("stamping with the key pulled out: %v", err)
	}
	d.syncOnce(t)

	docs, err := d.hub.Documents()
	if err != nil || len(docs) != 1 {
		t.Fatalf("hub documents %+v, %v", docs, err)
	}
	res := docs[0].Result
	if docs[0].State != hub.StateFailed || res == nil || res.Outcome != upstream.OutcomeFailed || res.TicketID != tk.ID() || !strings.Contains(res.Reason, "pulled out") || res.LedgerSeq == 0 {
		t.Fatalf("the hub's document after the failed stamping: state %q, result %+v", docs[0].State, res)
	}
	listed, err := d.cli.Documents(context.Background())
	if err != nil || len(listed) != 0 {
		t.Fatalf("the hub still lists %+v (%v): the spent ticket is offered again", listed, err)
	}
	if c, err := d.st.Document(id); err != nil || c.State == upstream.DocPending {
		t.Fatalf("the workstation's copy is %q after the hub stopped listing it (%v)", c.State, err)
	}

	// The workstation refuses the ticket again.
	q, err := d.desk.Queue()
	if err != nil || len(q) != 1 || q[0].Ready || q[0].ProblemKind != usecase.ProblemApprovalSpent {
		t.Fatalf("queue after the failed stamping: %+v, %v", q, err)
	}
	if err := d.desk.Precheck(req); !errors.Is(err, usecase.ErrApprovalSpent) {
		t.Fatalf("precheck of the spent approval: %v", err)
	}
	// The hub refuses it too: a real stamping of the document under the spent ticket.
	sha, size, err := d.cli.Upload(context.Background(), genuine)
	if err != nil {
		t.Fatal(err)
	}
	err = d.cli.PostResult(context.Background(), upstream.Result{DocumentID: id, TicketID: tk.ID(), Outcome: upstream.OutcomeStamped,
		OutputSHA256: sha, OutputSize: size, Custodian: upstream.Person{Name: "张伟"}})
	var se *upstream.ServerError
	if !errors.As(err, &se) || se.Body.Code != upstream.CodeConflict || !strings.Contains(se.Body.Message, "spent by a stamping that failed") {
		t.Fatalf("the hub took a stamping under the spent ticket: %v", err)
	}
	if docs, _ := d.hub.Documents(); docs[0].State != hub.StateFailed {
		t.Fatalf("state after the second try: %q", docs[0].State)
	}
}

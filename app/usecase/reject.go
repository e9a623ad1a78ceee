package usecase

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// RejectReasons are the presets a screen offers; any other text is as good.
var RejectReasons = []string{
	"文件内容有误，请修改后重新报批 (the content is wrong: correct it and submit again)",
	"审批手续不全 (the approval is incomplete)",
	"用印位置或页数与审批不符 (the seal's place or pages do not match the approval)",
	"非本印章用印范围 (not within this seal's scope of use)",
}

// ErrReasonRequired: a document is returned only with a reason (docs/rules.md 6).
var ErrReasonRequired = errors.New("say why the document is returned: a reason is required")

// Reject returns a queue document to the requester with a reason: recorded in the ledger, sent
// to the server, and taken out of the queue. A corrected document comes back with a new
// approval.
func (d *Desk) Reject(docID, reason string, custodian string) (uint64, error) {
	if err := d.ledgerReady(); err != nil {
		return 0, err
	}
	if err := d.checkClock(d.cfg.Now()); err != nil {
		return 0, err
	}
	if d.cfg.Store == nil {
		return 0, ErrNoServer
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return 0, ErrReasonRequired
	}
	doc, err := d.cfg.Store.Document(docID)
	if err != nil {
		return 0, err
	}
	if doc.State == upstream.DocDone {
		return 0, fmt.Errorf("%q was already stamped or returned on this workstation", doc.Title)
	}
	// The return names the approval it answers; the server matches the two.
	var ticketID string
	if t, err := ticket.Parse(doc.Ticket); err == nil {
		ticketID = t.ID()
	}
	seqs, err := d.record(ledger.Record{Kind: ledger.KindRejected, DocID: doc.ID, DocTitle: doc.Title, SealID: doc.SealID,
		TicketID: ticketID, InputHash: doc.SHA256, Custodian: custodian, Reason: reason})
	if err != nil {
		return 0, fmt.Errorf("recording the return in the ledger failed, so the document stays in the queue: %w", err)
	}
	if err := d.cfg.Store.Enqueue(upstream.Result{DocumentID: doc.ID, TicketID: ticketID, Outcome: upstream.OutcomeRejected, Reason: reason,
		Custodian: upstream.Person{Name: custodian}, At: d.cfg.Now(), LedgerSeq: seqs[0]}, ""); err != nil {
		return seqs[0], fmt.Errorf("the return is recorded, but queueing it for the server failed: %w", err)
	}
	if err := d.cfg.Store.MarkDone(doc.ID); err != nil {
		return seqs[0], err
	}
	d.trigger()
	return seqs[0], nil
}

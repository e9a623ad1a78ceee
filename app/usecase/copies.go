package usecase

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// Extra copies (加印, RULES.md 15): asked for online, approved by the server's administrator,
// and counted only once the server's signed allowance is checked and recorded in the ledger
// (copies.allowed), so the allowance, like the ticket's copies, holds offline.

// CopyGrant is a request for extra copies and what became of it on the server.
type CopyGrant = upstream.CopyGrant

// RequestCopies asks the server for n extra copies of a document's latest stamping.
func (d *Desk) RequestCopies(ctx context.Context, docID string, n int, reason, custodian string) (CopyGrant, error) {
	if d.cfg.Upstream == nil {
		return upstream.CopyGrant{}, ErrNoServer
	}
	if strings.TrimSpace(reason) == "" {
		return upstream.CopyGrant{}, errors.New("say why extra copies are needed (the reason goes to the approver)")
	}
	a, err := d.Allowance(docID)
	if err != nil {
		return upstream.CopyGrant{}, err
	}
	if custodian == "" {
		custodian = a.Custodian
	}
	g, err := d.cfg.Upstream.RequestCopies(ctx, upstream.CopyRequest{DocumentID: docID, OutputSHA256: a.OutputSHA256, Copies: n,
		Reason: reason, Custodian: upstream.Person{Name: custodian}})
	if err != nil {
		return g, fmt.Errorf("asking the server for %d extra copies of %q: %w", n, a.Title, err)
	}
	return g, nil
}

// FetchAllowances takes the server's approved allowances for extra copies: each is checked
// (the pinned server key, this workstation, a stamping of this document with that file here)
// and recorded once. It returns the records written.
func (d *Desk) FetchAllowances(ctx context.Context) ([]uint64, error) {
	if d.cfg.Upstream == nil {
		return nil, ErrNoServer
	}
	if err := d.ledgerReady(); err != nil {
		return nil, err
	}
	gs, err := d.cfg.Upstream.CopyGrants(ctx)
	if err != nil {
		return nil, fmt.Errorf("asking the server for approved extra copies: %w", err)
	}
	d.printMu.Lock()
	defer d.printMu.Unlock()
	seen := map[string]bool{}
	if err := d.copies(func(x *copyIndex) {
		for id := range x.allowances {
			seen[id] = true
		}
	}); err != nil {
		return nil, err
	}
	var seqs []uint64
	var errs []error
	for _, g := range gs {
		if g.Status != upstream.CopiesApproved {
			continue
		}
		al, err := ticket.VerifyAllowance(g.Allowance, d.cfg.ServerKey, d.cfg.Workstation)
		if err != nil {
			errs = append(errs, fmt.Errorf("extra copies %s: %w", g.ID, err))
			continue
		}
		if seen[al.ID()] {
			continue
		}
		a, err := d.Allowance(al.DocumentID)
		if err == nil && a.OutputSHA256 != fmt.Sprintf("%x", al.OutputSHA256) {
			err = fmt.Errorf("the allowance is for another stamped file of %s than the latest one here", al.DocumentID)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("extra copies %s: %w", g.ID, err))
			continue
		}
		s, err := d.record(ledger.Record{Kind: ledger.KindCopiesAllowed, DocID: al.DocumentID, DocTitle: a.Title, SealID: a.SealID,
			Custodian: a.Custodian, OutputHash: a.OutputSHA256, Copies: al.Copies, TicketID: al.ID(), Intent: a.Stamping,
			Reason: g.Request.Reason, Detail: "approved by " + g.ApprovedBy + ": " + g.Allowance})
		if err != nil {
			return seqs, err
		}
		seen[al.ID()] = true
		seqs = append(seqs, s...)
	}
	return seqs, errors.Join(errs...)
}

package usecase

import (
	"fmt"

	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// copyIndex is what the ledger says of each document's copies (print.go), kept by the desk so
// that an allowance is not a scan of the whole ledger: it is built by one scan, then brought up
// to date with the records written since (by any writer: the desk, the key use case, a record
// folded in at login), so it says exactly what a scan from record 1 would. It is dropped when
// the ledger locks: the records it holds are the ledger's, readable only while unlocked.
type copyIndex struct {
	upTo uint64                // records 1..upTo are folded in
	docs map[string]*docCopies // by document id
	// allowances are the signed allowances (加印) already recorded, by id (TicketID).
	allowances map[string]bool
}

// docCopies is the latest stamping of a document and what its jobs took.
type docCopies struct {
	a     CopyAllowance  // Printed and Left are computed from asked
	asked map[uint64]int // print.intent seq → copies it takes
}

// fold counts one record, in seq order.
func (x *copyIndex) fold(r ledger.Record) {
	x.upTo = r.Seq
	if r.DocID == "" || !r.SealedAt.IsZero() || r.Locked != "" {
		return // a record folded in from a locked event never counts for printing
	}
	dc := x.docs[r.DocID]
	if r.Kind == ledger.KindStampDone {
		// A new stamping of the document (after a new approval) starts a new allowance.
		x.docs[r.DocID] = &docCopies{asked: map[uint64]int{}, a: CopyAllowance{DocID: r.DocID, Title: r.DocTitle, Stamping: r.Seq,
			Out: r.Output, OutputSHA256: r.OutputHash, SealID: r.SealID, Custodian: r.Custodian, Approved: r.Copies}}
		return
	}
	if r.Kind == ledger.KindCopiesAllowed {
		x.allowances[r.TicketID] = true
	}
	if dc == nil {
		return
	}
	a := &dc.a
	switch r.Kind {
	case ledger.KindCopiesAllowed:
		// Extra copies (加印) count for the stamped file they name only.
		if r.OutputHash == a.OutputSHA256 {
			a.Approved += r.Copies
			a.Extra += r.Copies
		}
	case ledger.KindSuperseded:
		if r.OutputHash == a.OutputSHA256 {
			a.SupersededBy = r.Detail
		}
	case ledger.KindRecalled:
		if r.OutputHash == a.OutputSHA256 {
			a.Recalled += r.Copies
		}
	case ledger.KindPrintIntent:
		if r.Intent == a.Stamping {
			dc.asked[r.Seq] = r.Copies
		}
	case ledger.KindPrintDone, ledger.KindPrintFailed:
		if _, ok := dc.asked[r.Intent]; ok {
			dc.asked[r.Intent] = r.CopiesDone
		}
	}
}

// allowance is the document's allowance now.
func (dc *docCopies) allowance() CopyAllowance {
	a := dc.a
	for _, n := range dc.asked {
		a.Printed += n
	}
	a.Left = max(a.Approved-a.Printed, 0)
	if a.SupersededBy != "" {
		a.Left = 0
	}
	return a
}

// copies brings the index up to date and calls fn with it, under the index's lock.
func (d *Desk) copies(fn func(*copyIndex)) error {
	d.copiesMu.Lock()
	defer d.copiesMu.Unlock()
	if d.copyIdx == nil {
		d.copyIdx = &copyIndex{docs: map[string]*docCopies{}, allowances: map[string]bool{}}
	}
	x := d.copyIdx
	if size := d.cfg.Ledger.Size(); size > x.upTo {
		err := d.cfg.Ledger.Records(x.upTo+1, func(r ledger.Record) error { x.fold(r); return nil })
		if err != nil {
			d.copyIdx = nil // read again from record 1 next time
			return fmt.Errorf("reading the ledger for the printed copies: %w", err)
		}
	}
	fn(x)
	return nil
}

// forgetCopies drops the index (the ledger locked).
func (d *Desk) forgetCopies() {
	d.copiesMu.Lock()
	d.copyIdx = nil
	d.copiesMu.Unlock()
}

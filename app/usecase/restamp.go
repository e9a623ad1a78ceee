package usecase

import (
	"errors"
	"fmt"

	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// Re-stamping a corrected document (重印, RULES.md 16). The new approval's ticket names the
// document it supersedes. When it is stamped, the earlier document's stamped file is first
// marked superseded in the ledger (doc.superseded), from then on printed no more; if copies of
// it were printed, the stamping waits until the custodian has recorded as many returned
// (print.recalled). The earlier stamped file and its printouts stay verifiable: nothing of them
// is changed, the ledger only says what became of them.

// ErrSuperseded: the stamping was replaced by a corrected document's; it is not printed.
var ErrSuperseded = errors.New("this stamped version was superseded by a corrected document (重印) and may no longer be printed")

// ErrRecallNeeded: copies of the superseded version are out; their recall must be recorded.
var ErrRecallNeeded = errors.New("printed copies of the earlier version must be recalled first: record how many were returned (sealkeeper print --doc EARLIER --recall N)")

// supersede marks old's latest stamping superseded by doc (once) and refuses while copies of it
// are printed and not recalled. An old document never stamped here needs nothing.
func (d *Desk) supersede(old, doc string) error {
	if old == "" {
		return nil
	}
	d.printMu.Lock()
	defer d.printMu.Unlock()
	a, err := d.Allowance(old)
	if errors.Is(err, ErrNotStamped) {
		return nil
	}
	if err != nil {
		return err
	}
	if a.SupersededBy == "" {
		if _, err := d.record(ledger.Record{Kind: ledger.KindSuperseded, DocID: old, DocTitle: a.Title, SealID: a.SealID, Custodian: a.Custodian,
			OutputHash: a.OutputSHA256, Intent: a.Stamping, Copies: a.Printed, Detail: doc}); err != nil {
			return fmt.Errorf("recording that %s supersedes %s: %w", doc, old, err)
		}
	}
	if a.Recalled < a.Printed {
		return fmt.Errorf("%s replaces %s, of which %d printed copies are out and %d recorded returned: %w", doc, old, a.Printed, a.Recalled, ErrRecallNeeded)
	}
	return nil
}

// RecordRecall records that returned printed copies of a superseded stamping came back (to be
// destroyed), and says how many are still out.
func (d *Desk) RecordRecall(docID string, returned int, note, custodian string) (outstanding int, err error) {
	if err := d.ledgerReady(); err != nil {
		return 0, err
	}
	d.printMu.Lock()
	defer d.printMu.Unlock()
	a, err := d.Allowance(docID)
	if err != nil {
		return 0, err
	}
	if a.SupersededBy == "" {
		return 0, fmt.Errorf("%s is not superseded by a corrected document; only a superseded version's printouts are recalled", docID)
	}
	if returned < 1 || a.Recalled+returned > a.Printed {
		return a.Printed - a.Recalled, fmt.Errorf("%d returned: %d copies of %s were printed and %d already recorded returned", returned, a.Printed, docID, a.Recalled)
	}
	if custodian == "" {
		custodian = a.Custodian
	}
	if _, err := d.record(ledger.Record{Kind: ledger.KindRecalled, DocID: docID, DocTitle: a.Title, SealID: a.SealID, Custodian: custodian,
		OutputHash: a.OutputSHA256, Intent: a.Stamping, Copies: returned, Reason: note}); err != nil {
		return a.Printed - a.Recalled, fmt.Errorf("recording the recall failed: %w", err)
	}
	return a.Printed - a.Recalled - returned, nil
}

package usecase

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sealkeeper/sealkeeper/stamp/verify"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// Interrupted is a stamping that a crash, a power cut or a pulled key cut short, as reconciled.
type Interrupted struct {
	Intent   uint64
	DocID    string
	Title    string
	At       time.Time
	Output   string
	Signed   bool   // the output exists, begins with the approved bytes and its last seal verifies
	Problem  string // why it counts as not stamped
	Recorded uint64 // the stamp.done or stamp.failed now in the ledger
}

// Reconcile settles every stamp intent the ledger holds without a result: when its output
// exists, begins with the approved bytes and its newest signature is intact, the stamping
// happened (done, and queued for the server as usual); otherwise it did not (failed, with the
// reason; an output that does not verify is left where it is for inspection). The custodian
// is shown the list. It needs the ledger unlocked.
func (d *Desk) Reconcile(seal Seal) ([]Interrupted, error) {
	if err := d.ledgerReady(); err != nil {
		return nil, err
	}
	open, err := d.cfg.Ledger.Interrupted()
	if err != nil {
		return nil, err
	}
	var out []Interrupted
	for _, r := range open {
		it := Interrupted{Intent: r.Seq, DocID: r.DocID, Title: r.DocTitle, At: r.Time, Output: r.Output}
		sum, why := d.checkOutput(r)
		rec := ledger.Record{Intent: r.Seq, DocID: r.DocID, TicketID: r.TicketID, SealID: r.SealID, Custodian: seal.Custodian,
			InputHash: r.InputHash, Placements: r.Placements}
		if why == "" {
			it.Signed = true
			rec.Kind, rec.OutputHash, rec.Reason = ledger.KindStampDone, sum, "reconciled after an interruption: the output exists and verifies"
		} else {
			it.Problem = why
			rec.Kind, rec.Reason = ledger.KindStampFailed, "interrupted: "+why
		}
		seqs, err := d.record(rec)
		if err != nil {
			return out, fmt.Errorf("recording the outcome of the interrupted stamping %d: %w", r.Seq, err)
		}
		it.Recorded = seqs[0]
		if it.Signed && r.DocID != "" && d.cfg.Store != nil {
			if err := d.cfg.Store.Enqueue(upstream.Result{DocumentID: r.DocID, TicketID: r.TicketID, Outcome: upstream.OutcomeStamped,
				OutputSHA256: sum, Custodian: upstream.Person{Name: seal.Custodian}, At: d.cfg.Now(), LedgerSeq: it.Recorded}, r.Output); err != nil {
				return out, err
			}
			if err := d.cfg.Store.MarkDone(r.DocID); err != nil {
				d.cfg.Log.Warn("reconciled document not in the queue", "doc", r.DocID, "error", err.Error())
			}
		} else if !it.Signed {
			if err := d.reportFailed(r.DocID, r.TicketID, seal.Custodian, rec.Reason, it.Recorded); err != nil {
				return out, err
			}
		}
		d.cfg.Log.Info("reconciled an interrupted stamping", "intent", r.Seq, "signed", it.Signed, "problem", it.Problem)
		out = append(out, it)
	}
	if len(out) > 0 {
		d.trigger()
	}
	return out, nil
}

// checkOutput says whether an interrupted intent's output is a finished stamping: it returns
// the output's SHA-256, or why not.
func (d *Desk) checkOutput(r ledger.Record) (sum string, why string) {
	if r.Output == "" {
		return "", "the intent names no output file"
	}
	if _, err := os.Stat(r.Output); errors.Is(err, os.ErrNotExist) {
		return "", "no output was written (the key had not finished signing)"
	}
	rep, err := verify.File(r.Output, verify.Options{})
	if err != nil {
		return "", fmt.Sprintf("the output %s cannot be read as a stamped PDF: %v; it is kept for inspection", r.Output, err)
	}
	if len(rep.Signatures) == 0 || !rep.Signatures[len(rep.Signatures)-1].Intact || !rep.Signatures[len(rep.Signatures)-1].CoversFile {
		return "", fmt.Sprintf("the output %s has no intact seal covering the whole file; it is kept for inspection", r.Output)
	}
	// The signed file must extend exactly the bytes the intent named.
	in := r.Detail // a local file's path
	if r.DocID != "" && d.cfg.Store != nil {
		if doc, err := d.cfg.Store.Document(r.DocID); err == nil {
			in = doc.File
		}
	}
	if in == "" {
		return "", "the approved original is no longer on this workstation, so the output cannot be checked against it"
	}
	prefix, whole, err := hashOutput(r.Output, in)
	if err != nil || hex.EncodeToString(prefix[:]) != r.InputHash {
		return "", fmt.Sprintf("the output %s does not begin with the approved bytes; it is kept for inspection", r.Output)
	}
	return hex.EncodeToString(whole[:]), ""
}

// ReconcileNow settles interrupted stampings with the logged-in seal (the window calls it right
// after login; the command line calls Reconcile from its own login).
func (d *Desk) ReconcileNow() ([]Interrupted, error) {
	if d.cfg.Keys == nil {
		return nil, nil
	}
	seal, err := d.cfg.Keys.Seal()
	if err != nil {
		return nil, err
	}
	return d.Reconcile(seal)
}

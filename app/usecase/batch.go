package usecase

import (
	"context"
	"errors"
)

// BatchItem is one document of a batch and what became of it: Result when it was stamped,
// else Err (refused before its intent, failed after it, or not started because the batch was
// cancelled).
type BatchItem struct {
	Request StampRequest
	Result  *StampResult
	Err     error
}

// BatchProgress is what a batch reports: before each document (Current names it) and once at
// the end (Current empty). Last is the document just finished, nil before the first.
type BatchProgress struct {
	Done, Total int
	Current     string // the document ID, or the local file, being stamped now
	Last        *BatchItem
}

// ErrBatchCancelled is the Err of the documents a cancelled batch did not start.
var ErrBatchCancelled = errors.New("not stamped: the batch was cancelled before this document; nothing was signed or recorded for it, and it can be stamped later")

// StampBatch stamps several documents with one logged-in seal (one PIN entry), each along the
// whole path of Stamp: its own ticket check, ledger intent and done or failed. A document that
// is refused or fails does not stop the others; each item says what became of its document.
// progress (may be nil) is called before each document and at the end.
//
// Cancelling ctx stops the batch between documents: the document being signed is finished
// (its ticket is used from its intent on, so cutting it short would spend the approval for
// nothing), the ones after it are not started and get ErrBatchCancelled. The returned error is
// ctx's when the batch was cancelled, else nil; per-document failures are in the items.
func (d *Desk) StampBatch(ctx context.Context, seal Seal, reqs []StampRequest, progress func(BatchProgress)) ([]BatchItem, error) {
	items := make([]BatchItem, len(reqs))
	report := func(p BatchProgress) {
		if progress != nil {
			p.Total = len(reqs)
			progress(p)
		}
	}
	var last *BatchItem
	for i, req := range reqs {
		items[i].Request = req
		if err := ctx.Err(); err != nil {
			for j := i; j < len(reqs); j++ {
				items[j] = BatchItem{Request: reqs[j], Err: ErrBatchCancelled}
			}
			report(BatchProgress{Done: i, Last: last})
			return items, err
		}
		report(BatchProgress{Done: i, Current: batchName(req), Last: last})
		items[i].Result, items[i].Err = d.Stamp(context.WithoutCancel(ctx), seal, req)
		last = &items[i]
	}
	report(BatchProgress{Done: len(reqs), Last: last})
	return items, nil
}

func batchName(r StampRequest) string {
	if r.DocID != "" {
		return r.DocID
	}
	return r.File
}

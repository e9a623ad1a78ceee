package usecase_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// checkStamped verifies a stamped file with our verifier and with pdfsig.
func (d *day) checkStamped(t *testing.T, res *usecase.StampResult) {
	t.Helper()
	rep, err := verify.File(res.Out, verify.Options{Roots: d.seal.Chain[1:]})
	if err != nil || !rep.Valid || !rep.Trusted || len(rep.Signatures) != 1 {
		t.Fatalf("%s: %+v, %v", res.Out, rep, err)
	}
	if valid, total, out := pdftest.Pdfsig(t, res.Out); valid != 1 || total != 1 {
		t.Fatalf("%s: pdfsig: %d of %d valid\n%s", res.Out, valid, total, out)
	}
}

// attempts checks the ledger's stampings: every intent settled by exactly one done or failed,
// nothing left interrupted; it returns the intents per document.
func (d *day) attempts(t *testing.T) map[string]int {
	t.Helper()
	intents, settled := map[uint64]string{}, map[uint64]int{}
	if err := d.led.Records(1, func(r ledger.Record) error {
		switch r.Kind {
		case ledger.KindStampIntent:
			intents[r.Seq] = r.DocID
		case ledger.KindStampDone, ledger.KindStampFailed:
			settled[r.Intent]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for seq, doc := range intents {
		if settled[seq] != 1 {
			t.Errorf("intent %d (%s) has %d done/failed records", seq, doc, settled[seq])
		}
		per[doc]++
	}
	if len(settled) != len(intents) {
		t.Errorf("%d intents, %d settled", len(intents), len(settled))
	}
	if left, _ := d.led.Interrupted(); len(left) != 0 {
		t.Errorf("interrupted: %+v", left)
	}
	return per
}

// TestStampBatch: five queue documents with one login, one of them withdrawn by the server
// after it was pulled. The other four are stamped (our verifier and pdfsig), the withdrawn one
// is refused and reported on its own, the progress goes 0..5 in order; the ledger has one
// intent and one done per stamped document and nothing for the refused one; the hub gets the
// four results.
func TestStampBatch(t *testing.T) {
	d := newDay(t, nil)
	var ids []string
	for i := range 5 {
		ids = append(ids, d.add(t, fmt.Sprintf("批量文件 %d", i+1), 1))
	}
	d.syncOnce(t)
	var reqs []usecase.StampRequest
	for _, id := range ids {
		reqs = append(reqs, d.request(t, id, 1))
	}
	withdrawn := ids[2]
	if err := d.hub.WithdrawDocument(withdrawn); err != nil {
		t.Fatal(err)
	}
	d.syncOnce(t)

	var seen []usecase.BatchProgress
	items, err := d.desk.StampBatch(context.Background(), d.seal, reqs, func(p usecase.BatchProgress) { seen = append(seen, p) })
	if err != nil || len(items) != 5 {
		t.Fatalf("batch: %d items, %v", len(items), err)
	}
	for i, it := range items {
		switch {
		case ids[i] == withdrawn:
			if it.Result != nil || it.Err == nil || !strings.Contains(it.Err.Error(), "withdrew") {
				t.Errorf("withdrawn document: %+v", it)
			}
		case it.Err != nil:
			t.Errorf("document %d: %v", i+1, it.Err)
		default:
			d.checkStamped(t, it.Result)
		}
	}
	if len(seen) != 6 {
		t.Fatalf("progress: %+v", seen)
	}
	for k, p := range seen {
		want := ""
		if k < 5 {
			want = ids[k]
		}
		if p.Done != k || p.Total != 5 || p.Current != want || (k > 0) != (p.Last != nil) || (k > 0 && p.Last.Request.DocID != ids[k-1]) {
			t.Errorf("progress %d: %+v", k, p)
		}
	}
	per := d.attempts(t)
	for _, id := range ids {
		want := 1
		if id == withdrawn {
			want = 0
		}
		if per[id] != want {
			t.Errorf("%s: %d intents, want %d", id, per[id], want)
		}
	}
	d.syncOnce(t)
	got, err := d.hub.Received()
	if err != nil || len(got) != 1 || len(got[0].Results) != 4 {
		t.Fatalf("hub received %+v, %v", got, err)
	}
	for _, r := range got[0].Results {
		if r.Outcome != upstream.OutcomeStamped || r.DocumentID == withdrawn {
			t.Errorf("hub result %+v", r)
		}
	}
}

// TestStampBatchCancelled: the custodian cancels while the first document is being signed.
// That one is finished (its approval is not spent for nothing); the others are not started,
// leave no record and can be stamped afterwards.
func TestStampBatchCancelled(t *testing.T) {
	d := newDay(t, nil)
	var reqs []usecase.StampRequest
	var ids []string
	for i := range 3 {
		ids = append(ids, d.add(t, fmt.Sprintf("取消 %d", i+1), 1))
	}
	d.syncOnce(t)
	for _, id := range ids {
		reqs = append(reqs, d.request(t, id, 1))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	items, err := d.desk.StampBatch(ctx, d.seal, reqs, func(p usecase.BatchProgress) {
		if p.Current == ids[0] {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled batch: %v", err)
	}
	if items[0].Err != nil {
		t.Fatalf("the document in progress: %v", items[0].Err)
	}
	d.checkStamped(t, items[0].Result)
	for _, it := range items[1:] {
		if !errors.Is(it.Err, usecase.ErrBatchCancelled) || it.Result != nil {
			t.Errorf("%s after the cancel: %+v", it.Request.DocID, it)
		}
	}
	if per := d.attempts(t); per[ids[0]] != 1 || per[ids[1]] != 0 || per[ids[2]] != 0 {
		t.Fatalf("intents %v", per)
	}
	items, err = d.desk.StampBatch(context.Background(), d.seal, reqs[1:], nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Err != nil {
			t.Fatalf("stamping %s later: %v", it.Request.DocID, it.Err)
		}
		d.checkStamped(t, it.Result)
	}
	if per := d.attempts(t); len(per) != 3 || per[ids[1]] != 1 || per[ids[2]] != 1 {
		t.Fatalf("intents %v", per)
	}
}

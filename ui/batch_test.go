package ui

import (
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/sealkeeper/sealkeeper/stamp/verify"
)

// TestBatchStampsTheChecked: Stamp several stamps the checked documents one after another at
// their default place, says what became of each, and leaves the unchecked one in the queue.
func TestBatchStampsTheChecked(t *testing.T) {
	w := newDeskWindow(t, "WS-UI-BATCH", nil)
	w.login(t, 5)
	u, q := w.u, w.u.queue
	eventually(t, u, "Stamp several is enabled after login", func() bool { return !q.several.Disabled() })
	test.Tap(q.several)
	b := q.batch
	if b == nil || len(b.checks) != 5 {
		t.Fatalf("batch dialog %+v", b)
	}
	u.mu.Lock()
	b.checks[2].SetChecked(false)
	left := b.docs[2].ID
	u.mu.Unlock()
	test.Tap(b.start)
	eventually(t, u, "the batch finished", func() bool { return b.done })
	if !strings.HasPrefix(b.now.Text, "4 of 4 stamped.") || strings.Count(b.out.Text, ": stamped, ") != 4 {
		t.Fatalf("batch says %q\n%s", b.now.Text, b.out.Text)
	}
	for i, d := range b.docs {
		if i == 2 {
			continue
		}
		rep, err := verify.File(filepath.Join(w.out, d.ID+".pdf"), verify.Options{})
		// Some demo documents carry an approver's signature already: the seal is the last one.
		if err != nil || !rep.Valid || len(rep.Signatures) == 0 || !rep.Signatures[len(rep.Signatures)-1].CoversFile {
			t.Errorf("%s: %+v, %v", d.ID, rep, err)
		}
	}
	test.Tap(b.close)
	if q.batch != nil || len(q.items) != 1 || q.items[0].ID != left {
		t.Fatalf("after the batch: dialog %v, queue %+v", q.batch != nil, q.items)
	}
}

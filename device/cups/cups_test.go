package cups_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/sealkeeper/sealkeeper/device/cups"
	"github.com/sealkeeper/sealkeeper/device/cups/cupstest"
)

// TestPrintFollowsTheJob: the queue made for the test is listed, a job sent to it reaches the
// device byte for byte, and Wait follows it to completed.
func TestPrintFollowsTheJob(t *testing.T) {
	q := cupstest.New(t)
	c := &cups.Client{}
	ctx := context.Background()
	ps, err := c.Printers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range ps {
		if p.Name == q.Name {
			found = p.Accepting
		}
	}
	if !found {
		t.Fatalf("printer %s is not listed as accepting jobs: %+v", q.Name, ps)
	}
	doc := []byte("%PDF-1.4\n% a test job\n%%EOF\n")
	id, err := c.Print(ctx, q.Name, "test job", doc)
	if err != nil {
		t.Fatal(err)
	}
	got := q.Next(t)
	j, err := c.Wait(ctx, q.Name, id)
	if err != nil || j.State != cups.JobCompleted {
		t.Fatalf("job %d: %+v, %v", id, j, err)
	}
	if !bytes.Equal(got, doc) {
		t.Fatalf("the device received %q", got)
	}
	if _, err := c.Print(ctx, "no-such-printer-here", "x", doc); err == nil {
		t.Fatal("printing to a printer that does not exist succeeded")
	}
}

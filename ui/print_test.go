package ui

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/sealkeeper/sealkeeper/device/cups/cupstest"
)

// TestPrintFromTheResultScreen: after a stamping the result screen's button offers the
// approved copies; the dialog lists the system's printers (a real CUPS queue), prints, says
// what the printer reported, and the button then says every copy is printed.
func TestPrintFromTheResultScreen(t *testing.T) {
	q := cupstest.New(t)
	w := newDeskWindow(t, "WS-UI-PRINT", nil)
	w.login(t, 5)
	id := w.u.queue.items[0].ID
	if _, err := w.desk.StampQueued(context.Background(), []string{id}, nil); err != nil {
		t.Fatal(err)
	}
	u := w.u
	u.mu.Lock()
	p := newPrintButton(u, id)
	if p == nil || p.button.Text != "Print 1 copies" || p.button.Disabled() {
		u.mu.Unlock()
		t.Fatalf("the print button: %+v", p)
	}
	test.Tap(p.button)
	u.mu.Unlock()
	eventually(t, u, "the printers are listed", func() bool { return len(p.printer.Options) > 0 && !p.ok.Disabled() })
	u.mu.Lock()
	p.printer.SetSelected(q.Name)
	test.Tap(p.ok)
	u.mu.Unlock()
	job := q.Next(t)
	eventually(t, u, "the job's outcome is shown", func() bool { return strings.HasPrefix(p.status.Text, "Printed 1 of 1 copies on "+q.Name) })
	u.mu.Lock()
	defer u.mu.Unlock()
	if !p.button.Disabled() || p.button.Text != "All 1 approved copies printed" || !p.ok.Disabled() {
		t.Fatalf("after printing the only copy: button %q (disabled %v), print disabled %v", p.button.Text, p.button.Disabled(), p.ok.Disabled())
	}
	if !bytes.HasPrefix(job, []byte("%PDF-")) {
		t.Fatalf("the printer received %.20q", job)
	}
}

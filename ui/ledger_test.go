package ui

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// TestLedgerTab drives the ledger tab on Fyne's headless driver over a real SoftHSM token, a
// real ledger file, the demo hub on 127.0.0.1 and the real use cases: locked, it shows nothing
// and says why; after a stamping the tab lists its intent and done, the detail pane shows the
// selected record's fields, the chain status names the ledger's size, filtering by kind narrows
// the list, the CSV export holds the shown rows, the summary counts them; logging out empties
// the screen.
func TestLedgerTab(t *testing.T) {
	w := newDeskWindow(t, "WS-UI-LEDGER", nil)
	u, tok, led, syncer, keys, desk := w.u, w.tok, w.led, w.syncer, w.keys, w.desk

	s := u.led
	selectTab := func(content any) {
		u.mu.Lock()
		defer u.mu.Unlock()
		for _, ti := range u.tabs.Items {
			if ti.Content == content {
				u.tabs.Select(ti)
			}
		}
	}
	selectTab(s.content)
	eventually(t, u, "locked, the tab shows no record and says why", func() bool {
		return len(s.entries) == 0 && s.empty.Text == "Log in with the seal key to see the ledger." && s.export.Disabled()
	})

	if err := syncer.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, u, "key found", func() bool { return keys.State().Phase == usecase.KeyPresent })
	if err := keys.Login(tok.UserPIN); err != nil {
		t.Fatal(err)
	}
	eventually(t, u, "logged in, the tab in front lists the records", func() bool { return len(s.entries) > 0 && !s.export.Disabled() })
	selectTab(u.queue.content)
	q, err := desk.Queue()
	if err != nil || len(q) == 0 {
		t.Fatalf("queue %v, %v", q, err)
	}
	res, err := desk.StampAt(context.Background(), q[0].ID, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Back on the ledger tab, the stamping's records are there.
	selectTab(s.content)
	find := func(seq uint64) int {
		for i, e := range s.entries {
			if e.Seq == seq {
				return i
			}
		}
		return -1
	}
	eventually(t, u, "after the stamping the tab lists every record, its intent and done among them", func() bool {
		return find(res.Intent) >= 0 && find(res.Done) >= 0 && uint64(len(s.entries)) == led.Size()
	})
	u.mu.Lock()
	i := find(res.Done)
	if !strings.Contains(s.status.Text, "Chain verified up to record "+itoa(led.Size())+" of "+itoa(led.Size())) || s.problems.Text != "" {
		t.Errorf("chain status %q, problems %q", s.status.Text, s.problems.Text)
	}
	s.list.Select(i)
	u.mu.Unlock()
	eventually(t, u, "the detail pane shows the stamped record", func() bool {
		vals := map[string]string{}
		for _, it := range s.detail.Items {
			vals[it.Text] = it.Widget.(*widget.Label).Text
		}
		return vals["Stamped file"] == res.Out && vals["SHA-256 of the stamped file"] == res.OutputSHA256 &&
			vals["Approval ticket"] == res.TicketID && vals["Document"] == q[0].ID && vals["Kind"] == "Stamped (stamp.done)"
	})

	// Filtering by kind narrows the list to the one finished stamping; the selection stays.
	u.mu.Lock()
	s.kind.SetSelected("Stamped")
	u.mu.Unlock()
	eventually(t, u, "filtered by stamp.done, one record, still selected", func() bool {
		return len(s.entries) == 1 && s.entries[0].Seq == res.Done && s.sel == 0 && len(s.detail.Items) > 0
	})
	u.mu.Lock()
	test.Type(s.from, "2026/11/01")
	s.apply.OnTapped()
	bad := s.msg.Text
	s.from.SetText("")
	s.apply.OnTapped()
	u.mu.Unlock()
	if !strings.HasPrefix(bad, "Write dates like 2026-11-01.") || !strings.Contains(bad, `"2026/11/01" is not a date`) {
		t.Errorf("bad date says %q", bad)
	}

	// The export holds what the list shows.
	path := filepath.Join(t.TempDir(), "ledger.csv")
	u.mu.Lock()
	s.exportCSV(path)
	u.mu.Unlock()
	eventually(t, u, "exported", func() bool { return s.msg.Text == "Exported 1 records to "+path+"." })
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(raw, []byte("\ufeff")))).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][0] != itoa(res.Done) || rows[1][2] != "stamp.done" {
		t.Fatalf("exported rows %v, %v", rows, err)
	}

	// The summary of what the filter selects.
	u.mu.Lock()
	test.Tap(s.report)
	u.mu.Unlock()
	eventually(t, u, "the summary opens", func() bool { return s.reportD != nil })
	u.mu.Lock()
	text := s.reportText.Text
	u.mu.Unlock()
	if !strings.Contains(text, "1 records · 1 stampings") || !strings.Contains(text, "Stamped: 1") || !strings.Contains(text, hub.DemoSeal+": 1") {
		t.Fatalf("report says %q", text)
	}

	keys.Logout()
	eventually(t, u, "logged out, the tab shows nothing", func() bool {
		return len(s.entries) == 0 && len(s.detail.Items) == 0 && s.reportD == nil && s.empty.Text == "Log in with the seal key to see the ledger."
	})
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

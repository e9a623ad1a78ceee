package ui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/softhsmtest"
)

// events records what Start traced, in order.
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) add(s string) { e.mu.Lock(); e.got = append(e.got, s); e.mu.Unlock() }
func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.got...)
}

func TestStartDrawsTheWindowBeforeTheWorkspaceIsOpen(t *testing.T) {
	tok := softhsmtest.New(t)
	keys := usecase.NewKeys(usecase.KeysConfig{
		Watch:     device.WatchConfig{Modules: []*device.Module{tok.Open(t)}, Interval: 50 * time.Millisecond, NoUSB: true},
		Custodian: "张伟",
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { keys.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; keys.Close() })

	release := make(chan struct{})
	var ev events
	u := Start(test.NewTempApp(t), Options{Demo: true, Language: LangEnglish}, func(o *Options) error {
		<-release // the workspace is still opening while the first frame is drawn
		o.Keys = keys
		return nil
	}, ev.add)
	t.Cleanup(u.Close)

	u.win.Canvas().Capture() // draws a frame, as the driver does once the window is shown
	if got := ev.list(); len(got) != 1 || got[0] != "first-frame" {
		t.Fatalf("after the first frame with the workspace still opening, trace = %v, want [first-frame]", got)
	}
	u.mu.Lock()
	built := u.attached
	u.mu.Unlock()
	if built {
		t.Fatal("the screens were built before the workspace was open")
	}

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(strings.Join(labels(u.win.Content()), "\n"), "Opening the ledger") {
		if time.Now().After(deadline) {
			t.Fatalf("while the workspace opens the window shows %q; want what it is opening", labels(u.win.Content()))
		}
		time.Sleep(20 * time.Millisecond)
	}

	close(release)
	eventually(t, u, "the screens are built once the workspace is open", func() bool { return u.attached })
	eventually(t, u, "the key screen shows the inserted key", func() bool { return u.keys.title.Text == "Seal key found" })
	// "ready" is traced once the screens are built and the start-up dialogs shown.
	eventually(t, u, "the start is traced as ready", func() bool { return len(ev.list()) == 2 })
	if got := ev.list(); got[1] != "ready" {
		t.Errorf("trace = %v, want [first-frame ready]", got)
	}
	if !strings.Contains(u.win.Title(), "DEMO") {
		t.Errorf("window title %q lacks DEMO", u.win.Title())
	}
}

func TestStartSaysWhyTheWorkspaceDidNotOpen(t *testing.T) {
	var ev events
	u := Start(test.NewTempApp(t), Options{Language: LangEnglish}, func(*Options) error {
		return errors.New("opening the ledger /data/ledger.db: it is in use by another SealKeeper (pid 4242); close that one first")
	}, ev.add)
	t.Cleanup(u.Close)
	u.win.Canvas().Capture()

	var texts []string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		texts = labels(u.win.Content())
		if strings.Contains(strings.Join(texts, "\n"), "could not start") {
			break // the progress may show first, while open runs
		}
		time.Sleep(20 * time.Millisecond)
	}
	joined := strings.Join(texts, "\n")
	if !strings.Contains(joined, "SealKeeper could not start") || !strings.Contains(joined, "pid 4242") {
		t.Fatalf("the window shows %q; want the start error and its cause", joined)
	}
	if u.attached {
		t.Error("screens were built although the workspace did not open")
	}
	if got := ev.list(); len(got) != 1 || got[0] != "first-frame" {
		t.Errorf("trace = %v, want only [first-frame] (never ready)", got)
	}
}

// labels lists the text of every label and button under o.
func labels(o fyne.CanvasObject) []string {
	var out []string
	var walk func(fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch w := o.(type) {
		case *widget.Label:
			out = append(out, w.Text)
		case *widget.Button:
			out = append(out, w.Text)
		case *fyne.Container:
			for _, c := range w.Objects {
				walk(c)
			}
		}
	}
	walk(o)
	return out
}

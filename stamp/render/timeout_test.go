package render_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/stamp/render"
)

// heavyPage has so many tiny filled squares that drawing it takes PDFium a long time
// (400000 of them: about 8 s at 300 DPI on the test machine, four times that at 600).
func heavyPage(n int) testPage {
	var b strings.Builder
	b.WriteString("0 0 1 rg ")
	for i := range n {
		fmt.Fprintf(&b, "%d %d 0.5 0.5 re f ", (i*7)%590, (i*13)%830)
	}
	return testPage{media: render.Rect{X1: 595, Y1: 842}, content: b.String()}
}

func TestSlowCallIsStoppedAndTheRendererRecovers(t *testing.T) {
	r := render.New(render.Options{
		CacheDir: filepath.Join(os.TempDir(), "sealkeeper-render-test-cache"),
		// Long enough for opening the heavy file on a loaded machine (under -race, beside
		// other tests), far shorter than drawing it at 600 DPI.
		CallTimeout: 3 * time.Second,
	})
	defer r.Close()
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	d, err := r.Open("heavy.pdf", makePDF(t, []testPage{heavyPage(400000), {media: render.Rect{X1: 100, Y1: 100}}}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// The deadline only catches a stop that does not work (the render would then run on for
	// half a minute or more); the test asserts no time.
	rendered := make(chan error, 1)
	go func() { _, err := d.Render(1, 600); rendered <- err }()
	select {
	case err = <-rendered:
	case <-time.After(2 * time.Minute):
		t.Fatal("the heavy render was not stopped: still running after 2 minutes")
	}
	if err == nil || !strings.Contains(err.Error(), "heavy.pdf: render page 1 took longer than 3s") {
		t.Fatalf("heavy render: %v, want a timeout naming the file", err)
	}
	// The instance was replaced and the document reopened from its bytes.
	if _, err := d.Render(2, 72); err != nil {
		t.Fatalf("render after the timeout: %v", err)
	}
}

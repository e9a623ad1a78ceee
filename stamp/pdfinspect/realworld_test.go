package pdfinspect_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
)

// TestRealWorldFiles runs the PDFs that ship with pdfcpu's module (files from many producers:
// scanners, office suites, TeX, Acrobat) through both readers: the on-demand reader must find
// the pages pdfcpu finds, and validation must give the same verdict whether pdfcpu reads the
// file itself or validates the on-demand reader's model.
func TestRealWorldFiles(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/pdfcpu/pdfcpu").Output()
	if err != nil {
		t.Skipf("cannot locate pdfcpu's module: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "pkg", "testdata", "*.pdf"))
	if len(files) < 20 {
		t.Fatalf("only %d files in pdfcpu's testdata", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		opened, errOpen := pdfinspect.OpenFile(f)
		parsed, errParse := pdfinspect.ParseFile(f)
		if (errOpen == nil) != (errParse == nil) {
			t.Errorf("%s: open %v, pdfcpu %v", name, errOpen, errParse)
			continue
		}
		if errOpen == nil && len(opened.Pages) != len(parsed.Pages) {
			t.Errorf("%s: %d pages, pdfcpu %d", name, len(opened.Pages), len(parsed.Pages))
		}
		_, errRead := pdftest.InspectFile(f)
		restore := pdfinspect.SetLargeFile(0)
		_, errLarge := pdftest.InspectFile(f)
		restore()
		if (errRead == nil) != (errLarge == nil) {
			t.Errorf("%s: validated through pdfcpu's reader: %v; through the on-demand reader: %v", name, errRead, errLarge)
		}
	}
	t.Logf("%d files", len(files))
}

package pdfinspect_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
)

func TestInspect(t *testing.T) {
	crop := [4]float64{10, 20, 500, 700}
	for name, tc := range map[string]struct {
		o       pdftest.Options
		version string
		stream  bool
		fields  int
		rotate  []int
	}{
		"good_text":    {pdftest.Options{Pages: 3}, "1.4", false, 0, []int{0, 0, 0}},
		"good_stream":  {pdftest.Options{Pages: 2, XRefStream: true, Form: true}, "1.5", true, 1, []int{0, 0}},
		"good_rotated": {pdftest.Options{Pages: 4, Rotate: []int{90, 180, 270, 360}, Crop: &crop}, "1.4", false, 0, []int{90, 180, 270, 0}},
		"good_cjk":     {pdftest.Options{Pages: 1, CJK: true, Scanned: true}, "1.4", false, 0, []int{0}},
	} {
		t.Run(name, func(t *testing.T) {
			data := pdftest.PDF(tc.o)
			d, err := pdftest.Inspect(name, data)
			if err != nil {
				t.Fatal(err)
			}
			if d.Version != tc.version || d.XRefStream != tc.stream || len(d.Fields) != tc.fields || len(d.Pages) != len(tc.rotate) {
				t.Errorf("version %s, xref stream %v, %d fields, %d pages", d.Version, d.XRefStream, len(d.Fields), len(d.Pages))
			}
			for i, p := range d.Pages {
				if p.Number != i+1 || p.Rotate != tc.rotate[i] {
					t.Errorf("page %d: number %d rotate %d, want %d", i+1, p.Number, p.Rotate, tc.rotate[i])
				}
				if tc.o.Crop != nil && (p.Crop.X0 != 10 || p.Crop.Y1 != 700 || p.Media.X1 != pdftest.A4[0]) {
					t.Errorf("page %d: crop %+v media %+v", i+1, p.Crop, p.Media)
				}
			}
		})
	}
}

func TestRefused(t *testing.T) {
	good := pdftest.PDF(pdftest.Options{})
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.pdf")
	os.WriteFile(plain, good, 0o644)
	fails := map[string][]byte{
		"fail_empty":     nil,
		"fail_text":      []byte("not a pdf at all"),
		"fail_truncated": good[:len(good)/2],
		"fail_no_pages":  []byte("%PDF-1.4\n1 0 obj\n<</Type /Catalog>>\nendobj\nxref\n0 2\n0000000000 65535 f\r\n0000000009 00000 n\r\ntrailer\n<</Size 2 /Root 1 0 R>>\nstartxref\n45\n%%EOF\n"),
	}
	pdftest.RequireTool(t, "qpdf")
	for name, args := range map[string][]string{
		"fail_encrypted_password":   {"--encrypt", "user", "owner", "256", "--"},
		"fail_encrypted_permission": {"--encrypt", "", "owner", "256", "--modify=none", "--"},
	} {
		out := filepath.Join(dir, name)
		if b, err := exec.Command("qpdf", append(args, plain, out)...).CombinedOutput(); err != nil {
			t.Fatalf("qpdf: %v %s", err, b)
		}
		fails[name], _ = os.ReadFile(out)
	}
	fails["fail_rotate_45"] = pdftest.PDF(pdftest.Options{Pages: 2, Rotate: []int{45, 0}}) // pdfcpu's validation refuses it
	// Both ways of validating: pdfcpu's reader, and pdfcpu's validator over the on-demand
	// reader's model (files over largeFile).
	for _, large := range []bool{false, true} {
		if large {
			defer pdfinspect.SetLargeFile(0)()
		}
		for name, data := range fails {
			_, err := pdftest.Inspect(name, data)
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("large=%v %s: want an error naming the file, got %v", large, name, err)
			}
			if strings.HasPrefix(name, "fail_encrypted") && !errors.Is(err, pdfinspect.ErrEncrypted) {
				t.Errorf("large=%v %s: want ErrEncrypted, got %v", large, name, err)
			}
		}
	}
}

// Validation through the on-demand reader's model (used for files over the large-file size)
// finds the same catalog and pages as pdfcpu's own reader, on files small enough for both,
// including ones qpdf rewrote into other layouts (object streams, linearised).
func TestValidateLargeAgrees(t *testing.T) {
	crop := [4]float64{10, 20, 500, 700}
	files := map[string][]byte{}
	for name, o := range map[string]pdftest.Options{
		"text": {Pages: 20}, "stream": {Pages: 20, XRefStream: true, Form: true},
		"rotated": {Pages: 4, Rotate: []int{90, 180, 270, 0}, Crop: &crop}, "cjk_scanned": {Pages: 3, CJK: true, Scanned: true},
	} {
		files[name] = pdftest.PDF(o)
	}
	pdftest.RequireTool(t, "qpdf")
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, files["text"], 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{"qpdf_objstreams": {"--object-streams=generate"}, "qpdf_linearized": {"--linearize"}} {
		out := filepath.Join(dir, name)
		if b, err := exec.Command("qpdf", append(args, in, out)...).CombinedOutput(); err != nil {
			t.Fatalf("qpdf: %v %s", err, b)
		}
		files[name], _ = os.ReadFile(out)
	}
	validate := func(large int64, name string, data []byte) (int, []int, error) {
		defer pdfinspect.SetLargeFile(large)()
		return pdfinspect.ValidatedRefs(name, bytes.NewReader(data), int64(len(data)))
	}
	for name, data := range files {
		ownRoot, ownPages, err := validate(0, name, data) // every file is "large": the on-demand reader
		if err != nil {
			t.Errorf("%s, on-demand reader: %v", name, err)
			continue
		}
		cpuRoot, cpuPages, err := validate(1<<62, name, data) // no file is large: pdfcpu's reader
		if err != nil {
			t.Errorf("%s, pdfcpu's reader: %v", name, err)
			continue
		}
		if ownRoot != cpuRoot || !slices.Equal(ownPages, cpuPages) || len(ownPages) == 0 {
			t.Errorf("%s: the on-demand reader finds catalog %d pages %v, pdfcpu's reader catalog %d pages %v", name, ownRoot, ownPages, cpuRoot, cpuPages)
		}
	}
}

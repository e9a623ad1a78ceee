package objread_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/sealkeeper/sealkeeper/stamp/objread"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
)

// corpus returns the test files: generated ones, qpdf's rewrites of them (object streams on and
// off, QDF) and files with incremental updates.
func corpus(t *testing.T) map[string][]byte {
	crop := [4]float64{10, 20, 500, 700}
	files := map[string][]byte{
		"good_1page":        pdftest.PDF(pdftest.Options{}),
		"good_20pages":      pdftest.PDF(pdftest.Options{Pages: 20}),
		"good_500stream":    pdftest.PDF(pdftest.Options{Pages: 500, XRefStream: true}),
		"good_form":         pdftest.PDF(pdftest.Options{Pages: 2, Form: true}),
		"good_form_stream":  pdftest.PDF(pdftest.Options{Pages: 2, Form: true, XRefStream: true}),
		"good_rotated_crop": pdftest.PDF(pdftest.Options{Pages: 4, Rotate: []int{0, 90, 180, 270}, Crop: &crop}),
		"good_cjk_scanned":  pdftest.PDF(pdftest.Options{Pages: 3, CJK: true, Scanned: true}),
	}
	base := files["good_form"]
	files["good_updated"] = appendUpdate(base, false)
	files["good_updated_stream"] = appendUpdate(files["good_form_stream"], true)
	if qpdf, err := exec.LookPath("qpdf"); err == nil {
		dir := t.TempDir()
		in := filepath.Join(dir, "in.pdf")
		if err := os.WriteFile(in, files["good_20pages"], 0o644); err != nil {
			t.Fatal(err)
		}
		for name, args := range map[string][]string{
			"good_qpdf_objstm":  {"--object-streams=generate"},
			"good_qpdf_plain":   {"--object-streams=disable"},
			"good_qpdf_qdf":     {"--qdf"},
			"good_qpdf_hybrid":  {"--object-streams=generate", "--preserve-unreferenced"},
			"good_qpdf_linear":  {"--linearize"},
			"good_qpdf_objstm2": {"--object-streams=generate", "--compress-streams=n"},
		} {
			out := filepath.Join(dir, name+".pdf")
			cmd := exec.Command(qpdf, append(args, in, out)...)
			if b, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState.ExitCode() != 3 {
				t.Fatalf("qpdf %v: %v %s", args, err, b)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			files[name] = b
		}
	}
	return files
}

// appendUpdate adds an incremental update that replaces the Info dictionary (a table after a
// table, or a stream after a stream), so the file has a /Prev chain.
func appendUpdate(b []byte, stream bool) []byte {
	f, err := objread.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		panic(err)
	}
	info := f.Trailer["Info"].(types.IndirectRef)
	n := info.ObjectNumber.Value()
	var buf bytes.Buffer
	buf.Write(b)
	off := buf.Len()
	fmt.Fprintf(&buf, "%d 0 obj\n<</Producer (updated) /Title (Second revision)>>\nendobj\n", n)
	xref := buf.Len()
	if !stream {
		fmt.Fprintf(&buf, "xref\n0 1\n0000000000 65535 f \n%d 1\n%010d 00000 n \ntrailer\n<</Size %d /Root %s /Info %d 0 R /Prev %d>>\nstartxref\n%d\n%%%%EOF\n",
			n, off, f.Size, f.Trailer["Root"].(types.IndirectRef).PDFString(), n, f.StartXRef, xref)
		return buf.Bytes()
	}
	x := f.Size
	data := []byte{1, byte(off >> 24), byte(off >> 16), byte(off >> 8), byte(off), 0, 1, byte(xref >> 24), byte(xref >> 16), byte(xref >> 8), byte(xref), 0}
	fmt.Fprintf(&buf, "%d 0 obj\n<</Type /XRef /Size %d /W [1 4 1] /Index [%d 1 %d 1] /Root %s /Info %d 0 R /Prev %d /Length %d>>\nstream\n",
		x, x+1, n, x, f.Trailer["Root"].(types.IndirectRef).PDFString(), n, f.StartXRef, len(data))
	buf.Write(data)
	fmt.Fprintf(&buf, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xref)
	return buf.Bytes()
}

func TestAgreesWithPdfcpu(t *testing.T) {
	for name, b := range corpus(t) {
		t.Run(name, func(t *testing.T) {
			f, err := objread.Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			conf := model.NewDefaultConfiguration()
			ctx, err := api.ReadContext(bytes.NewReader(b), conf)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := f.Trailer["Root"].(types.IndirectRef), *ctx.Root; got != want {
				t.Errorf("root %v, pdfcpu %v", got, want)
			}
			checked := 0
			for n, e := range ctx.Table {
				if e.Free || e.Object == nil {
					continue
				}
				switch e.Object.(type) {
				case types.ObjectStreamDict, types.XRefStreamDict:
					continue // pdfcpu keeps these as its own types
				}
				got, err := f.Object(n)
				if err != nil {
					t.Fatalf("object %d: %v", n, err)
				}
				want, err := ctx.Dereference(*types.NewIndirectRef(n, *e.Generation))
				if err != nil {
					t.Fatalf("pdfcpu, object %d: %v", n, err)
				}
				if !same(got, want) {
					t.Errorf("object %d: %s, pdfcpu %s", n, show(got), show(want))
				}
				checked++
			}
			if checked == 0 {
				t.Fatal("no objects compared")
			}
			if name == "good_updated" || name == "good_updated_stream" {
				info, _ := f.Dereference(f.Trailer["Info"])
				if d, _ := info.(types.Dict); d == nil || d["Title"] == nil || !strings.Contains(d["Title"].String(), "Second") {
					t.Errorf("the update's Info does not win: %v", info)
				}
			}
		})
	}
}

func same(a, b types.Object) bool { return show(a) == show(b) }

// show is a canonical text of an object: keys sorted, numbers as numbers, a stream as its
// dictionary.
func show(o types.Object) string {
	switch v := o.(type) {
	case nil:
		return "null"
	case types.StreamDict:
		return "stream " + show(v.Dict)
	case types.Dict:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteString("<<")
		for _, k := range keys {
			fmt.Fprintf(&b, "/%s %s ", k, show(v[k]))
		}
		return b.String() + ">>"
	case types.Array:
		parts := make([]string, len(v))
		for i := range v {
			parts[i] = show(v[i])
		}
		return "[" + strings.Join(parts, " ") + "]"
	case types.Integer:
		return fmt.Sprint(float64(v))
	case types.Float:
		return fmt.Sprint(float64(v))
	}
	return o.PDFString()
}

func TestStreamBytes(t *testing.T) {
	b := pdftest.PDF(pdftest.Options{Pages: 1, Scanned: true, ScanBytes: 3000})
	f, err := objread.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range f.Numbers() {
		o, err := f.Object(n)
		if err != nil {
			t.Fatal(err)
		}
		if sd, ok := o.(types.StreamDict); ok && sd.Dict["Subtype"] == types.Name("Image") {
			raw, err := f.StreamBytes(sd)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(raw)) != *sd.StreamLength || len(raw) < 1000 || bytes.Count(raw, raw[:16]) != 1 {
				t.Errorf("image stream: %d bytes, length %d", len(raw), *sd.StreamLength)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no image stream")
	}
}

// TestRefuses runs the damaged files: each must give an error naming the problem, never a panic.
func TestRefuses(t *testing.T) {
	good := pdftest.PDF(pdftest.Options{Pages: 2})
	goodStm := pdftest.PDF(pdftest.Options{Pages: 2, XRefStream: true})
	f, err := objread.Open(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	sx := fmt.Sprint(f.StartXRef)
	replaceLast := func(b []byte, old, new string) []byte {
		i := bytes.LastIndex(b, []byte(old))
		if i < 0 {
			t.Fatalf("%q not found", old)
		}
		return append(append(append([]byte{}, b[:i]...), new...), b[i+len(old):]...)
	}
	loop := []byte("%PDF-1.4\n1 0 obj\n2 0 R\nendobj\n2 0 obj\n1 0 R\nendobj\n")
	xo := len(loop)
	loop = append(loop, fmt.Sprintf("xref\n0 3\n0000000000 65535 f \n%010d 00000 n \n%010d 00000 n \ntrailer\n<</Size 3 /Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", 9, 30, xo)...)
	for name, tc := range map[string]struct {
		data []byte
		want string // in the error of Open, or of Dereference(Root) when Open succeeds
	}{
		"fail_not_pdf":       {[]byte("hello world"), "not a PDF"},
		"fail_truncated":     {good[:len(good)/2], "startxref"},
		"fail_startxref_out": {replaceLast(good, "startxref\n"+sx, "startxref\n99999999"), "outside the file"},
		"fail_xref_midobj":   {replaceLast(good, "startxref\n"+sx, "startxref\n"+fmt.Sprint(f.StartXRef-40)), "cross-reference"},
		"fail_prev_loop":     {replaceLast(good, "/Size", "/Prev "+sx+" /Size"), "loops"},
		"fail_ref_loop":      {loop, "do not end"},
		"fail_w_too_wide":    {replaceLast(goodStm, "/W [", "/W [9 9 9 "), "/W"},
		"fail_objstm_n":      {regexp.MustCompile(`/N \d+`).ReplaceAllFunc(goodStm, func(m []byte) []byte { return append([]byte("/N "), bytes.Repeat([]byte("9"), len(m)-3)...) }), "object stream"},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := objread.Open(bytes.NewReader(tc.data), int64(len(tc.data)))
			if err == nil {
				_, err = f.Dereference(f.Trailer["Root"])
				if err == nil {
					// reach every object: the damage may be in any of them
					for _, n := range f.Numbers() {
						if _, err = f.Object(n); err != nil {
							break
						}
					}
				}
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	f.Add(pdftest.PDF(pdftest.Options{}))
	f.Add(pdftest.PDF(pdftest.Options{Pages: 3, XRefStream: true, Form: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		pf, err := objread.Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		root, err := pf.Dereference(pf.Trailer["Root"])
		if err != nil {
			return
		}
		d, _ := root.(types.Dict)
		pages, _ := pf.Dereference(d["Pages"])
		for depth := 0; depth < 8; depth++ {
			pd, _ := pages.(types.Dict)
			kids, _ := pf.Dereference(pd["Kids"])
			ka, _ := kids.(types.Array)
			if len(ka) == 0 {
				break
			}
			pages, _ = pf.Dereference(ka[0])
		}
		for _, n := range pf.Numbers() {
			o, err := pf.Object(n)
			if sd, ok := o.(types.StreamDict); ok && err == nil {
				pf.StreamBytes(sd)
			}
		}
	})
}

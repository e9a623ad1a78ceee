package stamp_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/pades/padestest"
	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
	"github.com/sealkeeper/sealkeeper/stamp/render"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
)

const sealPx = 300

var sealImg = pdftest.Seal(sealPx)

func sealSize(t testing.TB) placement.Size {
	s, err := placement.SealSize(42, sealPx, sealPx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func read(t testing.TB, data []byte) *pdfinspect.Document {
	t.Helper()
	doc, err := pdftest.Inspect("test.pdf", data)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// stampOnce signs data and returns the stamped file.
func stampOnce(t testing.TB, data []byte, req stamp.Request) []byte {
	t.Helper()
	out, err := trySign(data, req)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func trySign(data []byte, req stamp.Request) ([]byte, error) {
	doc, err := pdftest.Inspect("test.pdf", data)
	if err != nil {
		return nil, err
	}
	res, err := stamp.Sign(context.Background(), doc, bytes.NewReader(data), req)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(res.Update[:0], nil) && len(res.Update) == 0 {
		return nil, errors.New("empty update")
	}
	return append(data[:len(data):len(data)], res.Update...), nil
}

func request(id *padestest.Identity, pl placement.Placement) stamp.Request {
	return stamp.Request{Placement: pl, Image: sealImg, Signer: id.Signer, Chain: id.Chain}
}

func centre(t testing.TB, doc *pdfinspect.Document, page int) placement.Placement {
	t.Helper()
	p := doc.Pages[page-1].Page
	w, h := p.ViewSize()
	pl, err := placement.AtViewMM(p, w/2/placement.PointsPerMM, h*0.7/placement.PointsPerMM, sealSize(t))
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func write(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkAll verifies a stamped file with our verifier and with pdfsig, mutool and qpdf.
func checkAll(t *testing.T, path string, wantSigs int, roots ...*x509.Certificate) *verify.Report {
	t.Helper()
	rep, err := verify.File(path, verify.Options{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) != wantSigs || !rep.Valid {
		t.Errorf("%s: our verifier: %d signatures (want %d), valid=%v: %+v", path, len(rep.Signatures), wantSigs, rep.Valid, rep.Signatures)
	}
	if len(roots) > 0 && !rep.Trusted {
		t.Errorf("%s: chain not trusted: %+v", path, rep.Signatures)
	}
	valid, total, out := pdftest.Pdfsig(t, path)
	if valid == 0 || valid != total {
		t.Errorf("pdfsig: %d of %d valid\n%s", valid, total, out)
	}
	if !pss {
		ok, total, out := pdftest.MutoolVerify(t, path)
		if ok == 0 || ok != total {
			t.Errorf("mutool sign -v: %d of %d intact\n%s", ok, total, out)
		}
	}
	if n := pdftest.OpenSSLCMS(t, path); n != wantSigs {
		t.Errorf("openssl cms -verify: %d of %d signatures verify", n, wantSigs)
	}
	pdftest.QpdfCheck(t, path)
	return rep
}

// pss marks the check of an RSASSA-PSS signature: MuPDF 1.21 verifies CMS with OpenSSL's
// PKCS7 API, which has no PSS, so for these openssl cms stands in for mutool.
var pss bool

func TestCorpus(t *testing.T) {
	id := padestest.NewIdentity(t, padestest.RSA)
	crop := [4]float64{30, 40, 560, 800}
	corpus := map[string]pdftest.Options{
		"text-table":     {Pages: 2},
		"text-stream":    {Pages: 2, XRefStream: true},
		"scanned":        {Pages: 3, Scanned: true},
		"form":           {Pages: 1, Form: true},
		"form-stream":    {Pages: 2, Form: true, XRefStream: true},
		"rotated":        {Pages: 4, Rotate: []int{0, 90, 180, 270}},
		"rotated-stream": {Pages: 4, Rotate: []int{90, 270}, XRefStream: true, CJK: true},
		"cjk":            {Pages: 1, CJK: true},
		"cropbox":        {Pages: 2, Crop: &crop, Rotate: []int{90}},
		"letter":         {Pages: 1, Size: [2]float64{612, 792}},
		"500-pages":      {Pages: 500, XRefStream: true},
	}
	for name, o := range corpus {
		t.Run(name, func(t *testing.T) {
			in := pdftest.PDF(o)
			doc := read(t, in)
			last := len(doc.Pages)
			out := stampOnce(t, in, request(id, centre(t, doc, last)))
			if !bytes.Equal(out[:len(in)], in) {
				t.Fatal("the original bytes changed")
			}
			path := write(t, name+".pdf", out)
			rep := checkAll(t, path, 1, id.Root)
			s := rep.Signatures[0]
			if s.SubFilter != "ETSI.CAdES.detached" || !s.CoversFile || len(s.Widgets) != 1 || s.Widgets[0].Page != last || !s.Widgets[0].Alpha {
				t.Errorf("unexpected signature report: %+v", s)
			}
			showsSeal(t, path, doc.Pages[last-1].Page, rep.Signatures[0].Widgets[0].Rect)
		})
	}
}

// showsSeal renders the page with poppler and MuPDF and checks that the seal's red is drawn at
// the widget: the star in the middle and the ring.
func showsSeal(t *testing.T, path string, p placement.Page, r placement.Rect) {
	t.Helper()
	const dpi = 72
	v := p.RectToView(r)
	for _, tool := range []string{"pdftoppm", "mutool"} {
		img := renderPage(t, tool, path, p.Number, dpi)
		cx, cy := (v.X0+v.X1)/2, (v.Y0+v.Y1)/2
		if !reddish(img.At(int(cx), int(cy+2))) {
			t.Errorf("%s: no seal colour at the centre of the seal (%.0f,%.0f) on page %d", tool, cx, cy, p.Number)
		}
		ring := v.W() / 2 * 0.915
		if !reddish(img.At(int(cx-ring), int(cy))) && !reddish(img.At(int(cx-ring)+1, int(cy))) {
			t.Errorf("%s: no seal ring on page %d", tool, p.Number)
		}
	}
}

func renderPage(t testing.TB, tool, path string, page, dpi int) image.Image {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "p.png")
	var cmd *exec.Cmd
	if tool == "pdftoppm" {
		cmd = exec.Command(pdftest.RequireTool(t, "pdftoppm"), "-png", "-cropbox", "-r", fmt.Sprint(dpi), "-f", fmt.Sprint(page), "-l", fmt.Sprint(page), "-singlefile", path, strings.TrimSuffix(out, ".png"))
	} else {
		cmd = exec.Command(pdftest.RequireTool(t, "mutool"), "draw", "-q", "-r", fmt.Sprint(dpi), "-o", out, path, fmt.Sprint(page))
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func reddish(c interface{ RGBA() (r, g, b, a uint32) }) bool {
	r, g, b, _ := c.RGBA()
	return r>>8 > 150 && g>>8 < 120 && b>>8 < 120
}

func TestStampTwiceKeepsFirst(t *testing.T) {
	id := padestest.NewIdentity(t, padestest.RSA)
	id2 := padestest.NewIdentity(t, padestest.ECDSA)
	for _, stream := range []bool{false, true} {
		in := pdftest.PDF(pdftest.Options{Pages: 3, XRefStream: stream, Form: true})
		doc := read(t, in)
		one := stampOnce(t, in, request(id, centre(t, doc, 1)))
		two := stampOnce(t, one, request(id2, centre(t, read(t, one), 2)))
		path := write(t, "twice.pdf", two)
		rep := checkAll(t, path, 2, id.Root, id2.Root)
		if rep.Signatures[0].CoversFile || !rep.Signatures[0].Permitted || len(rep.Signatures[0].Changes) == 0 {
			t.Errorf("first signature: want permitted later changes, got %+v", rep.Signatures[0])
		}
	}
}

func TestRidingSeam(t *testing.T) {
	id := padestest.NewIdentity(t, padestest.ECDSA)
	for _, tc := range []struct {
		pages  int
		edge   placement.Edge
		rotate []int
	}{{2, placement.Right, nil}, {5, placement.Left, nil}, {4, placement.Right, []int{0, 90, 180, 270}}, {300, placement.Right, nil}} {
		t.Run(fmt.Sprintf("%d-%d", tc.pages, tc.edge), func(t *testing.T) {
			in := pdftest.PDF(pdftest.Options{Pages: tc.pages, Rotate: tc.rotate, XRefStream: tc.pages > 100})
			doc := read(t, in)
			pages := make([]placement.Page, len(doc.Pages))
			for i, p := range doc.Pages {
				pages[i] = p.Page
			}
			pl, err := placement.RidingSeamOn(pages, tc.edge, 150, sealSize(t))
			if err != nil {
				t.Fatal(err)
			}
			path := write(t, "seam.pdf", stampOnce(t, in, request(id, pl)))
			rep, err := verify.File(path, verify.Options{Roots: []*x509.Certificate{id.Root}})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Signatures) != 1 || !rep.Valid || !rep.Trusted {
				t.Fatalf("want one valid trusted signature: %+v", rep)
			}
			s := rep.Signatures[0]
			if len(s.Widgets) != tc.pages || !s.RidingSeam {
				t.Fatalf("want %d widgets forming a riding seam, got %d (riding seam %v)", tc.pages, len(s.Widgets), s.RidingSeam)
			}
			valid, total, out := pdftest.Pdfsig(t, path)
			if valid != total || valid == 0 {
				t.Errorf("pdfsig: %d of %d\n%s", valid, total, out)
			}
			ok, total, out := pdftest.MutoolVerify(t, path)
			if ok != total || ok == 0 {
				t.Errorf("mutool: %d of %d\n%s", ok, total, out)
			}
			pdftest.QpdfCheck(t, path)
			if tc.pages <= 5 {
				slicesJoin(t, path, pages, s.Widgets, tc.edge)
			}
		})
	}
}

// slicesJoin renders every page's slice with poppler and compares it with the same part of
// the whole seal, rendered by poppler on a page of its own.
func slicesJoin(t *testing.T, path string, pages []placement.Page, ws []verify.Widget, edge placement.Edge) {
	const dpi = 144
	zoom := dpi / 72.0
	id := padestest.NewIdentity(t, padestest.ECDSA)
	blank := pdftest.PDF(pdftest.Options{Scanned: false})
	pl, _ := placement.AtViewMM(read(t, blank).Pages[0].Page, 100, 100, sealSize(t))
	wholePath := write(t, "whole.pdf", stampOnce(t, blank, request(id, pl)))
	whole := renderPage(t, "pdftoppm", wholePath, 1, dpi)
	wv := read(t, blank).Pages[0].RectToView(pl.Widgets[0].Rect)
	n := len(ws)
	sw := wv.W() / float64(n)
	var diff, count float64
	for i, w := range ws {
		p := pages[w.Page-1]
		img := renderPage(t, "pdftoppm", path, p.Number, dpi)
		v := p.RectToView(w.Rect)
		k := i
		if edge == placement.Left {
			k = n - 1 - i
		}
		// Compare the inner columns of the slice (edges are anti-aliased differently).
		for x := math.Ceil(v.X0*zoom) + 1; x < math.Floor(v.X1*zoom)-1; x++ {
			for y := math.Ceil(v.Y0*zoom) + 1; y < math.Floor(v.Y1*zoom)-1; y++ {
				wx := (wv.X0+float64(k)*sw)*zoom + (x - v.X0*zoom)
				wy := wv.Y0*zoom + (y - v.Y0*zoom)
				a := img.At(int(x), int(y))
				b := whole.At(int(math.Round(wx)), int(math.Round(wy)))
				ar, ag, ab, _ := a.RGBA()
				br, bg, bb, _ := b.RGBA()
				diff += math.Abs(float64(ar>>8)-float64(br>>8)) + math.Abs(float64(ag>>8)-float64(bg>>8)) + math.Abs(float64(ab>>8)-float64(bb>>8))
				count += 3
			}
		}
	}
	if count == 0 || diff/count > 12 {
		t.Errorf("the slices do not join into the seal: mean difference %.1f over %.0f samples", diff/count, count)
	}
}

func TestTamperedByteFails(t *testing.T) {
	id := padestest.NewIdentity(t, padestest.RSA)
	in := pdftest.PDF(pdftest.Options{Pages: 2})
	one := stampOnce(t, in, request(id, centre(t, read(t, in), 1)))
	two := stampOnce(t, one, request(id, centre(t, read(t, one), 2)))
	for _, tc := range []struct {
		name string
		at   int
		bad  []int // signatures (1-based) that must fail
	}{
		{"in the original", len(in) / 2, []int{1, 2}},
		{"in the second update", len(one) + bytes.Index(two[len(one):], []byte("stream\n")) + 40, []int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := append([]byte{}, two...)
			data[tc.at] ^= 0x01
			path := write(t, "tampered.pdf", data)
			rep, err := verify.File(path, verify.Options{Roots: []*x509.Certificate{id.Root}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Valid {
				t.Fatal("a tampered file verified")
			}
			for _, i := range tc.bad {
				s := rep.Signatures[i-1]
				if s.Valid || len(s.Problems) == 0 || s.Field != fmt.Sprintf("Seal%d", i) {
					t.Errorf("signature %d (%s) should fail with a reason: %+v", i, s.Field, s)
				}
			}
			if valid, total, _ := pdftest.Pdfsig(t, path); valid == total {
				t.Errorf("pdfsig still finds %d of %d valid", valid, total)
			}
		})
	}
}

func TestCertifyAndLock(t *testing.T) {
	id := padestest.NewIdentity(t, padestest.RSA)
	in := pdftest.PDF(pdftest.Options{Pages: 2, Form: true})
	req := request(id, centre(t, read(t, in), 1))
	req.Certify = true
	one := stampOnce(t, in, req)
	doc := read(t, one)
	if doc.Certified != 2 {
		t.Fatalf("certification level %d, want 2", doc.Certified)
	}
	// Certifying again is refused; a further seal is a permitted change.
	if _, err := trySign(one, req); !errors.Is(err, stamp.ErrCertified) {
		t.Fatalf("certifying a signed file: %v", err)
	}
	req = request(id, centre(t, doc, 2))
	req.Lock = true
	two := stampOnce(t, one, req)
	path := write(t, "certified.pdf", two)
	rep := checkAll(t, path, 2, id.Root)
	if rep.Signatures[0].DocMDP != 2 || !rep.Signatures[1].Locked {
		t.Errorf("want DocMDP 2 then a lock: %+v", rep.Signatures)
	}
	if !read(t, two).Locked {
		t.Error("pdfinspect does not see the lock")
	}
	if _, err := trySign(two, request(id, centre(t, read(t, two), 1))); !errors.Is(err, stamp.ErrLocked) {
		t.Fatalf("stamping a locked file: %v", err)
	}
	// A P=1 certification refuses further seals too.
	req = request(id, centre(t, read(t, in), 1))
	req.Certify, req.Lock = true, true
	p1 := stampOnce(t, in, req)
	if _, err := trySign(p1, request(id, centre(t, read(t, p1), 2))); !errors.Is(err, stamp.ErrLocked) {
		t.Fatalf("stamping a P=1 certified file: %v", err)
	}
	// A change appended by hand after the certification is reported as not permitted.
	forged := appendContentChange(t, two)
	rep, err := verify.Bytes("forged.pdf", forged, verify.Options{Roots: []*x509.Certificate{id.Root}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Valid || rep.Signatures[0].Permitted {
		t.Errorf("a page content change after certification was accepted: %+v", rep.Signatures[0].Changes)
	}
}

// appendContentChange appends an incremental update that replaces page 1's content stream.
func appendContentChange(t *testing.T, data []byte) []byte {
	doc := read(t, data)
	pd, err := doc.DerefDict(doc.Pages[0].Ref)
	if err != nil {
		t.Fatal(err)
	}
	contentRef := pd["Contents"].PDFString()
	n := strings.Fields(contentRef)[0]
	var b bytes.Buffer
	b.Write(data)
	off := b.Len()
	content := "BT /F1 30 Tf 72 400 Td (FORGED) Tj ET"
	fmt.Fprintf(&b, "%s 0 obj\n<</Length %d>>\nstream\n%s\nendstream\nendobj\n", n, len(content), content)
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n%s 1\n%010d 00000 n\r\ntrailer\n<</Size %d /Root %s /Prev %d>>\nstartxref\n%d\n%%%%EOF\n", n, off, doc.Trailer().Next, doc.Trailer().Root.PDFString(), doc.StartXRef, xref)
	return b.Bytes()
}

func TestTimestampAndKeyTypes(t *testing.T) {
	tsa := padestest.NewTSA(t)
	for _, tc := range []struct {
		name string
		kt   padestest.KeyType
		pss  bool
		tsa  bool
	}{{"rsa", padestest.RSA, false, false}, {"rsa-pss", padestest.RSA, true, false}, {"ecdsa-tsa", padestest.ECDSA, false, true}, {"rsa-tsa", padestest.RSA, false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			id := padestest.NewIdentity(t, tc.kt)
			in := pdftest.PDF(pdftest.Options{Pages: 1, XRefStream: tc.pss})
			req := request(id, centre(t, read(t, in), 1))
			req.PSS = tc.pss
			if tc.tsa {
				req.TSA = tsa.URL
			}
			path := write(t, tc.name+".pdf", stampOnce(t, in, req))
			pss = tc.pss
			rep := checkAll(t, path, 1, id.Root, tsa.Root)
			pss = false
			s := rep.Signatures[0]
			if s.Timestamped != tc.tsa || (tc.tsa && (s.TimeSource != "timestamp" || s.TSA != "Test TSA")) {
				t.Errorf("timestamp: %+v", s)
			}
		})
	}
	t.Run("catalog-broken", func(t *testing.T) {
		// A signature that the form no longer reaches still counts, and fails.
		id := padestest.NewIdentity(t, padestest.ECDSA)
		in := pdftest.PDF(pdftest.Options{})
		out := stampOnce(t, in, request(id, centre(t, read(t, in), 1)))
		i := len(in) + bytes.Index(out[len(in):], []byte("/AcroForm"))
		out[i+1] = 'X'
		rep, err := verify.Bytes("broken.pdf", out, verify.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Valid || len(rep.Signatures) != 1 || len(rep.Signatures[0].Problems) == 0 {
			t.Fatalf("a signature cut off from the form went unnoticed: %+v", rep)
		}
	})
	t.Run("tsa-down", func(t *testing.T) {
		id := padestest.NewIdentity(t, padestest.ECDSA)
		tsa.Fail.Store(true)
		defer tsa.Fail.Store(false)
		in := pdftest.PDF(pdftest.Options{})
		req := request(id, centre(t, read(t, in), 1))
		req.TSA = tsa.URL
		if _, err := trySign(in, req); err == nil || !strings.Contains(err.Error(), "timestamp server") {
			t.Fatalf("want a timestamp server error, got %v", err)
		}
	})
}

func TestRefusals(t *testing.T) {
	pdftest.RequireTool(t, "qpdf")
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.pdf")
	os.WriteFile(plain, pdftest.PDF(pdftest.Options{}), 0o644)
	for _, args := range [][]string{
		{"--encrypt", "user", "owner", "256", "--"},
		{"--encrypt", "", "owner", "256", "--modify=none", "--"},
	} {
		enc := filepath.Join(dir, "enc.pdf")
		cmd := append(append([]string{}, args...), plain, enc)
		if b, err := exec.Command("qpdf", cmd...).CombinedOutput(); err != nil {
			t.Fatalf("qpdf: %v %s", err, b)
		}
		if _, err := pdftest.InspectFile(enc); !errors.Is(err, pdfinspect.ErrEncrypted) || !strings.Contains(err.Error(), enc) {
			t.Errorf("encrypted file %v: %v", args, err)
		}
	}
	for name, data := range map[string][]byte{"empty": nil, "text": []byte("hello"), "truncated": pdftest.PDF(pdftest.Options{})[:300]} {
		if _, err := pdftest.Inspect(name, data); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSignFile(t *testing.T) {
	id := padestest.NewIdentity(t, padestest.ECDSA)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	orig := pdftest.PDF(pdftest.Options{Pages: 2})
	os.WriteFile(in, orig, 0o644)
	req := request(id, centre(t, read(t, orig), 1))
	if _, err := stamp.SignFile(context.Background(), in, in, true, req); err == nil {
		t.Fatal("signing onto the input was allowed")
	}
	if _, err := stamp.SignFile(context.Background(), in, out, false, req); err != nil {
		t.Fatal(err)
	}
	if _, err := stamp.SignFile(context.Background(), in, out, false, req); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("overwrote an existing output: %v", err)
	}
	if _, err := stamp.SignFile(context.Background(), in, out, true, req); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(in); !bytes.Equal(b, orig) {
		t.Fatal("the input changed")
	}
	checkAll(t, out, 1, id.Root)
}

// A file signed by another program (poppler's pdfsig, through NSS) keeps its signature when
// stamped here, and both verify everywhere.
func TestStampAfterPdfsig(t *testing.T) {
	id := padestest.NewIdentity(t, padestest.RSA)
	nss, nick := pdftest.NSSDB(t, id.Signer, id.Chain)
	for _, stream := range []bool{false, true} {
		in := write(t, "in.pdf", pdftest.PDF(pdftest.Options{Pages: 2, XRefStream: stream}))
		signed := filepath.Join(t.TempDir(), "signed.pdf")
		pdftest.PdfsigSign(t, nss, nick, in, signed)
		data, err := os.ReadFile(signed)
		if err != nil {
			t.Fatal(err)
		}
		path := write(t, "both.pdf", stampOnce(t, data, request(id, centre(t, read(t, data), 2))))
		checkAll(t, path, 2, id.Root)
	}
}

// A seal centred on a keyword found by stamp/render in the text layer, on a rotated page.
func TestKeyword(t *testing.T) {
	id := padestest.NewIdentity(t, padestest.ECDSA)
	in := pdftest.PDF(pdftest.Options{Pages: 2, Rotate: []int{0, 90}, Keyword: "SEAL-HERE", KeywordAt: [2]float64{350, 200}})
	r := render.New(render.Options{CacheDir: filepath.Join(os.TempDir(), "sealkeeper-test-pdfium")})
	defer r.Close()
	d, err := r.Open("kw.pdf", in)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	hits, err := d.FindText("SEAL-HERE")
	if err != nil || len(hits) != 2 {
		t.Fatalf("FindText: %v, %d hits", err, len(hits))
	}
	doc := read(t, in)
	h := hits[1]
	pl, err := placement.AtKeyword(doc.Pages[h.Page-1].Page, placement.Rect{X0: h.Rect.X0, Y0: h.Rect.Y0, X1: h.Rect.X1, Y1: h.Rect.Y1}, sealSize(t))
	if err != nil {
		t.Fatal(err)
	}
	path := write(t, "kw.pdf", stampOnce(t, in, request(id, pl)))
	rep := checkAll(t, path, 1, id.Root)
	w := rep.Signatures[0].Widgets[0]
	cx, cy := w.Rect.Center()
	kx, ky := h.Rect.Center()
	if w.Page != 2 || math.Abs(cx-kx) > 0.01 || math.Abs(cy-ky) > 0.01 {
		t.Errorf("seal centred at page %d (%g,%g), keyword at (%g,%g)", w.Page, cx, cy, kx, ky)
	}
	if kx < 340 || kx > 450 || ky < 195 || ky > 215 {
		t.Errorf("keyword found at (%g,%g), drawn at 350,200", kx, ky)
	}
	showsSeal(t, path, doc.Pages[1].Page, w.Rect)
}

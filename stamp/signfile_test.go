package stamp_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/pades/padestest"
	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/store/permtest"
)

// countingSigner counts the signatures asked of the key.
type countingSigner struct {
	crypto.Signer
	n atomic.Int32
}

func (s *countingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.n.Add(1)
	return s.Signer.Sign(r, digest, opts)
}

// SignFile validates the input while it hashes it: a file that pdfcpu's validation refuses is
// refused before the key signs, whether the file is held in memory or not, and no output is
// written.
func TestSignFileRefusesInvalidBeforeSigning(t *testing.T) {
	id := padestest.NewIdentity(t, padestest.ECDSA)
	data := pdftest.PDF(pdftest.Options{Pages: 2, Rotate: []int{45, 0}}) // /Rotate 45 fails validation
	if _, err := pdftest.Inspect("bad.pdf", data); err == nil {
		t.Fatal("the test file passes validation")
	}
	doc, err := pdfinspect.Parse("bad.pdf", bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, large := range []bool{false, true} {
		if large {
			defer stamp.SetSmallFile(0)()
		}
		dir := t.TempDir()
		in, out := filepath.Join(dir, "bad.pdf"), filepath.Join(dir, "out.pdf")
		os.WriteFile(in, data, 0o644)
		req := request(id, centre(t, doc, 2))
		cs := &countingSigner{Signer: id.Signer}
		req.Signer = cs
		_, err := stamp.SignFile(context.Background(), in, out, false, req)
		if err == nil || !strings.Contains(err.Error(), "does not pass validation") || !strings.Contains(err.Error(), in) {
			t.Errorf("large=%v: %v", large, err)
		}
		if n := cs.n.Load(); n != 0 {
			t.Errorf("large=%v: the key signed %d times", large, n)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("large=%v: an output was written", large)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("large=%v: left %d files", large, len(entries))
		}
	}
}

// The path for files over smallFile streams the input into the output; the result is the
// same as in memory: the input untouched, the output valid everywhere, stamping twice works.
func TestSignFileLarge(t *testing.T) {
	defer stamp.SetSmallFile(0)()
	id := padestest.NewIdentity(t, padestest.RSA)
	for _, stream := range []bool{false, true} {
		dir := t.TempDir()
		in, mid, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "mid.pdf"), filepath.Join(dir, "out.pdf")
		orig := pdftest.PDF(pdftest.Options{Pages: 3, XRefStream: stream, Scanned: true})
		os.WriteFile(in, orig, 0o644)
		req := request(id, centre(t, read(t, orig), 2))
		cs := &countingSigner{Signer: id.Signer}
		req.Signer = cs
		res, err := stamp.SignFile(context.Background(), in, mid, false, req)
		if err != nil {
			t.Fatal(err)
		}
		if cs.n.Load() != 1 {
			t.Errorf("the key signed %d times", cs.n.Load())
		}
		got, _ := os.ReadFile(mid)
		if !bytes.Equal(got, append(append([]byte{}, orig...), res.Update...)) {
			t.Fatal("the output is not the input followed by the update")
		}
		if b, _ := os.ReadFile(in); !bytes.Equal(b, orig) {
			t.Fatal("the input changed")
		}
		if st, err := os.Stat(mid); err != nil || !permtest.Private(st) {
			t.Fatalf("the stamped file is readable by others: %v %v", st.Mode(), err)
		}
		req.Signer = id.Signer
		if _, err := stamp.SignFile(context.Background(), mid, out, false, req); err != nil {
			t.Fatal(err)
		}
		checkAll(t, out, 2, id.Root)
	}
}

// A file over 32 MB is mapped, and validated by pdfcpu over the on-demand reader's model
// (pdfinspect's largeFile): the output verifies everywhere, and the rotate-45 fault that
// pdfcpu's validation refuses is still refused on this path before the key signs.
func TestSignFileOver32MB(t *testing.T) {
	if testing.Short() {
		t.Skip("writes two 34 MB files")
	}
	id := padestest.NewIdentity(t, padestest.RSA)
	dir := t.TempDir()
	for _, bad := range []bool{false, true} {
		o := pdftest.Options{Pages: 650, Scanned: true, ScanBytes: 52000}
		if bad {
			o.Rotate = []int{0, 45}
		}
		data := pdftest.PDF(o)
		if len(data) <= 32<<20 {
			t.Fatalf("the test file has %d bytes, not over 32 MB", len(data))
		}
		in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
		os.WriteFile(in, data, 0o644)
		os.Remove(out)
		doc, err := pdfinspect.OpenFile(in)
		if err != nil {
			t.Fatal(err)
		}
		req := request(id, centre(t, doc, 1))
		cs := &countingSigner{Signer: id.Signer}
		req.Signer = cs
		_, err = stamp.SignFile(context.Background(), in, out, false, req)
		if bad {
			if err == nil || !strings.Contains(err.Error(), "does not pass validation") || cs.n.Load() != 0 {
				t.Errorf("a file that fails validation: %v, %d signatures", err, cs.n.Load())
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		checkAll(t, out, 1, id.Root)
	}
}

// Issue 16, "SignFile takes no expected input hash": the caller hashes the approved file (the
// ticket check), the file is swapped for another valid PDF before the signing; with the
// checked hash given, SignFile refuses before the key signs and writes nothing, in memory and
// on the path for large files. With the hash of the file as it now is, it signs.
func TestSignFileRefusesSwappedInput(t *testing.T) {
	id := padestest.NewIdentity(t, padestest.ECDSA)
	approved := pdftest.PDF(pdftest.Options{Pages: 2})
	swapped := pdftest.PDF(pdftest.Options{Pages: 2, Scanned: true})
	checked := sha256.Sum256(approved)
	for _, large := range []bool{false, true} {
		if large {
			defer stamp.SetSmallFile(0)()
		}
		dir := t.TempDir()
		in, out := filepath.Join(dir, "doc.pdf"), filepath.Join(dir, "out.pdf")
		os.WriteFile(in, approved, 0o600)
		// Between the check and the signing, another file takes the approved one's place.
		os.WriteFile(in+".new", swapped, 0o600)
		if err := os.Rename(in+".new", in); err != nil {
			t.Fatal(err)
		}
		req := request(id, centre(t, read(t, swapped), 1))
		cs := &countingSigner{Signer: id.Signer}
		req.Signer, req.InputSHA256 = cs, checked[:]
		_, err := stamp.SignFile(context.Background(), in, out, false, req)
		if !errors.Is(err, stamp.ErrInputChanged) || !strings.Contains(err.Error(), in) {
			t.Errorf("large=%v: swapped input: %v", large, err)
		}
		if n := cs.n.Load(); n != 0 {
			t.Errorf("large=%v: the key signed %d times", large, n)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("large=%v: left %d files", large, len(entries))
		}
		now := sha256.Sum256(swapped)
		req.InputSHA256 = now[:]
		if _, err := stamp.SignFile(context.Background(), in, out, false, req); err != nil {
			t.Fatalf("large=%v: the file as it is, with its own hash: %v", large, err)
		}
		checkAll(t, out, 1)
	}
}

// A seal image read by LoadImage is encoded once for all its stampings, to the same bytes as
// the decoded picture, and stamps valid files one after the other.
func TestLoadedImageEncodedOnce(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, sealImg); err != nil {
		t.Fatal(err)
	}
	path := write(t, "seal.png", buf.Bytes())
	loaded, err := stamp.LoadImage(path)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := png.Decode(bytes.NewReader(buf.Bytes()))
	wantRGB, wantAlpha, err := stamp.EncodeImage(plain)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		rgb, alpha, err := stamp.EncodeImage(loaded)
		if err != nil || !bytes.Equal(rgb, wantRGB) || !bytes.Equal(alpha, wantAlpha) {
			t.Fatalf("encoding %d of the loaded image differs from the decoded one's (%v)", i+1, err)
		}
	}
	id := padestest.NewIdentity(t, padestest.ECDSA)
	data := pdftest.PDF(pdftest.Options{Pages: 2})
	for page := 1; page <= 2; page++ {
		req := request(id, centre(t, read(t, data), page))
		req.Image = loaded
		data = stampOnce(t, data, req)
	}
	checkAll(t, write(t, "twice.pdf", data), 2)
}

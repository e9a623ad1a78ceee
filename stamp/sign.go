// Package stamp puts an organisation's seal on a PDF as a digital signature: one incremental
// update per stamping that leaves the original bytes untouched, one signature field whose
// widgets show the seal image (or, for a riding-seam seal, one slice of it per page), and a
// PAdES CMS made by any crypto.Signer (a token's key in production).
//
// The file is opened by pdfinspect (objects read on demand by stamp/objread) and validated by
// pdfcpu while it is hashed; the update is written here, object by object, and matches the
// file's last cross-reference section: a table after a table, a stream after a stream.
package stamp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"image"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/tjfoc/gmsm/sm3"

	"github.com/sealkeeper/sealkeeper/stamp/pades"
	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
)

// Request is one stamping.
type Request struct {
	Placement placement.Placement
	// Image is the seal, ideally a PNG with a transparent background.
	Image image.Image
	// Signer is the seal's key; Chain[0] its certificate, then CA certificates.
	Signer crypto.Signer
	Chain  []*x509.Certificate
	// GM, when set, makes a GM seal (SM2/SM3; see GM) instead of PAdES; Chain is then unused.
	GM *GM
	// PSS signs with RSASSA-PSS (RSA keys).
	PSS bool
	// TSA is an RFC 3161 timestamp server URL (PAdES B-T); empty for B-B.
	TSA        string
	HTTPClient *http.Client
	// Certify makes this the certifying seal (DocMDP P=2: only form filling and further seals
	// are permitted afterwards). Only the first seal of a document may certify.
	Certify bool
	// Lock forbids every change after this seal (field lock with P=1).
	Lock bool
	// Reason and Location are shown by viewers; optional.
	Reason, Location string
	// Time is written as /M; now when zero.
	Time time.Time
	// InputSHA256, when set, is the SHA-256 the caller checked the input against (the approval
	// ticket's hash). The digest of the very bytes that are signed must equal it, else nothing
	// is signed (ErrInputChanged): a file swapped between the caller's check and the signing is
	// refused here, where the bytes are read once for both.
	InputSHA256 []byte

	signerName string // the certificate's common name, for /Name (set by check)
}

// Result describes the update that Sign made.
type Result struct {
	// Update is what to append to the input to get the stamped file.
	Update []byte
	// Field is the new signature field's name.
	Field     string
	ByteRange [4]int64
	// Digest is the digest of the signed byte ranges: SHA-256, or SM3 for a GM seal.
	Digest []byte
	// CMS is the signature value written into /Contents (for a GM seal in GMSES mode, the
	// SES_Signature).
	CMS []byte
}

// Refusals that a caller may want to tell apart.
var (
	ErrLocked      = errors.New("the document is locked by an earlier signature: no further seal may be added")
	ErrCertified   = errors.New("only the first seal may certify the document, and this one already has a signature")
	ErrNoPlacement = errors.New("no place for the seal was given")
	// ErrInputChanged: the bytes about to be signed are not the ones the caller checked
	// (Request.InputSHA256).
	ErrInputChanged = errors.New("the document's bytes are not the ones that were checked against the approval (the file was replaced or changed after the check)")
)

// SignFile stamps the file at in and writes the result to out atomically. An existing out is
// refused unless overwrite is set; in and out must differ.
//
// The work overlaps: the kernel copies the input into the output's temporary file and flushes
// it while the input is read (on demand: only the objects a seal touches), validated by pdfcpu,
// hashed and read back with the update; the key is asked for a signature only when all of
// these have succeeded, and only the update is written after it.
func SignFile(ctx context.Context, in, out string, overwrite bool, req Request) (res *Result, err error) {
	if sameFile(in, out) {
		return nil, fmt.Errorf("%s: the output must be another file than the input (the input is never modified)", out)
	}
	if !overwrite {
		if _, err := os.Stat(out); err == nil {
			return nil, fmt.Errorf("%s already exists; choose another name or allow overwriting (--force)", out)
		}
	}
	f, err := os.Open(in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	w, err := startOutput(out, in, st)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			w.abort()
		}
	}()
	// A file below smallFile is read into memory at once, a larger one is mapped: either way
	// the readers pay no system call per object, and a large file is not copied into memory.
	var r io.ReaderAt
	if size := st.Size(); size < smallFile {
		buf := make([]byte, size)
		if _, err := io.ReadFull(f, buf); err != nil {
			return nil, fmt.Errorf("%s: reading: %w", in, err)
		}
		r = bytes.NewReader(buf)
	} else {
		m, err := mapFile(f, size)
		if err != nil {
			return nil, err
		}
		defer m.close() // after sign, whose readers have all returned
		r = m
	}
	// Open reads only what stamping needs, on demand; then the digest and pdfcpu's validation,
	// which read the whole file, run beside the writing of the update.
	doc, err := pdfinspect.Open(in, r, st.Size())
	if err != nil {
		return nil, err
	}
	res, err = sign(ctx, doc, r, req, startWork(in, r, st.Size(), req.GM != nil, doc.Validate))
	if err != nil {
		return nil, err
	}
	if err := w.commit(res.Update); err != nil {
		return nil, err
	}
	return res, nil
}

// smallFile is the size below which SignFile reads the input into memory: pdfinspect.LargeFile
// (a variable so that tests can send small files down the large-file path).
var smallFile int64 = pdfinspect.LargeFile

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// Sign makes the incremental update that adds the seal to doc, whose bytes are in. The
// caller appends Result.Update to the input unchanged.
func Sign(ctx context.Context, doc *pdfinspect.Document, in io.ReaderAt, req Request) (res *Result, err error) {
	return sign(ctx, doc, in, req, startWork(doc.File, in, doc.Size, req.GM != nil, nil))
}

// started is work on the input that runs beside the writing of the update: the digest
// of its bytes and its validation. Each wait returns the result once.
type started struct {
	hashed func() (hash.Hash, error) // SHA-256 over the whole input
	valid  func() error              // validation; nil when the caller has none
	// sm3 is the SM3 state over the whole input, for a GM seal (nil otherwise); set once
	// hashed has returned.
	sm3 *sm3.SM3
}

// startWork starts hashing the input (with SM3 too for a GM seal, in the same pass) and,
// when validate is set, validating it.
func startWork(name string, in io.ReaderAt, size int64, gm bool, validate func() error) started {
	type hashResult struct {
		h   hash.Hash
		err error
	}
	hc := make(chan hashResult, 1)
	w := started{}
	if gm {
		w.sm3 = sm3.New().(*sm3.SM3)
	}
	go func() {
		h := sha256.New()
		var dst io.Writer = h
		if w.sm3 != nil {
			dst = io.MultiWriter(h, w.sm3)
		}
		_, err := io.Copy(dst, io.NewSectionReader(in, 0, size))
		if err != nil {
			err = fmt.Errorf("%s: reading: %w", name, err)
		}
		hc <- hashResult{h, err}
	}()
	w.hashed = func() (hash.Hash, error) { r := <-hc; return r.h, r.err }
	if validate != nil {
		vc := make(chan error, 1)
		go func() { vc <- validate() }()
		w.valid = func() error { return <-vc }
	}
	return w
}

// sign is Sign with the input's digest and validation already under way (work): the stamped
// file is read back while they run, and the key is asked for a signature only when all three
// have succeeded. sign waits for all of them before it returns, whatever happens.
func sign(ctx context.Context, doc *pdfinspect.Document, in io.ReaderAt, req Request, work started) (res *Result, err error) {
	waited := false
	wait := func() (hash.Hash, error, error) {
		waited = true
		h, herr := work.hashed()
		var verr error
		if work.valid != nil {
			verr = work.valid()
		}
		return h, herr, verr
	}
	defer func() {
		if !waited {
			wait() // the goroutines read in, which the caller may close or unmap after we return
		}
	}()
	defer pdfinspect.Guard(doc.File, &err)
	if err := check(doc, &req); err != nil {
		return nil, fmt.Errorf("%s: %w", doc.File, err)
	}
	tail := make([]byte, 1)
	if doc.Size > 0 {
		in.ReadAt(tail, doc.Size-1)
	}
	w, err := newUpdate(doc, req, tail[0] != '\n' && tail[0] != '\r')
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doc.File, err)
	}
	capacity := estimateCMS(req)
	if req.GM != nil {
		capacity = estimateGM(req)
	}
	upd, cStart, cEnd, br, err := w.layout(capacity)
	if err != nil {
		return nil, err
	}
	// Read the stamped file back (with /Contents still empty: the structure is final) while
	// the input is hashed and validated.
	cerr := guarded(doc.File, func() error { return selfCheck(doc, in, upd, w.fieldName) })
	h, herr, verr := wait()
	if verr != nil {
		return nil, verr
	}
	if err := cerr; err != nil {
		return nil, fmt.Errorf("%s: the file is damaged in a way that an added seal would not survive (%v); ask for a fresh export of the document", doc.File, err)
	}
	if herr != nil {
		return nil, herr
	}
	// The bytes hashed here are the bytes the update is built on and signed over.
	if req.InputSHA256 != nil && !bytes.Equal(h.Sum(nil), req.InputSHA256) {
		return nil, fmt.Errorf("%s: %w; nothing was signed: fetch the document again and have it approved again if it really changed", doc.File, ErrInputChanged)
	}
	// The update's hash continues from a copy of the input's state (for a second try).
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 2; attempt++ {
		if attempt > 0 {
			if upd, cStart, cEnd, br, err = w.layout(capacity); err != nil {
				return nil, err
			}
			if err := selfCheck(doc, in, upd, w.fieldName); err != nil {
				return nil, fmt.Errorf("%s: the stamped file does not read back: %v", doc.File, err)
			}
		}
		var digest, sig []byte
		if req.GM != nil {
			// The SM3 state continues from a copy of the input's: a struct copy is a clone
			// (Write only ever appends past the shared buffer's length).
			hh := *work.sm3
			hh.Write(upd[:cStart])
			hh.Write(upd[cEnd:])
			digest = hh.Sum(nil)
			sig, err = signGM(req, w.fieldName, digest)
		} else {
			hh := sha256.New()
			if err := hh.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
				return nil, err
			}
			hh.Write(upd[:cStart])
			hh.Write(upd[cEnd:])
			digest = hh.Sum(nil)
			sig, err = pades.Sign(ctx, digest, req.Signer, req.Chain, pades.Options{PSS: req.PSS, TSA: req.TSA, HTTPClient: req.HTTPClient})
		}
		if err != nil {
			return nil, fmt.Errorf("%s: signing: %w", doc.File, err)
		}
		if len(sig) > capacity {
			capacity = len(sig) + 4096 // a bigger timestamp than foreseen: sign again with room
			continue
		}
		hex.Encode(upd[cStart+1:], sig)
		return &Result{Update: upd, Field: w.fieldName, ByteRange: br, Digest: digest, CMS: sig}, nil
	}
	return nil, fmt.Errorf("%s: the signature does not fit in the space reserved for it", doc.File)
}

func check(doc *pdfinspect.Document, req *Request) error {
	if doc.Locked || doc.Certified == 1 {
		return ErrLocked
	}
	if req.Certify {
		for _, s := range doc.Signatures {
			if s.Signed {
				return ErrCertified
			}
		}
	}
	if len(req.Placement.Widgets) == 0 {
		return ErrNoPlacement
	}
	if req.Placement.Kind == placement.RidingSeam && len(req.Placement.Widgets) < 2 {
		return errors.New("a riding-seam seal needs at least 2 pages")
	}
	for _, w := range req.Placement.Widgets {
		if w.Page < 1 || w.Page > len(doc.Pages) {
			return fmt.Errorf("page %d does not exist: the document has %d pages", w.Page, len(doc.Pages))
		}
		if !(w.Rect.W() > 0 && w.Rect.H() > 0) {
			return fmt.Errorf("page %d: the seal has no size", w.Page)
		}
	}
	if req.Image == nil || req.Image.Bounds().Empty() {
		return errors.New("no seal image")
	}
	if req.Signer == nil || (len(req.Chain) == 0 && req.GM == nil) {
		return errors.New("no seal key or certificate")
	}
	if req.Time.IsZero() {
		req.Time = time.Now()
	}
	if req.GM != nil {
		name, err := checkGM(req)
		if err != nil {
			return err
		}
		req.signerName = name
	} else {
		req.signerName = req.Chain[0].Subject.CommonName
	}
	return nil
}

// estimateCMS is the room reserved for the signature: certificates, the signature value,
// attributes, and a timestamp token when one is asked for.
func estimateCMS(req Request) int {
	n := 2048
	for _, c := range req.Chain {
		n += len(c.Raw)
	}
	switch k := req.Signer.Public().(type) {
	case *rsa.PublicKey:
		n += k.Size()
	case *ecdsa.PublicKey:
		n += 2*((k.Curve.Params().BitSize+7)/8) + 16
	default:
		n += 1024
	}
	if req.TSA != "" {
		n += 16384
	}
	return n
}

// selfCheck reads the stamped file back as a strict reader would (Document.CheckUpdate): a
// file whose own cross-reference data is broken fails here instead of producing a stamped
// file that other readers cannot follow.
func selfCheck(doc *pdfinspect.Document, in io.ReaderAt, upd []byte, field string) error {
	return doc.CheckUpdate(&concat{a: in, n: doc.Size, b: upd}, doc.Size+int64(len(upd)), field)
}

// guarded runs f and turns a panic into an error naming the file (a goroutine's panic is not
// recovered by its caller's Guard).
func guarded(name string, f func() error) (err error) {
	defer pdfinspect.Guard(name, &err)
	return f()
}

// concat reads a followed by b without copying either.
type concat struct {
	a io.ReaderAt
	n int64
	b []byte
}

func (c *concat) ReadAt(p []byte, off int64) (int, error) {
	total := 0
	if off < c.n {
		k := min(int64(len(p)), c.n-off)
		n, err := c.a.ReadAt(p[:k], off)
		total += n
		if err != nil && err != io.EOF {
			return total, err
		}
		if int64(n) < k {
			return total, io.ErrUnexpectedEOF
		}
		p, off = p[k:], c.n
	}
	if len(p) == 0 {
		return total, nil
	}
	i := off - c.n
	if i >= int64(len(c.b)) {
		return total, io.EOF
	}
	n := copy(p, c.b[i:])
	total += n
	if n < len(p) {
		return total, io.EOF
	}
	return total, nil
}

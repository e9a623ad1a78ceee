// Package pdfinspect reads a PDF and reports what stamping needs to know: pages and their
// boxes, existing signatures and form fields, certification and locks, encryption, the PDF
// version and the kind of its last cross-reference section. It never writes the file.
//
// Two entry points. Open, for the stamper, reads only the objects it needs, on demand
// (stamp/objread; OpenFile is Open for a path); Document.Validate then has pdfcpu read and
// validate the whole file, in a model of its own, and the two must agree on the pages. Parse,
// for the verifier, reads the whole file into pdfcpu's model without validating it. Every call
// into a PDF reader runs under a guard that turns a panic into an error naming the file.
package pdfinspect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/validate"

	"github.com/sealkeeper/sealkeeper/stamp/placement"
)

// pdfcpu's packages are used directly, not through its pkg/api: that one links pdfcpu's form
// code, whose text-width tables cost every run of the program 40 ms of start-up.

func init() {
	// pdfcpu would otherwise create and read a configuration folder in the user's home (what
	// api.DisableConfigDir does).
	model.ConfigPath = "disable"
}

// Page is one page.
type Page struct {
	placement.Page
	Media placement.Rect
	Ref   types.IndirectRef // the page object
}

// Signature is an existing signature field.
type Signature struct {
	Field     string // fully qualified field name
	Signed    bool   // has a /V signature dictionary
	SubFilter string
	Signer    string // /Name, if any
	Time      string // /M as written
	// DocMDP is the certification level (1-3) when this signature certifies the document.
	DocMDP int
	// FieldMDP is the /Action of a field lock (All, Include, Exclude), empty when none;
	// LockP is its /P (1 means no changes at all). See Restrictions: a /P outside 1..3 is
	// read as 1.
	FieldMDP string
	LockP    int
	Widgets  int
}

// Field is a form field (terminal fields only).
type Field struct {
	Name string
	Type string // Tx, Btn, Ch, Sig
}

// Info is what Read found.
type Info struct {
	File       string
	Version    string
	Pages      []Page
	Fields     []Field
	Signatures []Signature
	// Certified is the DocMDP level of the document (0 when not certified).
	Certified int
	// Locked tells that a signed field lock forbids all further changes.
	Locked bool
	// XRefStream: the last cross-reference section is a stream (an update must be one too).
	XRefStream bool
	// StartXRef is the offset of the last cross-reference section.
	StartXRef int64
	Size      int64
}

// Document is a read PDF: its Info and the objects it was read from.
type Document struct {
	Info
	objs    objects
	ctx     *model.Context // pdfcpu's model, when pdfcpu read the file (Read, Parse)
	src     io.ReaderAt    // the bytes, for Validate of a document that Open read lazily
	trailer Trailer
}

// objects is where a Document's objects come from: pdfcpu's model (*model.Context) or the
// on-demand reader (*objread.File). Both return pdfcpu's object types.
type objects interface {
	Dereference(types.Object) (types.Object, error)
}

// Trailer is what the newest trailer says, as the signature writer needs it.
type Trailer struct {
	Root types.IndirectRef
	Info *types.IndirectRef
	ID   types.Array // two strings, or nil
	// Next is the first object number an update may use: past /Size and every number listed.
	Next int
}

// Trailer returns the newest trailer's entries.
func (d *Document) Trailer() Trailer { return d.trailer }

// Context is pdfcpu's model of the document, for the verifier; nil for a document that Open
// read on demand.
func (d *Document) Context() *model.Context { return d.ctx }

// Deref returns the object o refers to (o itself when it is no reference); nil when absent.
func (d *Document) Deref(o types.Object) (types.Object, error) { return d.objs.Dereference(o) }

// DerefDict returns the dictionary o is or refers to (a stream's dictionary too).
func (d *Document) DerefDict(o types.Object) (types.Dict, error) {
	v, err := d.objs.Dereference(o)
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case types.Dict:
		return v, nil
	case types.StreamDict:
		return v.Dict, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("%s is not a dictionary", describe(o))
}

// DerefArray returns the array o is or refers to.
func (d *Document) DerefArray(o types.Object) (types.Array, error) {
	v, err := d.objs.Dereference(o)
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case types.Array:
		return v, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("%s is not an array", describe(o))
}

func describe(o types.Object) string {
	if r, ok := o.(types.IndirectRef); ok {
		return fmt.Sprintf("object %d", r.ObjectNumber)
	}
	return "the value"
}

// ErrEncrypted is returned for encrypted files.
var ErrEncrypted = errors.New("the PDF is encrypted (password-protected or permission-restricted); a seal cannot be added without changing its protection: ask the sender for an unprotected copy")

// ErrNotPDF is returned when the file does not start like a PDF.
var ErrNotPDF = errors.New("the file is not a PDF")

// Guard turns a panic in a PDF library into an error naming the file. Use it as
// `defer pdfinspect.Guard(name, &err)`.
func Guard(name string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: the PDF library failed on this file (%v); the file is damaged or unusual: ask for a fresh export", name, r)
	}
}

// OpenFile opens a PDF file as Open does (no validation). A file under LargeFile is read into
// memory first; a larger one is read where it lies and closed again, so the returned
// Document cannot Validate itself: a larger file is validated by stamp.SignFile.
func OpenFile(path string) (*Document, error) {
	return openFile(path, Open)
}

func openFile(path string, open func(string, io.ReaderAt, int64) (*Document, error)) (*Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if size := st.Size(); size < LargeFile {
		buf := make([]byte, size)
		if _, err := io.ReadFull(f, buf); err != nil {
			return nil, fmt.Errorf("%s: reading: %w", path, err)
		}
		return open(path, bytes.NewReader(buf), size)
	}
	d, err := open(path, f, st.Size())
	if d != nil {
		d.src = closedFile{path}
	}
	return d, err
}

// closedFile stands for the bytes of a file that OpenFile read and closed.
type closedFile struct{ path string }

func (c closedFile) ReadAt([]byte, int64) (int, error) {
	return 0, fmt.Errorf("%s was closed after it was opened; open it again to read it", c.path)
}

// LargeFile is the one size that splits the stamping path's two ways of reading a PDF: a file
// below it is read into memory at once (a few copies cost less than the system calls), a file
// of this size or more is read on demand (OpenFile, Document.Validate) or mapped (stamp.SignFile), so a
// scanned file of hundreds of megabytes costs about one pass of hashing.
const LargeFile = 32 << 20

// Parse reads the whole file into pdfcpu's model without validating it: for a verifier, which
// must report on a file that a later change damaged rather than refuse it, and needs every
// object.
func Parse(name string, r io.ReaderAt, size int64) (*Document, error) {
	return parse(name, r, size)
}

func parse(name string, r io.ReaderAt, size int64) (doc *Document, err error) {
	defer Guard(name, &err)
	if err := checkHeader(name, r); err != nil {
		return nil, err
	}
	tail, err := readTail(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// Refuse encryption before pdfcpu tries passwords: a quick look at the last trailer, then
	// pdfcpu's own view below.
	if bytes.Contains(tail, []byte("/Encrypt")) {
		return nil, fmt.Errorf("%s: %w", name, ErrEncrypted)
	}
	ctx, err := pdfcpuRead(name, r, size)
	if err != nil {
		return nil, err
	}
	d := &Document{ctx: ctx, objs: ctx, src: r}
	d.File, d.Size = name, size
	if d.trailer, err = contextTrailer(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d.Version = ctx.VersionString()
	if d.StartXRef, d.XRefStream, err = lastXRef(r, size, tail); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := d.readPages(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := d.readFields(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}

func contextTrailer(ctx *model.Context) (Trailer, error) {
	if ctx.Root == nil {
		return Trailer{}, errors.New("the PDF has no catalog")
	}
	t := Trailer{Root: *ctx.Root, Info: ctx.Info, Next: ctx.MaxObjNr + 1}
	if ctx.Size != nil {
		t.Next = max(t.Next, *ctx.Size)
	}
	if len(ctx.ID) == 2 {
		t.ID = ctx.ID
	}
	return t, nil
}

// pdfcpuRead reads the whole file into pdfcpu's model, refusing encryption.
func pdfcpuRead(name string, r io.ReaderAt, size int64) (_ *model.Context, err error) {
	defer Guard(name, &err)
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	ctx, err := pdfcpu.Read(io.NewSectionReader(r, 0, size), conf)
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "password") || strings.Contains(err.Error(), "encrypt") {
			return nil, fmt.Errorf("%s: %w", name, ErrEncrypted)
		}
		return nil, fmt.Errorf("%s: not a readable PDF: %v", name, err)
	}
	if ctx.Encrypt != nil || ctx.E != nil {
		return nil, fmt.Errorf("%s: %w", name, ErrEncrypted)
	}
	return ctx, nil
}

// checkHeader refuses a file with no %PDF- in its first kilobyte.
func checkHeader(name string, r io.ReaderAt) error {
	head := make([]byte, 1024)
	n, _ := r.ReadAt(head, 0)
	if !bytes.Contains(head[:n], []byte("%PDF-")) {
		return fmt.Errorf("%s: %w", name, ErrNotPDF)
	}
	return nil
}

func readTail(r io.ReaderAt, size int64) ([]byte, error) {
	n := int64(4096)
	if size < n {
		n = size
	}
	tail := make([]byte, n)
	if _, err := r.ReadAt(tail, size-n); err != nil && err != io.EOF {
		return nil, err
	}
	return tail, nil
}

// lastXRef finds the last startxref and says whether it points at a stream.
func lastXRef(r io.ReaderAt, size int64, tail []byte) (int64, bool, error) {
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return 0, false, errors.New("no startxref at the end of the file: it is truncated or damaged")
	}
	f := bytes.Fields(tail[i+len("startxref"):])
	if len(f) == 0 {
		return 0, false, errors.New("startxref without an offset")
	}
	off, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil || off < 0 || off >= size {
		return 0, false, errors.New("startxref points outside the file")
	}
	buf := make([]byte, 32)
	n, _ := r.ReadAt(buf, off)
	buf = bytes.TrimLeft(buf[:n], " \r\n\t\f\x00")
	if bytes.HasPrefix(buf, []byte("xref")) {
		return off, false, nil
	}
	return off, true, nil
}

func (d *Document) deref(o types.Object) types.Object {
	o, err := d.objs.Dereference(o)
	if err != nil {
		return nil
	}
	return o
}

// rootDict is the catalog, or nil.
func (d *Document) rootDict() types.Dict { return d.dict(d.trailer.Root) }

func (d *Document) dict(o types.Object) types.Dict {
	if dd, ok := d.deref(o).(types.Dict); ok {
		return dd
	}
	if sd, ok := d.deref(o).(types.StreamDict); ok {
		return sd.Dict
	}
	return nil
}

func (d *Document) num(o types.Object) (float64, bool) {
	switch v := d.deref(o).(type) {
	case types.Integer:
		return float64(v), true
	case types.Float:
		return float64(v), true
	}
	return 0, false
}

func (d *Document) rect(o types.Object) (placement.Rect, bool) {
	a, ok := d.deref(o).(types.Array)
	if !ok || len(a) != 4 {
		return placement.Rect{}, false
	}
	var v [4]float64
	for i := range a {
		if v[i], ok = d.num(a[i]); !ok {
			return placement.Rect{}, false
		}
	}
	return placement.Rect{X0: min(v[0], v[2]), Y0: min(v[1], v[3]), X1: max(v[0], v[2]), Y1: max(v[1], v[3])}, true
}

type inherited struct {
	media, crop *placement.Rect
	rotate      int
}

func (d *Document) readPages() error {
	root := d.rootDict()
	if root == nil {
		return errors.New("the PDF has no catalog")
	}
	pagesRef, ok := root["Pages"].(types.IndirectRef)
	if !ok {
		return errors.New("the catalog has no page tree")
	}
	seen := map[int]bool{}
	var walk func(ref types.IndirectRef, in inherited, depth int) error
	walk = func(ref types.IndirectRef, in inherited, depth int) error {
		if depth > 64 || seen[ref.ObjectNumber.Value()] {
			return errors.New("the page tree loops or is too deep")
		}
		seen[ref.ObjectNumber.Value()] = true
		node := d.dict(ref)
		if node == nil {
			return fmt.Errorf("page tree node %d is missing", ref.ObjectNumber)
		}
		if r, ok := d.rect(node["MediaBox"]); ok {
			in.media = &r
		}
		if r, ok := d.rect(node["CropBox"]); ok {
			in.crop = &r
		}
		if v, ok := d.num(node["Rotate"]); ok {
			in.rotate = int(v)
		}
		if t, _ := d.deref(node["Type"]).(types.Name); t == "Page" || node["Kids"] == nil {
			if in.media == nil {
				a4 := placement.Rect{X1: 595.28, Y1: 841.89}
				in.media = &a4
			}
			crop := *in.media
			if in.crop != nil {
				c := *in.crop
				crop = placement.Rect{X0: max(c.X0, crop.X0), Y0: max(c.Y0, crop.Y0), X1: min(c.X1, crop.X1), Y1: min(c.Y1, crop.Y1)}
				if crop.W() <= 0 || crop.H() <= 0 {
					crop = *in.media
				}
			}
			d.Pages = append(d.Pages, Page{
				Page:  placement.Page{Number: len(d.Pages) + 1, Crop: crop, Rotate: placement.NormRotate(in.rotate)},
				Media: *in.media,
				Ref:   ref,
			})
			return nil
		}
		kids, _ := d.deref(node["Kids"]).(types.Array)
		for _, k := range kids {
			kr, ok := k.(types.IndirectRef)
			if !ok {
				return errors.New("a page tree entry is not a reference")
			}
			if err := walk(kr, in, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(pagesRef, inherited{}, 0); err != nil {
		return err
	}
	if len(d.Pages) == 0 {
		return errors.New("the PDF has no pages")
	}
	return nil
}

// text decodes a PDF text string (PDFDocEncoding treated as Latin-1, or UTF-16BE).
func (d *Document) text(o types.Object) string {
	var s string
	switch v := d.deref(o).(type) {
	case types.StringLiteral:
		b, err := types.Unescape(v.Value())
		if err != nil {
			return v.Value()
		}
		s = string(b)
	case types.HexLiteral:
		b, err := v.Bytes()
		if err != nil {
			return ""
		}
		s = string(b)
	default:
		return ""
	}
	if t, err := types.DecodeUTF16String(s); err == nil && strings.HasPrefix(s, "\xfe\xff") {
		return t
	}
	return s
}

// readFields fills Fields, Signatures, Certified and Locked from the form (FormFields,
// Restrictions).
func (d *Document) readFields() error {
	for _, f := range d.FormFields() {
		d.Fields = append(d.Fields, Field{Name: f.Name, Type: f.Type})
		if f.Type != "Sig" {
			continue
		}
		r := d.Restrictions(f)
		s := Signature{Field: f.Name, Widgets: len(f.Widgets), FieldMDP: r.FieldMDP, LockP: r.LockP}
		if f.Sig != nil {
			s.Signed = true
			if sf, ok := d.deref(f.Sig["SubFilter"]).(types.Name); ok {
				s.SubFilter = string(sf)
			}
			s.Signer = d.text(f.Sig["Name"])
			s.Time = d.text(f.Sig["M"])
			s.DocMDP = r.DocMDP
			d.Certified = stricter(d.Certified, r.DocMDP)
			// A signed field lock with /P 1 (PDF 2.0) forbids every later change, new seals
			// included; an unsigned one binds nothing yet.
			d.Locked = d.Locked || r.Locked()
		}
		d.Signatures = append(d.Signatures, s)
	}
	return nil
}

// sigDocMDP is the signature dictionary named by the catalog's /Perms /DocMDP.
func (d *Document) sigDocMDP() *types.IndirectRef {
	perms := d.dict(d.rootDict()["Perms"])
	if perms == nil {
		return nil
	}
	if r, ok := perms["DocMDP"].(types.IndirectRef); ok {
		return &r
	}
	return nil
}

// Validate has pdfcpu read the whole file into a model of its own (for a file over largeFile,
// through the on-demand reader: see readerContext) and validate it, and checks that it finds the
// pages d has, as the same objects: a file that only pdfcpu's repairs make sense of is refused
// rather than stamped on a guess (pdfcpu's relaxed validation repairs small faults in its own
// model, which never reaches a Document). d is not changed, so the signature writer may use d
// meanwhile.
func (d *Document) Validate() error {
	v, err := validatePages(d.File, d.src, d.Size)
	if err != nil {
		return err
	}
	return d.agrees(v)
}

// validated is what pdfcpu found in a file it validated.
type validated struct {
	root  types.IndirectRef
	pages []types.IndirectRef
}

func validatePages(name string, r io.ReaderAt, size int64) (v *validated, err error) {
	defer Guard(name, &err)
	var ctx *model.Context
	if size >= largeFile {
		ctx, err = readerContext(name, r, size)
	} else {
		ctx, err = pdfcpuRead(name, r, size)
	}
	if err != nil {
		return nil, err
	}
	if err := validateContext(name, ctx); err != nil {
		return nil, err
	}
	t, err := contextTrailer(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	w := &Document{objs: ctx, trailer: t}
	if err := w.readPages(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	v = &validated{root: t.Root, pages: make([]types.IndirectRef, len(w.Pages))}
	for i, p := range w.Pages {
		v.pages[i] = p.Ref
	}
	return v, nil
}

func (d *Document) agrees(v *validated) error {
	same := v.root == d.trailer.Root && len(v.pages) == len(d.Pages)
	for i := 0; same && i < len(v.pages); i++ {
		same = v.pages[i] == d.Pages[i].Ref
	}
	if !same {
		return fmt.Errorf("%s: pdfcpu reads %d pages where the file's cross-reference data gives %d, or other objects: the file is damaged; ask for a fresh export", d.File, len(v.pages), len(d.Pages))
	}
	return nil
}

func validateContext(name string, ctx *model.Context) (err error) {
	defer Guard(name, &err)
	if err := validate.XRefTable(ctx); err != nil {
		return fmt.Errorf("%s: the PDF does not pass validation: %v; ask for a fresh export", name, err)
	}
	return nil
}

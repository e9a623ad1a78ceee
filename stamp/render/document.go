package render

import (
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/enums"
	pdfiumerrors "github.com/klippa-app/go-pdfium/errors"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
)

// Document is a PDF opened for preview and search. Its methods are safe for concurrent
// use; calls on one Document run one at a time. Close it when the preview is gone.
type Document struct {
	r    *Renderer
	w    *worker
	name string
	data []byte
	// pages is set once at open; closed is guarded by w.mu.
	pages  int
	closed bool
}

type docRef struct {
	doc references.FPDF_DOCUMENT
}

// Open opens a PDF given as bytes. name is used in error messages (the file name, or a
// description such as a document's title). data must not be changed while the
// Document is open; it is kept to reopen the document if a PDFium instance has to be
// replaced.
func (r *Renderer) Open(name string, data []byte) (*Document, error) {
	if name == "" {
		name = "the document"
	}
	d := &Document{r: r, name: name, data: data}
	d.w = r.pickWorker()
	err := d.do("open", func(inst pdfium.Pdfium, ref docRef) error {
		res, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: ref.doc})
		if err != nil {
			return err
		}
		d.pages = res.PageCount
		return nil
	})
	if err != nil {
		d.Close()
		return nil, err
	}
	if d.pages < 1 {
		d.Close()
		return nil, fmt.Errorf("%s is not a readable PDF: it has no pages", name)
	}
	return d, nil
}

// OpenFile reads the PDF at path and opens it; see Open. The file is read once and
// never written.
func (r *Renderer) OpenFile(path string) (*Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("render: cannot read %s: %w", path, err)
	}
	return r.Open(filepath.Base(path), data)
}

// Name is the name given at Open (the base name of the file for OpenFile).
func (d *Document) Name() string { return d.name }

// NumPages is the number of pages.
func (d *Document) NumPages() int { return d.pages }

// Close releases the document in PDFium. Closing twice is harmless.
func (d *Document) Close() error {
	w := d.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	d.r.release(w)
	ref, ok := w.docs[d]
	if !ok || w.inst == nil {
		return nil
	}
	delete(w.docs, d)
	_, err := guard("close", func() (struct{}, error) {
		_, err := w.inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: ref.doc})
		return struct{}{}, err
	})
	if isCrash(err) {
		w.discard()
	}
	if err != nil {
		return fmt.Errorf("%s: closing in PDFium failed: %w", d.name, err)
	}
	return nil
}

// do runs f in the document's worker with the document open, under a panic guard
// and the call timeout. Errors name the file and the operation.
func (d *Document) do(op string, f func(inst pdfium.Pdfium, ref docRef) error) error {
	w := d.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if d.closed {
		return fmt.Errorf("%s: %s: %w", d.name, op, ErrClosed)
	}
	inst, err := d.r.instance(w)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", d.name, op, err)
	}

	var timedOut atomic.Bool
	timer := time.AfterFunc(d.r.opts.CallTimeout, func() {
		timedOut.Store(true)
		inst.Kill() // stops the running WebAssembly call (CloseOnContextDone)
	})
	_, err = guard(op, func() (struct{}, error) {
		ref, ok := w.docs[d]
		if !ok {
			var err error
			if ref, err = d.open(inst); err != nil {
				return struct{}{}, err
			}
			w.docs[d] = ref
		}
		return struct{}{}, f(inst, ref)
	})
	timer.Stop()
	switch {
	case timedOut.Load():
		w.inst, w.docs = nil, nil // already killed
		return fmt.Errorf("%s: %s took longer than %v and was stopped; the file may be damaged or unusually complex", d.name, op, d.r.opts.CallTimeout)
	case isCrash(err):
		w.discard()
		return fmt.Errorf("%s: %s: PDFium failed on this file (it may be damaged): %w", d.name, op, err)
	case err != nil:
		var ne notReadable
		if errors.As(err, &ne) {
			return err
		}
		return fmt.Errorf("%s: %s: %w", d.name, op, err)
	}
	return nil
}

// notReadable is an open failure that already carries the whole message.
type notReadable struct{ error }

func (d *Document) open(inst pdfium.Pdfium) (docRef, error) {
	if len(d.data) == 0 {
		return docRef{}, notReadable{fmt.Errorf("%s is not a readable PDF: the file is empty", d.name)}
	}
	res, err := inst.OpenDocument(&requests.OpenDocument{File: &d.data})
	if err != nil {
		switch {
		case isCrash(err):
			return docRef{}, err
		case errors.Is(err, pdfiumerrors.ErrPassword):
			return docRef{}, notReadable{fmt.Errorf("%s is password-protected; open it with its password in a PDF program and save an unprotected copy", d.name)}
		case errors.Is(err, pdfiumerrors.ErrSecurity):
			return docRef{}, notReadable{fmt.Errorf("%s is not a readable PDF: it uses an unsupported encryption scheme", d.name)}
		default:
			return docRef{}, notReadable{fmt.Errorf("%s is not a readable PDF: %v", d.name, err)}
		}
	}
	return docRef{doc: res.Document}, nil
}

func (d *Document) checkPage(page int) error {
	if page < 1 || page > d.pages {
		return fmt.Errorf("%s: there is no page %d (the document has %d)", d.name, page, d.pages)
	}
	return nil
}

func pageRef(ref docRef, page int) requests.Page {
	return requests.Page{ByIndex: &requests.PageByIndex{Document: ref.doc, Index: page - 1}}
}

// Page returns the size, rotation and visible box of a page (1-based).
func (d *Document) Page(page int) (PageInfo, error) {
	if err := d.checkPage(page); err != nil {
		return PageInfo{}, err
	}
	var info PageInfo
	err := d.do(fmt.Sprintf("page %d", page), func(inst pdfium.Pdfium, ref docRef) error {
		var err error
		info, err = pageInfo(inst, ref, page)
		return err
	})
	return info, err
}

func pageInfo(inst pdfium.Pdfium, ref docRef, page int) (PageInfo, error) {
	p := pageRef(ref, page)
	bb, err := inst.FPDF_GetPageBoundingBox(&requests.FPDF_GetPageBoundingBox{Page: p})
	if err != nil {
		return PageInfo{}, err
	}
	rot, err := inst.FPDFPage_GetRotation(&requests.FPDFPage_GetRotation{Page: p})
	if err != nil {
		return PageInfo{}, err
	}
	// Width and height as PDFium uses them for rendering (already rotated).
	w, err := inst.FPDF_GetPageWidth(&requests.FPDF_GetPageWidth{Page: p})
	if err != nil {
		return PageInfo{}, err
	}
	h, err := inst.FPDF_GetPageHeight(&requests.FPDF_GetPageHeight{Page: p})
	if err != nil {
		return PageInfo{}, err
	}
	box := normRect(Rect{X0: float64(bb.Rect.Left), Y0: float64(bb.Rect.Bottom), X1: float64(bb.Rect.Right), Y1: float64(bb.Rect.Top)})
	return PageInfo{
		Number:   page,
		Box:      box,
		Rotation: int(rot.PageRotation) * 90,
		Width:    w.Width,
		Height:   h.Height,
	}, nil
}

// renderFlags draw annotations with their appearance streams, so stamps and comments
// show as in a viewer. Widgets (form fields, and the seal images of existing
// signatures) are drawn only by the form layer: every render sets RenderForm too.
const renderFlags = enums.FPDF_RENDER_FLAG_ANNOT

// Render draws a page (1-based) at dpi (72 = one pixel per point, 100 is a typical
// preview) on a white background. The image is PageInfo.PixelSize(dpi) in size and
// belongs to the caller.
func (d *Document) Render(page, dpi int) (*image.RGBA, error) {
	if err := d.checkPage(page); err != nil {
		return nil, err
	}
	if dpi < 1 || dpi > 2400 {
		return nil, fmt.Errorf("%s: cannot render page %d at %d DPI: use 1 to 2400", d.name, page, dpi)
	}
	var img *image.RGBA
	err := d.do(fmt.Sprintf("render page %d", page), func(inst pdfium.Pdfium, ref docRef) error {
		res, err := inst.RenderPageInDPI(&requests.RenderPageInDPI{
			Page: pageRef(ref, page), DPI: dpi, RenderFlags: renderFlags,
			RenderForm: true, Document: &ref.doc,
		})
		if err != nil {
			return err
		}
		defer res.Cleanup()
		img, err = copyOnWhite(res.Result.RenderedImage, res.Result.HasTransparency)
		return err
	})
	return img, err
}

// Thumbnails draws the given pages (1-based) each fitted into maxWidth×maxHeight pixels
// (keeping the aspect ratio; 0 means no limit in that direction), e.g. for a strip
// of page thumbnails. Use PageInfo.Mapping with an image's size to map its pixels.
func (d *Document) Thumbnails(pages []int, maxWidth, maxHeight int) ([]*image.RGBA, error) {
	if maxWidth < 0 || maxHeight < 0 || (maxWidth == 0 && maxHeight == 0) {
		return nil, fmt.Errorf("%s: thumbnails need a positive maximum width or height", d.name)
	}
	for _, p := range pages {
		if err := d.checkPage(p); err != nil {
			return nil, err
		}
	}
	out := make([]*image.RGBA, 0, len(pages))
	for _, page := range pages {
		// One call per page so other calls on this worker (the big preview) can go
		// in between.
		err := d.do(fmt.Sprintf("thumbnail of page %d", page), func(inst pdfium.Pdfium, ref docRef) error {
			res, err := inst.RenderPageInPixels(&requests.RenderPageInPixels{
				Page: pageRef(ref, page), Width: maxWidth, Height: maxHeight, RenderFlags: renderFlags,
				RenderForm: true, Document: &ref.doc,
			})
			if err != nil {
				return err
			}
			defer res.Cleanup()
			img, err := copyOnWhite(res.Result.RenderedImage, res.Result.HasTransparency)
			out = append(out, img)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// copyOnWhite copies a render out of WebAssembly memory (the source is only a view
// of it, valid until Cleanup). Pages with transparency come with straight alpha over
// nothing; they are flattened onto white like a viewer shows them.
func copyOnWhite(rendered image.Image, transparent bool) (*image.RGBA, error) {
	src, ok := rendered.(*image.RGBA)
	if !ok {
		return nil, fmt.Errorf("PDFium returned a %T image, want RGBA", rendered)
	}
	dst := image.NewRGBA(image.Rect(0, 0, src.Rect.Dx(), src.Rect.Dy()))
	rowLen := src.Rect.Dx() * 4
	for y := 0; y < src.Rect.Dy(); y++ {
		s := src.Pix[y*src.Stride : y*src.Stride+rowLen]
		t := dst.Pix[y*dst.Stride : y*dst.Stride+rowLen]
		if !transparent {
			copy(t, s)
			continue
		}
		for i := 0; i < rowLen; i += 4 {
			a := uint32(s[i+3])
			for c := range 3 {
				t[i+c] = uint8((uint32(s[i+c])*a + 255*(255-a) + 127) / 255)
			}
			t[i+3] = 255
		}
	}
	return dst, nil
}

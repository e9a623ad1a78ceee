package pdfinspect

import (
	"errors"
	"fmt"
	"io"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/sealkeeper/sealkeeper/stamp/objread"
)

// Open inspects a PDF of the given size, reading only the objects it needs (cross-reference
// data, trailer, catalog, page tree, form) on demand; call Document.Validate before signing it. The
// reader is strict: a file whose cross-reference data does not lead to its objects is refused
// (other strict readers could not follow an update appended to it either), where Parse's pdfcpu
// would repair it.
func Open(name string, r io.ReaderAt, size int64) (d *Document, err error) {
	defer Guard(name, &err)
	if err := checkHeader(name, r); err != nil {
		return nil, err
	}
	f, err := objread.Open(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: the file's cross-reference data does not lead to its objects (%v); it is damaged: ask for a fresh export", name, err)
	}
	if f.Trailer["Encrypt"] != nil {
		return nil, fmt.Errorf("%s: %w", name, ErrEncrypted)
	}
	d = &Document{objs: f, src: r}
	d.File, d.Size = name, size
	root, ok := f.Trailer["Root"].(types.IndirectRef)
	if !ok {
		return nil, fmt.Errorf("%s: the PDF has no catalog", name)
	}
	d.trailer = Trailer{Root: root, Next: max(f.Size, f.MaxObjNr+1)}
	if info, ok := f.Trailer["Info"].(types.IndirectRef); ok {
		d.trailer.Info = &info
	}
	if id, ok := f.Trailer["ID"].(types.Array); ok && len(id) == 2 {
		d.trailer.ID = id
	}
	d.Version = f.HeaderVersion
	if v, ok := d.deref(d.rootDict()["Version"]).(types.Name); ok && string(v) > d.Version {
		d.Version = string(v) // the catalog may raise the header's version (PDF 1.4 and later)
	}
	d.StartXRef, d.XRefStream = f.StartXRef, f.XRefStream
	if err := d.readPages(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := d.readFields(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}

// CheckUpdate reads the file that d's bytes followed by an update make (r, size bytes) as a
// strict reader would, through the update's cross-reference section and the sections it
// chains to, and checks what the update must keep: the catalog is the same object, every
// object the update does not rewrite is where d found it (so the page tree and everything
// else reads as before), every object the update writes lies in it and parses, rewritten pages
// are still pages, and the signature field named field reads back signed. It does not walk
// the pages again: equal cross-reference entries over unchanged bytes are the same objects.
func (d *Document) CheckUpdate(r io.ReaderAt, size int64, field string) (err error) {
	defer Guard(d.File, &err)
	old, ok := d.objs.(*objread.File)
	if !ok {
		return errors.New("the document was not opened with Open")
	}
	nf, err := objread.Open(r, size)
	if err != nil {
		return err
	}
	if nf.Trailer["Root"] != types.Object(d.trailer.Root) {
		return errors.New("the stamped file names another catalog")
	}
	oldE, newE := old.Entries(), nf.Entries()
	for n, e := range oldE {
		ne, ok := newE[n]
		switch {
		case !ok:
			return fmt.Errorf("object %d no longer reads back", n)
		case ne != e && (ne.InStream || ne.Offset < d.Size):
			return fmt.Errorf("object %d reads back from another place", n)
		}
	}
	nd := &Document{objs: nf, trailer: d.trailer}
	nd.File, nd.Size = d.File, size
	pages := map[int]bool{}
	for _, p := range d.Pages {
		pages[p.Ref.ObjectNumber.Value()] = true
	}
	for n, e := range newE {
		if oe, ok := oldE[n]; ok && oe == e {
			continue
		}
		if e.InStream || e.Offset < d.Size {
			return fmt.Errorf("object %d is new but does not lie in the update", n)
		}
		o, err := nf.Object(n)
		if err != nil {
			return err
		}
		if pages[n] {
			if pd, ok := o.(types.Dict); !ok || pd["Type"] != types.Object(types.Name("Page")) {
				return fmt.Errorf("page object %d is no longer a page", n)
			}
		}
	}
	if err := nd.readFields(); err != nil {
		return err
	}
	for _, s := range nd.Signatures {
		if s.Field == field && s.Signed {
			return nil
		}
	}
	return errors.New("the new signature field does not read back")
}

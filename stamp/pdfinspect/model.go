package pdfinspect

import (
	"fmt"
	"io"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/sealkeeper/sealkeeper/stamp/objread"
)

// largeFile is the size from which Document.Validate builds pdfcpu's model with the on-demand reader
// instead of pdfcpu's own reader. pdfcpu's reader copies every stream's bytes into memory
// (about 1.5 times the cost of hashing the file, for a scanned file where images are nearly
// all of it), and stamping a large file should cost about one pass of hashing. Every object
// is still read, and pdfcpu's validator checks them all; only the image and content bytes,
// which validation does not look at, stay in the file. (The catalog's XMP metadata, which it
// does decode, is loaded.)
var largeFile int64 = LargeFile

// readerContext builds pdfcpu's model of the file from the on-demand reader: every object the
// cross-reference data lists, streams without their bytes.
func readerContext(name string, r io.ReaderAt, size int64) (*model.Context, error) {
	f, err := objread.Open(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: the file's cross-reference data does not lead to its objects (%v); it is damaged: ask for a fresh export", name, err)
	}
	if f.Trailer["Encrypt"] != nil {
		return nil, fmt.Errorf("%s: %w", name, ErrEncrypted)
	}
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	ctx, err := model.NewContext(io.NewSectionReader(r, 0, size), conf)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	xt := ctx.XRefTable
	xt.Table[0] = model.NewFreeHeadXRefTableEntry()
	for n, e := range f.Entries() {
		o, err := f.Object(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %v; the file is damaged: ask for a fresh export", name, err)
		}
		gen := e.Gen
		entry := &model.XRefTableEntry{Object: o, Generation: &gen}
		if e.InStream {
			zero, stm, ind := 0, int(e.Offset), e.Gen
			entry.Generation, entry.Compressed, entry.ObjectStream, entry.ObjectStreamInd = &zero, true, &stm, &ind
		} else {
			off := e.Offset
			entry.Offset = &off
		}
		xt.Table[n] = entry
	}
	next := max(f.Size, f.MaxObjNr+1)
	xt.Size, xt.MaxObjNr = &next, f.MaxObjNr
	root, ok := f.Trailer["Root"].(types.IndirectRef)
	if !ok {
		return nil, fmt.Errorf("%s: the PDF has no catalog", name)
	}
	xt.Root = &root
	if info, ok := f.Trailer["Info"].(types.IndirectRef); ok {
		xt.Info = &info
	}
	if id, ok := f.Trailer["ID"].(types.Array); ok {
		xt.ID = id
	}
	v, err := pdfVersion(f.HeaderVersion)
	if err != nil {
		return nil, fmt.Errorf("%s: the header names PDF version %q, which does not exist", name, f.HeaderVersion)
	}
	xt.HeaderVersion = &v
	catalog, _ := f.Dereference(root)
	if cd, ok := catalog.(types.Dict); ok {
		if vn, ok := cd["Version"].(types.Name); ok {
			if v, err := pdfVersion(string(vn)); err == nil {
				xt.RootVersion = &v
			}
		}
		// The validator decodes the catalog's XMP metadata: give it its bytes.
		if ref, ok := cd["Metadata"].(types.IndirectRef); ok {
			if e := xt.Table[ref.ObjectNumber.Value()]; e != nil {
				if sd, ok := e.Object.(types.StreamDict); ok {
					if e.Object, err = f.Load(sd); err != nil {
						return nil, fmt.Errorf("%s: the document's metadata: %v", name, err)
					}
				}
			}
		}
	}
	return ctx, nil
}

func pdfVersion(s string) (model.Version, error) {
	if v, err := model.PDFVersion(s); err == nil {
		return v, nil
	}
	return model.PDFVersionRelaxed(s)
}

package pdfinspect

import "io"

// SetLargeFile changes the size from which Document.Validate reads through the on-demand reader, so
// that tests reach that path with small files; restore puts it back.
func SetLargeFile(n int64) (restore func()) {
	old := largeFile
	largeFile = n
	return func() { largeFile = old }
}

func ParseFile(path string) (*Document, error) { return openFile(path, Parse) }

// ValidatedRefs is what Validate finds in the file: the catalog's and the pages' object numbers.
func ValidatedRefs(name string, r io.ReaderAt, size int64) (root int, pages []int, err error) {
	v, err := validatePages(name, r, size)
	if err != nil {
		return 0, nil, err
	}
	for _, p := range v.pages {
		pages = append(pages, p.ObjectNumber.Value())
	}
	return v.root.ObjectNumber.Value(), pages, nil
}

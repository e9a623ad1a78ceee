package pdfinspect

// SetLargeFile changes the size from which Validate reads through the on-demand reader, so
// that tests reach that path with small files; restore puts it back.
func SetLargeFile(n int64) (restore func()) {
	old := largeFile
	largeFile = n
	return func() { largeFile = old }
}

func ParseFile(path string) (*Document, error) { return openFile(path, Parse) }

// ValidatedRefs is what a validation found: the catalog's and the pages' object numbers.
func ValidatedRefs(v *Validated) (root int, pages []int) {
	for _, p := range v.pages {
		pages = append(pages, p.ObjectNumber.Value())
	}
	return v.root.ObjectNumber.Value(), pages
}

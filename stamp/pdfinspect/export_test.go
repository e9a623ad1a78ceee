package pdfinspect

// SetLargeFile changes the size from which Validate reads through the on-demand reader, so
// that tests reach that path with small files; restore puts it back.
func SetLargeFile(n int64) (restore func()) {
	old := largeFile
	largeFile = n
	return func() { largeFile = old }
}

func ParseFile(path string) (*Document, error) { return openFile(path, Parse) }

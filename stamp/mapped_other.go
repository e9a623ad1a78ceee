//go:build !(linux || darwin || freebsd)

package stamp

import (
	"bytes"
	"io"
	"os"
)

// mapped holds the file in memory where there is no mmap here.
type mapped struct{ *bytes.Reader }

func mapFile(f *os.File, size int64) (*mapped, error) {
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return &mapped{bytes.NewReader(buf)}, nil
}

func (m *mapped) close() error { return nil }

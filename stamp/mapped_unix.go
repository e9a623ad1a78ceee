//go:build linux || darwin || freebsd

package stamp

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// mapped is a file mapped read-only into memory: a large input is hashed and read by pdfcpu
// from the page cache without a copy into this process or a system call per object. If the
// file shrinks while it is mapped, reading the lost pages faults; ReadAt turns that fault into
// an error instead of a crash (so every read of the map goes through ReadAt).
type mapped struct {
	name string
	data []byte
}

func mapFile(f *os.File, size int64) (*mapped, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, fmt.Errorf("%s: cannot map %d bytes", f.Name(), size)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return &mapped{name: f.Name(), data: data}, nil
}

func (m *mapped) ReadAt(p []byte, off int64) (n int, err error) {
	if off < 0 || off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			n, err = 0, fmt.Errorf("%s changed while it was being read; try again", m.name)
		}
	}()
	n = copy(p, m.data[off:])
	if n < len(p) {
		err = io.EOF
	}
	return n, err
}

// close unmaps the file; nothing may read it afterwards.
func (m *mapped) close() error { return unix.Munmap(m.data) }

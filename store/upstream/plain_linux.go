package upstream

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// memFile puts b in an anonymous file in memory (memfd_create) and returns it: a decrypted
// document is read by path (the stamp engine, PDF parser and renderer take paths) without a
// byte of it on disk. /proc/self/fd/N names it while the *os.File is open; sealing keeps it
// from being changed after it was checked.
func memFile(name string, b []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("sealkeeper-"+name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("keeping document %s in memory: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("/proc/self/fd/%d", fd))
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("keeping document %s in memory: %w", name, err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, fmt.Errorf("keeping document %s in memory: %w", name, err)
	}
	return f, nil
}

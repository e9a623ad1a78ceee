//go:build linux

package ledger

import (
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// releaseMapped drops this process's resident pages of the file's memory map. bbolt maps the
// file read-only and shared (it writes with pwrite), so the pages are clean copies of the file:
// the kernel keeps them in its page cache and a later read simply faults them in again. A scan
// calls this for the records it has finished with, so verifying a large ledger does not keep
// the whole file resident in this process. Nothing may hold a slice into the map that it still
// needs to read without a fault (reading after a release is correct, only slower).
func releaseMapped(tx *bolt.Tx) {
	data, size := tx.DB().Info().Data, tx.Size()
	if data == 0 || size <= 0 {
		return
	}
	// Advice only: an error changes nothing that matters, so it is ignored.
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, data, uintptr(size), unix.MADV_DONTNEED)
}

// Package permtest is the one check of a file's permission bits in tests, so that the same
// assertion holds where the bits mean something (Unix) and says what it can on Windows.
package permtest

import (
	"io/fs"
	"runtime"
)

// Is reports whether fi's permission bits are want. On Windows Go makes the bits up from the
// read-only attribute alone (0666 or 0444, folders 0777) and SealKeeper sets no ACL, so who
// else may read the file cannot be seen there: Is then checks only what the attribute says,
// that the file is writable by its owner exactly when want says so.
func Is(fi fs.FileInfo, want fs.FileMode) bool {
	if runtime.GOOS != "windows" {
		return fi.Mode().Perm() == want
	}
	return fi.Mode().Perm() == windowsPerm(fi.IsDir(), want)
}

// Private reports whether fi gives no permission to group or others (on Windows: see Is,
// which then only sees the read-only attribute, so any file Go reports counts as private).
func Private(fi fs.FileInfo) bool {
	if runtime.GOOS != "windows" {
		return fi.Mode().Perm()&0o077 == 0
	}
	return true
}

// windowsPerm is what Go on Windows reports for a file or folder whose Unix mode would be want.
func windowsPerm(dir bool, want fs.FileMode) fs.FileMode {
	switch {
	case dir:
		return 0o777
	case want&0o200 != 0:
		return 0o666
	default:
		return 0o444
	}
}

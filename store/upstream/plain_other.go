//go:build !linux

package upstream

import (
	"errors"
	"os"
)

// memFile: see plain_linux.go. Other systems have no memfd; a decrypted document is never
// written to a temporary file instead, so stamping queue documents needs Linux for now.
func memFile(name string, b []byte) (*os.File, error) {
	return nil, errors.New("reading an encrypted document by path needs Linux (memfd_create); document " + name + " stays encrypted")
}

//go:build !windows

package config

import (
	"fmt"
	"os"
	"path/filepath"
)

// SoftHSMModule is where Debian's softhsm2 package puts its PKCS#11 module.
const SoftHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// DefaultDataDir is the user's data dir for SealKeeper (~/.local/share/sealkeeper).
func DefaultDataDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "sealkeeper"), nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the data folder: %w (set HOME or XDG_DATA_HOME)", err)
	}
	return filepath.Join(h, ".local", "share", "sealkeeper"), nil
}

package config

import (
	"errors"
	"os"
	"path/filepath"
)

// SoftHSMModule is where the SoftHSM2 for Windows installer puts its 64-bit PKCS#11 module.
const SoftHSMModule = `C:\SoftHSM2\lib\softhsm2-x64.dll`

// DefaultDataDir is %LOCALAPPDATA%\sealkeeper: the ledger and the sync store belong to this
// machine and its key, so they stay out of the roaming profile (the config, in %APPDATA%
// through os.UserConfigDir, roams).
func DefaultDataDir() (string, error) {
	d := os.Getenv("LOCALAPPDATA")
	if d == "" {
		return "", errors.New("finding the data folder: %LOCALAPPDATA% is not set (set it, or data_dir in the config)")
	}
	return filepath.Join(d, "sealkeeper"), nil
}

package workspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sealkeeper/sealkeeper/app/config"
)

// LoadConfig finds the configuration: --config when given, else the user's config file, else the
// demo workspace in the user's data dir (if one was provisioned). It also points SoftHSM at a demo
// workspace's token directory, since the module reads SOFTHSM2_CONF when it is loaded (and a GM
// demo's module at its token folder, SEALKEEPER_GMTOKEN_DIR).
func LoadConfig(path string) (*config.Config, error) {
	if path == "" {
		def, err := config.DefaultPath()
		if err != nil {
			return nil, err
		}
		path = def
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			demo, derr := DemoDir()
			if derr != nil {
				return nil, derr
			}
			path = filepath.Join(demo, config.FileName)
		}
	}
	c, err := config.Load(path)
	if errors.Is(err, config.ErrNotFound) {
		return nil, fmt.Errorf("%w; pass --config FILE, or run 'sealkeeper demo provision' to make a demo workspace", err)
	}
	if err != nil {
		return nil, err
	}
	if c.Demo.Enabled && c.Demo.SoftHSMConf != "" {
		os.Setenv("SOFTHSM2_CONF", c.Resolve(c.Demo.SoftHSMConf))
	}
	if c.Demo.Enabled && c.Demo.GMTokenDir != "" {
		os.Setenv(GMTokenDirEnv, c.Resolve(c.Demo.GMTokenDir))
	}
	return c, nil
}

// DemoDir is where the GUI keeps the demo workspace it provisions on first start.
func DemoDir() (string, error) {
	d, err := config.DefaultDataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "demo"), nil
}

// DemoPIN returns the demo token's PIN, and false outside a demo workspace: a real token's PIN is
// never stored, so only the demo may skip the prompt.
func DemoPIN(c *config.Config) (string, bool) {
	if c == nil || !c.Demo.Enabled || c.Demo.PINFile == "" {
		return "", false
	}
	b, err := os.ReadFile(c.Resolve(c.Demo.PINFile))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

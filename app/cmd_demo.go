package main

import (
	"fmt"
	"io"

	"github.com/sealkeeper/sealkeeper/app/workspace"
)

func init() {
	register(command{
		name:    "demo",
		summary: "make a demo workspace with a SoftHSM seal key, or with --gm an SM2 GM seal (demo provision)",
		run:     runDemo,
	})
}

func runDemo(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "second-key" {
		return demoSecondKey(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "provision" {
		return fmt.Errorf("%w: sealkeeper demo provision [--dir D] [--force] [--gm [--gm-mode ses|cms] [--gm-module FILE]], or sealkeeper demo second-key [--config FILE]", errUsage)
	}
	fs, _ := newFlags("demo provision", stderr)
	dir := fs.String("dir", "", "workspace folder (default: the demo folder in the user's data dir)")
	force := fs.Bool("force", false, "replace an existing demo workspace in that folder (its data folder is moved aside)")
	gm := fs.Bool("gm", false, "a GM demo: an SM2 key on SealKeeper's GM token module, a GB/T 38540 seal from a demo seal maker")
	gmMode := fs.String("gm-mode", "ses", "with --gm: \"ses\" (GB/T 38540 seal signature) or \"cms\" (GM/T 0010 SignedData)")
	gmModule := fs.String("gm-module", "", "with --gm: the GM token module (default: "+workspace.GMModuleName+" beside sealkeeper, as scripts/build.sh puts it)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected %q; sealkeeper demo provision [--dir D] [--force] [--gm]", errUsage, fs.Arg(0))
	}
	if !*gm && (*gmModule != "" || *gmMode != "ses") {
		return fmt.Errorf("%w: --gm-mode and --gm-module go with --gm", errUsage)
	}
	if *dir == "" {
		d, err := workspace.DemoDir()
		if err != nil {
			return err
		}
		*dir = d
	}
	if *force {
		if err := workspace.ClearDemo(*dir, stdout); err != nil {
			return err
		}
	}
	c, err := workspace.ProvisionDemoWith(*dir, workspace.DemoOptions{GM: *gm, GMMode: *gmMode, GMModule: *gmModule}, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nTry: sealkeeper token list --config %s\n", c.Path())
	return nil
}

// demoSecondKey gives the demo's second person (李伟) a key of his own, to try a handover.
func demoSecondKey(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("demo second-key", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := workspace.LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if err := workspace.ProvisionDemoSecondKey(c, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nTry: sealkeeper handover --config %s\n", c.Path())
	return nil
}

// Command udev prints the udev rules the Linux packages install: one line per known seal key
// (config.CommonKeys, the list a new configuration starts with) that tags the device "uaccess",
// so systemd-logind gives the user at the seat read access and the presence watcher (gousb)
// needs no root. scripts/release.sh writes it to lib/udev/rules.d/70-sealkeeper.rules: the
// number must stay below 73, where 73-seat-late.rules applies the tag.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/sealkeeper/sealkeeper/app/config"
)

func main() {
	if err := write(os.Stdout, config.CommonKeys); err != nil {
		fmt.Fprintln(os.Stderr, "udev:", err)
		os.Exit(1)
	}
}

func write(w io.Writer, keys []config.USBKey) error {
	fmt.Fprintln(w, "# SealKeeper: the logged-in user at the seat may read these USB seal keys (presence detection).")
	fmt.Fprintln(w, "# Made from SealKeeper's list of known keys; keys added in a config file need a rule of their own.")
	for _, k := range keys {
		vid, pid, anyPID, err := k.IDs()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "# %s %s\n", k.Vendor, k.Model)
		match := fmt.Sprintf(`ATTR{idVendor}=="%04x"`, vid)
		if !anyPID {
			match += fmt.Sprintf(`, ATTR{idProduct}=="%04x"`, pid)
		}
		fmt.Fprintf(w, "SUBSYSTEM==\"usb\", ENV{DEVTYPE}==\"usb_device\", %s, TAG+=\"uaccess\"\n", match)
	}
	return nil
}

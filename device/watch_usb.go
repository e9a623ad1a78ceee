//go:build !windows

package device

import (
	"fmt"

	"github.com/google/gousb"
)

// openUSB starts libusb. gousb panics when libusb cannot start (no usbfs in a VM).
func openUSB() (b usbBus, note string) {
	defer func() {
		if r := recover(); r != nil {
			b, note = nil, fmt.Sprintf("USB detection is off (libusb could not start: %v); watching PKCS#11 slots only", r)
		}
	}()
	return libusb{gousb.NewContext()}, ""
}

type libusb struct{ *gousb.Context }

func (u libusb) known(keys []KnownKey) (out []USBDevice, total int, err error) {
	_, err = u.OpenDevices(func(d *gousb.DeviceDesc) bool {
		total++
		for _, k := range keys {
			if uint16(d.Vendor) == k.VID && (k.AnyPID || uint16(d.Product) == k.PID) {
				out = append(out, USBDevice{VID: uint16(d.Vendor), PID: uint16(d.Product), Bus: d.Bus, Address: d.Address, Vendor: k.Vendor, Model: k.Model})
				break
			}
		}
		return false // never open: descriptors are enough, and opening needs permissions
	})
	return out, total, err
}

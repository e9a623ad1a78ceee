//go:build windows

package device

// openUSB has no USB bus to offer on Windows: gousb needs libusb, which Windows lacks unless a
// WinUSB driver is installed for the key (the vendors' keys use their own drivers), so presence
// is PKCS#11 slot polling alone, as the module is the authority on it anyway. The "plugged in
// but no module shows a token" hint is therefore not given on Windows.
func openUSB() (usbBus, string) { return nil, "" }

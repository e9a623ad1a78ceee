package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/app/config"
)

// Every known key gets exactly one uaccess rule matching its IDs, and every line is a comment or
// such a rule (a stray line would be a udev syntax error, which udev logs and skips).
func TestRulesCoverEveryKnownKey(t *testing.T) {
	var b bytes.Buffer
	if err := write(&b, config.CommonKeys); err != nil {
		t.Fatal(err)
	}
	rule := regexp.MustCompile(`^SUBSYSTEM=="usb", ENV\{DEVTYPE\}=="usb_device", ATTR\{idVendor\}=="([0-9a-f]{4})"(?:, ATTR\{idProduct\}=="([0-9a-f]{4})")?, TAG\+="uaccess"$`)
	got := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := rule.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a uaccess rule: %q", line)
		}
		got[m[1]+":"+m[2]] = true
	}
	if len(got) != len(config.CommonKeys) {
		t.Errorf("%d distinct rules for %d known keys:\n%s", len(got), len(config.CommonKeys), b.String())
	}
	for _, k := range config.CommonKeys {
		id := k.VID + ":"
		if k.PID != "*" {
			id += k.PID
		}
		if !got[id] {
			t.Errorf("no rule for %s %s (%s)", k.Vendor, k.Model, id)
		}
	}
}

func TestBadKeyIsRefused(t *testing.T) {
	err := write(&bytes.Buffer{}, []config.USBKey{{VID: "xyz", PID: "*", Vendor: "Broken"}})
	if err == nil || !strings.Contains(err.Error(), "Broken") {
		t.Fatalf("want an error naming the key, got %v", err)
	}
}

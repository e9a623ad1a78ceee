package ui

import (
	"os"
	"testing"

	"github.com/sealkeeper/sealkeeper/device/gmtoken/gmtokentest"
)

// TestMain builds the GM test token (device/gmtoken), whose PIN counter the lockout test uses.
func TestMain(m *testing.M) { os.Exit(gmtokentest.Main(m)) }

package device_test

import (
	"os"
	"testing"

	"github.com/sealkeeper/sealkeeper/device/gmtoken/gmtokentest"
)

// TestMain builds the GM test token (device/gmtoken) once for the SM2 tests.
func TestMain(m *testing.M) { os.Exit(gmtokentest.Main(m)) }

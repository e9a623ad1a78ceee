package usecase_test

import (
	"os"
	"testing"

	"github.com/sealkeeper/sealkeeper/device/gmtoken/gmtokentest"
)

// TestMain builds the GM test token (device/gmtoken) for the tests that use an SM2 key.
func TestMain(m *testing.M) { os.Exit(gmtokentest.Main(m)) }

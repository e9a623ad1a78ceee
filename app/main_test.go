package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sealkeeper/sealkeeper/device/gmtoken/gmtokentest"
)

// TestMain lets the scripts in testdata/script run "sealkeeper" as a real command: the test
// binary re-executes itself under that name.
func TestMain(m *testing.M) {
	// A test that must kill the program mid-way runs it as a child: this binary as sealkeeper.
	if os.Getenv("SEALKEEPER_TEST_AS_PROGRAM") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	testscript.Main(withGMToken{m}, map[string]func(){
		"sealkeeper": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// withGMToken builds the GM token module (device/gmtoken) before the tests run, for the GM demo
// scripts (SEALKEEPER_GMTOKEN_MODULE); the commands testscript runs as programs skip the build.
type withGMToken struct{ m *testing.M }

func (w withGMToken) Run() int { return gmtokentest.Main(w.m) }

// TestScripts runs the command-line behaviour written down in testdata/script/*.txt: a command,
// then what it must print. Each script gets its own HOME, so nothing touches the user's files.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("HOME", e.WorkDir+"/home")
			e.Setenv("XDG_CONFIG_HOME", e.WorkDir+"/home/.config")
			e.Setenv("XDG_DATA_HOME", e.WorkDir+"/home/.local/share")
			// The GM seal vectors (binary DER, kept once in stamp/gmseal/testdata).
			gm, err := filepath.Abs("../stamp/gmseal/testdata")
			if err != nil {
				return err
			}
			e.Setenv("GMSEALS", gm)
			e.Setenv("SEALKEEPER_GMTOKEN_MODULE", gmtokentest.Module())
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "softhsm":
				_, err := os.Stat("/usr/lib/softhsm/libsofthsm2.so")
				return err == nil, nil
			}
			return false, nil
		},
	})
}

// Command sealkeeper is the seal custodian's desktop program. With no subcommand it opens the
// window; subcommands do the same work from a terminal (token, demo, queue, stamp, reject, verify,
// ledger, hub).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
)

// command is one subcommand. Each lives in its own cmd_*.go file and registers itself in init,
// so that adding one does not touch this file.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("sealkeeper: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks an error whose message is usage text; main prints it and exits 2.
var errUsage = errors.New("usage")

// exitError carries a specific exit code (verify uses 1 for "a signature is not valid").
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without os.Exit, so testscript can call it in-process.
func run(args []string, stdout, stderr io.Writer) int {
	name := "gui"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		fmt.Fprintf(stdout, "sealkeeper %s (%s/%s, %s)\n", programVersion(), runtime.GOOS, runtime.GOARCH, runtime.Version())
		return 0
	}
	if name == "help" || name == "-h" || name == "--help" {
		usage(stdout)
		return 0
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "sealkeeper: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	err := c.run(args, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "sealkeeper %s: %v\n", name, err)
		return 2
	}
	fmt.Fprintf(stderr, "sealkeeper %s: %v\n", name, err)
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// version is set by scripts/release.sh from the git tag (-ldflags "-X main.version=1.2.0").
var version string

// programVersion is the release's version, else what the go command stamped (a tag or a
// pseudo-version from git, "(devel)" without one).
func programVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: sealkeeper [command] [flags]")
	fmt.Fprintln(w, "\nWith no command, opens the SealKeeper window (a demo workspace when nothing is configured).")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nEvery command takes --config FILE; run 'sealkeeper COMMAND -h' for its flags.")
	fmt.Fprintln(w, "'sealkeeper --version' prints the version.")
}

// newFlags makes a FlagSet that reports errors instead of exiting and always has --config.
func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("sealkeeper "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", "", "configuration file (default: the user's config dir, or the demo workspace)")
	return fs, cfg
}

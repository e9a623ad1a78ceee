package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

func init() {
	register(command{name: "gui", summary: "open the window (what runs with no command)", run: runGUI})
}

// guiProgram is the window's executable, installed beside this one. The window is a program of
// its own (app/sealkeeper-gui) so that this one, which serves and scripts, links no GUI
// libraries (it runs on a server without X11 or OpenGL) and starts in milliseconds.
func guiProgram() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding this program: %w", err)
	}
	name := "sealkeeper-gui"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	p := filepath.Join(filepath.Dir(self), name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("the window is a separate program, %s, and it is not installed beside %s.\n"+
			"This build has the command-line tools only. Build both with 'bash scripts/run.sh', or:\n"+
			"  go build -o %s ./app/sealkeeper-gui", name, self, p)
	}
	return p, nil
}

// runGUI replaces this process with the window program (on Windows: runs it and waits), passing
// the arguments on.
func runGUI(args []string, stdout, stderr io.Writer) error {
	p, err := guiProgram()
	if err != nil {
		return err
	}
	err = execProgram(p, args, stdout, stderr)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitError{code: ee.ExitCode(), err: errors.New("the window closed with an error (see above)")}
	}
	return err
}

//go:build !unix

package main

import (
	"io"
	"os"
	"os/exec"
)

// execProgram runs path and waits for it (no exec(2) here).
func execProgram(path string, args []string, stdout, stderr io.Writer) error {
	cmd := exec.Command(path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	return cmd.Run()
}

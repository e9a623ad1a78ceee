//go:build unix

package main

import (
	"io"
	"os"
	"syscall"
)

// execProgram replaces this process with path: the window keeps this process's id, terminal
// and signals, and no launcher lingers.
func execProgram(path string, args []string, _, _ io.Writer) error {
	return syscall.Exec(path, append([]string{path}, args...), os.Environ())
}

//go:build unix

package usecase_test

import (
	"syscall"
	"testing"
)

// syncDisks writes back every dirty page before a timed run, so that writeback of files made
// earlier does not share the disk with the run being timed.
func syncDisks(testing.TB) { syscall.Sync() }

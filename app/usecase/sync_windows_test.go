package usecase_test

import "testing"

// syncDisks: Windows has no sync(2) for all of the system's files (FlushFileBuffers is per
// file), so a timed run there would share the disk with writeback and its figure would not be
// comparable with the Linux ones the README gives. The bench tests skip instead.
func syncDisks(tb testing.TB) {
	tb.Helper()
	tb.Skip("the bench figures are measured on Linux: they flush all dirty pages with sync(2) before each timed run, which Windows does not have")
}

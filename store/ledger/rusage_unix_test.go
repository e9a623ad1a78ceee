//go:build unix

package ledger_test

import (
	"syscall"
	"testing"
)

// maxRSS is getrusage(2)'s peak resident set in MB, of this process or (children) of the
// largest child it has waited for.
func maxRSS(_ testing.TB, children bool) float64 {
	who := syscall.RUSAGE_SELF
	if children {
		who = syscall.RUSAGE_CHILDREN
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1e3
}

//go:build unix

package device_test

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU is the CPU time used by the calling OS thread.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

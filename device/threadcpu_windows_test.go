package device_test

import (
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// getThreadTimes is kernel32's GetThreadTimes, which x/sys/windows does not wrap.
var getThreadTimes = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetThreadTimes")

// threadCPU is the CPU time (kernel + user) used by the calling OS thread. Windows counts it
// in 100 ns units but advances it only at each clock tick (about 15.6 ms), so the interleaved
// figures need many more iterations there than on Linux.
func threadCPU() time.Duration {
	var creation, exit, kernel, user windows.Filetime
	r, _, err := getThreadTimes.Call(uintptr(windows.CurrentThread()),
		uintptr(unsafe.Pointer(&creation)), uintptr(unsafe.Pointer(&exit)),
		uintptr(unsafe.Pointer(&kernel)), uintptr(unsafe.Pointer(&user)))
	if r == 0 {
		panic("GetThreadTimes: " + err.Error())
	}
	ticks := func(f windows.Filetime) int64 { return int64(f.HighDateTime)<<32 | int64(f.LowDateTime) }
	return time.Duration(ticks(kernel)+ticks(user)) * 100
}

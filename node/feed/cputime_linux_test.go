//go:build linux

package feed_test

import (
	"runtime"
	"syscall"
	"time"
)

// threadClock returns a clock of the CPU time consumed by the calling OS
// thread (the goroutine is locked to it until release is called), so that a
// benchmark and its baseline are compared in CPU time, unaffected by other
// processes competing for the machine.
func threadClock() (now func() time.Duration, release func()) {
	runtime.LockOSThread()
	const rusageThread = 1 // RUSAGE_THREAD
	return func() time.Duration {
			var ru syscall.Rusage
			if err := syscall.Getrusage(rusageThread, &ru); err != nil {
				return time.Duration(time.Now().UnixNano())
			}
			return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}, func() {
			runtime.UnlockOSThread()
		}
}

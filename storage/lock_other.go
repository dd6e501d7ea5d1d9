//go:build !unix

package storage

import "os"

// lockFile is a no-op where flock(2) is not available; meshlogd targets
// Linux, where lock_unix.go applies.
func lockFile(*os.File) error { return nil }

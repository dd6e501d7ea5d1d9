// Package storage is meshlogd's flash-friendly, segmented, append-only log:
// framed, checksummed records, group-committed fsyncs and torn-write recovery.
package storage

package storage

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrClosed is returned by every method of a closed Log.
	ErrClosed = errors.New("storage: log closed")
	// ErrEmptyRecord is returned by Append for a zero-length record (the
	// format reserves length 0 for "no more records").
	ErrEmptyRecord = errors.New("storage: empty record")
	// ErrRecordTooLarge is returned by Append for a record longer than
	// Options.MaxRecordSize.
	ErrRecordTooLarge = errors.New("storage: record too large")
	// ErrBadLocation is returned by Read for a Location that cannot name a
	// record of this log (unknown segment, unaligned or past the end).
	ErrBadLocation = errors.New("storage: bad location")
	// ErrFailed is returned by every write after a failure that left the
	// state of the files unknown (a failed fsync or a failed rollback).
	// Close the Log and Open it again: recovery re-reads the disk.
	ErrFailed = errors.New("storage: log failed, reopen to recover")
	// ErrLocked is returned by Open, Check and Repair when another Log
	// (in this or another process) holds the data directory's lock.
	ErrLocked = errors.New("storage: data directory locked by another process")
	// ErrBadOptions is returned by Open for inconsistent Options.
	ErrBadOptions = errors.New("storage: bad options")

	// ErrUnsupportedVersion: a segment header is intact (magic and CRC
	// check) but names a format version or flags this build does not
	// understand. It is not corruption: Open and Check refuse the
	// directory instead of repairing it.
	ErrUnsupportedVersion = errors.New("storage: unsupported segment format version")

	// ErrCorrupt is the root of every decoding failure; CorruptError
	// unwraps to one of the more specific errors below, each of which
	// unwraps to ErrCorrupt.
	ErrCorrupt = errors.New("storage: corrupt data")
	// ErrBadHeader: a segment header has a wrong magic, CRC or length.
	ErrBadHeader = fmt.Errorf("%w: bad segment header", ErrCorrupt)
	// ErrZeroFrame: an all-zero frame header, i.e. the end of written data
	// (a zero-filled tail). Not corruption at the end of the last segment.
	ErrZeroFrame = fmt.Errorf("%w: zero frame header", ErrCorrupt)
	// ErrTruncated: the data ends inside a frame.
	ErrTruncated = fmt.Errorf("%w: truncated frame", ErrCorrupt)
	// ErrBadLength: a frame length is 0 with a nonzero CRC, above the
	// maximum record size, or runs past the end of the segment.
	ErrBadLength = fmt.Errorf("%w: bad frame length", ErrCorrupt)
	// ErrBadCRC: a frame's CRC-32C does not match its length and payload.
	ErrBadCRC = fmt.Errorf("%w: CRC mismatch", ErrCorrupt)
	// ErrBadPadding: a frame's alignment padding is not zero.
	ErrBadPadding = fmt.Errorf("%w: nonzero padding", ErrCorrupt)
)

// CorruptError reports where in which segment decoding failed and why.
type CorruptError struct {
	Segment uint64 // segment sequence number
	Offset  int64  // byte offset of the failing frame or header in the segment file
	Err     error  // one of the sentinels above (unwraps to ErrCorrupt)
}

// Error implements error.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("storage: segment %s offset %d: %v", SegmentName(e.Segment), e.Offset, e.Err)
}

// Unwrap returns the underlying sentinel.
func (e *CorruptError) Unwrap() error { return e.Err }

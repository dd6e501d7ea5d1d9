// Package storage is meshlogd's flash-friendly, segmented, append-only log:
// framed, checksummed records, group-committed fsyncs and torn-write
// recovery. It stores opaque byte records; it knows nothing of events,
// authors or signatures (node/feed does), so it can be tested and fuzzed
// alone.
//
// # Use
//
//	l, rep, err := storage.Open(dir, storage.Options{})
//	// rep says what recovery truncated or moved aside (rep.Damage).
//	loc, err := l.Append(rec)        // durable when it returns
//	err = l.Iterate(func(loc storage.Location, rec []byte) error { ... })
//	rec, err := l.Read(loc)
//	err = l.Close()
//
// # Durability contract
//
// Append and AppendBatch return only after the record's bytes were written
// and the segment file fsynced; a new segment is created through a
// temporary file (header written, fsynced, renamed, directory fsynced)
// before any record goes into it. Concurrent appenders are committed
// together: whoever finds no commit running becomes the leader, takes every
// pending record, writes them with one write and one fsync, and wakes the
// others (group commit). A record whose Append returned an error is not
// acknowledged: it may or may not be in the log after a restart.
//
// A failed write (e.g. ENOSPC, which callers see with
// errors.Is(err, syscall.ENOSPC)) is rolled back by truncating the segment
// to its last durable size, and the log stays usable. A failed fsync or a
// failed rollback leaves the file contents unknown (the kernel may have
// dropped the dirty pages), so the Log fails every later write with
// ErrFailed until it is closed and opened again, which re-reads the disk.
//
// # On-disk format (version 1)
//
// A data directory holds segment files named by a 16-digit lower-case hex
// sequence number starting at 1: 0000000000000001.seg, 0000000000000002.seg,
// and so on. Only the highest-numbered segment is ever appended to; no byte
// of a file is overwritten once written (recovery may only truncate a tail
// after copying it aside). All integers are little-endian. Every checksum is
// CRC-32C (Castagnoli polynomial 0x1EDC6F41, reflected, init and final XOR
// 0xFFFFFFFF, as in hash/crc32 with crc32.Castagnoli).
//
// Segment header, 32 bytes at offset 0:
//
//	0..7    magic 4D 45 53 48 4C 4F 47 1A ("MESHLOG" 0x1A)
//	8..9    format version, uint16 = 1
//	10..11  flags, uint16 = 0
//	12..15  reserved, zero
//	16..23  segment sequence number, uint64 (equals the file name)
//	24..27  reserved, zero
//	28..31  CRC-32C of bytes 0..27, uint32
//
// Records follow from offset 32, each one a frame starting at an offset that
// is a multiple of 8:
//
//	0..3    payload length N, uint32, 1 ≤ N ≤ 16 MiB-1 (appends: ≤ MaxRecordSize)
//	4..7    CRC-32C of bytes 0..3 followed by the N payload bytes, uint32
//	8..     the N payload bytes
//	        zero padding to the next multiple of 8 (0..7 bytes)
//
// A frame occupies 8 + N rounded up to a multiple of 8 bytes. Because frames
// are 8-aligned, a frame header never straddles a 512-byte sector and cannot
// tear in half. An all-zero frame header (N = 0, CRC = 0) never occurs in a
// valid segment: it marks a zero-filled tail. A segment's records end where
// the file ends; there is no trailer and no index.
//
// Segments are at most Options.SegmentSize bytes (default 16 MiB): a record
// that would cross the limit starts the next segment.
//
// # Recovery
//
// Open scans every segment in order and decodes every frame. It classifies
// the first invalid frame of a segment (DamageKind):
//
//   - TornTail: in the last segment, when no valid frame follows at any
//     aligned offset. This is a write interrupted by a crash or power cut
//     (never acknowledged, since Append fsyncs before returning). The tail
//     is truncated; if it has any nonzero byte it is first copied to
//     NAME.OFFSET.broken (OFFSET as 8 hex digits).
//   - Corrupt: anywhere else, or when a valid frame follows the damage:
//     the data was acknowledged and then damaged. Every record before the
//     damage is kept, the remainder of the segment is copied to
//     NAME.OFFSET.broken (fsynced, directory fsynced) and only then the
//     segment is truncated. Later segments are kept.
//   - BadHeader: the segment file is renamed to NAME.broken. An intact
//     header naming another format version is not damage: Open and Check
//     refuse the directory with ErrUnsupportedVersion.
//   - MissingSegment: a gap in the numbering not explained by a *.broken
//     file is reported (nothing to repair).
//
// Stray *.seg.tmp files (a crash during segment creation; they never hold
// records) are removed. *.broken files are evidence and are never deleted by
// meshlogd; Salvage reads the CRC-valid records back out of them. The
// Report lists every Damage with its file, offset, byte count and the
// number of valid-looking records in the removed bytes, so the node knows
// what to re-fetch from peers. Check performs the same scan without
// changing anything (meshlogd fsck).
//
// Decoding never trusts a length field: a length is checked against the
// format maximum (16 MiB-1) and against the bytes left in the file before
// anything is read or allocated, and every scan advances by at least 8
// bytes per step, so recovery always terminates. The search for valid
// frames after damage (Salvage and the Salvageable counts) has a work limit
// proportional to the damaged region's size.
//
// # Indexes
//
// There are no index files. Index is an in-memory map (key, seq) →
// Location that the caller fills while iterating at start-up (about 8 bytes
// per record); being memory-only, it can never be stale, and nothing on
// disk but the segments needs to survive.
//
// # Testing
//
// All file access goes through the FS interface. storage/crashfs
// implements it in memory and simulates power loss: at a crash, bytes not
// yet fsynced vanish, survive up to a random byte, or come back as zeros,
// and directory changes not yet fsynced may be undone.
package storage

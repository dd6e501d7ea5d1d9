package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// On-disk format constants. They are part of the file format (see doc.go and
// the README); changing any of them is a format change.
const (
	// FormatVersion is the segment format version written in every header.
	FormatVersion = 1

	// HeaderSize is the size in bytes of the segment file header.
	HeaderSize = 32

	// FrameHeaderSize is the size in bytes of a record frame header: a
	// little-endian uint32 payload length and a little-endian uint32 CRC-32C.
	FrameHeaderSize = 8

	// Alignment is the alignment of every frame start within a segment.
	// Frames are zero-padded to a multiple of it, so a frame header never
	// straddles a 512-byte sector and cannot be torn in half.
	Alignment = 8

	// SegmentExt is the file name extension of segment files.
	SegmentExt = ".seg"

	// BrokenExt ends the name of every file holding bytes moved out of the
	// log by recovery (evidence; never deleted by meshlogd).
	BrokenExt = ".broken"

	// tmpExt ends a segment file that is still being created.
	tmpExt = ".tmp"

	// MaxFormatRecordSize is the largest payload length the format allows
	// (16 MiB - 1). Options.MaxRecordSize can only lower it.
	MaxFormatRecordSize = 1<<24 - 1
)

// segmentMagic opens every segment file: "MESHLOG" followed by 0x1A (a
// control byte that text-mode transfers would mangle, as in PNG).
var segmentMagic = [8]byte{'M', 'E', 'S', 'H', 'L', 'O', 'G', 0x1A}

// castagnoli is the CRC-32C table used for every checksum in the format.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// segmentHeader is the decoded segment file header.
type segmentHeader struct {
	Version uint16
	Flags   uint16
	Seq     uint64
}

// appendHeader appends the 32-byte header of segment seq to dst.
//
//	0..7   magic "MESHLOG\x1a"
//	8..9   format version, uint16 LE
//	10..11 flags, uint16 LE (0)
//	12..15 reserved (0)
//	16..23 segment sequence number, uint64 LE (equals the file name)
//	24..27 reserved (0)
//	28..31 CRC-32C of bytes 0..27, uint32 LE
func appendHeader(dst []byte, seq uint64) []byte {
	var h [HeaderSize]byte
	copy(h[0:8], segmentMagic[:])
	binary.LittleEndian.PutUint16(h[8:10], FormatVersion)
	binary.LittleEndian.PutUint64(h[16:24], seq)
	binary.LittleEndian.PutUint32(h[28:32], crc32.Checksum(h[0:28], castagnoli))
	return append(dst, h[:]...)
}

// parseHeader decodes and validates a segment header.
func parseHeader(b []byte) (segmentHeader, error) {
	if len(b) < HeaderSize {
		return segmentHeader{}, fmt.Errorf("%w: %d of %d header bytes", ErrBadHeader, len(b), HeaderSize)
	}
	if [8]byte(b[0:8]) != segmentMagic {
		return segmentHeader{}, fmt.Errorf("%w: bad magic % x", ErrBadHeader, b[0:8])
	}
	if got, want := binary.LittleEndian.Uint32(b[28:32]), crc32.Checksum(b[0:28], castagnoli); got != want {
		return segmentHeader{}, fmt.Errorf("%w: header CRC %08x, want %08x", ErrBadHeader, got, want)
	}
	h := segmentHeader{
		Version: binary.LittleEndian.Uint16(b[8:10]),
		Flags:   binary.LittleEndian.Uint16(b[10:12]),
		Seq:     binary.LittleEndian.Uint64(b[16:24]),
	}
	if h.Version != FormatVersion {
		return h, fmt.Errorf("%w: format version %d (this build reads %d)", ErrUnsupportedVersion, h.Version, FormatVersion)
	}
	if h.Flags != 0 {
		return h, fmt.Errorf("%w: unknown flags %#04x", ErrUnsupportedVersion, h.Flags)
	}
	return h, nil
}

// frameSize returns the number of bytes a record with an n-byte payload
// occupies in a segment: header, payload and zero padding to Alignment.
func frameSize(n int) int64 {
	return int64(FrameHeaderSize+n+Alignment-1) &^ (Alignment - 1)
}

// recordCRC is the CRC-32C of the 4-byte little-endian length followed by
// the payload.
func recordCRC(lenWord []byte, payload []byte) uint32 {
	c := crc32.Update(0, castagnoli, lenWord)
	return crc32.Update(c, castagnoli, payload)
}

// appendFrame appends the frame of payload rec to dst.
func appendFrame(dst []byte, rec []byte) []byte {
	var h [FrameHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(rec)))
	binary.LittleEndian.PutUint32(h[4:8], recordCRC(h[0:4], rec))
	dst = append(dst, h[:]...)
	dst = append(dst, rec...)
	pad := int(frameSize(len(rec))) - FrameHeaderSize - len(rec)
	for range pad {
		dst = append(dst, 0)
	}
	return dst
}

// DecodeFrame decodes the record frame at the start of b and returns its
// payload (a sub-slice of b, not a copy) and the frame's total size
// including padding. maxRecord bounds the accepted payload length; values
// outside 1..MaxFormatRecordSize are clamped to MaxFormatRecordSize.
//
// The errors are ErrZeroFrame (an all-zero frame header: the clean end of
// the written data or a zero-filled tail), ErrTruncated (b ends inside the
// frame), ErrBadLength (length 0 with a nonzero CRC, or above maxRecord),
// ErrBadCRC and ErrBadPadding. DecodeFrame never panics and never allocates.
func DecodeFrame(b []byte, maxRecord int) (payload []byte, size int, err error) {
	if maxRecord <= 0 || maxRecord > MaxFormatRecordSize {
		maxRecord = MaxFormatRecordSize
	}
	if len(b) < FrameHeaderSize {
		return nil, 0, ErrTruncated
	}
	n := binary.LittleEndian.Uint32(b[0:4])
	sum := binary.LittleEndian.Uint32(b[4:8])
	if n == 0 {
		if sum == 0 {
			return nil, 0, ErrZeroFrame
		}
		return nil, 0, ErrBadLength
	}
	if n > uint32(maxRecord) {
		return nil, 0, ErrBadLength
	}
	fs := frameSize(int(n))
	if int64(len(b)) < fs {
		return nil, 0, ErrTruncated
	}
	payload = b[FrameHeaderSize : FrameHeaderSize+int(n)]
	if recordCRC(b[0:4], payload) != sum {
		return nil, 0, ErrBadCRC
	}
	for _, c := range b[FrameHeaderSize+int(n) : fs] {
		if c != 0 {
			return nil, 0, ErrBadPadding
		}
	}
	return payload, int(fs), nil
}

// SegmentName returns the file name of segment seq: 16 lower-case hex
// digits and SegmentExt, e.g. "0000000000000001.seg".
func SegmentName(seq uint64) string {
	return fmt.Sprintf("%016x%s", seq, SegmentExt)
}

// parseSegmentName returns the sequence number of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, SegmentExt)
	if !ok || len(base) != 16 {
		return 0, false
	}
	for _, c := range base {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return 0, false
		}
	}
	seq, err := strconv.ParseUint(base, 16, 64)
	if err != nil || seq == 0 {
		return 0, false
	}
	return seq, true
}

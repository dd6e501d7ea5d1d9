package qr

import (
	"errors"
	"fmt"
)

// Level is an error correction level. The zero value is M, the default.
type Level int8

// Error correction levels; each recovers roughly the stated share of
// damaged codewords.
const (
	M Level = iota // about 15 %; the default
	L              // about 7 %
	Q              // about 25 %
	H              // about 30 %
)

// String returns "L", "M", "Q" or "H".
func (l Level) String() string {
	switch l {
	case L:
		return "L"
	case M:
		return "M"
	case Q:
		return "Q"
	case H:
		return "H"
	}
	return fmt.Sprintf("Level(%d)", int8(l))
}

func (l Level) valid() bool { return l >= M && l <= H }

// formatBits are the two level bits of the format information.
var formatBits = [4]int{M: 0b00, L: 0b01, Q: 0b11, H: 0b10}

// Mode is how the text's characters become bits.
type Mode byte

// Encoding modes; Encode picks the most compact one that covers the whole
// text.
const (
	Numeric      Mode = 1 // decimal digits, 10 bits per 3
	Alphanumeric Mode = 2 // 0–9 A–Z space $%*+-./:, 11 bits per 2
	Byte         Mode = 4 // any bytes, 8 bits each
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case Numeric:
		return "numeric"
	case Alphanumeric:
		return "alphanumeric"
	case Byte:
		return "byte"
	}
	return fmt.Sprintf("Mode(%d)", byte(m))
}

// Limits of the symbol versions.
const (
	MinVersion = 1
	MaxVersion = 40
)

// ErrTooLong is matched (with errors.Is) by the *TooLongError returned when
// the text does not fit a version-40 symbol at the requested level.
var ErrTooLong = errors.New("qr: text too long")

// ErrLevel is returned for a Level outside L, M, Q, H.
var ErrLevel = errors.New("qr: invalid error correction level")

// TooLongError reports text that does not fit any QR Code version.
type TooLongError struct {
	Len   int   // length of the text in bytes
	Mode  Mode  // mode it would be encoded in
	Level Level // requested error correction level
	Max   int   // the most characters of this mode version 40 holds at Level
}

// Error implements error.
func (e *TooLongError) Error() string {
	return fmt.Sprintf("qr: text of %d bytes does not fit a QR Code at level %s (at most %d %s characters)",
		e.Len, e.Level, e.Max, e.Mode)
}

// Unwrap makes errors.Is(err, ErrTooLong) hold.
func (e *TooLongError) Unwrap() error { return ErrTooLong }

// Code is an encoded QR Code symbol. It is immutable.
type Code struct {
	version int
	level   Level
	mode    Mode
	mask    int
	size    int
	modules []bool // size×size, row-major, true = dark
}

// Size returns the number of modules on each side of the symbol, without
// the quiet zone: 17 + 4·version.
func (c *Code) Size() int { return c.size }

// Black reports whether the module in column x, row y (0-based from the top
// left) is dark. Coordinates outside the symbol are in the quiet zone and
// are light.
func (c *Code) Black(x, y int) bool {
	if x < 0 || y < 0 || x >= c.size || y >= c.size {
		return false
	}
	return c.modules[y*c.size+x]
}

// Version returns the symbol version, 1..40.
func (c *Code) Version() int { return c.version }

// Level returns the error correction level.
func (c *Code) Level() Level { return c.level }

// Mode returns the mode the text was encoded in.
func (c *Code) Mode() Mode { return c.mode }

// Mask returns the data mask pattern, 0..7, chosen for the lowest penalty.
func (c *Code) Mask() int { return c.mask }

// Encode encodes text in the smallest QR Code version that holds it at
// level, choosing numeric, alphanumeric or byte mode (see Mode) and the mask
// with the lowest penalty. Text that does not fit version 40 yields a
// *TooLongError.
func Encode(text string, level Level) (*Code, error) {
	return encode(text, level, -1)
}

// encode is Encode with the mask forced when mask is 0..7 (for tests that
// compare with another encoder's choice), or chosen when it is -1.
func encode(text string, level Level, mask int) (*Code, error) {
	if !level.valid() {
		return nil, fmt.Errorf("%w: %d", ErrLevel, int8(level))
	}
	mode := chooseMode(text)
	ver, ok := chooseVersion(mode, len(text), level)
	if !ok {
		return nil, &TooLongError{Len: len(text), Mode: mode, Level: level, Max: capacity(MaxVersion, level, mode)}
	}
	data := dataCodewordsFor(text, mode, ver, level)
	cw := addErrorCorrection(data, ver, level)
	m := newMatrix(ver)
	m.drawFunctionPatterns()
	m.drawCodewords(cw)
	if mask < 0 {
		mask = m.bestMask(level)
	}
	m.applyMask(mask)
	m.drawFormat(level, mask)
	return &Code{version: ver, level: level, mode: mode, mask: mask, size: m.size, modules: m.dark}, nil
}

// chooseMode returns the most compact single mode covering text.
func chooseMode(text string) Mode {
	numeric, alnum := len(text) > 0, true
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c < '0' || c > '9' {
			numeric = false
		}
		if alnumValue(c) < 0 {
			alnum = false
			break
		}
	}
	switch {
	case numeric:
		return Numeric
	case alnum && len(text) > 0:
		return Alphanumeric
	}
	return Byte
}

// alnumValue returns the alphanumeric-mode value of c, or -1.
func alnumValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	switch c {
	case ' ':
		return 36
	case '$':
		return 37
	case '%':
		return 38
	case '*':
		return 39
	case '+':
		return 40
	case '-':
		return 41
	case '.':
		return 42
	case '/':
		return 43
	case ':':
		return 44
	}
	return -1
}

// countBits is the width of the character count indicator (table 3).
func countBits(mode Mode, ver int) int {
	group := 0
	switch {
	case ver >= 27:
		group = 2
	case ver >= 10:
		group = 1
	}
	switch mode {
	case Numeric:
		return [3]int{10, 12, 14}[group]
	case Alphanumeric:
		return [3]int{9, 11, 13}[group]
	}
	return [3]int{8, 16, 16}[group]
}

// payloadBits is the length in bits of n characters of mode.
func payloadBits(mode Mode, n int) int {
	switch mode {
	case Numeric:
		return 10*(n/3) + [3]int{0, 4, 7}[n%3]
	case Alphanumeric:
		return 11*(n/2) + 6*(n%2)
	}
	return 8 * n
}

// fits reports whether n characters of mode fit version ver at level.
func fits(mode Mode, n, ver int, level Level) bool {
	if n >= 1<<countBits(mode, ver) {
		return false
	}
	return 4+countBits(mode, ver)+payloadBits(mode, n) <= 8*dataCodewords(ver, level)
}

// chooseVersion returns the smallest version holding n characters of mode.
func chooseVersion(mode Mode, n int, level Level) (int, bool) {
	for ver := MinVersion; ver <= MaxVersion; ver++ {
		if fits(mode, n, ver, level) {
			return ver, true
		}
	}
	return 0, false
}

// capacity returns the most characters of mode a version holds at level.
func capacity(ver int, level Level, mode Mode) int {
	lo, hi := 0, 8*dataCodewords(ver, level) // a loose upper bound
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fits(mode, mid, ver, level) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// bitBuffer accumulates bits most significant first.
type bitBuffer struct {
	b []byte
	n int // bits written
}

func (w *bitBuffer) put(v uint32, bits int) {
	for i := bits - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(i)&1 != 0 {
			w.b[w.n/8] |= 0x80 >> uint(w.n%8)
		}
		w.n++
	}
}

// dataCodewordsFor builds the data codewords of text: mode indicator,
// character count, payload, terminator, zero bits to a byte boundary and the
// alternating pad codewords 0xEC 0x11. The caller has checked that it fits.
func dataCodewordsFor(text string, mode Mode, ver int, level Level) []byte {
	capBytes := dataCodewords(ver, level)
	w := bitBuffer{b: make([]byte, 0, capBytes)}
	w.put(uint32(mode), 4)
	w.put(uint32(len(text)), countBits(mode, ver))
	switch mode {
	case Numeric:
		for i := 0; i < len(text); i += 3 {
			j := min(i+3, len(text))
			v := uint32(0)
			for _, c := range []byte(text[i:j]) {
				v = v*10 + uint32(c-'0')
			}
			w.put(v, [4]int{0, 4, 7, 10}[j-i])
		}
	case Alphanumeric:
		i := 0
		for ; i+1 < len(text); i += 2 {
			w.put(uint32(alnumValue(text[i])*45+alnumValue(text[i+1])), 11)
		}
		if i < len(text) {
			w.put(uint32(alnumValue(text[i])), 6)
		}
	default:
		for i := 0; i < len(text); i++ {
			w.put(uint32(text[i]), 8)
		}
	}
	w.put(0, min(4, 8*capBytes-w.n)) // terminator, shortened when full
	if r := w.n % 8; r != 0 {
		w.put(0, 8-r)
	}
	for pad := byte(0xEC); len(w.b) < capBytes; pad ^= 0xEC ^ 0x11 {
		w.b = append(w.b, pad)
	}
	return w.b
}

// addErrorCorrection splits data into the version's blocks, appends each
// block's Reed–Solomon codewords and interleaves: the data codewords column
// by column across blocks, then the error correction codewords likewise.
func addErrorCorrection(data []byte, ver int, level Level) []byte {
	nBlocks := int(eccBlocks[level][ver])
	eccLen := int(eccPerBlock[level][ver])
	total := totalCodewords(ver)
	shortLen := total/nBlocks - eccLen // data codewords of a short block
	nShort := nBlocks - total%nBlocks  // the rest have one more
	gen := rsGenerator(eccLen)

	blocks := make([][]byte, nBlocks)
	eccs := make([][]byte, nBlocks)
	off := 0
	for i := range blocks {
		n := shortLen
		if i >= nShort {
			n++
		}
		blocks[i] = data[off : off+n]
		eccs[i] = rsRemainder(blocks[i], gen)
		off += n
	}
	out := make([]byte, 0, total)
	for i := 0; i <= shortLen; i++ {
		for _, b := range blocks {
			if i < len(b) {
				out = append(out, b[i])
			}
		}
	}
	for i := 0; i < eccLen; i++ {
		for _, e := range eccs {
			out = append(out, e[i])
		}
	}
	return out
}

package qr

import (
	"errors"
	"fmt"
)

// This file is a test-only decoder: it reads a Code back into text by the
// rules of the standard, independently of the encoder's data path (it
// shares only the function-pattern map and the block tables), so tests and
// the fuzz target can check every symbol they produce.

// readFormatRows reads the first copy of the format information of a
// symbol given as rows of '#' (dark) and '.' and returns its level and
// mask.
func readFormatRows(rows []string) (Level, int, bool) {
	return readFormat(func(x, y int) bool { return rows[y][x] == '#' })
}

// readFormat decodes the format information around the top-left finder;
// ok is false unless it is exactly a valid codeword.
func readFormat(dark func(x, y int) bool) (level Level, mask int, ok bool) {
	// Bit i, from the least significant, at these (x, y).
	pos := [15][2]int{{8, 0}, {8, 1}, {8, 2}, {8, 3}, {8, 4}, {8, 5}, {8, 7}, {8, 8},
		{7, 8}, {5, 8}, {4, 8}, {3, 8}, {2, 8}, {1, 8}, {0, 8}}
	bits := 0
	for i, p := range pos {
		if dark(p[0], p[1]) {
			bits |= 1 << i
		}
	}
	for _, l := range []Level{L, M, Q, H} {
		for k := 0; k < 8; k++ {
			if formatInfo(l, k) == bits {
				return l, k, true
			}
		}
	}
	return 0, 0, false
}

// readFormatCopy2 decodes the second copy of the format information.
func readFormatCopy2(c *Code) (Level, int, bool) {
	s := c.Size()
	bits := 0
	for i := 0; i < 8; i++ {
		if c.Black(s-1-i, 8) {
			bits |= 1 << i
		}
	}
	for i := 8; i < 15; i++ {
		if c.Black(8, s-15+i) {
			bits |= 1 << i
		}
	}
	for _, l := range []Level{L, M, Q, H} {
		for k := 0; k < 8; k++ {
			if formatInfo(l, k) == bits {
				return l, k, true
			}
		}
	}
	return 0, 0, false
}

// gfPow returns α^e.
func gfPow(e int) byte { return gfExp[e%255] }

// syndromesZero reports whether block (data then error correction
// codewords, highest degree first) is a codeword of the RS code with ecc
// check symbols: block(αⁱ) = 0 for i < ecc.
func syndromesZero(block []byte, ecc int) bool {
	for i := 0; i < ecc; i++ {
		var s byte
		a := gfPow(i)
		for _, c := range block { // Horner
			s = gfMul(s, a) ^ c
		}
		if s != 0 {
			return false
		}
	}
	return true
}

// decode reads a symbol back: format information (both copies), version
// information, unmasking, the zig-zag codeword order, de-interleaving, a
// Reed–Solomon check of every block and the segment. It returns the text
// and the mode.
func decode(c *Code) (string, Mode, error) {
	size := c.Size()
	ver := (size - 17) / 4
	if size < 21 || size > 177 || (size-17)%4 != 0 {
		return "", 0, fmt.Errorf("bad size %d", size)
	}
	level, mask, ok := readFormat(c.Black)
	if !ok {
		return "", 0, errors.New("bad format information")
	}
	l2, m2, ok := readFormatCopy2(c)
	if !ok || l2 != level || m2 != mask {
		return "", 0, errors.New("format information copies differ")
	}
	if !c.Black(8, size-8) {
		return "", 0, errors.New("no dark module")
	}
	if ver >= 7 {
		want := versionInfo(ver)
		for i := 0; i < 18; i++ {
			a, b := size-11+i%3, i/3
			bit := want>>i&1 != 0
			if c.Black(a, b) != bit || c.Black(b, a) != bit {
				return "", 0, fmt.Errorf("version information bit %d", i)
			}
		}
	}
	fm := newMatrix(ver)
	fm.drawFunctionPatterns()
	for i, f := range fm.function {
		x, y := i%size, i/size
		// Format information modules depend on the mask; compare the rest.
		if f && !isFormatModule(x, y, size) && fm.dark[i] != c.Black(x, y) {
			return "", 0, fmt.Errorf("function pattern module (%d,%d)", x, y)
		}
	}
	// Read every non-function module in placement order, unmasking.
	var bits []bool
	for right := size - 1; right >= 1; right -= 2 {
		if right == 6 {
			right--
		}
		up := ((size-1-right)/2)%2 == 0
		if right < 6 {
			up = ((size-1-(right+1))/2)%2 == 0
		}
		for v := 0; v < size; v++ {
			y := v
			if up {
				y = size - 1 - v
			}
			for _, x := range []int{right, right - 1} {
				if fm.function[y*size+x] {
					continue
				}
				bits = append(bits, c.Black(x, y) != maskBit(mask, x, y))
			}
		}
	}
	total := totalCodewords(ver)
	if len(bits) != rawModules(ver) {
		return "", 0, fmt.Errorf("%d data modules, want %d", len(bits), rawModules(ver))
	}
	for _, b := range bits[total*8:] {
		if b {
			return "", 0, errors.New("remainder bit set")
		}
	}
	cw := make([]byte, total)
	for i := range cw {
		for j := 0; j < 8; j++ {
			if bits[i*8+j] {
				cw[i] |= 0x80 >> j
			}
		}
	}
	// De-interleave.
	nb, ecc := int(eccBlocks[level][ver]), int(eccPerBlock[level][ver])
	nShort := nb - total%nb
	shortData := total/nb - ecc
	blocks := make([][]byte, nb)
	k := 0
	for i := 0; i <= shortData; i++ {
		for b := range blocks {
			if i < shortData || b >= nShort {
				blocks[b] = append(blocks[b], cw[k])
				k++
			}
		}
	}
	for i := 0; i < ecc; i++ {
		for b := range blocks {
			blocks[b] = append(blocks[b], cw[k])
			k++
		}
	}
	var data []byte
	for b, blk := range blocks {
		if !syndromesZero(blk, ecc) {
			return "", 0, fmt.Errorf("block %d fails the Reed–Solomon check", b)
		}
		data = append(data, blk[:len(blk)-ecc]...)
	}
	return parseSegment(data, ver)
}

func isFormatModule(x, y, size int) bool {
	return (x == 8 && (y <= 8 || y >= size-7)) || (y == 8 && (x <= 8 || x >= size-8))
}

// parseSegment parses one segment, the terminator and the padding.
func parseSegment(data []byte, ver int) (string, Mode, error) {
	pos := 0
	read := func(n int) (int, error) {
		if pos+n > len(data)*8 {
			return 0, errors.New("data ends early")
		}
		v := 0
		for i := 0; i < n; i++ {
			v = v<<1 | int(data[pos/8]>>(7-pos%8)&1)
			pos++
		}
		return v, nil
	}
	m, err := read(4)
	if err != nil {
		return "", 0, err
	}
	mode := Mode(m)
	if mode != Numeric && mode != Alphanumeric && mode != Byte {
		return "", 0, fmt.Errorf("mode %d", m)
	}
	n, err := read(countBits(mode, ver))
	if err != nil {
		return "", 0, err
	}
	const an = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	var out []byte
	for len(out) < n {
		switch mode {
		case Numeric:
			d := min(3, n-len(out))
			v, err := read([4]int{0, 4, 7, 10}[d])
			if err != nil {
				return "", 0, err
			}
			out = fmt.Appendf(out, "%0*d", d, v)
		case Alphanumeric:
			if n-len(out) >= 2 {
				v, err := read(11)
				if err != nil {
					return "", 0, err
				}
				if v >= 45*45 {
					return "", 0, errors.New("alphanumeric pair out of range")
				}
				out = append(out, an[v/45], an[v%45])
			} else {
				v, err := read(6)
				if err != nil {
					return "", 0, err
				}
				if v >= 45 {
					return "", 0, errors.New("alphanumeric character out of range")
				}
				out = append(out, an[v])
			}
		default:
			v, err := read(8)
			if err != nil {
				return "", 0, err
			}
			out = append(out, byte(v))
		}
	}
	// Terminator (up to 4 zero bits), zero bits to the byte, pad codewords.
	for i := 0; i < 4 && pos < len(data)*8; i++ {
		if v, _ := read(1); v != 0 {
			return "", 0, errors.New("terminator not zero")
		}
	}
	for pos%8 != 0 {
		if v, _ := read(1); v != 0 {
			return "", 0, errors.New("bit padding not zero")
		}
	}
	for i, pad := pos/8, byte(0xEC); i < len(data); i, pad = i+1, pad^0xEC^0x11 {
		if data[i] != pad {
			return "", 0, fmt.Errorf("pad codeword %d is %#x", i, data[i])
		}
	}
	return string(out), mode, nil
}

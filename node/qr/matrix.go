package qr

// matrix is a symbol under construction.
type matrix struct {
	size     int
	dark     []bool // true = dark module
	function []bool // true = function pattern or format/version information
}

func newMatrix(ver int) *matrix {
	size := 4*ver + 17
	return &matrix{size: size, dark: make([]bool, size*size), function: make([]bool, size*size)}
}

func (m *matrix) version() int { return (m.size - 17) / 4 }

// setFunction sets a function module at column x, row y.
func (m *matrix) setFunction(x, y int, dark bool) {
	m.dark[y*m.size+x] = dark
	m.function[y*m.size+x] = true
}

// drawFunctionPatterns draws everything but the data: finders with their
// separators, timing patterns, alignment patterns, version information and
// the dark module, and reserves the format information areas (drawn for
// real by drawFormat once the mask is known).
func (m *matrix) drawFunctionPatterns() {
	size := m.size
	for i := 0; i < size; i++ {
		m.setFunction(6, i, i%2 == 0)
		m.setFunction(i, 6, i%2 == 0)
	}
	m.drawFinder(3, 3)
	m.drawFinder(size-4, 3)
	m.drawFinder(3, size-4)
	pos := alignmentPositions(m.version())
	last := len(pos) - 1
	for i, y := range pos {
		for j, x := range pos {
			// Not where a finder is.
			if (i == 0 && j == 0) || (i == 0 && j == last) || (i == last && j == 0) {
				continue
			}
			m.drawAlignment(x, y)
		}
	}
	m.drawFormat(M, 0) // placeholder: reserves the modules
	m.drawVersion()
}

// drawFinder draws a 7×7 finder pattern centred on (cx, cy) with its light
// separator, clipped to the symbol.
func (m *matrix) drawFinder(cx, cy int) {
	for dy := -4; dy <= 4; dy++ {
		for dx := -4; dx <= 4; dx++ {
			x, y := cx+dx, cy+dy
			if x < 0 || y < 0 || x >= m.size || y >= m.size {
				continue
			}
			d := max(abs(dx), abs(dy)) // Chebyshev distance: rings
			m.setFunction(x, y, d != 2 && d != 4)
		}
	}
}

// drawAlignment draws a 5×5 alignment pattern centred on (cx, cy).
func (m *matrix) drawAlignment(cx, cy int) {
	for dy := -2; dy <= 2; dy++ {
		for dx := -2; dx <= 2; dx++ {
			m.setFunction(cx+dx, cy+dy, max(abs(dx), abs(dy)) != 1)
		}
	}
}

// formatInfo returns the 15 format information bits for a level and mask:
// 5 data bits, 10 BCH(15,5) check bits (generator 10100110111), XORed with
// 101010000010010.
func formatInfo(level Level, mask int) int {
	data := formatBits[level]<<3 | mask
	rem := data
	for i := 0; i < 10; i++ {
		rem = rem<<1 ^ (rem>>9)*0x537
	}
	return (data<<10 | rem) ^ 0x5412
}

// drawFormat draws both copies of the format information and the dark
// module. Bit 14 is the most significant.
func (m *matrix) drawFormat(level Level, mask int) {
	bits := formatInfo(level, mask)
	bit := func(i int) bool { return bits>>uint(i)&1 != 0 }
	// Around the top-left finder: bits 0–7 down column 8 (skipping the
	// timing row), bits 8–14 leftwards along row 8 (skipping the timing
	// column).
	for i := 0; i <= 5; i++ {
		m.setFunction(8, i, bit(i))
	}
	m.setFunction(8, 7, bit(6))
	m.setFunction(8, 8, bit(7))
	m.setFunction(7, 8, bit(8))
	for i := 9; i < 15; i++ {
		m.setFunction(14-i, 8, bit(i))
	}
	// Second copy: bits 0–7 along row 8 from the right edge leftwards,
	// bits 8–14 down column 8 near the bottom.
	size := m.size
	for i := 0; i < 8; i++ {
		m.setFunction(size-1-i, 8, bit(i))
	}
	for i := 8; i < 15; i++ {
		m.setFunction(8, size-15+i, bit(i))
	}
	m.setFunction(8, size-8, true) // the dark module
}

// versionInfo returns the 18 version information bits: 6 version bits and
// 12 BCH(18,6) check bits (generator 1111100100101).
func versionInfo(ver int) int {
	rem := ver
	for i := 0; i < 12; i++ {
		rem = rem<<1 ^ (rem>>11)*0x1F25
	}
	return ver<<12 | rem
}

// drawVersion draws the two 6×3 version information blocks (versions ≥ 7)
// next to the top-right and bottom-left finders.
func (m *matrix) drawVersion() {
	ver := m.version()
	if ver < 7 {
		return
	}
	bits := versionInfo(ver)
	for i := 0; i < 18; i++ {
		dark := bits>>uint(i)&1 != 0
		a, b := m.size-11+i%3, i/3
		m.setFunction(a, b, dark) // top right: 3 wide, 6 high
		m.setFunction(b, a, dark) // bottom left: 6 wide, 3 high
	}
}

// drawCodewords places the codewords, most significant bit first, in
// two-module-wide columns from the bottom-right corner, zig-zagging up and
// down and skipping function modules and the vertical timing pattern.
// Remainder modules stay light (before masking).
func (m *matrix) drawCodewords(cw []byte) {
	i, n := 0, len(cw)*8
	for right := m.size - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		upward := (right+1)&2 == 0
		for v := 0; v < m.size; v++ {
			y := v
			if upward {
				y = m.size - 1 - v
			}
			for j := 0; j < 2; j++ {
				x := right - j
				k := y*m.size + x
				if m.function[k] || i >= n {
					continue
				}
				m.dark[k] = cw[i>>3]>>(7-uint(i&7))&1 != 0
				i++
			}
		}
	}
}

// maskBit reports whether mask pattern k inverts the module in column x,
// row y (table 10; i = row, j = column there).
func maskBit(k, x, y int) bool {
	switch k {
	case 0:
		return (x+y)%2 == 0
	case 1:
		return y%2 == 0
	case 2:
		return x%3 == 0
	case 3:
		return (x+y)%3 == 0
	case 4:
		return (x/3+y/2)%2 == 0
	case 5:
		return x*y%2+x*y%3 == 0
	case 6:
		return (x*y%2+x*y%3)%2 == 0
	default:
		return ((x+y)%2+x*y%3)%2 == 0
	}
}

// applyMask XORs mask pattern k into the non-function modules; applying it
// twice undoes it.
func (m *matrix) applyMask(k int) {
	for y := 0; y < m.size; y++ {
		for x := 0; x < m.size; x++ {
			i := y*m.size + x
			if !m.function[i] && maskBit(k, x, y) {
				m.dark[i] = !m.dark[i]
			}
		}
	}
}

// maskPatterns returns, for every module, a byte whose bit k is set when
// mask pattern k inverts it (never for function modules): maskBit for all
// eight patterns at once, from x and y modulo 2 and 3.
func (m *matrix) maskPatterns() []uint8 {
	pat := make([]uint8, len(m.dark))
	for y := 0; y < m.size; y++ {
		y2, y3 := y&1, y%3
		for x := 0; x < m.size; x++ {
			i := y*m.size + x
			if m.function[i] {
				continue
			}
			x2, x3 := x&1, x%3
			xy2, xy3 := x2&y2, x3*y3%3 // x·y mod 2, x·y mod 3
			pat[i] = flag(0, (x+y)&1 == 0) | flag(1, y2 == 0) | flag(2, x3 == 0) |
				flag(3, (x3+y3)%3 == 0) | flag(4, (x/3+y/2)&1 == 0) | flag(5, xy2+xy3 == 0) |
				flag(6, (xy2+xy3)&1 == 0) | flag(7, ((x+y)&1+xy3)&1 == 0)
		}
	}
	return pat
}

// flag returns 1<<k if c, else 0.
func flag(k int, c bool) uint8 {
	if c {
		return 1 << k
	}
	return 0
}

// bestMask returns the mask with the lowest penalty, the lowest-numbered one
// on a tie. It leaves m unchanged.
func (m *matrix) bestMask(level Level) int {
	pat := m.maskPatterns()
	masked := &matrix{size: m.size, dark: make([]bool, len(m.dark)), function: m.function}
	scratch := make([]bool, len(m.dark))
	best, bestScore := 0, -1
	for k := 0; k < 8; k++ {
		bit := uint8(1) << k
		for i, d := range m.dark {
			masked.dark[i] = d != (pat[i]&bit != 0)
		}
		masked.drawFormat(level, k) // only sets modules already marked function
		if s := penalty(masked.dark, m.size, scratch); bestScore < 0 || s < bestScore {
			best, bestScore = k, s
		}
	}
	return best
}

// Penalty weights (section 7.8.3.1).
const (
	penaltyN1 = 3
	penaltyN2 = 3
	penaltyN3 = 40
	penaltyN4 = 10
)

// penalty scores a masked symbol (dark is size×size, row-major) by the four
// rules of the standard:
//
//   - N1: each run of 5 + i same-coloured modules in a row or column scores
//     3 + i;
//   - N2: each 2×2 block of one colour scores 3 (an m×n block thus scores
//     3·(m−1)·(n−1));
//   - N3: each 1:1:3:1:1 dark:light:dark:light:dark pattern in a row or
//     column (of any unit width u) that is preceded or followed by at
//     least 4u light modules scores 40, once even if both sides qualify
//     (table 11 scores the "existence of the pattern"); the quiet zone
//     counts as light;
//   - N4: 10 for each full 5 % step by which the share of dark modules lies
//     more than 5 % away from one half (45–55 % scores 0).
//
// scratch, of the same length as dark, is overwritten (it holds the
// transposed symbol, so that columns are read like rows).
func penalty(dark []bool, size int, scratch []bool) int {
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			scratch[x*size+y] = dark[y*size+x]
		}
	}
	score := 0
	runs := make([]int, 0, size+2) // reused for every line
	for line := 0; line < 2*size; line++ {
		var l []bool
		if line < size {
			l = dark[line*size : (line+1)*size] // a row
		} else {
			l = scratch[(line-size)*size : (line-size+1)*size] // a column
		}
		// Run lengths along the line.
		runs = runs[:0]
		first, prev, n := l[0], l[0], 0
		for _, d := range l {
			if d == prev {
				n++
				continue
			}
			runs = append(runs, n)
			prev, n = d, 1
		}
		runs = append(runs, n)
		// N1.
		for _, r := range runs {
			if r >= 5 {
				score += penaltyN1 + r - 5
			}
		}
		// Extend with the quiet zone so that the line starts and ends
		// with a light run: even indices are then light runs.
		if first {
			runs = append(runs, 0)
			copy(runs[1:], runs)
			runs[0] = size
		} else {
			runs[0] += size
		}
		if prev {
			runs = append(runs, size)
		} else {
			runs[len(runs)-1] += size
		}
		// N3: a dark run of 3u at odd index i with runs u at i±1, i±2.
		for i := 3; i+3 < len(runs); i += 2 {
			u := runs[i-1]
			if runs[i] != 3*u || runs[i-2] != u || runs[i+1] != u || runs[i+2] != u {
				continue
			}
			if runs[i-3] >= 4*u || runs[i+3] >= 4*u {
				score += penaltyN3
			}
		}
	}
	// N2.
	for y := 0; y+1 < size; y++ {
		for x := 0; x+1 < size; x++ {
			c := dark[y*size+x]
			if dark[y*size+x+1] == c && dark[(y+1)*size+x] == c && dark[(y+1)*size+x+1] == c {
				score += penaltyN2
			}
		}
	}
	// N4: k = ceil(|dark/total − 1/2| / 5 %) − 1, computed in integers.
	nDark := 0
	for _, d := range dark {
		if d {
			nDark++
		}
	}
	total := size * size
	k := (abs(20*nDark-10*total)+total-1)/total - 1
	score += max(k, 0) * penaltyN4
	return score
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

package qr

// Error correction parameters from ISO/IEC 18004 table 9, indexed by
// [level][version]; index 0 is unused. The levels are in Level order:
// M, L, Q, H.

// eccPerBlock is the number of error correction codewords in each block.
var eccPerBlock = [4][41]int8{
	// M
	{-1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
		26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28},
	// L
	{-1, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28,
		28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30},
	// Q
	{-1, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30,
		28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30},
	// H
	{-1, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28,
		30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30},
}

// eccBlocks is the number of error correction blocks.
var eccBlocks = [4][41]int8{
	// M
	{-1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
		17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49},
	// L
	{-1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8,
		8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25},
	// Q
	{-1, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20,
		23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68},
	// H
	{-1, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25,
		25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81},
}

// rawModules returns the number of modules of a version-ver symbol that
// carry codewords or remainder bits: everything but the function patterns
// and the format and version information.
func rawModules(ver int) int {
	n := (16*ver+128)*ver + 64 // size² minus finders, separators, timing, format
	if ver >= 2 {
		align := ver/7 + 2
		n -= (25*align-10)*align - 55 // alignment patterns, less their overlap with timing
		if ver >= 7 {
			n -= 36 // two version information blocks
		}
	}
	return n
}

// totalCodewords is the number of 8-bit codewords of a version (data and
// error correction); the remainder bits rawModules(ver)%8 are left over.
func totalCodewords(ver int) int { return rawModules(ver) / 8 }

// dataCodewords is the number of data codewords of a version at a level.
func dataCodewords(ver int, lvl Level) int {
	return totalCodewords(ver) - int(eccPerBlock[lvl][ver])*int(eccBlocks[lvl][ver])
}

// alignmentPositions returns the row/column centres of the alignment
// patterns of a version (table E.1): 6, then evenly spaced up to size-7
// with an even step.
func alignmentPositions(ver int) []int {
	if ver == 1 {
		return nil
	}
	n := ver/7 + 2
	size := 4*ver + 17
	step := (ver*8 + n*3 + 5) / (n*4 - 4) * 2
	pos := make([]int, n)
	pos[0] = 6
	for i, p := n-1, size-7; i >= 1; i, p = i-1, p-step {
		pos[i] = p
	}
	return pos
}

package qr

import (
	"bufio"
	"io"
)

// QuietZone is the width in modules of the light border the standard
// requires around a symbol.
const QuietZone = 4

// TerminalOptions control WriteTerminal.
type TerminalOptions struct {
	// Invert draws the light modules (and the quiet zone) as blocks and
	// leaves the dark ones blank: for light text on a dark background,
	// where the blocks are the lighter colour. Without it the blocks are
	// the dark modules, for dark text on a light background (or paper).
	Invert bool
	// QuietZone is the border width in modules; 0 or less means the
	// standard 4.
	// A smaller border saves width but some readers then fail.
	QuietZone int
}

// Width returns the number of terminal columns WriteTerminal uses for c.
func (c *Code) Width(opt TerminalOptions) int { return c.size + 2*opt.quiet() }

func (o TerminalOptions) quiet() int {
	if o.QuietZone <= 0 {
		return QuietZone
	}
	return o.QuietZone
}

// WriteTerminal draws c with its quiet zone using Unicode half blocks, two
// module rows per line of text ('█' both, '▀' upper only, '▄' lower only,
// ' ' neither) and one module per column, each line ending in '\n'. The
// half row below the last module row, if the height is odd, is left blank.
func (c *Code) WriteTerminal(w io.Writer, opt TerminalOptions) error {
	q := opt.quiet()
	bw := bufio.NewWriter(w)
	on := func(x, y int) bool {
		if y >= c.size+q { // below the bottom quiet zone: terminal background
			return false
		}
		return c.Black(x, y) != opt.Invert
	}
	for y := -q; y < c.size+q; y += 2 {
		for x := -q; x < c.size+q; x++ {
			switch top, bottom := on(x, y), on(x, y+1); {
			case top && bottom:
				bw.WriteString("█")
			case top:
				bw.WriteString("▀")
			case bottom:
				bw.WriteString("▄")
			default:
				bw.WriteByte(' ')
			}
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

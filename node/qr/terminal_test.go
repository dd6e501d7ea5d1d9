package qr

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// parseTerminal turns WriteTerminal output back into rows of "on" cells
// (two per line: upper and lower half).
func parseTerminal(t *testing.T, s string) [][]bool {
	t.Helper()
	var rows [][]bool
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		var top, bottom []bool
		for _, r := range line {
			switch r {
			case '█':
				top, bottom = append(top, true), append(bottom, true)
			case '▀':
				top, bottom = append(top, true), append(bottom, false)
			case '▄':
				top, bottom = append(top, false), append(bottom, true)
			case ' ':
				top, bottom = append(top, false), append(bottom, false)
			default:
				t.Fatalf("unexpected rune %q", r)
			}
		}
		rows = append(rows, top, bottom)
	}
	return rows
}

func TestWriteTerminal(t *testing.T) {
	c, err := Encode("MESHLOGD1-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", M)
	if err != nil {
		t.Fatal(err)
	}
	for _, opt := range []TerminalOptions{{}, {Invert: true}, {QuietZone: 2}, {Invert: true, QuietZone: 1}} {
		var b bytes.Buffer
		if err := c.WriteTerminal(&b, opt); err != nil {
			t.Fatal(err)
		}
		q := opt.quiet()
		width := c.Size() + 2*q
		if c.Width(opt) != width {
			t.Errorf("Width %d, want %d", c.Width(opt), width)
		}
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if want := (width + 1) / 2; len(lines) != want {
			t.Fatalf("%+v: %d lines, want %d", opt, len(lines), want)
		}
		for i, l := range lines {
			if n := utf8.RuneCountInString(l); n != width {
				t.Fatalf("%+v: line %d is %d columns, want %d", opt, i, n, width)
			}
		}
		rows := parseTerminal(t, b.String())
		for y := -q; y < c.Size()+q; y++ {
			for x := -q; x < c.Size()+q; x++ {
				if got, want := rows[y+q][x+q], c.Black(x, y) != opt.Invert; got != want {
					t.Fatalf("%+v: module (%d,%d) drawn %v, want %v", opt, x, y, got, want)
				}
			}
		}
		// The half row below the symbol (the height is odd) is blank.
		for x, on := range rows[len(rows)-1] {
			if on {
				t.Fatalf("%+v: padding half row drawn at column %d", opt, x)
			}
		}
	}
}

// TestWriteTerminalFinder checks the exact characters of a top-left
// finder pattern drawn dark-on-light with a one-module quiet zone.
func TestWriteTerminalFinder(t *testing.T) {
	c, _ := Encode("1", L)
	var b bytes.Buffer
	if err := c.WriteTerminal(&b, TerminalOptions{QuietZone: 1}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	// Quiet row 0 and finder row 0 share the first line; the finder's
	// rows 1–6 follow, two per line.
	want := []string{
		" ▄▄▄▄▄▄▄ ",
		" █ ▄▄▄ █ ",
		" █ ███ █ ",
		" █▄▄▄▄▄█ ",
	}
	for i, w := range want {
		if got := string([]rune(lines[i])[:9]); got != w {
			t.Errorf("line %d: %q, want %q", i, got, w)
		}
	}
}

package qr

import (
	"errors"
	"testing"
)

// FuzzEncode encodes arbitrary text at an arbitrary level: it must not
// panic, must fail only with ErrLevel or ErrTooLong, and every symbol it
// makes must decode back to the text in the smallest version that holds it.
func FuzzEncode(f *testing.F) {
	// lvl%6: 0 and 5 are invalid levels, 1–4 are M, L, Q, H.
	f.Add("HELLO WORLD", byte(3))
	f.Add("hello, meshlogd", byte(1))
	f.Add("", byte(2))
	f.Add("0123456789", byte(4))
	f.Add("x", byte(0))
	f.Fuzz(func(t *testing.T, text string, lvl byte) {
		level := Level(int(lvl%6) - 1) // includes the invalid -1 and 4
		c, err := Encode(text, level)
		if err != nil {
			if !level.valid() && errors.Is(err, ErrLevel) {
				return
			}
			var tl *TooLongError
			if errors.As(err, &tl) && errors.Is(err, ErrTooLong) && level.valid() &&
				len(text) > capacity(MaxVersion, level, chooseMode(text)) {
				return
			}
			t.Fatalf("Encode(%d bytes, %v): %v", len(text), level, err)
		}
		if !level.valid() {
			t.Fatalf("level %d accepted", level)
		}
		if c.Size() != 17+4*c.Version() || c.Level() != level {
			t.Fatalf("size %d for version %d", c.Size(), c.Version())
		}
		if c.Version() > 1 && fits(c.Mode(), len(text), c.Version()-1, level) {
			t.Fatalf("version %d is not the smallest", c.Version())
		}
		got, mode, err := decode(c)
		if err != nil || got != text || mode != c.Mode() {
			t.Fatalf("decoded %q (%v), %v", got, mode, err)
		}
	})
}

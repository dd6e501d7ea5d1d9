package qr

import (
	"bufio"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Verification notes. During development the encoder was checked against
// two independent programs, neither of which the committed tests need:
//
//   - libqrencode 4.1.1 (Debian qrencode): for 3300 random texts (numeric,
//     alphanumeric, byte, invite-like; 1–1500 characters; all four levels)
//     Encode's symbol was identical to qrencode's, module for module, with
//     the mask forced to qrencode's choice (one exception: "09", which
//     qrencode -8 had to put in byte mode and Encode puts in numeric), and
//     Encode chose the same mask in all but 2 of them. libqrencode rounds
//     the N4 dark share to a whole percent first, so on symbols whose share
//     lies within half a percent of a 5 % step the two may pick different
//     masks; TestGolden then reports whether only the mask differs. Fed
//     this package's eight masked symbols, libqrencode's own scoring code
//     picked qrencode's mask in 300 of 300 cases. The files in
//     testdata/golden are a sample of such symbols (golden_gen_test.go made
//     them) and TestGolden compares Encode's output with them.
//   - zbar 0.23.92 (zbarimg, QR symbology only, on PNGs rendered from
//     Code.Black): 480 of 480 symbols decoded to the input, covering every
//     version 1–40 at every level in numeric, alphanumeric and byte mode at
//     or just above a version boundary.

type golden struct {
	name    string
	input   string
	level   Level
	version int
	mask    int
	rows    []string
}

// diffGolden counts the modules where c differs from rows.
func diffGolden(t *testing.T, c *Code, rows []string) int {
	t.Helper()
	diff := 0
	for y, row := range rows {
		if len(row) != c.Size() {
			t.Fatalf("row %d has %d modules, want %d", y, len(row), c.Size())
		}
		for x := range row {
			if c.Black(x, y) != (row[x] == '#') {
				diff++
			}
		}
	}
	return diff
}

func loadGolden(t *testing.T) []golden {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	var out []golden
	for _, f := range files {
		g := golden{name: filepath.Base(f)}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			key, val, hasKey := strings.Cut(line, ": ")
			switch {
			case strings.HasPrefix(line, "//"):
			case hasKey && key == "input":
				if g.input, err = strconv.Unquote(val); err != nil {
					t.Fatalf("%s: input: %v", f, err)
				}
			case hasKey && key == "level":
				g.level = map[string]Level{"L": L, "M": M, "Q": Q, "H": H}[val]
			case hasKey && key == "version":
				g.version, _ = strconv.Atoi(val)
			case hasKey && key == "mask":
				g.mask, _ = strconv.Atoi(val)
			default:
				g.rows = append(g.rows, line)
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		if len(g.rows) != 17+4*g.version {
			t.Fatalf("%s: %d rows for version %d", f, len(g.rows), g.version)
		}
		out = append(out, g)
	}
	return out
}

// TestGolden compares the encoder with symbols made by libqrencode: Encode
// must reproduce them module for module. On a mismatch it also encodes
// with qrencode's mask forced, to tell a different mask choice from a
// different symbol.
func TestGolden(t *testing.T) {
	versions := map[int]bool{}
	for _, g := range loadGolden(t) {
		t.Run(g.name, func(t *testing.T) {
			lvl, mask, ok := readFormatRows(g.rows)
			if !ok || lvl != g.level || mask != g.mask {
				t.Fatalf("golden format information %v/%d/%v, header says %s/%d", lvl, mask, ok, g.level, g.mask)
			}
			c, err := Encode(g.input, g.level)
			if err != nil {
				t.Fatal(err)
			}
			if c.Version() != g.version {
				t.Fatalf("version %d, qrencode %d", c.Version(), g.version)
			}
			if diff := diffGolden(t, c, g.rows); diff > 0 {
				forced, err := encode(g.input, g.level, g.mask)
				if err != nil {
					t.Fatal(err)
				}
				if fd := diffGolden(t, forced, g.rows); fd > 0 {
					t.Fatalf("%d modules differ; still %d with qrencode's mask %d forced", diff, fd, g.mask)
				}
				t.Fatalf("mask %d chosen (penalty %d), qrencode chose %d (penalty %d here); with it forced the symbols are identical",
					c.Mask(), score(c.modules, c.size), g.mask, score(forced.modules, forced.size))
			}
			if text, _, err := decode(c); err != nil || text != g.input {
				t.Errorf("decode: %q, %v", text, err)
			}
			versions[g.version] = true
		})
	}
	// Three count-indicator groups and version information must be covered.
	for _, v := range []int{1, 13, 27} {
		found := false
		for have := range versions {
			if (v == 1 && have < 7) || (v == 13 && have >= 10 && have < 27) || (v == 27 && have >= 27) {
				found = true
			}
		}
		if !found {
			t.Errorf("golden files cover no version in the group of %d", v)
		}
	}
}

// TestReedSolomonKnownAnswer checks the classic "HELLO WORLD" 1-M example
// (data and error correction codewords as published in tutorials on the
// standard) and the degree-7 and -10 generator polynomials of Annex A.
func TestReedSolomonKnownAnswer(t *testing.T) {
	data := dataCodewordsFor("HELLO WORLD", Alphanumeric, 1, M)
	wantData := []byte{32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17}
	if string(data) != string(wantData) {
		t.Fatalf("data codewords %v\nwant %v", data, wantData)
	}
	ecc := rsRemainder(data, rsGenerator(10))
	wantECC := []byte{196, 35, 39, 119, 235, 215, 231, 226, 93, 23}
	if string(ecc) != string(wantECC) {
		t.Fatalf("ecc %v\nwant %v", ecc, wantECC)
	}
	// Generator polynomials as exponents of α, highest degree first after
	// the leading x^n (Annex A).
	for n, want := range map[int][]int{
		7:  {87, 229, 146, 149, 238, 102, 21},
		10: {251, 67, 46, 61, 118, 70, 64, 94, 32, 45},
	} {
		g := rsGenerator(n)
		for i, e := range want {
			if g[i] != gfPow(e) {
				t.Errorf("degree %d coefficient %d: α^%d, want α^%d", n, i, gfLog[g[i]], e)
			}
		}
	}
	// Field sanity: every non-zero element has an inverse.
	for a := 1; a < 256; a++ {
		if gfMul(byte(a), gfExp[255-int(gfLog[a])]) != 1 {
			t.Fatalf("%d has no inverse", a)
		}
	}
}

// TestFormatAndVersionInfo checks the BCH codes against the worked
// examples of Annexes C and D.
func TestFormatAndVersionInfo(t *testing.T) {
	if got, want := formatInfo(M, 5), 0b100000011001110; got != want {
		t.Errorf("format M/5 = %015b, want %015b", got, want)
	}
	if got, want := versionInfo(7), 0b000111110010010100; got != want {
		t.Errorf("version 7 = %018b, want %018b", got, want)
	}
	// All 32 format codewords are distinct and at Hamming distance ≥ 7
	// (version codewords: ≥ 8), which is what lets a reader correct them.
	var all []int
	for _, l := range []Level{L, M, Q, H} {
		for k := 0; k < 8; k++ {
			all = append(all, formatInfo(l, k))
		}
	}
	minDistance(t, "format", all, 7)
	var vers []int
	for v := 7; v <= 40; v++ {
		vers = append(vers, versionInfo(v))
	}
	minDistance(t, "version", vers, 8)
}

func minDistance(t *testing.T, what string, words []int, d int) {
	t.Helper()
	for i := range words {
		for j := i + 1; j < len(words); j++ {
			x, n := words[i]^words[j], 0
			for ; x != 0; x &= x - 1 {
				n++
			}
			if n < d {
				t.Errorf("%s codewords %d and %d at distance %d", what, i, j, n)
			}
		}
	}
}

// TestTables checks the version tables against published figures of the
// standard: table 1 (codewords), table 7 (capacities) and table E.1.
func TestTables(t *testing.T) {
	for ver, want := range map[int]int{1: 26, 2: 44, 7: 196, 10: 346, 14: 581, 27: 1828, 40: 3706} {
		if got := totalCodewords(ver); got != want {
			t.Errorf("version %d: %d codewords, want %d", ver, got, want)
		}
	}
	for ver := 1; ver <= 40; ver++ {
		for _, l := range []Level{L, M, Q, H} {
			n, e := int(eccBlocks[l][ver]), int(eccPerBlock[l][ver])
			total := totalCodewords(ver)
			// Blocks differ by at most one data codeword and no block has
			// fewer data than error correction codewords beyond the
			// standard's p misdecode protection (versions 1–3 at L/M).
			if short := total/n - e; short <= 0 {
				t.Errorf("v%d %s: blocks of %d data codewords", ver, l, short)
			}
			if ver > 1 && dataCodewords(ver, l) <= dataCodewords(ver-1, l) {
				t.Errorf("v%d %s: capacity does not grow", ver, l)
			}
		}
	}
	caps := []struct {
		ver                   int
		level                 Level
		numeric, alnum, bytes int
	}{
		{1, L, 41, 25, 17}, {1, M, 34, 20, 14}, {1, Q, 27, 16, 11}, {1, H, 17, 10, 7},
		{10, M, 513, 311, 213}, {13, L, 1022, 619, 425},
		{40, L, 7089, 4296, 2953}, {40, M, 5596, 3391, 2331}, {40, Q, 3993, 2420, 1663}, {40, H, 3057, 1852, 1273},
	}
	for _, c := range caps {
		for _, m := range []struct {
			mode Mode
			want int
		}{{Numeric, c.numeric}, {Alphanumeric, c.alnum}, {Byte, c.bytes}} {
			if got := capacity(c.ver, c.level, m.mode); got != m.want {
				t.Errorf("v%d-%s %s capacity %d, want %d", c.ver, c.level, m.mode, got, m.want)
			}
		}
	}
	for ver, want := range map[int][]int{
		1: nil, 2: {6, 18}, 7: {6, 22, 38}, 14: {6, 26, 46, 66}, 15: {6, 26, 48, 70},
		16: {6, 26, 50, 74}, 32: {6, 34, 60, 86, 112, 138}, 36: {6, 24, 50, 76, 102, 128, 154},
		40: {6, 30, 58, 86, 114, 142, 170},
	} {
		if got := alignmentPositions(ver); !equalInts(got, want) {
			t.Errorf("version %d alignment %v, want %v", ver, got, want)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestModeAndVersionChoice(t *testing.T) {
	for _, c := range []struct {
		text string
		mode Mode
	}{
		{"", Byte}, {"0", Numeric}, {"0123", Numeric}, {"A", Alphanumeric},
		{"MESHLOGD1-ABC234", Alphanumeric}, {"HTTP://X.Y/Z $%*+", Alphanumeric},
		{"a", Byte}, {"Ä", Byte}, {"0\n", Byte}, {"\x00", Byte},
	} {
		code, err := Encode(c.text, M)
		if err != nil {
			t.Fatalf("%q: %v", c.text, err)
		}
		if code.Mode() != c.mode {
			t.Errorf("%q: mode %s, want %s", c.text, code.Mode(), c.mode)
		}
		if text, mode, err := decode(code); err != nil || text != c.text || mode != c.mode {
			t.Errorf("%q: decoded %q %s %v", c.text, text, mode, err)
		}
	}
	// The version is the smallest that holds the text, at every boundary.
	for _, l := range []Level{L, M, Q, H} {
		for ver := 1; ver <= 40; ver += 3 {
			n := capacity(ver, l, Alphanumeric)
			at, _ := Encode(strings.Repeat("A", n), l)
			over, _ := Encode(strings.Repeat("A", n+1), l)
			if at == nil || at.Version() != ver {
				t.Fatalf("%s: %d alphanumeric characters not in version %d", l, n, ver)
			}
			if text, _, err := decode(at); err != nil || len(text) != n {
				t.Errorf("%s version %d full: decoded %d characters, %v", l, ver, len(text), err)
			}
			if ver < 40 && (over == nil || over.Version() != ver+1) {
				t.Errorf("%s: %d characters not in version %d", l, n+1, ver+1)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	_, err := Encode(strings.Repeat("a", 2954), L)
	var tl *TooLongError
	if !errors.Is(err, ErrTooLong) || !errors.As(err, &tl) {
		t.Fatalf("2954 bytes at L: %v", err)
	}
	if tl.Max != 2953 || tl.Mode != Byte || tl.Len != 2954 || tl.Level != L {
		t.Errorf("error fields %+v", *tl)
	}
	if _, err := Encode(strings.Repeat("a", 2953), L); err != nil {
		t.Errorf("2953 bytes at L: %v", err)
	}
	if _, err := Encode(strings.Repeat("7", 1<<20), M); !errors.Is(err, ErrTooLong) {
		t.Errorf("1 MiB: %v", err)
	}
	for _, l := range []Level{-1, 4, 100} {
		if _, err := Encode("x", l); !errors.Is(err, ErrLevel) {
			t.Errorf("level %d: %v", l, err)
		}
	}
	if Level(9).String() != "Level(9)" || Mode(3).String() != "Mode(3)" {
		t.Error("String of invalid values")
	}
}

// TestRoundTrip encodes random texts of every mode at every level and
// decodes them with the test decoder.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	n := 200
	if testing.Short() {
		n = 40
	}
	for i := 0; i < n; i++ {
		text := randomText(r, i%4, r.Intn(900))
		l := Level(i % 4)
		c, err := Encode(text, l)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		got, _, err := decode(c)
		if err != nil || got != text {
			t.Fatalf("%d (%s, v%d, mask %d): decoded %q, %v", i, l, c.Version(), c.Mask(), got, err)
		}
		// Every mask gives a decodable symbol, and the chosen one scores
		// no worse than any.
		best := score(c.modules, c.size)
		for k := 0; k < 8 && i%10 == 0; k++ {
			f, _ := encode(text, l, k)
			if got, _, err := decode(f); err != nil || got != text || f.Mask() != k {
				t.Fatalf("%d mask %d: %q, %v", i, k, got, err)
			}
			if p := score(f.modules, f.size); p < best {
				t.Fatalf("%d: mask %d scores %d < chosen %d", i, k, p, best)
			}
		}
	}
}

func randomText(r *rand.Rand, kind, n int) string {
	const an = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	b := make([]byte, n)
	for i := range b {
		switch kind {
		case 0:
			b[i] = byte('0' + r.Intn(10))
		case 1:
			b[i] = an[r.Intn(len(an))]
		case 2:
			b[i] = byte(r.Intn(256))
		default:
			b[i] = byte(' ' + r.Intn(95))
		}
	}
	return string(b)
}

// naivePenalty scores a symbol by a direct reading of the rules, to check
// penalty's run-length implementation.
func naivePenalty(dark []bool, size int) int {
	score := 0
	pad := 4 * size // light quiet zone on both sides, wide enough for any unit
	for line := 0; line < 2*size; line++ {
		l := make([]bool, size+2*pad)
		for i := 0; i < size; i++ {
			if line < size {
				l[pad+i] = dark[line*size+i]
			} else {
				l[pad+i] = dark[i*size+line-size]
			}
		}
		// N1: maximal runs inside the symbol.
		for i := pad; i < pad+size; {
			j := i
			for j < pad+size && l[j] == l[i] {
				j++
			}
			if j-i >= 5 {
				score += 3 + j - i - 5
			}
			i = j
		}
		// N3: exact dark u, light u, dark 3u, light u, dark u, bounded by
		// light, with 4u light before and/or after.
		for u := 1; 7*u <= size; u++ {
			pattern := []bool{}
			for k, w := range []int{u, u, 3 * u, u, u} {
				for range w {
					pattern = append(pattern, k%2 == 0)
				}
			}
			for p := pad; p+7*u <= pad+size; p++ {
				match := !l[p-1] && !l[p+7*u]
				for k := 0; match && k < 7*u; k++ {
					match = l[p+k] == pattern[k]
				}
				if !match {
					continue
				}
				before, after := true, true
				for k := 1; k <= 4*u; k++ {
					before = before && !l[p-k]
					after = after && !l[p+7*u-1+k]
				}
				if before || after {
					score += 40
				}
			}
		}
	}
	for y := 0; y+1 < size; y++ {
		for x := 0; x+1 < size; x++ {
			c := dark[y*size+x]
			if c == dark[y*size+x+1] && c == dark[(y+1)*size+x] && c == dark[(y+1)*size+x+1] {
				score += 3
			}
		}
	}
	nDark := 0
	for _, d := range dark {
		if d {
			nDark++
		}
	}
	// k: the least k ≥ 0 with |dark/total − 1/2| ≤ (k+1)·5 %.
	total := size * size
	k := 0
	for abs(20*nDark-10*total) > (k+1)*total {
		k++
	}
	return score + 10*k
}

func TestPenaltyMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	check := func(name string, dark []bool, size int) {
		t.Helper()
		if p, n := score(dark, size), naivePenalty(dark, size); p != n {
			t.Fatalf("%s: penalty %d, naive %d", name, p, n)
		}
	}
	for i := 0; i < 30; i++ {
		size := 21 + 4*r.Intn(6)
		dark := make([]bool, size*size)
		density := r.Float64()
		for j := range dark {
			dark[j] = r.Float64() < density
		}
		check("random", dark, size)
		// Scaled finder-like patterns, runs along edges.
		for j := range dark {
			x, y := j%size, j/size
			dark[j] = []bool{true, true, false, false, true, true, true, true, true, true, false, false, true, true, false, false, false, false, false, false, false, false}[(x+i)%22] != (y%7 == 3)
		}
		check("patterned", dark, size)
	}
	for _, s := range []string{"HELLO WORLD", "hello, meshlogd", strings.Repeat("MESHLOGD1-", 60)} {
		for k := 0; k < 8; k++ {
			c, _ := encode(s, M, k)
			check(s, c.modules, c.size)
		}
	}
}

// score is penalty with its own scratch buffer.
func score(dark []bool, size int) int { return penalty(dark, size, make([]bool, len(dark))) }

// TestMaskPatterns checks the eight-at-once mask computation against the
// formulas of table 10 for every version's data modules.
func TestMaskPatterns(t *testing.T) {
	for ver := 1; ver <= 40; ver++ {
		m := newMatrix(ver)
		m.drawFunctionPatterns()
		pat := m.maskPatterns()
		for i, p := range pat {
			x, y := i%m.size, i/m.size
			for k := 0; k < 8; k++ {
				want := !m.function[i] && maskBit(k, x, y)
				if got := p>>k&1 != 0; got != want {
					t.Fatalf("version %d (%d,%d) mask %d: %v, want %v", ver, x, y, k, got, want)
				}
			}
		}
	}
}

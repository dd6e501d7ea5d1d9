package qr

// GF(256) arithmetic with the QR Code field polynomial
// x⁸ + x⁴ + x³ + x² + 1 (0x11D) and generator α = 2.

var gfExp, gfLog = gfTables()

func gfTables() (exp [512]byte, log [256]byte) {
	x := 1
	for i := 0; i < 255; i++ {
		exp[i] = byte(x)
		log[x] = byte(i)
		x <<= 1
		if x&0x100 != 0 {
			x ^= 0x11D
		}
	}
	// Doubled so that exp[log a + log b] needs no reduction mod 255.
	for i := 255; i < 512; i++ {
		exp[i] = exp[i-255]
	}
	return exp, log
}

func gfMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return gfExp[int(gfLog[a])+int(gfLog[b])]
}

// rsGenerator returns the generator polynomial of degree n,
// (x − α⁰)(x − α¹)…(x − αⁿ⁻¹), as its n coefficients below the leading 1,
// highest degree first.
func rsGenerator(n int) []byte {
	g := make([]byte, n+1)
	g[0] = 1 // g holds coefficients highest degree first; starts as 1
	for i := 0; i < n; i++ {
		// Multiply by (x + αⁱ): in GF(2^8) subtraction is addition.
		r := gfExp[i]
		for j := i + 1; j >= 1; j-- {
			g[j] ^= gfMul(g[j-1], r)
		}
	}
	return g[1:]
}

// rsRemainder returns the n error correction codewords of data: the
// remainder of data(x)·xⁿ divided by the generator of degree n.
func rsRemainder(data, gen []byte) []byte {
	rem := make([]byte, len(gen))
	for _, d := range data {
		factor := d ^ rem[0]
		copy(rem, rem[1:])
		rem[len(rem)-1] = 0
		if factor == 0 {
			continue
		}
		lf := int(gfLog[factor])
		for i, g := range gen {
			if g != 0 {
				rem[i] ^= gfExp[lf+int(gfLog[g])]
			}
		}
	}
	return rem
}

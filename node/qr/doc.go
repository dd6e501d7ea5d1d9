// Package qr encodes text as a QR Code (Model 2, ISO/IEC 18004) using only
// the standard library, and renders it for a terminal with Unicode half
// blocks.
//
// It implements what meshlogd needs to show an invite string as a code a
// phone can scan, and nothing more exotic:
//
//   - one segment per symbol, in numeric mode (text of only digits),
//     alphanumeric mode (only 0–9, A–Z, space and $%*+-./:, which covers an
//     upper-case base32 invite) or byte mode (anything else, as its UTF-8
//     bytes, without an ECI header);
//   - error correction levels L, M, Q and H (M is the zero value and the
//     default);
//   - the smallest version (1..40) the text fits in at the requested level;
//   - Reed–Solomon error correction over GF(256) (primitive polynomial
//     x⁸+x⁴+x³+x²+1) with the standard generator polynomials, split into the
//     standard blocks and interleaved;
//   - finder, separator, timing and alignment patterns, the dark module,
//     format information (BCH(15,5), XOR 101010000010010) and, from version
//     7, version information (BCH(18,6));
//   - all eight data masks, choosing the one with the lowest penalty under
//     the four rules of the standard (N1 runs, N2 2×2 blocks, N3 1:1:3:1:1
//     finder-like patterns next to four light modules, once per pattern,
//     with the quiet zone counting as light, N4 dark proportion).
//
// Mixed-mode segmentation, ECI, Kanji mode, Micro QR and structured append
// are not implemented.
//
// Encode returns a Code, whose modules are read with Black; WriteTerminal
// draws it with a quiet zone, two module rows per text line.
//
// The encoder was checked module for module against libqrencode 4.1.1,
// mask choice included, and by decoding its output with zbar (see the
// golden files in testdata/golden and the comments in qr_test.go).
package qr

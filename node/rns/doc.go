// Package rns implements the Reticulum network stack's wire formats and
// cryptography, byte-compatible with the Reticulum reference implementation
// (RNS 1.4.2): identities, Token encryption, destinations, packets,
// announces, links, HDLC framing over TCP and interface access codes (IFAC).
//
// The test vectors in testdata/ were produced by the reference
// implementation; see ../shared/RETICULUM.md for the fact sheet.
package rns

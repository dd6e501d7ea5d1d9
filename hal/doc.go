// Package hal is the radio contract the rest of meshlogd uses: LoRa
// parameters and region limits, the Semtech time-on-air formula, and the
// RNode-compatible on-air framing (header byte, split frames).
package hal

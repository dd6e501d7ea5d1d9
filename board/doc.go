// Package board holds pin profiles of Raspberry Pi LoRa boards and the
// periph.io host initialisation that opens them.
package board

// Package hal is the radio contract the rest of meshlogd uses: LoRa
// parameters and region limits, the Semtech time-on-air formula, and the
// RNode-compatible on-air framing (header byte, split frames).
//
// # Radio
//
// Radio is a half-duplex LoRa interface that carries whole packets of
// 1..MaxPacketLen (507) bytes. Two drivers implement it: package sx127x
// (a bare SX1276/77/78/79 over SPI, doing the framing in Go) and package
// rnode (an RNode modem over a serial port, whose firmware does the
// framing). The simulator and node runtime use only this interface.
//
// # Parameters
//
// Params holds frequency, bandwidth, spreading factor, coding rate (5..8
// for 4/5..4/8), power, preamble, sync word and LowDataRateOptimize. Zero
// values of the last three mean "as an RNode does it": the preamble rule
// of RNodePreamble, sync word 0x12, and the integer LDRO rule of RNodeLDRO.
// Validate checks the modem ranges and, for RegionEU868 or RegionUS915,
// the band plan: the occupied channel must fit inside one EU sub-band
// (K 863–865 MHz 0.1 %, L 865–868 MHz 1 %, M 868.0–868.6 MHz 1 %,
// N 868.7–869.2 MHz 0.1 %, P 869.4–869.65 MHz 10 % and 27 dBm,
// Q 869.7–870 MHz 1 %; 14 dBm elsewhere) or inside 902–928 MHz (30 dBm,
// 400 ms dwell below 500 kHz). Region.Band returns the sub-band with its
// duty cycle so that callers can budget airtime.
//
// # Time on air
//
// Airtime is the Semtech formula for one explicit-header, CRC-on frame on
// an SX127x, with (N + 0.25) preamble symbols (the chip adds 4.25 to the
// register value N−4). It is computed in integer arithmetic and equals
// every case of vectors/lora/airtime.json exactly. PacketAirtime adds the
// header byte and the split.
//
// Helpers shared by drivers and the simulator: SymbolTime, RNodeLDRO,
// RNodePreamble, NominalBitrate, CSMATiming (the RNode's carrier-sense slot
// and DIFS), TxTimeout (2 × airtime + 100 ms) and PartialTimeout.
//
// # On-air framing
//
// Every LoRa frame starts with one header byte (RNode_Firmware Framing.h):
//
//	bit 7..4  sequence nibble, random per packet, equal in both frames of a split packet
//	bit 3..1  zero
//	bit 0     split flag (FlagSplit)
//
// A packet of 1..254 bytes is one frame of header + packet. A packet of
// 255..507 bytes is two frames, both with the split flag set: header +
// packet[0:254] (255 bytes) and header + packet[254:]. EncodeFrames builds
// them. The firmware would send a 508-byte packet as 255 + 255 + a
// header-only third frame; meshlogd never sends one, and its Reassembler
// delivers the 508 bytes and drops the stray third frame.
//
// Reassembler implements the firmware's receive state machine with a
// timeout for a lost second half (PartialTimeout: twice the airtime of a
// 255-byte frame, at least 1 s) and recognises a lone second half (a split
// frame shorter than 255 bytes with no first half waiting). Every drop is
// counted in ReassemblyStats.
package hal

// Package rnode is a host driver for RNode LoRa modems (RNode_Firmware
// 1.52 and later) on a serial port, following the Reticulum reference host
// driver (RNS/Interfaces/RNodeInterface.py) byte for byte. Modem
// implements hal.Radio.
//
// # Serial protocol
//
// The link runs at 115200 baud 8N1 (SerialMode). Every message is a KISS
// frame: FEND (c0), a command byte, the body with c0 written as db dc and
// db as db dd, FEND. Every FEND ends the frame in progress and opens the
// next one, so c0 08 73 c0 50 00 c0 is two frames. AppendFrame builds
// frames; Decoder is a streaming deframer that never allocates beyond its
// body limit (MaxPacket = 508 bytes, the firmware's MTU) and drops and
// counts oversize frames, invalid escapes, bytes before the first FEND, and
// frames the caller aborts because the line went idle mid-frame (100 ms,
// as the reference host). The command bytes are the Cmd constants; the
// RNODE.md fact sheet in the repository's shared notes lists their bodies.
//
// # Sequence
//
// Open dials the port (Serial for a device path), waits Opts.OpenDelay
// (2 s: boards reset when the port opens), and writes the reference
// detect request c0 08 73 c0 50 00 c0 48 00 c0 49 00 c0. The device must
// answer DETECT with 46 and report a firmware version of at least 1.52,
// its platform and MCU within Opts.DetectTimeout (200 ms), else Open fails
// with ErrNotDetected or a *FirmwareError.
//
// Configure writes FREQUENCY (u32 Hz), BANDWIDTH (u32 Hz), TXPOWER, SF,
// CR, then ST_ALOCK and LT_ALOCK (u16 percent × 100) when Opts sets them,
// then RADIO_STATE 01, all in one write as the reference host does. It
// then waits up to Opts.ConfigTimeout (250 ms) for the echoes and checks
// them: frequency within ±100 Hz (a running radio reports the chip's
// quantised frequency), bandwidth, TX power, spreading factor, coding rate,
// airtime locks and radio state "on" exactly. The reference host checks
// the same except coding rate and locks, and sleeps instead of waiting for
// the answers. A mismatch or a missing echo is a *ConfigError naming each
// parameter; the driver then switches the radio off again. For example an
// SX1276 RNode asked for 20 dBm answers 17 and the configuration fails.
//
// # Data, statistics, errors
//
// Send writes a DATA frame (1..507 bytes; the firmware would put a 508-byte
// packet on air with a stray header-only third frame). The device queues
// it and transmits it after its own carrier sense, with the RNode header
// byte and split framing (hal). The device never reports TX completion, so
// Send waits for the packet's estimated airtime, queued behind earlier
// sends (Opts.NoTxWait returns at once). With Opts.FlowControl, Send first
// polls READY (c0 0f 00 c0) until the device's queue has room; firmware
// 1.86 answers READY only when asked.
//
// The device sends STAT_RSSI (dBm + 157) and STAT_SNR (signed, quarter dB)
// before each received DATA frame; Receive returns the packet with them.
// STAT_CHTM (channel load, noise floor, interference) feeds ChannelBusy
// and ChannelStats, STAT_PHYPRM feeds PhyStats.
//
// An ERROR frame is counted and logged; the fatal ones (everything but
// 05 memory low and 06 modem timeout) fail a Send that is waiting and make
// the driver reconfigure the device, as do a RESET f8 boot announcement and
// a RADIO_STATE 00 the host did not ask for. When the port fails (the
// device disappeared) the driver closes it and redials every
// Opts.ReconnectInterval (5 s) until the device is back, then detects and
// reconfigures it with the last parameters. Meanwhile Send fails with
// ErrOffline and Receive keeps waiting.
//
// Close writes the reference host's detach sequence (FB_EXT 00 on
// ESP32/nRF52 devices, RADIO_STATE 00, LEAVE ff) and closes the port;
// switching the radio off drops packets still in the device's queue, so
// call Drain first when the last packets matter.
//
// The RNode must be in normal (host-controlled) mode: in TNC mode
// (rnodeconf --tnc) it echoes the host's parameters but keeps transmitting
// with its stored ones, which no host can detect.
//
// Package rnode/rnodetest emulates the firmware side on a pseudo-terminal
// for tests and the simulator.
package rnode

// Package rnodetest emulates an RNode LoRa modem for tests and the
// simulator: the firmware's side of the KISS serial protocol
// (RNode_Firmware 1.86, serial_callback and kiss_indicate_*), its transmit
// queue, its on-air framing (header byte, split packets) and its receive
// state machine, plus airtime locks.
//
// Device is the firmware model. It takes host bytes through Write and
// sends its answers through the function given to Attach; Serve runs it on
// any byte stream. PTY puts a Device behind a Linux pseudo-terminal whose
// slave path (a stable symbolic link) a host driver opens with
// go.bug.st/serial exactly like a USB serial port; Unplug and Replug make
// the device disappear and reappear at the same path.
//
// On air, Device calls Config.Air.Transmit with every LoRa frame it sends
// (built with hal.EncodeFrames) and takes frames heard on air through
// Receive (reassembled with hal.Reassembler, timeout disabled as in the
// firmware). Connecting those two ends to a simulated medium puts the
// emulated RNode on the same air as emulated SX127x chips.
//
// Faults make the device misbehave: wrong parameter echoes (a modem that
// clamps or ignores settings), a mute device, a failing radio, and
// InjectHost writes arbitrary bytes (garbage) to the host.
//
// Station (JoinAir) puts a Device on an sx127xtest.Air next to emulated
// SX127x chips, with the firmware's back-to-back split frames and a
// simplified carrier sense (wait while a frame is heard, then DIFS).
//
// Differences from the firmware, deliberately: the model answers at once
// (no serial latency), hands a packet to its Air as soon as the radio is on
// and no airtime lock holds (no contention window; the Device spends no
// real time on air), the SF range is the SX127x driver's 6..12, and a split
// frame shorter than a full frame with no first half waiting is dropped
// (hal.Reassembler) where the firmware would keep it as a stale partial.
package rnodetest

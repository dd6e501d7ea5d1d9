// Package sx127xtest emulates an SX1276/77/78/79 LoRa transceiver behind
// periph.io's spi.Conn and gpio pins, and a shared radio medium (Air) on
// which emulated chips, emulated RNodes and simulators exchange frames.
//
// # The chip
//
// Chip models what a LoRa-mode driver touches:
//
//   - SPI framing: the first byte is the address with bit 7 set for a
//     write; further bytes of the same transaction auto-increment the
//     address, except register 0x00 (FIFO), where they go to or come from
//     the FIFO at RegFifoAddrPtr, which auto-increments (burst access).
//     Port.Connect insists on mode 0, 8-bit words and SCK ≤ 10 MHz.
//   - registers with their reset values; read-only status registers;
//     NRESET (ResetPin) held low keeps the chip in reset (SPI reads 0x00),
//     released it returns every register to its reset value; RegVersion
//     0x12 (ChipOpts.Version to emulate other silicon, SetAbsent to make
//     every read 0x00 or 0xff like a missing chip).
//   - operating modes: LongRangeMode changes only in SLEEP (a write in
//     another mode keeps the old bit, as the datasheet says), the FIFO is
//     inaccessible in SLEEP, TX sends RegPayloadLength bytes from
//     RegFifoTxBaseAddr and raises TxDone after hal.Airtime of the
//     programmed settings on the injected Clock, then falls back to STANDBY;
//     RX continuous writes each received frame after the previous one in
//     the 256-byte FIFO (RegFifoRxCurrentAddr points at it), RX single
//     returns to STANDBY after one frame; CAD raises CadDone after two
//     symbols and CadDetected if a matching preamble is on the air.
//   - IRQ flags (write 1 to clear), RegIrqFlagsMask, the DIO0 mapping
//     (RxDone / TxDone / CadDone) and DIO1 (RxTimeout / CadDetected), with
//     rising edges on the emulated pins (BreakDIO0 disconnects DIO0).
//   - reception: a frame heard from its preamble on, while the chip stays
//     in the same RX session with the same bandwidth, SF and sync word
//     (carrier within BW/4), lands in the FIFO with RegRxNbBytes,
//     RegPktSnrValue and RegPktRssiValue (the inverse of the datasheet
//     formula: −157 dBm offset on the HF port, −164 below 525 MHz),
//     RegHopChannel bit 6 (CRC on in the header) and RxDone. A corrupted or
//     colliding frame, or one sent with a different LowDataRateOptimize,
//     gets PayloadCrcError. RegModemStat shows signal detected while a
//     matching frame is being received; RegRssiValue shows the strongest
//     carrier on the channel or the noise floor.
//   - frames complete in the order they ended, whenever the chip is
//     touched (SPI, pins, timers), so late timer goroutines cannot reorder
//     them. A frame that ends while the host is still servicing the
//     previous RxDone (until it next waits on or reads a DIO pin, or writes
//     RegOpMode) is held back until then, as if the host had reacted in
//     time: a scaled clock multiplies the host's wall-clock latency, and a
//     real chip would overwrite the unread frame.
//
// A simulator that owns the medium (sim) attaches no Air: it gets every
// frame a chip starts through ChipOpts.Transmit, calls CarrierStart and
// CarrierEnd itself, and with ChipOpts.ExternalVerdict decides collisions
// (capture, loss) by the Link it passes; Pin.Pending tells it whether a
// host parked in WaitForEdge has an edge to collect.
//
// Not modelled: FSK mode, implicit-header reception, frequency hopping,
// RX timeouts, FIFO overrun by a frame arriving during a FIFO read.
//
// # Time
//
// All chip timing runs on a Clock: ScaledClock (real time, optionally
// faster than the wall clock) for drivers running in goroutines, or
// ManualClock (virtual time moved by Advance) for chip-level tests and
// simulators. WaitForEdge timeouts of the emulated pins are durations on
// the same clock, with the semantics of periph.io/x/host v3.8.x (see Pin).
//
// # The air
//
// Air connects Stations (Chip implements Station; an emulated RNode or a
// simulator can implement it too). Air.Transmit calls CarrierStart on
// every other station its LinkFunc lets hear the frame and CarrierEnd
// after the frame's airtime, marking it corrupt when another frame heard
// by that receiver overlapped it on the same channel. Air.Log records
// every frame with its bytes, so tests can compare what went on air with
// the RNode framing vectors.
package sx127xtest

// Package sx127x drives a Semtech SX1276/77/78/79 LoRa transceiver over
// periph.io's SPI and GPIO interfaces, with the RNode firmware's on-air
// settings so that a bare chip and an RNode understand each other.
//
// # Construction
//
//	d, err := sx127x.New(port, rst, dio0, &sx127x.Opts{Params: p, Region: hal.RegionEU868})
//
// New connects the spi.Port at 8 MHz, mode 0; pulses NRESET (rst may be nil
// or gpio.INVALID for boards without a reset line, such as the Uputronics
// boards); reads RegVersion until it returns 0x12 (0x00/0xff give a
// *DetectError: "no SX127x found on SPI0.1 — check wiring/board profile");
// brings the chip to a known LoRa state by register writes (sleep, then
// LoRa sleep, IRQs unmasked and cleared, DIO mapping, normal IQ), applies
// the parameters and starts a goroutine that owns DIO0. The package has no
// global state; Dev implements hal.Radio and conn.Resource (Halt = Close).
//
// # Settings (RNODE.md §7.1, §9.5; SX127X.md §8.2, §9)
//
// Explicit header, payload CRC on, sync word 0x12, normal IQ, AGC and LNA
// boost on. LowDataRateOptimize follows the RNode's integer rule
// (hal.RNodeLDRO: off at SF11/125 kHz and SF12/250 kHz). RegPreamble =
// N−4 with N from the RNode preamble rule (hal.RNodePreamble), so N+0.25
// symbols go on air like an SX127x RNode. PA_BOOST: RegPaConfig 0x80|(P−2)
// with RegPaDac 0x84 and OCP 100 mA for 2..17 dBm; RegPaDac 0x87,
// 0x80|(P−5) and OCP 140 mA for 18..20 dBm (1 % duty cycle, VSWR ≤ 3:1 per
// the datasheet). Opts.RFO selects the RFO pin (0..14 dBm). Errata 2.1
// (500 kHz sensitivity) is applied. SF 7..12 only (SF6 needs implicit
// header).
//
// # Transmit
//
// Send frames the packet with hal.EncodeFrames (random sequence nibble,
// split above 254 bytes) and hands it to the DIO0 goroutine through a
// queue of Opts.TxQueue packets; Submit does the same without blocking
// and returns a channel that later receives Send's result (callers that
// must not block, such as the simulator, use it with TryReceive). The
// goroutine checks Close, then Configure, then the queue, one at a time,
// so that it behaves deterministically on a cooperative scheduler. Unless
// Opts.DisableCSMA, that goroutine first waits like an RNode
// (RNODE.md §9.3): the channel must be free — RegModemStat bits 0/1 clear,
// sampled every Opts.SensePeriod, and with Opts.InterferenceAvoidance the
// RSSI no more than 11 dB above the learned noise floor — for DIFS, then
// for a random window of 0..14 slots (hal.CSMATiming) that is frozen while
// the channel is busy; like an ESP32 RNode, the window moves up to 15..28,
// 30..43 or 45..58 slots when the radio's own airtime over the last 15 s
// exceeds 7, 38 or 77 %. Opts.CAD adds a channel-activity detection at the
// end. Frames received meanwhile are serviced. Each frame is then loaded
// (STANDBY, DIO0 = TxDone, clear IRQs, FIFO pointer, one burst of the
// frame, RegPayloadLength, TX: 7 SPI transactions) and the goroutine waits
// for a rising edge on DIO0 with a positive timeout of twice the airtime
// plus 100 ms (never WaitForEdge(-1), which returns at once on periph host
// v3.8.x). Every edge is checked against RegIrqFlags, since edges may be
// stale. The second frame of a split packet follows immediately, without
// carrier sense. A missing TxDone resets and reconfigures the chip and
// returns hal.ErrTxTimeout.
//
// # Receive
//
// The chip stays in RX continuous with DIO0 = RxDone. The goroutine waits
// on DIO0 for at most Opts.PollInterval per turn (it also checks the DIO0
// level, so a lost edge cannot stall reception) and on RxDone reads
// RegFifoRxCurrentAddr..RegRxNbBytes and RegPktSnrValue..RegHopChannel in
// two bursts, clears the flags, and reads the frame from
// RegFifoRxCurrentAddr in one FIFO burst (5 SPI transactions per frame).
// Frames with PayloadCrcError, and frames whose header announced no CRC
// (RegHopChannel bit 6 clear; RNodes always send one), are dropped and
// counted. Frames go through hal.Reassembler (RNode state machine plus a
// partial-packet timeout); complete packets queue for Receive with
// RSSI = −157 + PktRssi (+ SNR when SNR < 0), −164 below 525 MHz, and
// SNR = PktSnr/4.
//
// # Testing
//
// Package sx127xtest emulates the chip, its pins and a shared air; this
// package's tests run the driver against it.
package sx127x

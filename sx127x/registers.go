package sx127x

// LoRa-mode register map (SX1276/77/78/79 datasheet §6.4; SX127X.md §3).
const (
	regFifo          = 0x00 // FIFO data port (burst access does not advance the address)
	regOpMode        = 0x01 // b7 LongRangeMode, b2..0 mode
	regFrfMsb        = 0x06 // 24-bit Frf, MSB first (0x06..0x08)
	regPaConfig      = 0x09 // b7 PaSelect, b6..4 MaxPower, b3..0 OutputPower
	regOcp           = 0x0b // b5 OcpOn, b4..0 OcpTrim
	regLna           = 0x0c // b7..5 LnaGain, b1..0 LnaBoostHf
	regFifoAddrPtr   = 0x0d // SPI pointer into the FIFO
	regFifoTxBase    = 0x0e // TX start address
	regFifoRxBase    = 0x0f // RX start address
	regFifoRxCurrent = 0x10 // start of the last received packet
	regIrqFlagsMask  = 0x11 // 1 = masked
	regIrqFlags      = 0x12 // write 1 to clear
	regRxNbBytes     = 0x13 // length of the last received packet
	regModemStat     = 0x18 // b1 signal synchronized, b0 signal detected
	regPktSnr        = 0x19 // signed, quarter dB
	regPktRssi       = 0x1a // packet RSSI (§5.5.5)
	regRssi          = 0x1b // current RSSI
	regHopChannel    = 0x1c // b6 CrcOnPayload of the last header
	regModemConfig1  = 0x1d // b7..4 Bw, b3..1 CodingRate, b0 ImplicitHeaderModeOn
	regModemConfig2  = 0x1e // b7..4 SF, b2 RxPayloadCrcOn
	regPreambleMsb   = 0x20 // preamble length N−4, MSB (LSB at 0x21)
	regPayloadLength = 0x22 // TX length
	regMaxPayloadLen = 0x23
	regHopPeriod     = 0x24
	regModemConfig3  = 0x26 // b3 LowDataRateOptimize, b2 AgcAutoOn
	regDetectOpt     = 0x31 // b2..0 DetectionOptimize
	regInvertIQ      = 0x33
	regHighBwOpt1    = 0x36 // errata 2.1
	regDetectThresh  = 0x37
	regSyncWord      = 0x39
	regHighBwOpt2    = 0x3a // errata 2.1
	regInvertIQ2     = 0x3b
	regDioMapping1   = 0x40 // b7..6 DIO0, b5..4 DIO1
	regDioMapping2   = 0x41
	regVersion       = 0x42
	regPaDac         = 0x4d // 0x84 default, 0x87 +20 dBm
)

// RegOpMode values (LongRangeMode set; LowFrequencyModeOn always 0, as the
// RNode firmware writes it).
const (
	longRangeMode = 0x80
	modeSleep     = 0x00
	modeStandby   = 0x01
	modeTx        = 0x03
	modeRxCont    = 0x05
	modeCAD       = 0x07
)

// RegIrqFlags bits.
const (
	irqRxTimeout   = 0x80
	irqRxDone      = 0x40
	irqCRCError    = 0x20
	irqValidHeader = 0x10
	irqTxDone      = 0x08
	irqCadDone     = 0x04
	irqCadDetected = 0x01
)

// RegDioMapping1 values.
const (
	dioRxDone  = 0x00 // DIO0 = RxDone
	dioTxDone  = 0x40 // DIO0 = TxDone
	dioCadDone = 0xa0 // DIO0 = CadDone, DIO1 = CadDetected
)

// chipVersion is RegVersion of every SX1276/77/78/79.
const chipVersion = 0x12

// writeBit marks a register write in the first SPI byte.
const writeBit = 0x80

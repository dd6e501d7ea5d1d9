package hal

import (
	"context"
	"errors"
	"time"
)

// Packet is one received packet, reassembled from its LoRa frames without
// the RNode header byte(s).
type Packet struct {
	// Data is the packet (1..MaxReceivedLen bytes), owned by the receiver.
	Data []byte
	// RSSI is the packet signal strength in dBm and SNR the signal-to-noise
	// ratio in dB, both of the packet's last frame.
	RSSI, SNR float64
	// At is when the last frame was received (the radio's clock).
	At time.Time
}

// Stats are a radio's cumulative counters since it was opened. Counters
// only grow; a field a driver cannot know stays zero.
type Stats struct {
	TxPackets uint64        // packets sent completely
	TxFrames  uint64        // LoRa frames sent
	TxBytes   uint64        // bytes on air, header bytes included
	TxAirtime time.Duration // computed airtime of the sent frames
	TxErrors  uint64        // sends that failed (timeout, I/O error)
	TxTimeout uint64        // sends whose TxDone never came
	Busy      uint64        // busy periods that deferred a send (carrier sense)

	RxPackets   uint64 // packets delivered by Receive
	RxFrames    uint64 // LoRa frames received with a valid CRC
	RxBytes     uint64 // bytes of those frames, header bytes included
	RxCRCErrors uint64 // frames dropped for a payload CRC error
	RxNoCRC     uint64 // frames dropped because their header said "no CRC"
	RxDropped   uint64 // frames or partial packets dropped by reassembly
	RxOverflow  uint64 // packets dropped because nobody called Receive
}

// Radio is a half-duplex LoRa interface carrying whole packets of
// 1..MaxPacketLen bytes with the RNode-compatible on-air framing (the
// driver adds the header byte, splits, and reassembles). Implementations
// are safe for concurrent use by one sender and one receiver.
type Radio interface {
	// Configure applies p (validated by the driver for its hardware).
	Configure(p Params) error
	// Send transmits pkt and returns once its last frame has left the
	// antenna, or with an error (ErrPacketSize, ErrChannelBusy, ErrTxTimeout,
	// ErrClosed, ctx.Err(), or a driver error).
	Send(ctx context.Context, pkt []byte) error
	// Receive blocks until the next reassembled packet, ctx is done, or
	// the radio is closed (ErrClosed).
	Receive(ctx context.Context) (Packet, error)
	// ChannelBusy reports whether the radio currently senses a LoRa
	// carrier or interference on its channel.
	ChannelBusy() (bool, error)
	// Airtime returns the time on air of an n-byte packet with the current
	// parameters, including the header byte(s) and a split (PacketAirtime).
	Airtime(n int) time.Duration
	// Stats returns a snapshot of the counters.
	Stats() Stats
	// Close stops the radio, leaves the hardware inert and unblocks
	// pending calls. Further calls return ErrClosed.
	Close() error
}

// Errors shared by Radio implementations.
var (
	// ErrClosed is returned by a Radio after Close.
	ErrClosed = errors.New("hal: radio closed")
	// ErrChannelBusy is returned by Send when the channel stayed busy
	// longer than the driver's channel-access budget.
	ErrChannelBusy = errors.New("hal: channel busy")
	// ErrTxTimeout is returned by Send when the radio did not report the
	// end of a transmission within the timeout derived from the airtime.
	ErrTxTimeout = errors.New("hal: transmit timeout")
)

// TxTimeout returns how long a driver waits for a frame's TxDone: twice
// the computed airtime plus 100 ms (SX127X.md §8.3).
func TxTimeout(p Params, frameLen int) time.Duration {
	return 2*Airtime(p, frameLen) + 100*time.Millisecond
}

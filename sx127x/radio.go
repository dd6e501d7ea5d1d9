package sx127x

import (
	"context"
	"fmt"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"periph.io/x/conn/v3/gpio"
)

var _ hal.Radio = (*Dev)(nil)

// interferenceDB is the RNode's interference threshold above the noise
// floor (Config.h CSMA_INFR_THRESHOLD_DB).
const interferenceDB = 11

// Configure validates p for this chip and region and applies it; the
// radio keeps receiving with the new settings. A partially received split
// packet is dropped.
func (d *Dev) Configure(p hal.Params) error {
	if err := d.checkParams(p); err != nil {
		return err
	}
	req := &cfgReq{p: p, done: make(chan error, 1)}
	select {
	case d.cfgq <- req:
	case <-d.quit:
		return hal.ErrClosed
	}
	return <-req.done
}

// Send transmits pkt (1..507 bytes) with a fresh random sequence nibble,
// as one or two frames, after carrier sense (see Opts.DisableCSMA). It
// returns when the last frame's TxDone was seen. ctx can abort the wait
// for the channel, not a frame already on air. When Opts.TxQueue packets
// already wait, Send blocks until there is room (or ctx ends).
func (d *Dev) Send(ctx context.Context, pkt []byte) error {
	req, err := d.newTxReq(ctx, pkt)
	if err != nil {
		return err
	}
	select {
	case d.txq <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-d.quit:
		return hal.ErrClosed
	}
	select {
	case err := <-req.done:
		return err
	case <-d.done:
		// Queued too late for the loop's final drain.
		select {
		case err := <-req.done:
			return err
		default:
			return hal.ErrClosed
		}
	}
}

// Submit queues pkt like Send and returns at once, without blocking: the
// channel later receives exactly one value, what Send would have
// returned (hal.ErrClosed if the Dev is closed before the packet went on
// air). It returns ErrTxQueueFull when Opts.TxQueue packets already wait,
// hal.ErrClosed after Close, and Send's immediate errors (packet size).
// Callers that cannot block, such as a single-threaded simulator, use
// Submit and poll the channel.
func (d *Dev) Submit(ctx context.Context, pkt []byte) (<-chan error, error) {
	req, err := d.newTxReq(ctx, pkt)
	if err != nil {
		return nil, err
	}
	d.txMu.Lock()
	defer d.txMu.Unlock()
	if d.txClosed {
		return nil, hal.ErrClosed
	}
	select {
	case d.txq <- req:
		return req.done, nil
	default:
		return nil, ErrTxQueueFull
	}
}

func (d *Dev) newTxReq(ctx context.Context, pkt []byte) (*txReq, error) {
	frames, err := hal.EncodeFrames(byte(d.o.Rand()), pkt)
	if err != nil {
		return nil, err
	}
	return &txReq{ctx: ctx, frames: frames, done: make(chan error, 1)}, nil
}

// failQueued answers every request still queued with hal.ErrClosed (the
// loop goroutine, on exit).
func (d *Dev) failQueued() {
	for {
		select {
		case req := <-d.txq:
			req.done <- hal.ErrClosed
		default:
			return
		}
	}
}

// Receive returns the next reassembled packet.
func (d *Dev) Receive(ctx context.Context) (hal.Packet, error) {
	select {
	case p := <-d.rxq:
		return p, nil
	case <-ctx.Done():
		return hal.Packet{}, ctx.Err()
	case <-d.quit:
		return hal.Packet{}, hal.ErrClosed
	}
}

// TryReceive returns the next reassembled packet if one is queued, without
// blocking (also after Close, for packets received before it).
func (d *Dev) TryReceive() (hal.Packet, bool) {
	select {
	case p := <-d.rxq:
		return p, true
	default:
		return hal.Packet{}, false
	}
}

// ChannelBusy reports whether the chip senses a LoRa preamble or packet
// (RegModemStat signal detected/synchronized) or, with
// InterferenceAvoidance, an RSSI 11 dB over the learned noise floor. It
// reports true while the radio itself transmits.
func (d *Dev) ChannelBusy() (bool, error) {
	select {
	case <-d.quit:
		return false, hal.ErrClosed
	default:
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.txActive {
		return true, nil
	}
	busy, _, err := d.senseLocked()
	return busy, err
}

// RSSI returns the current RSSI on the channel in dBm (RegRssiValue with
// the port's offset): the noise floor when nothing transmits.
func (d *Dev) RSSI() (float64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, err := d.read1Locked(regRssi)
	if err != nil {
		return 0, err
	}
	return rssiOffset(d.p.FrequencyHz) + float64(v), nil
}

// NoiseFloor returns the noise floor learned from carrier-sense samples
// and whether enough samples were taken.
func (d *Dev) NoiseFloor() (float64, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.floor, d.floorN >= 16
}

// Airtime returns the time on air of an n-byte packet with the current
// settings, header byte(s) and split included.
func (d *Dev) Airtime(n int) time.Duration { return hal.PacketAirtime(d.Params(), n) }

// Stats returns a snapshot of the counters.
func (d *Dev) Stats() hal.Stats {
	d.statsMu.Lock()
	defer d.statsMu.Unlock()
	s := d.stats
	r := d.reasm
	s.RxDropped = r.Empty + r.TooLong + r.Lone + r.Replaced + r.TimedOut + r.Truncated
	return s
}

// ReassemblyStats returns the on-air reassembler's detailed counters.
func (d *Dev) ReassemblyStats() hal.ReassemblyStats {
	d.statsMu.Lock()
	defer d.statsMu.Unlock()
	return d.reasm
}

// Close stops the receive loop, puts the chip to sleep and unblocks
// pending calls with hal.ErrClosed. It is idempotent.
func (d *Dev) Close() error {
	d.closeOnce.Do(func() {
		d.txMu.Lock()
		d.txClosed = true
		d.txMu.Unlock()
		close(d.quit)
		_ = d.dio0.Halt() // wakes a pending WaitForEdge on host v3.8.x
		<-d.done
		d.mu.Lock()
		d.closeErr = d.writeLocked(regOpMode, longRangeMode|modeSleep)
		d.mu.Unlock()
	})
	return d.closeErr
}

// Halt implements conn.Resource: it is Close.
func (d *Dev) Halt() error { return d.Close() }

func (d *Dev) updateStats(f func(*hal.Stats)) {
	d.statsMu.Lock()
	f(&d.stats)
	d.statsMu.Unlock()
}

// run is the loop that owns DIO0. Each turn it checks, in this order
// and one at a time (never a select with several ready cases, so that a
// driver run on a deterministic scheduler stays deterministic): Close, a
// pending Configure, a queued packet.
func (d *Dev) run(r *hal.Reassembler) {
	defer close(d.done)
	defer d.failQueued()
	for {
		select {
		case <-d.quit:
			return
		default:
		}
		select {
		case req := <-d.cfgq:
			req.done <- d.reconfigure(req.p, r)
		default:
			select {
			case req := <-d.txq:
				req.done <- d.transmit(req, r)
			default:
			}
		}
		// DIO0 stays high while RxDone is pending, so a lost edge is
		// caught by the level check.
		if d.dio0.WaitForEdge(d.o.PollInterval) || d.dio0.Read() == gpio.High {
			d.service(r)
		} else if d.o.InterferenceAvoidance {
			// Keep learning the noise floor while idle, as the RNode does.
			d.mu.Lock()
			_, _, _ = d.senseLocked()
			d.mu.Unlock()
		}
		if r.Expire(d.o.Now()) {
			d.syncReasm(r)
		}
	}
}

func (d *Dev) syncReasm(r *hal.Reassembler) {
	s := r.Stats()
	d.statsMu.Lock()
	d.reasm = s
	d.statsMu.Unlock()
}

func (d *Dev) reconfigure(p hal.Params, r *hal.Reassembler) error {
	d.mu.Lock()
	err := d.configureLocked(p)
	timeout := hal.PartialTimeout(d.p)
	d.mu.Unlock()
	r.Reset()
	r.SetTimeout(timeout)
	d.syncReasm(r)
	if err != nil {
		return d.recover(err)
	}
	return nil
}

// recover brings the chip back to a known receiving state after an error
// and returns the original error (joined with a recovery failure).
func (d *Dev) recover(cause error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.txActive = false
	if err := d.bringUpLocked(d.p); err != nil {
		return fmt.Errorf("%w (recovery failed: %v)", cause, err)
	}
	return cause
}

// service reads RegIrqFlags and, on RxDone, the frame; called when DIO0
// rose or is high. Everything is decided from the flags, never from the
// edge alone (edges may be stale).
func (d *Dev) service(r *hal.Reassembler) {
	now := d.o.Now()
	d.mu.Lock()
	frame, snr, rssi, err := d.readFrameLocked()
	d.mu.Unlock()
	if err != nil || frame == nil {
		return
	}
	d.updateStats(func(s *hal.Stats) { s.RxFrames++; s.RxBytes += uint64(len(frame)) })
	pkt, perr := r.Push(frame, now)
	d.syncReasm(r)
	if perr != nil || pkt == nil {
		return
	}
	select {
	case d.rxq <- hal.Packet{Data: pkt, RSSI: rssi, SNR: snr, At: now}:
		d.updateStats(func(s *hal.Stats) { s.RxPackets++ })
	default:
		d.updateStats(func(s *hal.Stats) { s.RxOverflow++ })
	}
}

// readFrameLocked handles pending IRQ flags and returns a received frame
// (freshly allocated) with its SNR and RSSI, or nil. Three SPI
// transactions when nothing is pending or the frame is dropped, five for a
// good frame.
func (d *Dev) readFrameLocked() (frame []byte, snr, rssi float64, err error) {
	b, err := d.readLocked(regFifoRxCurrent, 4) // RxCurrentAddr, IrqFlagsMask, IrqFlags, RxNbBytes
	if err != nil {
		return nil, 0, 0, err
	}
	cur, flags, n := b[0], b[2], int(b[3])
	if flags == 0 {
		return nil, 0, 0, nil
	}
	if err := d.writeLocked(regIrqFlags, flags); err != nil {
		return nil, 0, 0, err
	}
	if flags&irqRxDone == 0 {
		return nil, 0, 0, nil
	}
	if flags&irqCRCError != 0 {
		d.updateStats(func(s *hal.Stats) { s.RxCRCErrors++ })
		return nil, 0, 0, nil
	}
	st, err := d.readLocked(regPktSnr, 4) // PktSnr, PktRssi, Rssi, HopChannel
	if err != nil {
		return nil, 0, 0, err
	}
	snr = float64(int8(st[0])) / 4
	rssi = rssiOffset(d.p.FrequencyHz) + float64(st[1])
	if snr < 0 {
		rssi += snr
	}
	if st[3]&0x40 == 0 {
		// The header said "no CRC": nothing was checked. RNodes always
		// send a CRC, so this is not one of ours.
		d.updateStats(func(s *hal.Stats) { s.RxNoCRC++ })
		return nil, 0, 0, nil
	}
	if err := d.writeLocked(regFifoAddrPtr, cur); err != nil {
		return nil, 0, 0, err
	}
	data, err := d.readLocked(regFifo, n)
	if err != nil {
		return nil, 0, 0, err
	}
	return append([]byte(nil), data...), snr, rssi, nil
}

// rssiOffset is the datasheet's RSSI offset: −157 dBm on the HF port,
// −164 dBm on the LF port (below 525 MHz; SX127X.md §6).
func rssiOffset(freq uint32) float64 {
	if freq < 525_000_000 {
		return -164
	}
	return -157
}

// senseLocked samples RegModemStat and RegRssiValue in one transaction and
// updates the noise floor. It returns busy and the RSSI.
func (d *Dev) senseLocked() (busy bool, rssi float64, err error) {
	b, err := d.readLocked(regModemStat, 4) // ModemStat, PktSnr, PktRssi, Rssi
	if err != nil {
		return false, 0, err
	}
	dcd := b[0]&0x03 != 0
	rssi = rssiOffset(d.p.FrequencyHz) + float64(b[3])
	known := d.floorN >= 16
	if !dcd && (!known || rssi < d.floor+interferenceDB) {
		n := d.floorN
		if n < 128 {
			n++
			d.floorN = n
		}
		d.floor += (rssi - d.floor) / float64(n)
	}
	busy = dcd || (d.o.InterferenceAvoidance && known && rssi > d.floor+interferenceDB)
	return busy, rssi, nil
}

// transmit runs channel access and sends the frames of one packet back to
// back, then returns to RX continuous.
func (d *Dev) transmit(req *txReq, r *hal.Reassembler) error {
	if err := req.ctx.Err(); err != nil {
		return err
	}
	if !d.o.DisableCSMA {
		if err := d.channelAccess(req, r); err != nil {
			if err == hal.ErrChannelBusy {
				d.updateStats(func(s *hal.Stats) { s.TxErrors++ })
			}
			return err
		}
	}
	var err error
	for _, f := range req.frames {
		if err = d.sendFrame(f); err != nil {
			break
		}
	}
	d.mu.Lock()
	d.txActive = false
	rerr := d.writeLocked(regDioMapping1, dioRxDone)
	if rerr == nil {
		rerr = d.writeLocked(regOpMode, longRangeMode|modeRxCont)
	}
	d.mu.Unlock()
	if err == nil && rerr != nil {
		err = d.recover(rerr)
	}
	if err != nil {
		d.updateStats(func(s *hal.Stats) { s.TxErrors++ })
		return err
	}
	d.updateStats(func(s *hal.Stats) { s.TxPackets++ })
	return nil
}

// sendFrame loads one frame into the FIFO, starts TX and waits for TxDone
// on DIO0 with a timeout of twice the airtime plus 100 ms. On timeout the
// chip is reset (or re-initialised) and hal.ErrTxTimeout returned.
func (d *Dev) sendFrame(f []byte) error {
	d.mu.Lock()
	d.txActive = true
	p := d.p
	err := d.loadFrameLocked(f)
	d.mu.Unlock()
	if err != nil {
		return d.recover(err)
	}
	timeout := hal.TxTimeout(p, len(f))
	deadline := d.o.Now().Add(timeout)
	for {
		remain := deadline.Sub(d.o.Now())
		if remain <= 0 {
			d.updateStats(func(s *hal.Stats) { s.TxTimeout++ })
			return d.recover(fmt.Errorf("%w: no TxDone on DIO0 (%s) within %v for a %d-byte frame", hal.ErrTxTimeout, d.dio0, timeout, len(f)))
		}
		if !d.dio0.WaitForEdge(remain) && d.dio0.Read() == gpio.Low {
			continue
		}
		d.mu.Lock()
		flags, err := d.read1Locked(regIrqFlags)
		if err == nil && flags&irqTxDone != 0 {
			err = d.writeLocked(regIrqFlags, irqTxDone)
			d.mu.Unlock()
			if err != nil {
				return d.recover(err)
			}
			air := hal.Airtime(p, len(f))
			d.recordAirtime(d.o.Now(), air)
			d.updateStats(func(s *hal.Stats) {
				s.TxFrames++
				s.TxBytes += uint64(len(f))
				s.TxAirtime += air
			})
			return nil
		}
		d.mu.Unlock()
		if err != nil {
			return d.recover(err)
		}
		// A stale edge (e.g. an RxDone from before TX): keep waiting.
	}
}

// loadFrameLocked: STANDBY, DIO0 = TxDone, clear IRQs, FIFO pointer to the
// TX base, burst the frame, set its length, enter TX (7 transactions).
func (d *Dev) loadFrameLocked(f []byte) error {
	for _, w := range [][]byte{
		{regOpMode, longRangeMode | modeStandby},
		{regDioMapping1, dioTxDone},
		{regIrqFlagsMask, 0x00, 0xff},
		{regFifoAddrPtr, 0x00, 0x00}, // pointer, TX base
	} {
		if err := d.writeLocked(w[0], w[1:]...); err != nil {
			return err
		}
	}
	if err := d.writeLocked(regFifo, f...); err != nil {
		return err
	}
	if err := d.writeLocked(regPayloadLength, byte(len(f))); err != nil {
		return err
	}
	return d.writeLocked(regOpMode, longRangeMode|modeTx)
}

// channelAccess waits like an RNode (RNODE.md §9.3): the channel must be
// free for DIFS, then for a random contention window of 0..14 slots that
// is frozen (not redrawn) while the channel is busy. Frames received while
// waiting are serviced.
func (d *Dev) channelAccess(req *txReq, r *hal.Reassembler) error {
	p := d.Params()
	slot, difs := hal.CSMATiming(p)
	start := d.o.Now()
	lo, hi := d.contentionWindow(start)
	target := time.Duration(lo+d.o.Rand()%(hi-lo)) * slot
	last := start
	var freeFor, counted time.Duration
	wasBusy := false
	for {
		d.mu.Lock()
		busy, _, err := d.senseLocked()
		d.mu.Unlock()
		if err != nil {
			return err
		}
		now := d.o.Now()
		dt := now.Sub(last)
		last = now
		if busy {
			if !wasBusy {
				d.updateStats(func(s *hal.Stats) { s.Busy++ })
			}
			freeFor = 0
		} else {
			freeFor += dt
			if freeFor > difs {
				counted += min(dt, freeFor-difs)
			}
			if freeFor >= difs && counted >= target {
				if !d.o.CAD {
					return nil
				}
				detected, err := d.cad()
				if err != nil {
					return err
				}
				if !detected {
					return nil
				}
				// A preamble the modem status missed: back off again.
				busy, freeFor = true, 0
				d.updateStats(func(s *hal.Stats) { s.Busy++ })
			}
		}
		wasBusy = busy
		if err := req.ctx.Err(); err != nil {
			return err
		}
		if now.Sub(start) > d.o.MaxChannelWait {
			return hal.ErrChannelBusy
		}
		select {
		case <-d.quit:
			return hal.ErrClosed
		default:
		}
		if d.dio0.WaitForEdge(d.o.SensePeriod) || d.dio0.Read() == gpio.High {
			d.service(r)
		}
	}
}

// cad runs one channel-activity detection (SX127X.md §8.5) and returns to
// RX continuous; it reports whether a LoRa preamble was detected.
func (d *Dev) cad() (bool, error) {
	d.mu.Lock()
	p := d.p
	d.txActive = true
	err := d.writeLocked(regOpMode, longRangeMode|modeStandby)
	if err == nil {
		err = d.writeLocked(regDioMapping1, dioCadDone)
	}
	if err == nil {
		err = d.writeLocked(regIrqFlags, 0xff)
	}
	if err == nil {
		err = d.writeLocked(regOpMode, longRangeMode|modeCAD)
	}
	d.mu.Unlock()
	if err != nil {
		return false, d.recover(err)
	}
	deadline := d.o.Now().Add(16*hal.SymbolTime(p) + 50*time.Millisecond)
	var flags byte
	for flags&irqCadDone == 0 {
		remain := deadline.Sub(d.o.Now())
		if remain <= 0 {
			return false, d.recover(fmt.Errorf("sx127x: no CadDone within %v", 16*hal.SymbolTime(p)+50*time.Millisecond))
		}
		if !d.dio0.WaitForEdge(remain) && d.dio0.Read() == gpio.Low {
			continue
		}
		d.mu.Lock()
		flags, err = d.read1Locked(regIrqFlags)
		d.mu.Unlock()
		if err != nil {
			return false, d.recover(err)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.txActive = false
	for _, w := range [][]byte{
		{regIrqFlags, irqCadDone | irqCadDetected},
		{regDioMapping1, dioRxDone},
		{regOpMode, longRangeMode | modeRxCont},
	} {
		if err := d.writeLocked(w[0], w[1:]...); err != nil {
			return false, err
		}
	}
	return flags&irqCadDetected != 0, nil
}

// shareWindow is the RNode's short-term airtime window (two 7.5 s bins).
const shareWindow = 15 * time.Second

type airRec struct {
	end time.Time
	d   time.Duration
}

// recordAirtime remembers one transmitted frame (loop goroutine only).
func (d *Dev) recordAirtime(end time.Time, air time.Duration) {
	d.airLog = append(d.airLog, airRec{end, air})
}

// airtimeShare returns the percentage of the last 15 s this radio spent
// transmitting (loop goroutine only).
func (d *Dev) airtimeShare(now time.Time) int {
	i := 0
	for i < len(d.airLog) && now.Sub(d.airLog[i].end) > shareWindow {
		i++
	}
	d.airLog = d.airLog[i:]
	var sum time.Duration
	for _, r := range d.airLog {
		sum += r.d
	}
	return int(100 * sum / shareWindow)
}

// contentionWindow returns the range [lo, hi) of backoff slots, by the
// RNode's bands of short-term airtime share (RNODE.md §9.2): up to 7 %
// 0..14 slots, then 15..28, 30..43 and 45..58 for 8..38 %, 39..77 % and
// 78 % or more, so a busy sender yields to quieter ones.
func (d *Dev) contentionWindow(now time.Time) (lo, hi uint64) {
	p := d.airtimeShare(now)
	band := uint64(1)
	switch {
	case p >= 78:
		band = 4
	case p >= 39:
		band = 3
	case p >= 8:
		band = 2
	}
	if band == 1 {
		return 0, 15
	}
	return 15 * (band - 1), 15*band - 1
}

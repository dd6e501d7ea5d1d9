package rnodetest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/meshlogd/meshlogd/hal"
)

type vectors struct {
	Scenarios []struct {
		Name        string `json:"name"`
		DeviceModel struct {
			Platform string `json:"platform"`
			MCU      string `json:"mcu"`
		} `json:"device_model"`
		Exchange []struct {
			Direction string `json:"direction"`
			Hex       string `json:"hex"`
		} `json:"exchange"`
	} `json:"scenarios"`
	HostDataFrame struct {
		FrameHex  string `json:"frame_hex"`
		QueuedHex string `json:"firmware_queued_hex"`
	} `json:"host_data_frame"`
	DeviceRxDelivery struct {
		PayloadHex string  `json:"payload_hex"`
		RSSI       float64 `json:"rssi_dbm"`
		SNRRaw     int     `json:"snr_raw"`
		Frames     []struct {
			Hex string `json:"hex"`
		} `json:"frames"`
	} `json:"device_rx_delivery"`
	Detach struct {
		Exchange []struct {
			Direction string `json:"direction"`
			Hex       string `json:"hex"`
		} `json:"exchange"`
	} `json:"detach"`
	OnAir struct {
		Examples []struct {
			KISSHex    string `json:"host_kiss_data_frame_hex"`
			Nibble     byte   `json:"sequence_nibble"`
			LoRaFrames []struct {
				Hex string `json:"hex"`
			} `json:"lora_frames"`
		} `json:"examples"`
		Edge508 struct {
			Nibble     byte `json:"sequence_nibble"`
			LoRaFrames []struct {
				Hex string `json:"hex"`
			} `json:"lora_frames"`
		} `json:"edge_508"`
	} `json:"on_air"`
}

func load(t *testing.T) *vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/kiss.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// collect attaches a buffer as the host link.
func collect(d *Device) *bytes.Buffer {
	var buf bytes.Buffer
	d.Attach(func(b []byte) { buf.Write(b) })
	return &buf
}

// TestScenarioVectors feeds the reference host's bytes of every scenario
// to the device and checks its answers byte for byte.
func TestScenarioVectors(t *testing.T) {
	v := load(t)
	for _, s := range v.Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			d := New(Config{Platform: unhex(t, s.DeviceModel.Platform)[0], MCU: unhex(t, s.DeviceModel.MCU)[0]})
			out := collect(d)
			var want []byte
			for _, e := range s.Exchange {
				if e.Direction == "host_to_device" {
					if _, err := d.Write(unhex(t, e.Hex)); err != nil {
						t.Fatal(err)
					}
				} else {
					want = append(want, unhex(t, e.Hex)...)
				}
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("device answered\n%x\nwant\n%x", out.Bytes(), want)
			}
			if !d.State().RadioOn {
				t.Fatal("radio not on")
			}
			// Detach sequence.
			out.Reset()
			want = nil
			for _, e := range v.Detach.Exchange {
				if e.Direction == "host_to_device" {
					_, _ = d.Write(unhex(t, e.Hex))
				} else if s.DeviceModel.Platform != "0x90" {
					want = append(want, unhex(t, e.Hex)...)
				} else if e.Hex != "c04100c0" { // AVR boards have no display
					want = append(want, unhex(t, e.Hex)...)
				}
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("detach: device answered %x, want %x", out.Bytes(), want)
			}
		})
	}
}

func configure(t *testing.T, d *Device) {
	t.Helper()
	v := load(t)
	for _, e := range v.Scenarios[0].Exchange {
		if e.Direction == "host_to_device" {
			_, _ = d.Write(unhex(t, e.Hex))
		}
	}
	if !d.State().RadioOn {
		t.Fatal("radio not on")
	}
}

func TestOnAirVectors(t *testing.T) {
	v := load(t)
	examples := v.OnAir.Examples
	for _, ex := range examples {
		var frames [][]byte
		d := New(Config{
			Air:  AirFunc(func(f []byte, _ hal.Params) { frames = append(frames, append([]byte(nil), f...)) }),
			Rand: func() byte { return ex.Nibble << 4 },
		})
		configure(t, d)
		_, _ = d.Write(unhex(t, ex.KISSHex))
		if len(frames) != len(ex.LoRaFrames) {
			t.Fatalf("%d frames, want %d", len(frames), len(ex.LoRaFrames))
		}
		for i, f := range ex.LoRaFrames {
			if !bytes.Equal(frames[i], unhex(t, f.Hex)) {
				t.Fatalf("frame %d = %x, want %s", i, frames[i], f.Hex)
			}
		}
		// The same frames received by another device come out as the
		// host's DATA frame, preceded by RSSI and SNR.
		rx := New(Config{})
		configure(t, rx)
		out := collect(rx)
		for _, f := range frames {
			rx.Receive(f, -97, -5.5)
		}
		want := append(unhex(t, "c0233cc0c024eac0"), unhex(t, ex.KISSHex)...)
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("rx delivered %x, want %x", out.Bytes(), want)
		}
	}
	// 508 bytes: the firmware's third, header-only frame.
	var frames [][]byte
	d := New(Config{
		Air:  AirFunc(func(f []byte, _ hal.Params) { frames = append(frames, append([]byte(nil), f...)) }),
		Rand: func() byte { return v.OnAir.Edge508.Nibble << 4 },
	})
	configure(t, d)
	pkt := make([]byte, 508)
	for i := range pkt {
		pkt[i] = byte(i*53 + 7)
	}
	var kiss []byte
	kiss = append(kiss, fend, cmdData)
	for _, c := range pkt {
		switch c {
		case fend:
			kiss = append(kiss, fesc, tfend)
		case fesc:
			kiss = append(kiss, fesc, tfesc)
		default:
			kiss = append(kiss, c)
		}
	}
	_, _ = d.Write(append(kiss, fend))
	if len(frames) != 3 {
		t.Fatalf("508: %d frames", len(frames))
	}
	for i, f := range v.OnAir.Edge508.LoRaFrames {
		if !bytes.Equal(frames[i], unhex(t, f.Hex)) {
			t.Fatalf("508 frame %d differs", i)
		}
	}
}

func TestRxDeliveryVector(t *testing.T) {
	v := load(t)
	d := New(Config{})
	configure(t, d)
	out := collect(d)
	frame := append([]byte{0x40}, unhex(t, v.DeviceRxDelivery.PayloadHex)...)
	d.Receive(frame, v.DeviceRxDelivery.RSSI, float64(int8(v.DeviceRxDelivery.SNRRaw))/4)
	var want []byte
	for _, f := range v.DeviceRxDelivery.Frames {
		want = append(want, unhex(t, f.Hex)...)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("got %x, want %x", out.Bytes(), want)
	}
}

func TestDeviceBehaviour(t *testing.T) {
	now := time.Unix(1000, 0)
	var frames int
	d := New(Config{Now: func() time.Time { return now }, Air: AirFunc(func([]byte, hal.Params) { frames++ })})
	out := collect(d)

	// Data while the radio is off fails with ERROR 02.
	_, _ = d.Write([]byte{fend, cmdData, 1, 2, 3, fend})
	if got := out.Bytes(); !bytes.Equal(got, []byte{fend, cmdError, errTxFailed, fend}) {
		t.Fatalf("radio off: %x", got)
	}
	// Radio on while locked answers 00 twice.
	out.Reset()
	_, _ = d.Write([]byte{fend, cmdRadioState, 1, fend})
	if got := out.Bytes(); !bytes.Equal(got, unhex(t, "c00600c0c00600c0")) {
		t.Fatalf("locked: %x", got)
	}
	configure(t, d)
	// A frequency set while the radio runs is quantised (Frf steps).
	out.Reset()
	_, _ = d.Write(unhex(t, "c00133be27a0c0"))
	if f := d.State().FrequencyHz; f != 868099975 {
		t.Fatalf("quantised frequency %d", f)
	}
	// Bandwidth rounded up to the chip's set, with a PHYPRM frame.
	_, _ = d.Write(unhex(t, "c00200013880c0")) // 80000 Hz
	if bw := d.State().BandwidthHz; bw != 125000 {
		t.Fatalf("bandwidth %d", bw)
	}
	// Short-term airtime lock of 1 %: 150 ms in 15 s. One 255-byte frame
	// at SF9/125 kHz takes 1.27 s, so the second packet waits.
	_, _ = d.Write(unhex(t, "c00b0064c0"))
	if d.State().STALock != 100 {
		t.Fatal("ST lock not set")
	}
	big := make([]byte, 254)
	_, _ = d.Write(append(append([]byte{fend, cmdData}, big...), fend))
	_, _ = d.Write(append(append([]byte{fend, cmdData}, big...), fend))
	if frames != 1 || d.Stats().AirtimeLocked == 0 {
		t.Fatalf("frames %d, stats %+v", frames, d.Stats())
	}
	// READY says the queue still has room.
	out.Reset()
	_, _ = d.Write(unhex(t, "c00f00c0"))
	if !bytes.Equal(out.Bytes(), unhex(t, "c00f01c0")) {
		t.Fatalf("ready: %x", out.Bytes())
	}
	now = now.Add(16 * time.Second)
	d.Poll()
	if frames != 2 {
		t.Fatalf("after the window: %d frames", frames)
	}
	// Wrong echo fault; mute fault.
	d.SetFaults(Faults{WrongEcho: map[byte][]byte{cmdSF: {7}}})
	out.Reset()
	_, _ = d.Write(unhex(t, "c00409c0"))
	if !bytes.Equal(out.Bytes(), unhex(t, "c026100000f40012004a00310062c0c00407c0")) { // PHYPRM, then the echo
		t.Fatalf("wrong echo: %x", out.Bytes())
	}
	d.SetFaults(Faults{Mute: true})
	out.Reset()
	_, _ = d.Write(unhex(t, "c00873c0"))
	if out.Len() != 0 {
		t.Fatalf("mute device answered %x", out.Bytes())
	}
	// Reboot announces itself and forgets the configuration.
	d.SetFaults(Faults{})
	d.Reboot()
	if !bytes.Equal(out.Bytes(), unhex(t, "c055f8c0")) || d.State().RadioOn {
		t.Fatalf("reboot: %x %+v", out.Bytes(), d.State())
	}
}

// TestPTY opens the emulated device through go.bug.st/serial, as the
// driver does, and checks a detect round trip, then unplug and replug.
func TestPTY(t *testing.T) {
	d := New(Config{})
	p, err := NewPTY(d, t.TempDir(), "ttyRNODE")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	port, err := serial.Open(p.Path(), &serial.Mode{BaudRate: 115200, DataBits: 8, StopBits: serial.OneStopBit})
	if err != nil {
		t.Fatal(err)
	}
	if err := port.SetReadTimeout(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := port.Write(unhex(t, "c00873c05000c04800c04900c0")); err != nil {
		t.Fatal(err)
	}
	want := unhex(t, "c00846c0c0500156c0c04880c0c04981c0")
	var got []byte
	buf := make([]byte, 64)
	for len(got) < len(want) {
		n, err := port.Read(buf)
		if err != nil || n == 0 {
			t.Fatalf("read: %d %v (got %x)", n, err, got)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
	p.Unplug()
	if _, err := port.Read(buf); err == nil {
		t.Fatal("read after unplug succeeded")
	}
	port.Close()
	if _, err := serial.Open(p.Path(), &serial.Mode{BaudRate: 115200}); err == nil {
		t.Fatal("opened an unplugged device")
	}
	if err := p.Replug(); err != nil {
		t.Fatal(err)
	}
	port, err = serial.Open(p.Path(), &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	_ = port.SetReadTimeout(10 * time.Second)
	got = nil
	want = unhex(t, "c055f8c0") // boot announcement waiting in the new pty
	for len(got) < len(want) {
		n, err := port.Read(buf)
		if err != nil || n == 0 {
			t.Fatalf("read after replug: %d %v", n, err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("after replug got %x", got)
	}
}

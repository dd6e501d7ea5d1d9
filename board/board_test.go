package board

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/sx127x"
	"github.com/meshlogd/meshlogd/sx127x/sx127xtest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/spi"
)

func TestProfilesTable(t *testing.T) {
	required := []string{"adafruit-rfm9x-bonnet", "uputronics-zero-ce0", "uputronics-zero-ce1",
		"dragino-lora-gps-hat", "elecrow-rfm95", "loraspi", "generic"}
	for _, name := range required {
		if _, err := Lookup(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	seen := map[string]bool{}
	for _, p := range Profiles() {
		if seen[p.Name] {
			t.Errorf("duplicate %s", p.Name)
		}
		seen[p.Name] = true
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
	}
	// Spot checks against BOARDS.md §4.
	want := map[string]Profile{
		"adafruit-rfm9x-bonnet": {SPI: "SPI0.1", Reset: "GPIO25", DIO0: "GPIO22", DIO1: "GPIO23"},
		"uputronics-zero-ce0":   {SPI: "SPI0.0", DIO0: "GPIO25"},
		"uputronics-zero-ce1":   {SPI: "SPI0.1", DIO0: "GPIO16"},
		"dragino-lora-gps-hat":  {SPI: "SPI0.0", CS: "GPIO25", Reset: "GPIO17", DIO0: "GPIO4", DIO1: "GPIO23"},
		"elecrow-rfm95":         {SPI: "SPI0.1", Reset: "GPIO22", DIO0: "GPIO25"},
		"loraspi":               {SPI: "SPI0.0", Reset: "GPIO22", DIO0: "GPIO25"},
		"generic":               {SPI: "SPI0.0", Reset: "GPIO22", DIO0: "GPIO25", DIO1: "GPIO23"},
	}
	for name, w := range want {
		p, _ := Lookup(name)
		if p.SPI != w.SPI || p.CS != w.CS || p.Reset != w.Reset || p.DIO0 != w.DIO0 || p.DIO1 != w.DIO1 {
			t.Errorf("%s: %+v", name, p)
		}
	}
	if _, err := Lookup("nope"); !errors.Is(err, ErrUnknownBoard) || !strings.Contains(err.Error(), "generic") {
		t.Errorf("unknown board: %v", err)
	}
	if p, _ := Lookup("dragino-lora-gps-hat"); p.CSName() != "GPIO25 (software)" {
		t.Errorf("dragino CS %q", p.CSName())
	}
}

func TestParseCustom(t *testing.T) {
	p, err := ParseCustom("spi=/dev/spidev0.1, cs=none, reset=22, dio0=GPIO25, dio1=none")
	if err != nil {
		t.Fatal(err)
	}
	if p.SPI != "SPI0.1" || p.CS != "" || p.Reset != "GPIO22" || p.DIO0 != "GPIO25" || p.DIO1 != "" || p.Name != "custom" {
		t.Fatalf("%+v", p)
	}
	if p, err := ParseCustom("spi=SPI0.0,dio0=4"); err != nil || p.Reset != "" || p.DIO0 != "GPIO4" {
		t.Fatalf("%+v %v", p, err)
	}
	for _, bad := range []string{
		"spi=SPI0.0",                  // no dio0
		"dio0=25",                     // no spi
		"spi=SPI0.0,dio0=25,reset=25", // pin used twice
		"spi=SPI0.0,dio0=GPIO99",      // not a GPIO
		"spi=spi0,dio0=25",            // bad SPI
		"spi=SPI0.0,dio0=25,led=5",    // unknown key
		"spi=SPI0.0,dio0=25,dio0=24",  // repeated key
		"spi=SPI0.0,dio0",             // no value
	} {
		if _, err := ParseCustom(bad); !errors.Is(err, ErrBadSpec) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// csPin records chip-select levels.
type csPin struct {
	gpio.PinIO
	mu     sync.Mutex
	level  gpio.Level
	lows   int
	checks int
}

func (p *csPin) String() string { return "GPIO25" }
func (p *csPin) Out(l gpio.Level) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !l && p.level {
		p.lows++
	}
	p.level = l
	return nil
}

// fakeEnv wires an emulated chip to the profile's GPIO names.
func fakeEnv(chip *sx127xtest.Chip, p Profile, cs gpio.PinIO) env {
	return env{
		initHost: func() error { return nil },
		openSPI: func(name string) (spi.PortCloser, error) {
			if name != p.SPI {
				return nil, errors.New("spireg: no port found")
			}
			return chip.Port(), nil
		},
		pinByName: func(name string) gpio.PinIO {
			switch name {
			case p.Reset:
				return chip.ResetPin()
			case p.DIO0:
				return chip.DIO0()
			case p.DIO1:
				return chip.DIO1()
			case p.CS:
				return cs
			}
			return nil
		},
		spiDevices: func() []string { return []string{"/dev/spidev0.0", "/dev/spidev0.1"} },
	}
}

func testOpts(clk sx127xtest.Clock) *sx127x.Opts {
	return &sx127x.Opts{Now: clk.Now, Sleep: func(time.Duration) {}, DisableCSMA: true,
		Params: hal.Params{FrequencyHz: 869_525_000, BandwidthHz: 250_000, SpreadingFactor: 7, CodingRate: 5, TxPowerDBm: 10}}
}

func scale() float64 {
	if runtime.GOARCH == "arm" {
		return 4
	}
	return 10
}

func TestOpenEveryProfileOnEmulatedChip(t *testing.T) {
	for _, p := range Profiles() {
		t.Run(p.Name, func(t *testing.T) {
			clk := sx127xtest.NewScaledClock(time.Unix(0, 0), scale())
			air := sx127xtest.NewAir(clk)
			chip := sx127xtest.NewChip(sx127xtest.ChipOpts{Name: "chip", Clock: clk, Air: air})
			peer := sx127xtest.NewChip(sx127xtest.ChipOpts{Name: "peer", Clock: clk, Air: air})
			cs := &csPin{}
			r, err := open(fakeEnv(chip, p, cs), p, testOpts(clk))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Version() != 0x12 {
				t.Fatalf("version %02x", r.Version())
			}
			wantResets := uint64(1)
			if p.Reset == "" {
				wantResets = 0
			}
			if chip.Stats().Resets != wantResets {
				t.Errorf("resets %d", chip.Stats().Resets)
			}
			if p.CS != "" {
				if cs.lows == 0 || uint64(cs.lows) != chip.Stats().SPITransactions {
					t.Errorf("software CS asserted %d times for %d transfers", cs.lows, chip.Stats().SPITransactions)
				}
				if !strings.Contains(r.String(), "SPI0.0+GPIO25") {
					t.Errorf("String %s", r)
				}
			}
			pd, err := sx127x.New(peer.Port(), peer.ResetPin(), peer.DIO0(), testOpts(clk))
			if err != nil {
				t.Fatal(err)
			}
			defer pd.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := r.Send(ctx, []byte(p.Name)); err != nil {
				t.Fatal(err)
			}
			pkt, err := pd.Receive(ctx)
			if err != nil || string(pkt.Data) != p.Name {
				t.Fatalf("%q %v", pkt.Data, err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	clk := sx127xtest.NewScaledClock(time.Unix(0, 0), scale())
	p, _ := Lookup("adafruit-rfm9x-bonnet")
	chip := sx127xtest.NewChip(sx127xtest.ChipOpts{Clock: clk})
	chip.SetAbsent(true, 0x00)
	_, err := open(fakeEnv(chip, p, nil), p, testOpts(clk))
	if !errors.Is(err, sx127x.ErrNoChip) || !strings.Contains(err.Error(), "no SX127x found on SPI0.1") ||
		!strings.Contains(err.Error(), "check wiring/board profile") || !strings.Contains(err.Error(), "adafruit-rfm9x-bonnet") {
		t.Errorf("absent chip: %v", err)
	}
	// SPI device missing while others exist.
	e := fakeEnv(chip, p, nil)
	e.openSPI = func(string) (spi.PortCloser, error) { return nil, errors.New("spireg: no port found") }
	if _, err := open(e, p, nil); !errors.Is(err, ErrSPIDisabled) || !strings.Contains(err.Error(), "/dev/spidev0.0") {
		t.Errorf("missing device: %v", err)
	}
	// No SPI at all.
	e.spiDevices = func() []string { return nil }
	if _, err := open(e, p, nil); !errors.Is(err, ErrSPIDisabled) || !strings.Contains(err.Error(), "dtparam=spi=on") {
		t.Errorf("SPI disabled: %v", err)
	}
	// Unknown GPIO.
	e = fakeEnv(chip, p, nil)
	e.pinByName = func(string) gpio.PinIO { return nil }
	if _, err := open(e, p, nil); !errors.Is(err, ErrNoGPIO) {
		t.Errorf("no GPIO: %v", err)
	}
	// Host init failure.
	e.initHost = func() error { return ErrHost }
	if _, err := open(e, p, nil); !errors.Is(err, ErrHost) {
		t.Errorf("host: %v", err)
	}
	if _, err := open(e, Profile{Name: "x"}, nil); !errors.Is(err, ErrBadSpec) {
		t.Errorf("invalid profile: %v", err)
	}
}

// On a machine without /dev/spidev* (like CI), Open fails with a clear error.
func TestOpenOnHostWithoutSPI(t *testing.T) {
	if m, _ := filepath.Glob("/dev/spidev*"); len(m) > 0 {
		t.Skip("this host has SPI devices")
	}
	if _, err := os.Stat("/dev/gpiochip0"); err == nil {
		t.Skip("this host has GPIOs")
	}
	p, _ := Lookup("generic")
	_, err := Open(p, nil)
	if !errors.Is(err, ErrSPIDisabled) || !strings.Contains(err.Error(), "SPI is disabled") {
		t.Fatalf("%v", err)
	}
}

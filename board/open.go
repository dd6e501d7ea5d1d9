package board

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/sx127x"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3"
)

// Errors of Open. The sx127x package's errors (ErrNoChip with the message
// "no SX127x found on SPI0.1 — check wiring/board profile",
// ErrUnknownChip) pass through wrapped.
var (
	// ErrSPIDisabled means the SPI device does not exist: SPI is not
	// enabled in the kernel, or the board needs the other CE device.
	ErrSPIDisabled = errors.New("board: SPI device not available")
	// ErrNoGPIO means a GPIO of the profile is unknown to the host.
	ErrNoGPIO = errors.New("board: GPIO not available")
	// ErrHost means periph.io's host initialisation failed.
	ErrHost = errors.New("board: periph host initialisation failed")
)

// env is what Open needs from the host; tests replace it.
type env struct {
	initHost   func() error
	openSPI    func(name string) (spi.PortCloser, error)
	pinByName  func(name string) gpio.PinIO
	spiDevices func() []string
}

var (
	hostOnce sync.Once
	hostErr  error
)

// initHost runs periph's host.Init once per process.
func initHost() error {
	hostOnce.Do(func() {
		if _, err := host.Init(); err != nil {
			hostErr = fmt.Errorf("%w: %w", ErrHost, err)
		}
	})
	return hostErr
}

func spiDevices() []string {
	m, _ := filepath.Glob("/dev/spidev*")
	sort.Strings(m)
	return m
}

var hostEnv = env{
	initHost:   initHost,
	openSPI:    spireg.Open,
	pinByName:  gpioreg.ByName,
	spiDevices: spiDevices,
}

// Radio is an SX127x opened through a board profile; Close also releases
// the SPI port. It implements hal.Radio.
type Radio struct {
	*sx127x.Dev
	port spi.PortCloser
}

var _ hal.Radio = (*Radio)(nil)

// Close stops the radio, puts the chip to sleep and closes the SPI port.
func (r *Radio) Close() error {
	err := r.Dev.Close()
	if cerr := r.port.Close(); err == nil {
		err = cerr
	}
	return err
}

// Halt implements conn.Resource: it is Close.
func (r *Radio) Halt() error { return r.Close() }

// Open initialises the periph host (once), opens the profile's SPI device
// and GPIOs and starts an sx127x driver on them with o (nil = defaults;
// o.Device and o.DIO1 are set from the profile). Errors say what to check:
// a missing /dev/spidev* (ErrSPIDisabled, with the config.txt line to
// add), an unknown GPIO (ErrNoGPIO), or no chip answering
// (sx127x.ErrNoChip: "no SX127x found on SPI0.1 — check wiring/board
// profile").
func Open(p Profile, o *sx127x.Opts) (*Radio, error) {
	return open(hostEnv, p, o)
}

func open(e env, p Profile, o *sx127x.Opts) (*Radio, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := e.initHost(); err != nil {
		return nil, err
	}
	port, err := e.openSPI(p.SPI)
	if err != nil {
		return nil, spiError(e, p, err)
	}
	pins := map[string]gpio.PinIO{}
	for _, name := range []string{p.CS, p.Reset, p.DIO0, p.DIO1} {
		if name == "" {
			continue
		}
		pin := e.pinByName(name)
		if pin == nil || pin == gpio.INVALID {
			port.Close()
			return nil, fmt.Errorf("%w: %s (profile %s); is this a Raspberry Pi and is the user in group gpio?", ErrNoGPIO, name, p.Name)
		}
		pins[name] = pin
	}
	var sp spi.Port = port
	if p.CS != "" {
		cs := pins[p.CS]
		if err := cs.Out(gpio.High); err != nil {
			port.Close()
			return nil, fmt.Errorf("board: chip select %s: %w", p.CS, err)
		}
		sp = &csPort{Port: port, cs: cs}
	}
	opts := sx127x.Opts{}
	if o != nil {
		opts = *o
	}
	opts.Device = p.SPI
	if p.CS != "" {
		opts.Device = p.SPI + "+" + p.CS
	}
	if p.DIO1 != "" {
		opts.DIO1 = pins[p.DIO1]
	}
	var rst gpio.PinOut
	if p.Reset != "" {
		rst = pins[p.Reset]
	}
	dev, err := sx127x.New(sp, rst, pins[p.DIO0], &opts)
	if err != nil {
		port.Close()
		if errors.Is(err, sx127x.ErrNoChip) {
			return nil, fmt.Errorf("%w (board profile %s: CS %s, reset %s, DIO0 %s)", err, p.Name, p.CSName(), orNone(p.Reset), p.DIO0)
		}
		return nil, err
	}
	return &Radio{Dev: dev, port: port}, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// spiError explains why the SPI device could not be opened.
func spiError(e env, p Profile, err error) error {
	devs := e.spiDevices()
	if len(devs) == 0 {
		return fmt.Errorf("%w: cannot open %s: no /dev/spidev* devices, SPI is disabled: add dtparam=spi=on to "+
			"/boot/firmware/config.txt (or run: sudo raspi-config nonint do_spi 0) and reboot", ErrSPIDisabled, p.SPI)
	}
	if os.IsPermission(err) || strings.Contains(err.Error(), "permission denied") {
		return fmt.Errorf("%w: %s: permission denied; add the user to group spi (sudo usermod -aG spi,gpio $USER) and log in again: %v", ErrSPIDisabled, p.SPI, err)
	}
	return fmt.Errorf("%w: %s not found (present: %s); check the board profile: %v", ErrSPIDisabled, p.SPI, strings.Join(devs, ", "), err)
}

// csPort drives a GPIO as chip select around every transfer, for boards
// whose NSS is not on a CE line.
type csPort struct {
	spi.Port
	cs gpio.PinOut
}

func (p *csPort) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	c, err := p.Port.Connect(f, mode, bits)
	if err != nil {
		return nil, err
	}
	return &csConn{Conn: c, cs: p.cs}, nil
}

type csConn struct {
	spi.Conn
	cs gpio.PinOut
}

func (c *csConn) Tx(w, r []byte) error {
	if err := c.cs.Out(gpio.Low); err != nil {
		return fmt.Errorf("board: chip select %s low: %w", c.cs, err)
	}
	err := c.Conn.Tx(w, r)
	if herr := c.cs.Out(gpio.High); err == nil && herr != nil {
		err = fmt.Errorf("board: chip select %s high: %w", c.cs, herr)
	}
	return err
}

func (c *csConn) TxPackets(pkts []spi.Packet) error {
	if err := c.cs.Out(gpio.Low); err != nil {
		return fmt.Errorf("board: chip select %s low: %w", c.cs, err)
	}
	err := c.Conn.TxPackets(pkts)
	if herr := c.cs.Out(gpio.High); err == nil && herr != nil {
		err = fmt.Errorf("board: chip select %s high: %w", c.cs, herr)
	}
	return err
}

var _ conn.Resource = (*Radio)(nil)

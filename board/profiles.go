package board

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Profile is the wiring of one SX127x on a Raspberry Pi: which SPI device
// it hangs on and which BCM GPIOs carry chip select, reset and DIO lines.
type Profile struct {
	// Name is the profile's name, e.g. "adafruit-rfm9x-bonnet".
	Name string
	// Description names the board and module.
	Description string
	// SPI is the periph.io SPI port name: "SPI0.0" (/dev/spidev0.0, CE0 =
	// GPIO8) or "SPI0.1" (/dev/spidev0.1, CE1 = GPIO7).
	SPI string
	// CS is a GPIO that meshlogd drives as chip select around every SPI
	// transfer, for boards whose NSS is not on a CE line (Dragino: GPIO25).
	// Empty when the kernel's CE line of SPI is the chip select.
	CS string
	// Reset is the GPIO on the module's NRESET, empty when not connected
	// (the driver then brings the chip to a known state by register writes).
	Reset string
	// DIO0 is the GPIO on DIO0 (required: TxDone/RxDone interrupts).
	DIO0 string
	// DIO1 is the GPIO on DIO1, empty when not routed (optional).
	DIO1 string
	// Notes say what is uncertain or how to set the board up.
	Notes string
}

// hardwareCS returns the CE line of the SPI device, for display.
func (p Profile) hardwareCS() string {
	switch p.SPI {
	case "SPI0.0":
		return "CE0/GPIO8"
	case "SPI0.1":
		return "CE1/GPIO7"
	}
	return p.SPI
}

// CSName describes the chip select: the software GPIO or the CE line.
func (p Profile) CSName() string {
	if p.CS != "" {
		return p.CS + " (software)"
	}
	return p.hardwareCS()
}

// profiles are the named boards (BOARDS.md §4). GPIO numbers are BCM.
var profiles = []Profile{
	{Name: "adafruit-rfm9x-bonnet", Description: "Adafruit LoRa Radio Bonnet with OLED (RFM95W 868/915 or RFM96W 433 MHz)",
		SPI: "SPI0.1", Reset: "GPIO25", DIO0: "GPIO22", DIO1: "GPIO23",
		Notes: "DIO1 on GPIO23 is from a single source; OLED on I2C-1, buttons GPIO5/6/12"},
	{Name: "uputronics-zero-ce0", Description: "Uputronics Pi Zero LoRa board, CE0 build (RFM95W/RFM98W)",
		SPI: "SPI0.0", DIO0: "GPIO25",
		Notes: "no reset line (chip reset by register writes); DIO1 not routed; DIO5 GPIO24; LEDs GPIO6/13"},
	{Name: "uputronics-zero-ce1", Description: "Uputronics Pi Zero LoRa board, CE1 build (RFM95W/RFM98W)",
		SPI: "SPI0.1", DIO0: "GPIO16",
		Notes: "no reset line (chip reset by register writes); DIO1 not routed; DIO5 GPIO12; LEDs GPIO6/13"},
	{Name: "dragino-lora-gps-hat", Description: "Dragino LoRa/GPS HAT v1.x (RFM95/SX1276)",
		SPI: "SPI0.0", CS: "GPIO25", Reset: "GPIO17", DIO0: "GPIO4", DIO1: "GPIO23",
		Notes: "NSS is GPIO25 (pin 22), not a CE line: meshlogd drives it around each transfer while CE0 toggles unused; " +
			"with dtoverlay=spi0-1cs,cs0_pin=25 use a custom profile with cs=none; DIO1 on GPIO23 is revision-dependent"},
	{Name: "elecrow-rfm95", Description: "Elecrow LoRa RFM95 IoT board for RPi",
		SPI: "SPI0.1", Reset: "GPIO22", DIO0: "GPIO25"},
	{Name: "electronic-tricks-zero", Description: "Electronic Tricks LoRa/LoRaWAN shield for Pi Zero (RFM95)",
		SPI: "SPI0.0", Reset: "GPIO5", DIO0: "GPIO25"},
	{Name: "loraspi", Description: "LoRasPi by hallard (RFM95)",
		SPI: "SPI0.0", Reset: "GPIO22", DIO0: "GPIO25", Notes: "LED on GPIO23"},
	{Name: "rpi-lora-gateway-1", Description: "hallard RPI-Lora-Gateway, module 1",
		SPI: "SPI0.0", Reset: "GPIO5", DIO0: "GPIO25"},
	{Name: "rpi-lora-gateway-2", Description: "hallard RPI-Lora-Gateway, module 2",
		SPI: "SPI0.1", Reset: "GPIO6", DIO0: "GPIO16"},
	{Name: "generic", Description: "breadboard RFM95W, meshlogd's convention (same as LoRasPi)",
		SPI: "SPI0.0", Reset: "GPIO22", DIO0: "GPIO25", DIO1: "GPIO23",
		Notes: "NSS→CE0 (pin 24), RESET→GPIO22 (pin 15), DIO0→GPIO25 (pin 22), DIO1→GPIO23 (pin 16, optional)"},
}

// Errors of profile lookup and parsing.
var (
	// ErrUnknownBoard is returned by Lookup for a name that is not a
	// profile.
	ErrUnknownBoard = errors.New("board: unknown board profile")
	// ErrBadSpec is returned by ParseCustom and Profile.Validate.
	ErrBadSpec = errors.New("board: bad pin specification")
)

// Profiles returns the named profiles sorted by name.
func Profiles() []Profile {
	out := append([]Profile(nil), profiles...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the named profile.
func Lookup(name string) (Profile, error) {
	for _, p := range profiles {
		if p.Name == name {
			return p, nil
		}
	}
	names := make([]string, 0, len(profiles))
	for _, p := range Profiles() {
		names = append(names, p.Name)
	}
	return Profile{}, fmt.Errorf("%w %q (known: %s, or custom)", ErrUnknownBoard, name, strings.Join(names, ", "))
}

// ParseCustom parses a custom wiring, as given in the config or with
// --custom: comma-separated key=value pairs
//
//	spi=SPI0.0,cs=none,reset=GPIO22,dio0=GPIO25,dio1=none
//
// spi is "SPI0.0", "SPI0.1" (or a /dev/spidevB.C path); cs, reset and
// dio1 may be "none" (or omitted); dio0 is required. GPIOs are BCM numbers
// written "GPIO25" or "25".
func ParseCustom(spec string) (Profile, error) {
	p := Profile{Name: "custom", Description: "custom wiring: " + spec}
	seen := map[string]bool{}
	for _, kv := range strings.Split(spec, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok || seen[k] {
			return Profile{}, fmt.Errorf("%w: %q (want key=value, each key once)", ErrBadSpec, kv)
		}
		seen[k] = true
		switch k {
		case "spi":
			p.SPI = v
		case "cs":
			p.CS = v
		case "reset", "rst":
			p.Reset = v
		case "dio0":
			p.DIO0 = v
		case "dio1":
			p.DIO1 = v
		default:
			return Profile{}, fmt.Errorf("%w: unknown key %q (spi, cs, reset, dio0, dio1)", ErrBadSpec, k)
		}
	}
	var err error
	for _, f := range []*string{&p.CS, &p.Reset, &p.DIO0, &p.DIO1} {
		if *f, err = normalizeGPIO(*f); err != nil {
			return Profile{}, err
		}
	}
	if p.SPI, err = normalizeSPI(p.SPI); err != nil {
		return Profile{}, err
	}
	return p, p.Validate()
}

// Validate checks that the profile names an SPI device and a DIO0 pin and
// that no GPIO is used twice.
func (p Profile) Validate() error {
	if p.SPI == "" {
		return fmt.Errorf("%w: %s: no SPI device", ErrBadSpec, p.Name)
	}
	if p.DIO0 == "" {
		return fmt.Errorf("%w: %s: DIO0 is required", ErrBadSpec, p.Name)
	}
	used := map[string]string{}
	for _, x := range []struct{ role, pin string }{{"cs", p.CS}, {"reset", p.Reset}, {"dio0", p.DIO0}, {"dio1", p.DIO1}} {
		if x.pin == "" {
			continue
		}
		if other, dup := used[x.pin]; dup {
			return fmt.Errorf("%w: %s: %s used for both %s and %s", ErrBadSpec, p.Name, x.pin, other, x.role)
		}
		used[x.pin] = x.role
	}
	return nil
}

func normalizeGPIO(v string) (string, error) {
	switch strings.ToLower(v) {
	case "", "none", "-", "nc":
		return "", nil
	}
	num := strings.TrimPrefix(strings.ToUpper(v), "GPIO")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > 53 {
		return "", fmt.Errorf("%w: %q is not a BCM GPIO (GPIO0..GPIO53)", ErrBadSpec, v)
	}
	return "GPIO" + strconv.Itoa(n), nil
}

func normalizeSPI(v string) (string, error) {
	var b, c int
	if _, err := fmt.Sscanf(strings.ToUpper(v), "SPI%d.%d", &b, &c); err == nil {
		return fmt.Sprintf("SPI%d.%d", b, c), nil
	}
	if _, err := fmt.Sscanf(v, "/dev/spidev%d.%d", &b, &c); err == nil {
		return fmt.Sprintf("SPI%d.%d", b, c), nil
	}
	return "", fmt.Errorf("%w: SPI device %q (want SPI0.0, SPI0.1 or /dev/spidevB.C)", ErrBadSpec, v)
}

// Package board holds pin profiles of Raspberry Pi LoRa boards and the
// periph.io host initialisation that opens them.
//
// A Profile names the SPI device ("SPI0.0" = /dev/spidev0.0 with CE0 on
// GPIO8, "SPI0.1" = /dev/spidev0.1 with CE1 on GPIO7) and the BCM GPIOs of
// a software chip select (boards whose NSS is not a CE line), NRESET,
// DIO0 and DIO1. Profiles lists the named boards of BOARDS.md §4
// (adafruit-rfm9x-bonnet, uputronics-zero-ce0/ce1, dragino-lora-gps-hat,
// elecrow-rfm95, electronic-tricks-zero, loraspi, rpi-lora-gateway-1/2,
// generic); ParseCustom reads a custom wiring such as
//
//	spi=SPI0.0,cs=none,reset=GPIO22,dio0=GPIO25,dio1=none
//
// Open runs periph's host.Init once, opens the SPI port (spireg) and the
// GPIOs (gpioreg) and starts an sx127x driver; it is the only user of the
// periph registries in meshlogd. Boards without a reset line (Uputronics)
// are brought to a known state by the driver's register writes. On a
// machine without /dev/spidev* Open fails with ErrSPIDisabled and the
// config.txt line to add; a chip that does not answer gives
// sx127x.ErrNoChip ("no SX127x found on SPI0.1 — check wiring/board
// profile").
package board

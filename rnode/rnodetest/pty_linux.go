//go:build linux

package rnodetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// PTY exposes a Device on a Linux pseudo-terminal, so that a host driver
// opens it through the real serial path (go.bug.st/serial, termios) like
// a /dev/ttyUSB0. Path is a symbolic link to the pty's slave device; it
// stays the same across Unplug/Replug, as a udev name does, while the pty
// behind it changes.
type PTY struct {
	dev  *Device
	link string

	mu      sync.Mutex
	master  *os.File
	slave   *os.File // held open so that the master never sees a hangup while no host has the port open
	out     chan []byte
	done    chan struct{}
	wg      sync.WaitGroup
	dropped int
	closed  bool
}

// PollInterval is how often a PTY lets its device retry a queue held back
// by an airtime lock.
const PollInterval = 20 * time.Millisecond

// NewPTY creates a pty for dev, links dir/name to its slave device and
// starts serving. The device is attached to the pty (its answers go to
// the host) but not rebooted.
func NewPTY(dev *Device, dir, name string) (*PTY, error) {
	p := &PTY{dev: dev, link: filepath.Join(dir, name)}
	if err := p.plug(); err != nil {
		return nil, err
	}
	return p, nil
}

// Path is the device path a host opens (the symbolic link).
func (p *PTY) Path() string { return p.link }

// openPTY opens a new master and its slave in raw mode.
func openPTY() (master, slave *os.File, slavePath string, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, "", fmt.Errorf("rnodetest: open /dev/ptmx: %w", err)
	}
	fail := func(err error) (*os.File, *os.File, string, error) {
		m.Close()
		return nil, nil, "", err
	}
	rc, err := m.SyscallConn()
	if err != nil {
		return fail(err)
	}
	var n uint32
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		if ierr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ierr != nil {
			return
		}
		n, ierr = unix.IoctlGetUint32(int(fd), unix.TIOCGPTN)
	}); err != nil {
		return fail(err)
	}
	if ierr != nil {
		return fail(fmt.Errorf("rnodetest: unlock pty: %w", ierr))
	}
	path := fmt.Sprintf("/dev/pts/%d", n)
	s, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("rnodetest: open %s: %w", path, err))
	}
	// Raw mode before anything is written: no echo, no line editing, no
	// CR/NL translation, so device bytes reach the host unchanged even
	// before the host's serial library configures the port.
	src, err := s.SyscallConn()
	if err == nil {
		err = src.Control(func(fd uintptr) {
			t, e := unix.IoctlGetTermios(int(fd), unix.TCGETS)
			if e != nil {
				ierr = e
				return
			}
			t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
			t.Oflag &^= unix.OPOST
			t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
			t.Cflag &^= unix.CSIZE | unix.PARENB
			t.Cflag |= unix.CS8
			t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
			ierr = unix.IoctlSetTermios(int(fd), unix.TCSETS, t)
		})
	}
	if err == nil {
		err = ierr
	}
	if err != nil {
		s.Close()
		return fail(fmt.Errorf("rnodetest: raw mode on %s: %w", path, err))
	}
	return m, s, path, nil
}

func (p *PTY) plug() error {
	m, s, path, err := openPTY()
	if err != nil {
		return err
	}
	tmp := p.link + ".new"
	_ = os.Remove(tmp)
	if err := os.Symlink(path, tmp); err != nil {
		m.Close()
		s.Close()
		return fmt.Errorf("rnodetest: %w", err)
	}
	if err := os.Rename(tmp, p.link); err != nil {
		m.Close()
		s.Close()
		return fmt.Errorf("rnodetest: %w", err)
	}
	out := make(chan []byte, 4096)
	done := make(chan struct{})
	p.mu.Lock()
	p.master, p.slave, p.out, p.done = m, s, out, done
	p.mu.Unlock()
	p.dev.Attach(func(b []byte) {
		select {
		case out <- b:
		default:
			p.mu.Lock()
			p.dropped++
			p.mu.Unlock()
		}
	})
	p.wg.Add(3)
	go p.reader(m, done)
	go p.writer(m, out, done)
	go p.poller(done)
	return nil
}

func (p *PTY) reader(m *os.File, done chan struct{}) {
	defer p.wg.Done()
	buf := make([]byte, 1024)
	for {
		n, err := m.Read(buf)
		if n > 0 {
			_, _ = p.dev.Write(buf[:n])
		}
		if err != nil {
			select {
			case <-done:
				return
			default:
			}
			if errors.Is(err, os.ErrClosed) {
				return
			}
			// EIO without a slave open cannot happen (we hold one);
			// anything else: back off briefly and retry.
			time.Sleep(time.Millisecond)
		}
	}
}

func (p *PTY) writer(m *os.File, out chan []byte, done chan struct{}) {
	defer p.wg.Done()
	for {
		select {
		case <-done:
			return
		case b := <-out:
			if _, err := m.Write(b); err != nil {
				return
			}
		}
	}
}

func (p *PTY) poller(done chan struct{}) {
	defer p.wg.Done()
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			p.dev.Poll()
		}
	}
}

// unplug closes the pty and waits for its goroutines.
func (p *PTY) unplug() {
	p.dev.Attach(nil)
	p.mu.Lock()
	m, s, done := p.master, p.slave, p.done
	p.master, p.slave, p.done = nil, nil, nil
	p.mu.Unlock()
	if m == nil {
		return
	}
	close(done)
	m.Close()
	s.Close()
	p.wg.Wait()
}

// Unplug makes the device disappear as a USB modem does when its cable
// is pulled: the pty is closed (the host's reads and writes fail) and the
// device path vanishes.
func (p *PTY) Unplug() {
	p.unplug()
	_ = os.Remove(p.link)
}

// Replug makes the device reappear at the same path on a new pty. The
// device reboots, as a modem powered through its USB cable does (on
// ESP32/nRF52 it announces the boot with RESET f8).
func (p *PTY) Replug() error {
	p.unplug()
	if err := p.plug(); err != nil {
		return err
	}
	p.dev.Reboot()
	return nil
}

// Dropped returns how many device writes were dropped because the host
// did not read (the pty's buffer stayed full).
func (p *PTY) Dropped() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

// Close stops serving and removes the device path.
func (p *PTY) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.Unplug()
	return nil
}

// Package control is the local control protocol between the meshlogd CLI
// and a running daemon: one JSON object per line over a unix socket in the
// data directory, created with mode 0600 so only the node's user can write
// to the dataset through it.
//
// A connection carries any number of request/response pairs:
//
//	→ {"op":"set","record":"R-1","field":"functional","value":true}
//	← {"ok":true,"result":{...}}
//	← {"ok":false,"error":"record \"R-9\" does not exist"}
//
// A response is sent only after what the request wrote is durable, so "ok"
// from the CLI means the event survives a power cut.
package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// MaxLine bounds one request or response line.
const MaxLine = 4 << 20

// Request is one command to the daemon.
type Request struct {
	// Op is the operation: create, set, note, view, log, export, status,
	// member-add, member-remove, invite.
	Op string `json:"op"`
	// Record is a record id (create, set, note, view).
	Record string `json:"record,omitempty"`
	// Type is a record type (create).
	Type string `json:"type,omitempty"`
	// Field is a field name (set).
	Field string `json:"field,omitempty"`
	// Value is a typed JSON value (set): string, number, bool or null; bytes
	// are sent as {"bytes":"<base64>"}.
	Value json.RawMessage `json:"value,omitempty"`
	// Text is a note's text (note).
	Text string `json:"text,omitempty"`
	// Author filters log output by author id (hex).
	Author string `json:"author,omitempty"`
	// ID is an identity hash or public key in hex (member-add, member-remove, invite).
	ID string `json:"id,omitempty"`
	// Format is an export format (csv, jsonl, geojson).
	Format string `json:"format,omitempty"`
}

// Response is the daemon's answer.
type Response struct {
	OK     bool            `json:"ok"`
	Error  string          `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// Handler serves requests.
type Handler interface {
	Handle(ctx context.Context, req Request) (any, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req Request) (any, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, req Request) (any, error) { return f(ctx, req) }

// ErrBadRequest marks a request that could not be decoded.
var ErrBadRequest = errors.New("control: bad request")

// DecodeRequest parses one request line.
func DecodeRequest(line []byte) (Request, error) {
	var r Request
	if len(line) > MaxLine {
		return r, fmt.Errorf("%w: line longer than %d bytes", ErrBadRequest, MaxLine)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Request{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if dec.More() {
		return Request{}, fmt.Errorf("%w: trailing data after the request", ErrBadRequest)
	}
	if r.Op == "" {
		return Request{}, fmt.Errorf("%w: missing \"op\"", ErrBadRequest)
	}
	return r, nil
}

// Server accepts control connections on a unix socket.
type Server struct {
	ln      net.Listener
	path    string
	handler Handler
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closed  bool
}

// Listen creates the socket at path with mode 0600, replacing a stale socket
// left by a crashed daemon (but refusing if another daemon answers on it).
func Listen(path string, h Handler) (*Server, error) {
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("control: another meshlogd is already serving %s", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control: removing stale socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: %w", err)
	}
	return &Server{ln: ln, path: path, handler: h, conns: map[net.Conn]struct{}{}}, nil
}

// Serve accepts connections until Close; each connection is served in its
// own goroutine.
func (s *Server) Serve(ctx context.Context) error {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(ctx, c)
	}
}

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.wg.Done()
	}()
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriter(c)
	for {
		line, err := readLine(r)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				writeResponse(w, Response{Error: err.Error()})
			}
			return
		}
		req, err := DecodeRequest(line)
		var resp Response
		if err != nil {
			resp.Error = err.Error()
		} else if result, err := s.handler.Handle(ctx, req); err != nil {
			resp.Error = err.Error()
		} else {
			resp.OK = true
			if result != nil {
				b, err := json.Marshal(result)
				if err != nil {
					resp = Response{Error: "encoding result: " + err.Error()}
				} else {
					resp.Result = b
				}
			}
		}
		if err := writeResponse(w, resp); err != nil {
			return
		}
	}
}

func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return nil, err
		}
		if len(line)+len(chunk) > MaxLine {
			return nil, fmt.Errorf("%w: line longer than %d bytes", ErrBadRequest, MaxLine)
		}
		line = append(line, chunk...)
		if !isPrefix {
			return line, nil
		}
	}
}

func writeResponse(w *bufio.Writer, resp Response) error {
	b, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return err
	}
	return w.Flush()
}

// Close stops accepting, closes open connections, waits for their handlers
// and removes the socket file.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	os.Remove(s.path)
	return err
}

// Client talks to a daemon's control socket.
type Client struct {
	c net.Conn
	r *bufio.Reader
}

// ErrNoDaemon is returned by Dial when no daemon serves the socket.
var ErrNoDaemon = errors.New("control: no running meshlogd on this data directory")

// Dial connects to the socket at path.
func Dial(path string) (*Client, error) {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNoDaemon, err)
	}
	return &Client{c: c, r: bufio.NewReaderSize(c, 64<<10)}, nil
}

// Do sends a request and decodes the result into out (if non-nil). A
// daemon-side failure is returned as an error carrying its message.
func (cl *Client) Do(req Request, out any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := cl.c.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	line, err := readLine(cl.r)
	if err != nil {
		return fmt.Errorf("control: reading response: %w", err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return fmt.Errorf("control: bad response: %w", err)
	}
	if !resp.OK {
		return errors.New(resp.Error)
	}
	if out != nil && len(resp.Result) > 0 {
		return DecodeResult(resp.Result, out)
	}
	return nil
}

// Close closes the connection.
func (cl *Client) Close() error { return cl.c.Close() }

// DecodeResult decodes a result into out, keeping numbers exact
// (json.Number) where out holds untyped values.
func DecodeResult(raw []byte, out any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(out)
}

package control

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "control.sock")
	srv, err := Listen(sock, HandlerFunc(func(ctx context.Context, req Request) (any, error) {
		switch req.Op {
		case "echo":
			return map[string]string{"record": req.Record, "value": string(req.Value)}, nil
		default:
			return nil, errors.New("unknown op " + req.Op)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()
	st, err := os.Stat(sock)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v %v", st, err)
	}
	if _, err := Listen(sock, nil); err == nil || !strings.Contains(err.Error(), "already serving") {
		t.Fatalf("second daemon on the same socket: %v", err)
	}
	cl, err := Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	if err := cl.Do(Request{Op: "echo", Record: "R-1", Value: []byte(`true`)}, &out); err != nil {
		t.Fatal(err)
	}
	if out["record"] != "R-1" || out["value"] != "true" {
		t.Fatalf("out = %v", out)
	}
	if err := cl.Do(Request{Op: "nope"}, nil); err == nil || err.Error() != "unknown op nope" {
		t.Fatalf("err = %v", err)
	}
	// The same connection still works after an error.
	if err := cl.Do(Request{Op: "echo"}, nil); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("socket not removed on close")
	}
	if _, err := Dial(sock); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("dial without daemon: %v", err)
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	for _, in := range []string{``, `{}`, `{"op":"x","bogus":1}`, `{"op":"x"} {"op":"y"}`, `[1]`, `{"op":`} {
		if _, err := DecodeRequest([]byte(in)); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%q: err = %v", in, err)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"op":"set","record":"R-1","field":"f","value":1.5}`))
	f.Add([]byte(`{"op":"note","record":"R-1","text":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err == nil && r.Op == "" {
			t.Fatal("request without op accepted")
		}
	})
}

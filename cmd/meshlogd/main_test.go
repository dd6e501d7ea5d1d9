package main

import (
	"bytes"
	"testing"
)

func TestUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"no-such-command"}, &out, &errb); code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	if !bytes.Contains(errb.Bytes(), []byte("unknown command")) {
		t.Fatalf("stderr %q", errb.String())
	}
}

func TestHelpListsCommands(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for name := range commands {
		if !bytes.Contains(out.Bytes(), []byte(name)) {
			t.Errorf("help does not list %q", name)
		}
	}
}

//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: what the program writes to the slave is what a person
// would see on the master, and what is written to the master is what the person types.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func echoOn(t *testing.T, f *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// TestPINNotEchoed (issue 16, Low): the PIN prompt used to turn echo off with `stty -echo` and,
// when stty failed, read the PIN with echo on, in view of anyone watching the screen. Here stty
// cannot be found (PATH is an empty folder) and a PIN is typed on a real pseudo-terminal: it is
// read, never shown on the terminal, and the terminal's echo is back on afterwards. With no
// terminal at all, the PIN is refused with the --pin-file hint rather than read from a pipe.
func TestPINNotEchoed(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	stdin := os.Stdin
	defer func() { os.Stdin = stdin }()

	t.Run("terminal", func(t *testing.T) {
		m, s := openPTY(t)
		if !echoOn(t, s) {
			t.Fatal("a new terminal has echo off: the test would prove nothing")
		}
		os.Stdin = s
		type result struct {
			pin string
			err error
		}
		done := make(chan result, 1)
		go func() {
			pin, err := readSecret("", "pin-file", "PIN: ", s) // the prompt on the terminal, as stderr is
			done <- result{pin, err}
		}()
		var shown []byte
		buf := make([]byte, 256)
		readUntil := func(marker string) {
			t.Helper()
			for !bytes.Contains(shown, []byte(marker)) {
				n, err := m.Read(buf)
				if err != nil {
					t.Fatal(err)
				}
				shown = append(shown, buf[:n]...)
			}
		}
		// Type after the prompt, as a person would, and once the program has turned echo off
		// (typed before that, the terminal would echo it whatever the program does). A program
		// that never turns it off gets the PIN after a while anyway: that is the attack.
		readUntil("PIN: ")
		for give := time.Now().Add(5 * time.Second); echoOn(t, s) && time.Now().Before(give); {
			time.Sleep(time.Millisecond)
		}
		m.Write([]byte("4711-geheim\n"))
		r := <-done
		if r.err != nil || r.pin != "4711-geheim" {
			t.Fatalf("read %q, %v", r.pin, r.err)
		}
		if !echoOn(t, s) {
			t.Error("the terminal's echo stays off after the PIN was read")
		}
		// Everything the terminal showed, up to a marker written after the PIN was read.
		s.Write([]byte("END-OF-PIN-TEST\n"))
		readUntil("END-OF-PIN-TEST")
		if bytes.Contains(shown, []byte("4711")) {
			t.Fatalf("the PIN was echoed on the terminal: %q", shown)
		}
	})
	t.Run("no terminal", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		w.Write([]byte("4711-geheim\n"))
		w.Close()
		os.Stdin = r
		pin, err := readSecret("", "pin-file", "PIN: ", &bytes.Buffer{})
		if err == nil || pin != "" || !strings.Contains(err.Error(), "--pin-file") {
			t.Fatalf("PIN from a pipe: %q, %v", pin, err)
		}
	})
}

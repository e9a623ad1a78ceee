// Package cupstest makes a real CUPS print queue for a test: a raw queue whose device is an
// AppSocket (socket://) listener on 127.0.0.1 owned by the test, so every job the scheduler
// prints arrives in the test as bytes.
//
// It needs cupsd running and lpadmin (scripts/setup.sh --test installs and starts both). On a
// developer's machine without CUPS the test is skipped with a message; under CI (CI set) a
// missing CUPS fails the test.
package cupstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/device/cups"
)

// Queue is a print queue made for one test.
type Queue struct {
	Name string
	// Jobs receives the bytes of each job the scheduler sends to the device.
	Jobs chan []byte
}

// New makes the queue and removes it when the test ends.
func New(t testing.TB) *Queue {
	t.Helper()
	absent := func(why string) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("CUPS is needed for this test and %s; scripts/setup.sh --test installs and starts it", why)
		}
		t.Skipf("skipped: CUPS is not usable here (%s); run scripts/setup.sh --test to install and start it", why)
	}
	lpadmin, err := exec.LookPath("lpadmin")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/lpadmin"); err != nil {
			absent("lpadmin is not installed")
		}
		lpadmin = "/usr/sbin/lpadmin"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := (&cups.Client{}).Printers(ctx); err != nil {
		absent("the scheduler does not answer: " + err.Error())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	q := &Queue{Jobs: make(chan []byte, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, _ := io.ReadAll(c) // the socket backend closes its side when the job is sent
			c.Close()
			q.Jobs <- b
		}
	}()
	var r [4]byte
	rand.Read(r[:])
	q.Name = "sealkeeper-test-" + hex.EncodeToString(r[:])
	out, err := exec.Command(lpadmin, "-p", q.Name, "-v", "socket://"+ln.Addr().String(), "-E", "-m", "raw", "-D", "SealKeeper test printer").CombinedOutput()
	if err != nil {
		ln.Close()
		absent("lpadmin could not add a queue: " + string(out))
	}
	t.Cleanup(func() {
		exec.Command(lpadmin, "-x", q.Name).Run()
		ln.Close()
	})
	return q
}

// Next waits for the next job's bytes.
func (q *Queue) Next(t testing.TB) []byte {
	t.Helper()
	select {
	case b := <-q.Jobs:
		return b
	case <-time.After(2 * time.Minute):
		t.Fatalf("printer %s received no job", q.Name)
		return nil
	}
}

// Stop pauses the queue (cupsdisable): jobs wait in it until Start.
func (q *Queue) Stop(t testing.TB) {
	t.Helper()
	if out, err := exec.Command("cupsdisable", q.Name).CombinedOutput(); err != nil {
		t.Fatalf("cupsdisable %s: %v %s", q.Name, err, out)
	}
}

// Start resumes a stopped queue (cupsenable).
func (q *Queue) Start(t testing.TB) {
	t.Helper()
	if out, err := exec.Command("cupsenable", q.Name).CombinedOutput(); err != nil {
		t.Fatalf("cupsenable %s: %v %s", q.Name, err, out)
	}
}

// WaitQueued returns true once a job waits in the queue (lpstat -o), e.g. in a stopped one;
// false when ctx ends first.
func (q *Queue) WaitQueued(ctx context.Context) bool {
	for ctx.Err() == nil {
		if out, err := exec.Command("lpstat", "-o", q.Name).Output(); err == nil && len(out) > 0 {
			return true
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}

package device_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/softhsmtest"
)

func next(t *testing.T, ch <-chan device.Event, want device.EventKind) device.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("watch ended while waiting for %v", want)
			}
			if e.Kind == device.Status {
				if e.Note == "" {
					t.Error("status event without a note")
				}
				t.Logf("status: %s", e.Note)
				continue
			}
			if e.Kind != want {
				t.Fatalf("got %v event for %q, want %v", e.Kind, e.Token.Label, want)
			}
			return e
		case <-timeout:
			t.Fatalf("no %v event within 10s", want)
		}
	}
}

func TestWatchInsertRemove(t *testing.T) {
	tok := softhsmtest.New(t)
	m := tok.Open(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A known key list makes the watcher try USB; in a VM without a USB bus it notes that
	// detection is off and carries on with PKCS#11 polling.
	ch := device.Watch(ctx, device.WatchConfig{
		Modules:   []*device.Module{m},
		KnownKeys: []device.KnownKey{{VID: 0x096e, AnyPID: true, Vendor: "Feitian", Model: "ePass"}},
		Interval:  50 * time.Millisecond,
	})
	e := next(t, ch, device.Inserted)
	if e.Token.Serial != tok.Serial || e.Token.Label != tok.Label {
		t.Fatalf("inserted %+v", e.Token)
	}
	if _, err := os.Stat("/sys/bus/usb/devices"); err != nil && !strings.Contains(e.Note, "USB detection is off") {
		t.Errorf("no USB bus here, but the event does not say detection is off: %q", e.Note)
	}

	// SoftHSM sets "count low" after a wrong PIN: the watcher reports the change.
	if _, err := m.Login(e.Token, "000000"); !errors.Is(err, device.ErrWrongPIN) {
		t.Fatal(err)
	}
	e = next(t, ch, device.Changed)
	if !e.Token.PIN.CountLow {
		t.Errorf("changed: %+v", e.Token.PIN)
	}

	s, err := m.Login(e.Token, tok.UserPIN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if e = next(t, ch, device.Changed); e.Token.PIN.CountLow {
		t.Errorf("after the right PIN: %+v", e.Token.PIN)
	}
	keys, err := s.Seals()
	if err != nil || len(keys) == 0 {
		t.Fatal(keys, err)
	}
	signer, err := s.Signer(keys[0])
	if err != nil {
		t.Fatal(err)
	}

	tok.Remove()
	e = next(t, ch, device.Removed)
	if e.Token.Serial != tok.Serial {
		t.Errorf("removed %+v", e.Token)
	}
	// The session ended with the Removed event, before anyone used it again.
	d := sha256.Sum256([]byte("x"))
	if _, err := signer.Sign(rand.Reader, d[:], crypto.SHA256); !errors.Is(err, device.ErrKeyRemoved) {
		t.Errorf("sign after the Removed event: %v", err)
	}

	tok.Insert()
	e = next(t, ch, device.Inserted)
	if e.Token.Serial != tok.Serial {
		t.Errorf("re-inserted %+v", e.Token)
	}
	s2, err := m.Login(e.Token, tok.UserPIN)
	if err != nil {
		t.Fatalf("login after re-insert: %v", err)
	}
	s2.Close()

	cancel()
	for range ch { // the channel closes when the watch ends
	}
}

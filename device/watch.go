package device

import (
	"context"
	"fmt"
	"time"
)

// EventKind is what happened to a token.
type EventKind int

const (
	Inserted EventKind = iota + 1 // a token appeared (also sent for tokens present at the start)
	Removed                       // a token went away; its sessions are already ended
	Changed                       // a token is still there but its label or flags changed
	Status                        // no token event: Note says something about detection itself
)

func (k EventKind) String() string {
	switch k {
	case Inserted:
		return "inserted"
	case Removed:
		return "removed"
	case Changed:
		return "changed"
	case Status:
		return "status"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// KnownKey is a USB seal-key model to look for (from config.USBKey.IDs).
type KnownKey struct {
	VID, PID uint16
	AnyPID   bool // every product of the vendor
	Vendor   string
	Model    string
}

// USBDevice is a plugged-in USB device that matched a KnownKey.
type USBDevice struct {
	VID, PID     uint16
	Bus, Address int
	Vendor       string
	Model        string
}

func (u USBDevice) String() string {
	return fmt.Sprintf("%s %s (%04x:%04x, bus %d device %d)", u.Vendor, u.Model, u.VID, u.PID, u.Bus, u.Address)
}

// Event is one change seen by Watch.
type Event struct {
	Kind  EventKind
	Token TokenInfo  // zero for Status events
	USB   *USBDevice // the known USB key the token is attributed to, if one is plugged in
	Note  string     // set while USB detection is off, and on Status events
}

// WatchConfig says what Watch polls.
type WatchConfig struct {
	Modules   []*Module     // opened by the caller, who also closes them after the watch ends
	KnownKeys []KnownKey    // USB IDs of seal keys
	Interval  time.Duration // default 1s (gousb has no hotplug callbacks)
	NoUSB     bool          // skip USB enumeration altogether (PKCS#11 polling only, no note)
}

// Watch polls for tokens until ctx ends, then closes the channel. PKCS#11 is the authority on
// whether a token is there; known USB devices are reported alongside and flagged when no
// module shows a token for them. A token that disappears has its sessions ended before the
// Removed event is sent. If USB enumeration is impossible (no libusb permission, no USB bus in
// a VM), it carries on with PKCS#11 polling alone and says so in a Status event and in Note.
func Watch(ctx context.Context, cfg WatchConfig) <-chan Event {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	ch := make(chan Event, 16)
	go func() {
		defer close(ch)
		w := &watcher{cfg: cfg, ch: ch, ctx: ctx, tokens: map[tokenKey]TokenInfo{}, usbSeen: map[usbKey]int{}, noted: map[string]bool{}}
		if !cfg.NoUSB && len(cfg.KnownKeys) > 0 {
			w.usb, w.note = openUSB()
			if w.usb != nil {
				defer w.usb.Close()
			}
			if w.note != "" && !w.send(Event{Kind: Status, Note: w.note}) {
				return
			}
		}
		t := time.NewTicker(cfg.Interval)
		defer t.Stop()
		for {
			if !w.poll() {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return ch
}

type tokenKey struct{ module, serial, label string }
type usbKey struct{ bus, addr int }

type watcher struct {
	cfg     WatchConfig
	ctx     context.Context
	ch      chan<- Event
	usb     usbBus // nil: no USB detection (off, failed, or not built: watch_nousb.go)
	note    string // why USB detection is off; "" when it works
	tokens  map[tokenKey]TokenInfo
	usbSeen map[usbKey]int // known device -> polls it has been there without a token appearing
	noted   map[string]bool
}

func (w *watcher) send(e Event) bool {
	if e.Note == "" {
		e.Note = w.note
	}
	select {
	case w.ch <- e:
		return true
	case <-w.ctx.Done():
		return false
	}
}

// poll does one round; false when the watch is over.
func (w *watcher) poll() bool {
	devs := w.enumerate()
	now := map[tokenKey]TokenInfo{}
	for _, m := range w.cfg.Modules {
		toks, err := m.Tokens()
		if err != nil {
			if msg := err.Error(); !w.noted[msg] {
				w.noted[msg] = true
				if !w.send(Event{Kind: Status, Note: msg}) {
					return false
				}
			}
			continue
		}
		for _, t := range toks {
			now[tokenKey{t.Module, t.Serial, t.Label}] = t
		}
	}
	var usb *USBDevice
	if len(devs) > 0 {
		usb = &devs[0]
	}
	for k, old := range w.tokens {
		if _, ok := now[k]; ok {
			continue
		}
		for _, m := range w.cfg.Modules {
			if m.path == old.Module {
				m.mu.Lock()
				m.tokenGone(old)
				m.mu.Unlock()
			}
		}
		if !w.send(Event{Kind: Removed, Token: old}) {
			return false
		}
	}
	for k, t := range now {
		old, had := w.tokens[k]
		switch {
		case !had:
			if !w.send(Event{Kind: Inserted, Token: t, USB: usb}) {
				return false
			}
		case old.Flags != t.Flags || old.SlotID != t.SlotID:
			if !w.send(Event{Kind: Changed, Token: t, USB: usb}) {
				return false
			}
		}
	}
	w.tokens = now

	// A known key with no token for a few polls: the module is missing or wrong.
	present := map[usbKey]bool{}
	for _, d := range devs {
		k := usbKey{d.Bus, d.Address}
		present[k] = true
		if len(now) > 0 {
			w.usbSeen[k] = -1 // has a token (or one is there anyway): nothing to say
			continue
		}
		if n := w.usbSeen[k]; n >= 0 {
			w.usbSeen[k] = n + 1
			if n+1 == 3 {
				note := fmt.Sprintf("%s is plugged in, but no configured PKCS#11 module shows a token; check [device] modules in the config (the key's vendor supplies the module)", d)
				if !w.send(Event{Kind: Status, USB: &d, Note: note}) {
					return false
				}
			}
		}
	}
	for k := range w.usbSeen {
		if !present[k] {
			delete(w.usbSeen, k)
		}
	}
	return true
}

// enumerate lists plugged-in known keys; on failure USB detection is turned off with a note.
func (w *watcher) enumerate() []USBDevice {
	if w.usb == nil {
		return nil
	}
	out, total, err := w.usb.known(w.cfg.KnownKeys)
	if err == nil && total == 0 {
		// Measured in a VM without USB: libusb starts and lists nothing, not even a root hub.
		err = fmt.Errorf("no USB bus is visible, not even a root hub (a virtual machine?)")
	}
	if err != nil {
		w.usb.Close()
		w.usb = nil
		w.note = fmt.Sprintf("USB detection is off (%v); watching PKCS#11 slots only", err)
		w.send(Event{Kind: Status, Note: w.note})
		return nil
	}
	return out
}

// usbBus lists USB devices; libusb (watch_usb.go) where the build has it.
type usbBus interface {
	// known returns the plugged-in devices that match keys, and how many devices it saw in all.
	known(keys []KnownKey) (found []USBDevice, total int, err error)
	Close() error
}

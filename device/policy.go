package device

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sealkeeper/sealkeeper/store/atomic"
)

// DefaultPINMaxAge is how long a PIN may be used before it must be changed (RULES.md 3).
const DefaultPINMaxAge = 60 * 24 * time.Hour

// PINPolicy says when the custodian must change the PIN before going on.
type PINPolicy struct {
	MaxAge        time.Duration // 0: DefaultPINMaxAge
	ChangeInitial bool          // a PIN never changed on this workstation is the issuer's initial one
}

// ChangeKind is why a PIN change is due.
type ChangeKind int

const (
	NoChange   ChangeKind = iota
	TokenAsks             // the token's "to be changed" flag
	InitialPIN            // no change ever recorded for this token: the issuer's initial PIN
	PINTooOld             // last change longer ago than the policy's maximum age
)

// PINChange explains a Check result; the GUI translates by Kind.
type PINChange struct {
	Kind        ChangeKind
	LastChanged time.Time     // zero when never recorded
	MaxAge      time.Duration // the policy's maximum age
}

func (c PINChange) String() string {
	switch c.Kind {
	case TokenAsks:
		return "the key asks for its PIN to be changed"
	case InitialPIN:
		return "the PIN is still the issuer's initial one: choose your own before using the seal"
	case PINTooOld:
		return fmt.Sprintf("the PIN was last changed on %s, more than %d days ago: the rules ask for a new one", c.LastChanged.Format(time.DateOnly), int(c.MaxAge.Hours()/24))
	}
	return "no PIN change is due"
}

// Check says whether the PIN of info's token must be changed now, and why.
func (p PINPolicy) Check(info TokenInfo, ages *PINAges, now time.Time) (bool, PINChange) {
	maxAge := p.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultPINMaxAge
	}
	last, ok := ages.LastChanged(info.Serial)
	c := PINChange{LastChanged: last, MaxAge: maxAge}
	switch {
	case info.PIN.ToBeChanged:
		c.Kind = TokenAsks
	case !ok && p.ChangeInitial:
		c.Kind = InitialPIN
	case ok && now.Sub(last) > maxAge:
		c.Kind = PINTooOld
	default:
		return false, c
	}
	return true, c
}

// PINAgesFile is the file in the data dir that records when each token's PIN was last changed.
const PINAgesFile = "pin-ages.json"

// PINAges records, per token serial, when the PIN was last changed through SealKeeper. It never
// holds a PIN. Safe for concurrent use.
type PINAges struct {
	path string
	mu   sync.Mutex
	m    map[string]time.Time
}

type pinAgesFile struct {
	Version int                  `json:"version"`
	Tokens  map[string]time.Time `json:"tokens"` // serial -> last change
}

// LoadPINAges reads dataDir/pin-ages.json; a missing file means no change was ever recorded.
func LoadPINAges(dataDir string) (*PINAges, error) {
	a := &PINAges{path: filepath.Join(dataDir, PINAgesFile), m: map[string]time.Time{}}
	b, err := os.ReadFile(a.path)
	if errors.Is(err, os.ErrNotExist) {
		return a, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading PIN change dates: %w", err)
	}
	var f pinAgesFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v); move it aside to start again (every token will then be asked for a PIN change)", a.path, err)
	}
	for k, v := range f.Tokens {
		a.m[k] = v
	}
	return a, nil
}

// LastChanged is when the PIN of the token with this serial was last changed, if recorded.
func (a *PINAges) LastChanged(serial string) (time.Time, bool) {
	if a == nil {
		return time.Time{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.m[serial]
	return t, ok
}

// Record notes a PIN change of the token with this serial at t and saves the file atomically.
func (a *PINAges) Record(serial string, t time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	prev, had := a.m[serial]
	a.m[serial] = t.UTC().Truncate(time.Second)
	b, err := json.MarshalIndent(pinAgesFile{Version: 1, Tokens: a.m}, "", "  ")
	if err == nil {
		err = atomic.WriteFile(a.path, append(b, '\n'), 0o600)
	}
	if err != nil {
		if had {
			a.m[serial] = prev
		} else {
			delete(a.m, serial)
		}
		return fmt.Errorf("recording the PIN change date: %w", err)
	}
	return nil
}

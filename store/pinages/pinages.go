// Package pinages records, per seal key, when its PIN was last changed through SealKeeper, so the
// PIN policy (docs/rules.md 3) knows when a change is due, and how many wrong PINs were tried in
// a row since its last successful login, so that tries spread over several runs (the command
// line's, the window's) still raise the alarm (docs/rules.md 13). It never holds a PIN.
package pinages

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

// FileName is the file in the data dir that records when each token's PIN was last changed.
const FileName = "pin-ages.json"

// Ages records, per token serial, when the PIN was last changed through SealKeeper and the
// wrong PINs in a row. It never holds a PIN. Safe for concurrent use.
type Ages struct {
	path string
	mu   sync.Mutex
	m    map[string]time.Time
}

type pinAgesFile struct {
	Version int                  `json:"version"`
	Tokens  map[string]time.Time `json:"tokens"` // serial -> last change
	// WrongPINs is serial -> wrong PINs in a row since the last successful login. The ledger
	// records each try too, but sealed while nobody is logged in (unreadable until the next
	// login), so the count that raises the alarm lives here, in clear.
	WrongPINs map[string]int `json:"wrongPins,omitempty"`
}

// Load reads dataDir/pin-ages.json; a missing file means no change was ever recorded.
func Load(dataDir string) (*Ages, error) {
	a := &Ages{path: filepath.Join(dataDir, FileName), m: map[string]time.Time{}}
	f, err := a.read()
	if err != nil {
		return nil, err
	}
	a.m = f.Tokens
	return a, nil
}

func (a *Ages) read() (pinAgesFile, error) {
	f := pinAgesFile{Version: 1, Tokens: map[string]time.Time{}, WrongPINs: map[string]int{}}
	b, err := os.ReadFile(a.path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("reading PIN change dates: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%s is damaged (%v); move it aside to start again (every token will then be asked for a PIN change)", a.path, err)
	}
	if f.Tokens == nil {
		f.Tokens = map[string]time.Time{}
	}
	if f.WrongPINs == nil {
		f.WrongPINs = map[string]int{}
	}
	return f, nil
}

// update applies change to the file as it is on disk now (another run may have written it
// since Load) and saves it atomically; a.mu is held.
func (a *Ages) update(change func(*pinAgesFile)) error {
	f, err := a.read()
	if err != nil {
		return err
	}
	change(&f)
	f.Version = 1
	b, err := json.MarshalIndent(f, "", "  ")
	if err == nil {
		err = atomic.WriteFile(a.path, append(b, '\n'), 0o600)
	}
	if err != nil {
		return err
	}
	a.m = f.Tokens
	return nil
}

// LastChanged is when the PIN of the token with this serial was last changed, if recorded.
func (a *Ages) LastChanged(serial string) (time.Time, bool) {
	if a == nil {
		return time.Time{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.m[serial]
	return t, ok
}

// Record notes a PIN change of the token with this serial at t and saves the file atomically.
func (a *Ages) Record(serial string, t time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.update(func(f *pinAgesFile) { f.Tokens[serial] = t.UTC().Truncate(time.Second) }); err != nil {
		return fmt.Errorf("recording the PIN change date: %w", err)
	}
	return nil
}

// WrongPIN counts one more wrong PIN on the token with this serial and returns how many there
// have been in a row, in this run and earlier ones, since its last successful login.
func (a *Ages) WrongPIN(serial string) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	err := a.update(func(f *pinAgesFile) {
		f.WrongPINs[serial]++
		n = f.WrongPINs[serial]
	})
	if err != nil {
		return 0, fmt.Errorf("counting a wrong PIN of seal key %s in %s: %w", serial, a.path, err)
	}
	return n, nil
}

// LoggedIn ends the run of wrong PINs of the token with this serial.
func (a *Ages) LoggedIn(serial string) error {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	f, err := a.read()
	if err == nil && f.WrongPINs[serial] == 0 {
		return nil // nothing to write: most logins
	}
	if err == nil {
		err = a.update(func(f *pinAgesFile) { delete(f.WrongPINs, serial) })
	}
	if err != nil {
		return fmt.Errorf("clearing the wrong-PIN count of seal key %s in %s: %w", serial, a.path, err)
	}
	return nil
}

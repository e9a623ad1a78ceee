// Package pinages records, per seal key, when its PIN was last changed through SealKeeper, so the
// PIN policy (docs/rules.md 3) knows when a change is due. It never holds a PIN.
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

// Ages records, per token serial, when the PIN was last changed through SealKeeper. It never
// holds a PIN. Safe for concurrent use.
type Ages struct {
	path string
	mu   sync.Mutex
	m    map[string]time.Time
}

type pinAgesFile struct {
	Version int                  `json:"version"`
	Tokens  map[string]time.Time `json:"tokens"` // serial -> last change
}

// Load reads dataDir/pin-ages.json; a missing file means no change was ever recorded.
func Load(dataDir string) (*Ages, error) {
	a := &Ages{path: filepath.Join(dataDir, FileName), m: map[string]time.Time{}}
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

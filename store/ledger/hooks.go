package ledger

import (
	"slices"
	"sync"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
)

// hooks are what other stores that share the ledger's key slots (the document store of
// store/upstream) are told of a login and a logout. They run after the ledger's own lock is
// released, so they may call DeriveKey and Slots.
type hooks struct {
	mu       sync.Mutex
	onUnlock []func(keyslot.Holder)
	onLock   []func()
}

// OnUnlock registers f, called with the unlocking key after each successful Unlock: a store
// opens then what was sealed to the slots' public keys while nobody was logged in.
func (l *Ledger) OnUnlock(f func(h keyslot.Holder)) {
	l.hooks.mu.Lock()
	defer l.hooks.mu.Unlock()
	l.hooks.onUnlock = append(l.hooks.onUnlock, f)
}

// OnLock registers f, called after each Lock: a store forgets what it decrypted.
func (l *Ledger) OnLock(f func()) {
	l.hooks.mu.Lock()
	defer l.hooks.mu.Unlock()
	l.hooks.onLock = append(l.hooks.onLock, f)
}

// Unlock opens the ledger with h (see unlock) and then tells the OnUnlock functions.
func (l *Ledger) Unlock(h keyslot.Holder) error {
	if err := l.unlock(h); err != nil {
		return err
	}
	l.hooks.mu.Lock()
	fs := slices.Clone(l.hooks.onUnlock)
	l.hooks.mu.Unlock()
	for _, f := range fs {
		f(h)
	}
	return nil
}

func (h *hooks) locked() {
	h.mu.Lock()
	fs := slices.Clone(h.onLock)
	h.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

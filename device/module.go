// Package device is the seal key: PKCS#11 modules and tokens, login and PIN state, a
// crypto.Signer (and Decrypter, ECDH) over the token's key, PIN policy, provisioning and
// presence (USB enumeration combined with PKCS#11 slot polling).
//
// Every call into a module goes through one mutex per module: PKCS#11 sessions are not safe for
// concurrent use, and the watcher may re-initialise a module (see Module.Tokens) between calls.
package device

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

var (
	// ErrWrongPIN is wrapped by Login and ChangePIN when the token refuses the PIN.
	ErrWrongPIN = errors.New("wrong PIN")
	// ErrPINLocked is wrapped when the token's user PIN is locked.
	ErrPINLocked = errors.New("PIN locked")
	// ErrKeyRemoved is wrapped by every Session method once the token was pulled out.
	ErrKeyRemoved = errors.New("seal key removed")
	// ErrSessionClosed is wrapped by Session methods after Close.
	ErrSessionClosed = errors.New("session closed")
	// ErrTokenNotFound is wrapped when a token is no longer (or not yet) in any slot.
	ErrTokenNotFound = errors.New("seal key not found")
)

// Module is a loaded PKCS#11 module. OpenModule returns the same *Module for the same path
// until every opener has closed it, because a module can be initialised once per process.
type Module struct {
	path string

	mu       sync.Mutex // serialises all calls into ctx and guards the fields below
	ctx      *pkcs11.Ctx
	refs     int
	manuf    string
	reinit   bool // see Tokens: the module only sees new tokens after C_Initialize
	sessions map[*Session]struct{}
	sm2      []SM2Mechanisms // nil: BuiltinSM2 (see UseSM2Mechanisms)
	// What sm2Signer.Sign found of each SM2 mechanism: its first signature verified (good) or
	// not (bad, never used again).
	sm2Good, sm2Bad map[sm2Mechanism]bool
}

var registry struct {
	sync.Mutex
	mods map[string]*Module
}

// OpenModule loads and initialises the PKCS#11 module at path. Close it when done.
func OpenModule(path string) (*Module, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("PKCS#11 module %s: %w", path, err)
	}
	registry.Lock()
	defer registry.Unlock()
	if m := registry.mods[abs]; m != nil {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.refs > 0 {
			m.refs++
			return m, nil
		}
		if err := m.initialize(); err != nil {
			return nil, err
		}
		m.refs = 1
		return m, nil
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("PKCS#11 module %s could not be loaded: %w; check [device] modules in the config (for the demo token, install softhsm2)", path, err)
	}
	ctx := pkcs11.New(abs)
	if ctx == nil {
		return nil, fmt.Errorf("PKCS#11 module %s could not be loaded: it is not a shared library the system can load (wrong architecture, missing dependency, or not a PKCS#11 module); check [device] modules in the config", path)
	}
	m := &Module{path: abs, ctx: ctx, sessions: map[*Session]struct{}{}, sm2Good: map[sm2Mechanism]bool{}, sm2Bad: map[sm2Mechanism]bool{}}
	if err := m.initialize(); err != nil {
		ctx.Destroy()
		return nil, err
	}
	m.refs = 1
	if registry.mods == nil {
		registry.mods = map[string]*Module{}
	}
	registry.mods[abs] = m
	return m, nil
}

// initialize runs C_Initialize and reads the module's manufacturer. Called with mu held.
func (m *Module) initialize() error {
	err := m.ctx.Initialize()
	if err != nil && !isRV(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return fmt.Errorf("PKCS#11 module %s could not be initialised: %w; check [device] modules in the config", m.path, err)
	}
	info, err := m.ctx.GetInfo()
	if err != nil {
		return fmt.Errorf("PKCS#11 module %s does not answer C_GetInfo: %w", m.path, err)
	}
	m.manuf = strings.TrimSpace(info.ManufacturerID)
	// Measured with SoftHSM 2.6: it reads its token directory at C_Initialize only. A token added
	// later is not listed until the module is initialised again; a token whose directory is removed
	// stays in the slot list but C_GetTokenInfo fails (CKR_GENERAL_ERROR) and finding objects
	// silently returns nothing, even if the directory comes back. Re-initialising costs ~2 ms.
	// Hardware modules report insertion through C_GetSlotList and must not be re-initialised
	// every second, so only SoftHSM gets this treatment.
	m.reinit = strings.Contains(m.manuf, "SoftHSM")
	return nil
}

// Path is the module's file.
func (m *Module) Path() string { return m.path }

// Manufacturer is the module's manufacturer ID (C_GetInfo).
func (m *Module) Manufacturer() string { return m.manuf }

// Close releases this opener's hold on the module. The last Close closes every session still
// open on it and finalises the module. The library itself stays loaded, so that opening it
// again later is cheap and safe.
func (m *Module) Close() error {
	registry.Lock()
	defer registry.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refs == 0 {
		return nil
	}
	m.refs--
	if m.refs > 0 {
		return nil
	}
	for s := range m.sessions {
		s.closed = true
		_ = m.ctx.CloseSession(s.h)
	}
	clear(m.sessions)
	if err := m.ctx.Finalize(); err != nil && !isRV(err, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED) {
		return fmt.Errorf("finalising PKCS#11 module %s: %w", m.path, err)
	}
	return nil
}

// Tokens lists the initialised tokens present in the module's slots. Slots with an
// uninitialised token (SoftHSM always has one free slot) are left out. For SoftHSM it first
// re-initialises the module when no session is open, so tokens added since are seen (see
// initialize); while a session is open, a new token shows only after it is closed.
func (m *Module) Tokens() ([]TokenInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.live(); err != nil {
		return nil, err
	}
	if m.reinit && len(m.sessions) == 0 {
		_ = m.ctx.Finalize()
		if err := m.initialize(); err != nil {
			return nil, err
		}
	}
	return m.tokens(false)
}

func (m *Module) live() error {
	if m.refs == 0 {
		return fmt.Errorf("PKCS#11 module %s is closed", m.path)
	}
	return nil
}

// tokens lists tokens; with uninit, only uninitialised ones. Called with mu held.
func (m *Module) tokens(uninit bool) ([]TokenInfo, error) {
	slots, err := m.ctx.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("PKCS#11 module %s could not list its slots: %w", m.path, err)
	}
	var out []TokenInfo
	for _, id := range slots {
		ti, err := m.ctx.GetTokenInfo(id)
		if err != nil {
			continue // pulled out between the two calls, or a stale SoftHSM slot
		}
		if (ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0) != uninit {
			continue
		}
		out = append(out, tokenInfo(m.path, id, ti))
	}
	return out, nil
}

// find locates tok again (by serial and label; the slot ID first) and returns its fresh info.
// Called with mu held.
func (m *Module) find(tok TokenInfo) (TokenInfo, error) {
	if ti, err := m.ctx.GetTokenInfo(tok.SlotID); err == nil {
		if t := tokenInfo(m.path, tok.SlotID, ti); t.same(tok) {
			return t, nil
		}
	}
	all, err := m.tokens(false)
	if err != nil {
		return TokenInfo{}, err
	}
	for _, t := range all {
		if t.same(tok) {
			return t, nil
		}
	}
	return TokenInfo{}, fmt.Errorf("%w: %q (serial %s) is not in any slot of %s; plug it in", ErrTokenNotFound, tok.Label, tok.Serial, m.path)
}

// present reports whether the session's token still answers in its slot. Called with mu held.
func (m *Module) present(tok TokenInfo) bool {
	ti, err := m.ctx.GetTokenInfo(tok.SlotID)
	return err == nil && tokenInfo(m.path, tok.SlotID, ti).same(tok)
}

// tokenGone ends every session on tok at once: they are marked removed (their methods return
// ErrKeyRemoved) and the module is told to close them, which also logs out. Called with mu held.
func (m *Module) tokenGone(tok TokenInfo) {
	found := false
	for s := range m.sessions {
		if s.tok.same(tok) {
			s.removed = true
			delete(m.sessions, s)
			found = true
		}
	}
	if found {
		_ = m.ctx.CloseAllSessions(tok.SlotID)
	}
}

func isRV(err error, rv uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == rv
}

package device

import (
	"strings"

	"github.com/miekg/pkcs11"
)

// TokenInfo describes one token (one seal key) as its PKCS#11 module reports it.
type TokenInfo struct {
	Module       string     `json:"module"` // path of the PKCS#11 module
	SlotID       uint       `json:"slot"`
	Label        string     `json:"label"`
	Serial       string     `json:"serial"`
	Manufacturer string     `json:"manufacturer"`
	Model        string     `json:"model"`
	Flags        TokenFlags `json:"flags"`
	PIN          PINState   `json:"pin"`
	MinPINLen    uint       `json:"min_pin_len"`
	MaxPINLen    uint       `json:"max_pin_len"`
}

// Name is how a token is named in messages: its label, or its serial when it has none.
func (t TokenInfo) Name() string {
	if t.Label != "" {
		return t.Label
	}
	return "serial " + t.Serial
}

// same reports whether two infos are the same physical token.
func (t TokenInfo) same(o TokenInfo) bool {
	return t.Module == o.Module && t.Serial == o.Serial && t.Label == o.Label
}

func tokenInfo(module string, slot uint, ti pkcs11.TokenInfo) TokenInfo {
	return TokenInfo{
		Module:       module,
		SlotID:       slot,
		Label:        strings.TrimSpace(ti.Label),
		Serial:       strings.TrimSpace(ti.SerialNumber),
		Manufacturer: strings.TrimSpace(ti.ManufacturerID),
		Model:        strings.TrimSpace(ti.Model),
		Flags:        TokenFlags(ti.Flags),
		PIN:          pinState(ti.Flags),
		MinPINLen:    ti.MinPinLen,
		MaxPINLen:    ti.MaxPinLen,
	}
}

// TokenFlags are the token's CKF_* flags.
type TokenFlags uint

var flagWords = []struct {
	flag uint
	word string
}{
	{pkcs11.CKF_TOKEN_INITIALIZED, "initialised"},
	{pkcs11.CKF_LOGIN_REQUIRED, "login required"},
	{pkcs11.CKF_USER_PIN_INITIALIZED, "user PIN set"},
	{pkcs11.CKF_PROTECTED_AUTHENTICATION_PATH, "PIN entered on the key's own PIN pad"},
	{pkcs11.CKF_WRITE_PROTECTED, "write-protected"},
	{pkcs11.CKF_RNG, "random number generator"},
	{pkcs11.CKF_CLOCK_ON_TOKEN, "clock"},
	{pkcs11.CKF_USER_PIN_COUNT_LOW, "user PIN: wrong PINs entered"},
	{pkcs11.CKF_USER_PIN_FINAL_TRY, "user PIN: final try"},
	{pkcs11.CKF_USER_PIN_LOCKED, "user PIN locked"},
	{pkcs11.CKF_USER_PIN_TO_BE_CHANGED, "user PIN must be changed"},
	{pkcs11.CKF_SO_PIN_COUNT_LOW, "SO PIN: wrong PINs entered"},
	{pkcs11.CKF_SO_PIN_FINAL_TRY, "SO PIN: final try"},
	{pkcs11.CKF_SO_PIN_LOCKED, "SO PIN locked"},
	{pkcs11.CKF_SO_PIN_TO_BE_CHANGED, "SO PIN must be changed"},
}

// Words lists the set flags in plain English, the most useful first.
func (f TokenFlags) Words() []string {
	var w []string
	for _, fw := range flagWords {
		if uint(f)&fw.flag != 0 {
			w = append(w, fw.word)
		}
	}
	return w
}

func (f TokenFlags) String() string { return strings.Join(f.Words(), ", ") }

// MarshalText writes the flags as words, so JSON shows what they mean.
func (f TokenFlags) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// PINState is what the token says about its user PIN. The GUI translates by the booleans;
// Words is the English text for logs and the command line.
type PINState struct {
	CountLow       bool `json:"count_low"`       // a wrong PIN was entered since the last right one
	FinalTry       bool `json:"final_try"`       // one more wrong PIN locks the token
	Locked         bool `json:"locked"`          // too many wrong PINs: only the issuer can unlock
	ToBeChanged    bool `json:"to_be_changed"`   // the token requires a new PIN before use
	NotInitialized bool `json:"not_initialized"` // no user PIN has been set on the token
}

func pinState(flags uint) PINState {
	return PINState{
		CountLow:       flags&pkcs11.CKF_USER_PIN_COUNT_LOW != 0,
		FinalTry:       flags&pkcs11.CKF_USER_PIN_FINAL_TRY != 0,
		Locked:         flags&pkcs11.CKF_USER_PIN_LOCKED != 0,
		ToBeChanged:    flags&pkcs11.CKF_USER_PIN_TO_BE_CHANGED != 0,
		NotInitialized: flags&pkcs11.CKF_USER_PIN_INITIALIZED == 0,
	}
}

// OK reports whether nothing about the PIN needs the custodian's attention.
func (p PINState) OK() bool { return p == PINState{} }

// Words describes the state in plain English, the most serious first; "PIN ok" when all is well.
func (p PINState) Words() []string {
	var w []string
	if p.Locked {
		w = append(w, "PIN locked after too many wrong PINs: ask the key's issuer to unlock it")
	}
	if p.NotInitialized {
		w = append(w, "no PIN set on this key: ask the key's issuer to set one")
	}
	if p.FinalTry && !p.Locked {
		w = append(w, "final try: one more wrong PIN locks the key")
	}
	if p.CountLow && !p.FinalTry && !p.Locked {
		w = append(w, "a wrong PIN was entered: few tries are left")
	}
	if p.ToBeChanged {
		w = append(w, "the key asks for its PIN to be changed")
	}
	if len(w) == 0 {
		w = append(w, "PIN ok")
	}
	return w
}

func (p PINState) String() string { return strings.Join(p.Words(), "; ") }

// pinChange describes how the PIN state went from before to after a failed login.
func pinChange(before, after PINState) string {
	if before == after {
		if after.OK() {
			return "the key reports no warning (it does not say how many tries are left)"
		}
		return "the key's PIN state is unchanged: " + after.String()
	}
	return "the key now reports: " + after.String()
}

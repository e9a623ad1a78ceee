// Package usecase is what the window does, without the window: watch the seal key, log the
// custodian in and change the PIN (Keys); list the queue, preview and place a seal, stamp one
// document or a batch, return one with a reason, settle stampings a crash cut short (Desk); read
// and export the ledger (LedgerView). Hand-over is not here yet. The ui package calls it and
// shows its state; nothing here imports Fyne, so it is tested on its own.
package usecase

import (
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// KeyPhase is where the custodian is in getting to a usable seal.
type KeyPhase int

const (
	NoKey      KeyPhase = iota // no seal key plugged in
	KeyPresent                 // a key is in, nobody logged in
	LoggedIn                   // PIN accepted: the seal can sign
)

func (p KeyPhase) String() string {
	return [...]string{"no key", "key present", "logged in"}[p]
}

// SealView is the seal certificate found on the token, as the custodian is shown it.
type SealView struct {
	device.CertSummary
	ValidNow bool // the certificate is valid at this moment (docs/rules.md 10)
	// ExpiresSoon: valid now, but it expires within CertWarnBefore; the screens say when.
	ExpiresSoon bool
}

// KeyState is a snapshot of the key use case, handed to the UI on every change.
type KeyState struct {
	Phase     KeyPhase
	Token     device.TokenInfo // when Phase ≥ KeyPresent; Token.PIN is the PIN state to show
	Seal      *SealView        // when LoggedIn and the token has a seal certificate
	Custodian string           // who is logged in
	// PINChange is set (Kind ≠ device.NoChange) when the PIN must be changed before going on;
	// with Kind NoChange, its Soon says the change is due within a week (by Due).
	PINChange device.PINChange
	// USBNote is set when USB detection is off (no libusb access, a VM) and only PKCS#11
	// polling tells presence.
	USBNote string
	// Removed is true in the state that follows pulling the key out while logged in.
	Removed bool
}

// ErrWrongPIN is returned by Login and ChangePIN when the token refused the PIN.
var ErrWrongPIN = device.ErrWrongPIN

// The screens name these; they are the device layer's and the sync loop's types, given names
// here so that ui needs nothing below the use cases.
type (
	// PINState is the token's PIN flags, as shown before login.
	PINState = device.PINState
	// PINChange says why a PIN change is due (Kind), for the screens to translate.
	PINChange = device.PINChange
	// SyncStatus is the link to the server as the status bar shows it.
	SyncStatus = upstream.Status
)

// Why a PIN change is due.
const (
	NoPINChange      = device.NoChange
	PINChangeByToken = device.TokenAsks
	PINChangeInitial = device.InitialPIN
	PINChangeTooOld  = device.PINTooOld
)

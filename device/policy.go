package device

import (
	"fmt"
	"time"
)

// DefaultPINMaxAge is how long a PIN may be used before it must be changed (docs/rules.md 3).
const DefaultPINMaxAge = 60 * 24 * time.Hour

// DefaultPINWarnBefore is how long before its expiry the custodian is told the PIN is due.
const DefaultPINWarnBefore = 7 * 24 * time.Hour

// PINPolicy says when the custodian must change the PIN before going on.
type PINPolicy struct {
	MaxAge        time.Duration // 0: DefaultPINMaxAge
	ChangeInitial bool          // a PIN never changed on this workstation is the issuer's initial one
	WarnBefore    time.Duration // 0: DefaultPINWarnBefore
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
	// Due is when the PIN must be changed (LastChanged + MaxAge; zero when never recorded), and
	// Soon is set when no change is due yet but Due is within the policy's warning time.
	Due  time.Time
	Soon bool
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

// PINHistory tells when a token's PIN was last changed through SealKeeper (store/pinages keeps
// it; never the PIN itself).
type PINHistory interface {
	LastChanged(serial string) (time.Time, bool)
}

// Check says whether the PIN of info's token must be changed now, and why. A nil history knows
// of no change.
func (p PINPolicy) Check(info TokenInfo, ages PINHistory, now time.Time) (bool, PINChange) {
	maxAge := p.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultPINMaxAge
	}
	var last time.Time
	var ok bool
	if ages != nil {
		last, ok = ages.LastChanged(info.Serial)
	}
	c := PINChange{LastChanged: last, MaxAge: maxAge}
	if ok {
		warn := p.WarnBefore
		if warn <= 0 {
			warn = DefaultPINWarnBefore
		}
		c.Due = last.Add(maxAge)
		c.Soon = !now.Before(c.Due.Add(-warn))
	}
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
	c.Soon = false
	return true, c
}

package device_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/store/pinages"
)

// SoftHSM never sets final try, locked or to-be-changed, so the mapping from flags to words is
// tested here on its own.
func TestPINStateWords(t *testing.T) {
	for _, c := range []struct {
		st   device.PINState
		want []string
	}{
		{device.PINState{}, []string{"PIN ok"}},
		{device.PINState{CountLow: true}, []string{"a wrong PIN was entered: few tries are left"}},
		{device.PINState{CountLow: true, FinalTry: true}, []string{"final try: one more wrong PIN locks the key"}},
		{device.PINState{Locked: true, FinalTry: true, CountLow: true}, []string{"PIN locked after too many wrong PINs: ask the key's issuer to unlock it"}},
		{device.PINState{ToBeChanged: true}, []string{"the key asks for its PIN to be changed"}},
		{device.PINState{NotInitialized: true}, []string{"no PIN set on this key: ask the key's issuer to set one"}},
		{device.PINState{FinalTry: true, ToBeChanged: true}, []string{"final try: one more wrong PIN locks the key", "the key asks for its PIN to be changed"}},
	} {
		got := c.st.Words()
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%+v: got %q, want %q", c.st, got, c.want)
		}
		if c.st.OK() != (c.want[0] == "PIN ok") {
			t.Errorf("%+v: OK() = %v", c.st, c.st.OK())
		}
	}
}

func TestPINPolicy(t *testing.T) {
	dir := t.TempDir()
	ages, err := pinages.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tok := device.TokenInfo{Serial: "A1", Label: "seal"}
	strict := device.PINPolicy{ChangeInitial: true}

	check := func(p device.PINPolicy, ti device.TokenInfo, at time.Time, want bool, kind device.ChangeKind) {
		t.Helper()
		got, why := p.Check(ti, ages, at)
		if got != want || why.Kind != kind || why.String() == "" {
			t.Errorf("Check(%+v) at %s = %v %+v (%s), want %v kind %d", ti.PIN, at, got, why, why, want, kind)
		}
	}
	check(strict, tok, now, true, device.InitialPIN)
	check(device.PINPolicy{}, tok, now, false, device.NoChange)

	if err := ages.Record("A1", now); err != nil {
		t.Fatal(err)
	}
	check(strict, tok, now.Add(59*24*time.Hour), false, device.NoChange)
	check(strict, tok, now.Add(61*24*time.Hour), true, device.PINTooOld) // default 60 days
	check(device.PINPolicy{MaxAge: 30 * 24 * time.Hour}, tok, now.Add(31*24*time.Hour), true, device.PINTooOld)
	asks := tok
	asks.PIN.ToBeChanged = true
	check(strict, asks, now, true, device.TokenAsks)

	// Another serial is still on its initial PIN.
	check(strict, device.TokenInfo{Serial: "B2"}, now, true, device.InitialPIN)

}

func TestFlagWords(t *testing.T) {
	f := device.TokenFlags(0x40d) // RNG, login required, user PIN set, initialised
	for _, w := range []string{"initialised", "login required", "user PIN set", "random number generator"} {
		if !strings.Contains(f.String(), w) {
			t.Errorf("%q lacks %q", f, w)
		}
	}
}

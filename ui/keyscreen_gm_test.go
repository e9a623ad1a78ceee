package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/gmtoken/gmtokentest"
)

// The PIN dialog over a token that counts wrong PINs for real (the GM test token): each wrong
// PIN shows the state the token reports, the final try says so, the locking PIN disables Log in,
// and so does the key screen.
func TestKeyScreenLockoutOnGMToken(t *testing.T) {
	tok := gmtokentest.New(t)
	u, _ := windowOn(t, tok.Open(t), LangEnglish, device.PINPolicy{})
	eventually(t, u, "key screen shows the GM key", func() bool {
		return u.keys.title.Text == "Seal key found" && u.keys.login.Visible() && !u.keys.login.Disabled()
	})
	test.Tap(u.keys.login)
	p := u.keys.pin
	if p == nil {
		t.Fatal("tapping Log in opened no PIN dialog")
	}
	tr := u.tr
	for i := 1; i <= gmtokentest.MaxTries; i++ {
		want := tr.T("pin.wrong") + " " + tr.T("pin.state.countlow")
		switch i {
		case gmtokentest.MaxTries - 1:
			want = tr.T("pin.wrong") + " " + tr.T("pin.state.finaltry")
		case gmtokentest.MaxTries:
			want = tr.T("pin.wrong") + " " + tr.T("pin.state.locked")
		}
		test.Type(p.entry, "999999")
		test.Tap(p.ok)
		eventually(t, u, "wrong PIN "+strings.Repeat("I", i)+" shows "+want, func() bool {
			return p.err.Text == want && p.ok.Disabled() == (i == gmtokentest.MaxTries)
		})
	}
	eventually(t, u, "the dialog and the key screen say the PIN is locked, and Log in is off", func() bool {
		return p.state.Text == tr.T("pin.state.locked") && p.ok.Disabled() && u.keys.login.Disabled()
	})
}

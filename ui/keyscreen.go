package ui

import (
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
)

// keyScreen walks the custodian from "insert the key" to "logged in", and back when the key is
// pulled out.
type keyScreen struct {
	u       *UI
	title   *widget.Label
	body    *widget.Label
	notice  *widget.Label
	details *widget.Form
	login   *widget.Button
	change  *widget.Button
	logout  *widget.Button
	content fyne.CanvasObject

	pin       *pinDialog    // open login dialog, if any
	changePIN *changeDialog // open PIN change dialog, if any
	last      usecase.KeyState
}

func newKeyScreen(u *UI) *keyScreen {
	k := &keyScreen{
		u:       u,
		title:   &widget.Label{TextStyle: fyne.TextStyle{Bold: true}, Alignment: fyne.TextAlignCenter},
		body:    &widget.Label{Wrapping: fyne.TextWrapWord, Alignment: fyne.TextAlignCenter},
		notice:  &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.DangerImportance, Alignment: fyne.TextAlignCenter},
		details: &widget.Form{},
	}
	k.login = &widget.Button{Text: u.tr.T("key.login"), Importance: widget.HighImportance, OnTapped: k.openLogin}
	k.change = &widget.Button{Text: u.tr.T("key.changepin"), OnTapped: func() { k.openChange(usecase.PINChange{}) }}
	k.logout = &widget.Button{Text: u.tr.T("key.logout"), OnTapped: u.opt.Keys.Logout}
	icon := canvas.NewImageFromResource(AppIcon)
	icon.FillMode = canvas.ImageFillContain
	icon.SetMinSize(fyne.NewSize(128, 128))
	k.content = container.NewCenter(container.NewVBox(
		icon, k.title, k.body, k.notice, k.details,
		container.NewCenter(container.NewHBox(k.login, k.change, k.logout)),
	))
	return k
}

func (k *keyScreen) show(s usecase.KeyState) {
	t := k.u.tr
	k.last = s
	k.details.Items = nil
	k.notice.SetText("")
	switch s.Phase {
	case usecase.NoKey:
		k.closeDialogs()
		k.title.SetText(t.T("key.insert.title"))
		k.body.SetText(t.T("key.insert.body"))
		if s.Removed {
			k.notice.SetText(t.T("key.removed"))
		}
		k.login.Hide()
		k.change.Hide()
		k.logout.Hide()
	case usecase.KeyPresent:
		k.title.SetText(t.T("key.found.title"))
		k.body.SetText("")
		k.details.Append(t.T("key.token"), widget.NewLabel(s.Token.Label))
		k.details.Append(t.T("key.serial"), widget.NewLabel(s.Token.Serial))
		k.details.Append(t.T("key.maker"), widget.NewLabel(strings.TrimSpace(s.Token.Manufacturer+" "+s.Token.Model)))
		k.details.Append(t.T("key.pinstate"), &widget.Label{Text: pinWords(t, s.Token.PIN), Wrapping: fyne.TextWrapWord})
		k.login.Show()
		if s.Token.PIN.Locked || s.Token.PIN.NotInitialized {
			k.login.Disable()
		} else {
			k.login.Enable()
		}
		k.change.Hide()
		k.logout.Hide()
		if k.pin != nil {
			k.pin.showState(s.Token.PIN)
		}
	case usecase.LoggedIn:
		k.closeLogin()
		k.title.SetText(t.T("key.loggedin.title"))
		k.body.SetText(s.Custodian)
		k.details.Append(t.T("key.token"), widget.NewLabel(s.Token.Label+" · "+s.Token.Serial))
		if s.Seal == nil {
			k.notice.SetText(t.T("key.noseal"))
		} else {
			k.details.Append(t.T("key.cert.subject"), &widget.Label{Text: s.Seal.Subject, Wrapping: fyne.TextWrapWord})
			k.details.Append(t.T("key.cert.issuer"), &widget.Label{Text: s.Seal.Issuer, Wrapping: fyne.TextWrapWord})
			k.details.Append(t.T("key.cert.serial"), widget.NewLabel(s.Seal.Serial))
			k.details.Append(t.T("key.cert.valid"), widget.NewLabel(t.T("key.cert.valid.range",
				s.Seal.NotBefore.Local().Format(time.DateOnly), s.Seal.NotAfter.Local().Format(time.DateOnly))))
			k.details.Append(t.T("key.cert.alg"), widget.NewLabel(s.Seal.KeyAlgorithm))
			if !s.Seal.ValidNow {
				k.notice.SetText(t.T("key.cert.expired"))
			} else if s.Seal.ExpiresSoon {
				k.notice.SetText(t.T("key.cert.soon", s.Seal.NotAfter.Local().Format(time.DateOnly)))
			}
		}
		if s.PINChange.Soon {
			k.notice.SetText(strings.TrimSpace(k.notice.Text + "\n" + t.T("key.pin.soon", s.PINChange.Due.Local().Format(time.DateOnly))))
		}
		k.login.Hide()
		k.change.Show()
		k.logout.Show()
		if s.PINChange.Kind != usecase.NoPINChange && k.changePIN == nil {
			k.openChange(s.PINChange)
		}
	}
	k.details.Refresh()
	// Empty labels still take a line; hide them so the screen does not gape.
	for _, l := range []*widget.Label{k.body, k.notice} {
		if l.Text == "" {
			l.Hide()
		} else {
			l.Show()
		}
	}
}

func (k *keyScreen) closeLogin() {
	if k.pin != nil {
		k.pin.dlg.Hide()
		k.pin = nil
	}
}

func (k *keyScreen) closeDialogs() {
	k.closeLogin()
	if k.changePIN != nil {
		k.changePIN.dlg.Hide()
		k.changePIN = nil
	}
}

// pinWords says the token's PIN state in plain words, worst first.
func pinWords(t *tr, f usecase.PINState) string {
	var w []string
	switch {
	case f.NotInitialized:
		w = append(w, t.T("pin.state.notinit"))
	case f.Locked:
		w = append(w, t.T("pin.state.locked"))
	case f.FinalTry:
		w = append(w, t.T("pin.state.finaltry"))
	case f.CountLow:
		w = append(w, t.T("pin.state.countlow"))
	}
	if f.ToBeChanged && !f.Locked {
		w = append(w, t.T("pin.state.tobechanged"))
	}
	if len(w) == 0 {
		return t.T("pin.state.ok")
	}
	return strings.Join(w, " ")
}

package ui

import (
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
)

// pinDialog asks for the PIN with the token's state shown above the field. It stays open after
// a wrong PIN, saying so and showing how the token's state changed.
type pinDialog struct {
	k     *keyScreen
	state *widget.Label
	entry *widget.Entry
	err   *widget.Label
	ok    *widget.Button
	dlg   *dialog.CustomDialog
}

func (k *keyScreen) openLogin() {
	t := k.u.tr
	p := &pinDialog{
		k:     k,
		state: &widget.Label{Wrapping: fyne.TextWrapWord},
		entry: widget.NewPasswordEntry(),
		err:   &widget.Label{Importance: widget.DangerImportance, Wrapping: fyne.TextWrapWord},
	}
	p.entry.OnSubmitted = func(string) { p.submit() }
	p.ok = &widget.Button{Text: t.T("pin.ok"), Importance: widget.HighImportance, OnTapped: p.submit}
	cancel := &widget.Button{Text: t.T("pin.cancel"), OnTapped: k.closeLogin}
	form := container.NewVBox(p.state, widget.NewForm(widget.NewFormItem(t.T("pin.label"), p.entry)), p.err)
	p.dlg = dialog.NewCustomWithoutButtons(t.T("pin.title"), form, k.u.win)
	p.dlg.SetButtons([]fyne.CanvasObject{cancel, p.ok})
	p.dlg.Resize(fyne.NewSize(420, 0))
	p.showState(k.last.Token.PIN)
	k.pin = p
	p.dlg.Show()
	k.u.win.Canvas().Focus(p.entry)
}

func (p *pinDialog) showState(f usecase.PINState) {
	p.state.SetText(pinWords(p.k.u.tr, f))
	if f.Locked {
		p.ok.Disable()
	}
}

// submit logs in off the UI thread: a token can take a second to check a PIN.
func (p *pinDialog) submit() {
	t := p.k.u.tr
	pin := p.entry.Text
	if pin == "" {
		p.err.SetText(t.T("pin.empty"))
		return
	}
	p.ok.Disable()
	p.err.SetText("")
	keys := p.k.u.opt.Keys
	go func() {
		err := keys.Login(pin)
		p.k.u.do(func() {
			if err == nil {
				p.k.closeLogin()
				return
			}
			p.entry.SetText("")
			if errors.Is(err, usecase.ErrWrongPIN) {
				p.err.SetText(t.T("pin.wrong") + " " + pinWords(t, keys.State().Token.PIN))
			} else {
				p.err.SetText(t.explain(err))
			}
			if !keys.State().Token.PIN.Locked {
				p.ok.Enable()
			}
		})
	}()
}

// changeDialog changes the PIN; when the change is forced it cannot be dismissed, only the
// key can be pulled (docs/rules.md 3: change at first use and periodically).
type changeDialog struct {
	k                *keyScreen
	old, new, repeat *widget.Entry
	err              *widget.Label
	ok               *widget.Button
	dlg              *dialog.CustomDialog
}

func (k *keyScreen) openChange(reason usecase.PINChange) {
	t := k.u.tr
	c := &changeDialog{
		k:      k,
		old:    widget.NewPasswordEntry(),
		new:    widget.NewPasswordEntry(),
		repeat: widget.NewPasswordEntry(),
		err:    &widget.Label{Importance: widget.DangerImportance, Wrapping: fyne.TextWrapWord},
	}
	c.repeat.OnSubmitted = func(string) { c.submit() }
	c.ok = &widget.Button{Text: t.T("pin.change.ok"), Importance: widget.HighImportance, OnTapped: c.submit}
	var why fyne.CanvasObject = widget.NewLabel("")
	buttons := []fyne.CanvasObject{c.ok}
	switch reason.Kind {
	case usecase.NoPINChange:
		buttons = []fyne.CanvasObject{&widget.Button{Text: t.T("pin.cancel"), OnTapped: k.closeChange}, c.ok}
	case usecase.PINChangeByToken:
		why = &widget.Label{Text: t.T("pin.change.why", t.T("pin.change.why.token")), Wrapping: fyne.TextWrapWord}
	case usecase.PINChangeInitial:
		why = &widget.Label{Text: t.T("pin.change.why", t.T("pin.change.why.initial")), Wrapping: fyne.TextWrapWord}
	case usecase.PINChangeTooOld:
		why = &widget.Label{Text: t.T("pin.change.why", t.T("pin.change.why.age", int(reason.MaxAge.Hours()/24))), Wrapping: fyne.TextWrapWord}
	}
	form := widget.NewForm(
		widget.NewFormItem(t.T("pin.change.old"), c.old),
		widget.NewFormItem(t.T("pin.change.new"), c.new),
		widget.NewFormItem(t.T("pin.change.repeat"), c.repeat),
	)
	c.dlg = dialog.NewCustomWithoutButtons(t.T("pin.change.title"), container.NewVBox(why, form, c.err), k.u.win)
	c.dlg.SetButtons(buttons)
	c.dlg.Resize(fyne.NewSize(440, 0))
	k.changePIN = c
	c.dlg.Show()
	k.u.win.Canvas().Focus(c.old)
}

func (k *keyScreen) closeChange() {
	if k.changePIN != nil {
		k.changePIN.dlg.Hide()
		k.changePIN = nil
	}
}

func (c *changeDialog) submit() {
	t := c.k.u.tr
	switch {
	case c.new.Text != c.repeat.Text:
		c.err.SetText(t.T("pin.change.mismatch"))
		return
	case len(c.new.Text) < 6:
		c.err.SetText(t.T("pin.change.short"))
		return
	case c.new.Text == c.old.Text:
		c.err.SetText(t.T("pin.change.same"))
		return
	}
	old, nw := c.old.Text, c.new.Text
	c.ok.Disable()
	keys := c.k.u.opt.Keys
	go func() {
		err := keys.ChangePIN(old, nw)
		c.k.u.do(func() {
			if err == nil {
				c.k.closeChange()
				dialog.ShowInformation(t.T("pin.change.title"), t.T("pin.change.done"), c.k.u.win)
				return
			}
			c.old.SetText("")
			if errors.Is(err, usecase.ErrWrongPIN) {
				c.err.SetText(t.T("pin.wrong"))
			} else {
				c.err.SetText(t.explain(err))
			}
			c.ok.Enable()
		})
	}()
}

package ui

import (
	"sync/atomic"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/assets"
)

// statusBar is always visible: key, custodian, online/offline and unsynced records, demo badge.
type statusBar struct {
	u         *UI
	key       *widget.Label
	custodian *widget.Label
	sync      *widget.Label
	alarm     *widget.Label
	note      *widget.Label
	content   fyne.CanvasObject

	// The ledger's alarms not acknowledged yet: the oldest is shown with how many there are,
	// and the button acknowledges it (a ledger record).
	alarms    *widget.Label
	ack       *widget.Button
	oldest    usecase.Alarm
	alarmsBox *fyne.Container
	gen       atomic.Uint64 // the latest refreshAlarms
}

func newStatusBar(u *UI) *statusBar {
	b := &statusBar{
		u:         u,
		key:       &widget.Label{Text: u.tr.T("status.key.absent")},
		custodian: &widget.Label{Text: u.tr.T("status.custodian.none")},
		// With no server configured the workstation works offline.
		sync:  &widget.Label{Text: u.tr.T("status.offline")},
		alarm: &widget.Label{Importance: widget.DangerImportance},
		note:  &widget.Label{Importance: widget.WarningImportance},
	}
	b.alarms = &widget.Label{Importance: widget.DangerImportance}
	b.ack = &widget.Button{Text: u.tr.T("status.alarm.ack"), Importance: widget.DangerImportance, OnTapped: b.acknowledge}
	b.alarmsBox = container.NewHBox(widget.NewSeparator(), b.alarms, b.ack)
	b.alarmsBox.Hide()
	items := []fyne.CanvasObject{b.key, widget.NewSeparator(), b.custodian, widget.NewSeparator(), b.sync, b.alarm, b.note, b.alarmsBox}
	if u.opt.Demo {
		badge := canvas.NewText(" "+u.tr.T("app.demo")+" ", assets.SealRed)
		badge.TextStyle.Bold = true
		items = append([]fyne.CanvasObject{badge, widget.NewSeparator()}, items...)
	}
	b.content = container.NewVBox(widget.NewSeparator(), container.NewHBox(items...))
	b.refreshAlarms() // also when the screens are made anew (a change of language)
	return b
}

func (b *statusBar) showKey(s usecase.KeyState) {
	t := b.u.tr
	switch {
	case s.Phase == usecase.NoKey:
		b.key.SetText(t.T("status.key.absent"))
	case s.Token.PIN.Locked:
		b.key.SetText(t.T("status.key.locked", s.Token.Label))
	default:
		b.key.SetText(t.T("status.key.present", s.Token.Label))
	}
	if s.Phase == usecase.LoggedIn {
		b.custodian.SetText(t.T("status.custodian", s.Custodian))
	} else {
		b.custodian.SetText(t.T("status.custodian.none"))
	}
	if s.USBNote != "" {
		b.note.SetText(t.T("status.usb.degraded", s.USBNote))
	} else {
		b.note.SetText("")
	}
}

// showSync shows whether the server answered last time and how much is waiting to go up.
func (b *statusBar) showSync(s usecase.SyncStatus) {
	t := b.u.tr
	b.u.setBusy(duringSyncing, s.Syncing)
	text := t.T("status.offline")
	if s.Online {
		text = t.T("status.online")
	}
	if s.Syncing {
		text += " · " + t.T("status.syncing")
	} else if !s.LastContact.IsZero() {
		// Offline, how old the queue and the seal list are is what the custodian needs to know.
		text += " · " + t.T("status.lastsync", s.LastContact.Local().Format("01-02 15:04"))
	}
	if n := s.Unsynced + uint64(s.Outbox); n > 0 {
		text += " · " + t.T("status.unsynced", n)
	}
	b.sync.SetText(text)
	if s.Alarm != "" {
		b.alarm.SetText(s.Alarm)
		b.alarm.Show()
	} else {
		b.alarm.Hide()
	}
}

// refreshAlarms reads the open alarms off the UI thread (the first read after a login reads
// the whole ledger: about a second for 10,000 records) and shows them, unless a later refresh
// was asked for meanwhile. It returns at once: an alarm may be raised by a use case the window
// called while updating.
func (b *statusBar) refreshAlarms() {
	if b.u.opt.Alarms == nil {
		return
	}
	n := b.gen.Add(1)
	go func() {
		list, err := b.u.opt.Alarms.Open()
		b.u.do(func() {
			if b.gen.Load() == n {
				b.showAlarms(list, err)
			}
		})
	}()
}

// showAlarms shows the oldest open alarm and how many there are; err is a failure to read
// them, shown in their place.
func (b *statusBar) showAlarms(list []usecase.Alarm, err error) {
	t := b.u.tr
	if len(list) == 0 && err == nil {
		b.alarmsBox.Hide()
		return
	}
	b.alarmsBox.Show()
	if len(list) == 0 {
		b.alarms.SetText(t.explain(err))
		b.ack.Hide()
		return
	}
	b.oldest = list[0]
	b.alarms.SetText(t.T("status.alarms", len(list), t.T("alarm."+b.oldest.Name), b.oldest.Time.Local().Format("01-02 15:04")))
	b.ack.Show()
	// One raised while nobody was logged in is acknowledged after a login puts it in the chain.
	if b.oldest.Seq == 0 {
		b.ack.Disable()
	} else {
		b.ack.Enable()
	}
}

func (b *statusBar) acknowledge() {
	if err := b.u.opt.Alarms.Acknowledge(b.oldest.Seq, b.u.opt.Keys.State().Custodian); err != nil {
		b.alarms.SetText(b.u.tr.explain(err))
		return
	}
	b.refreshAlarms()
}

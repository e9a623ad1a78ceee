// Package ui is SealKeeper's window: Fyne screens and widgets only. It shows the state of the
// use cases in app/usecase and calls them; it never touches PKCS#11 or bbolt itself.
package ui

import (
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
)

// KeyService is what the key screen needs from the key use case (usecase.Keys).
type KeyService interface {
	State() usecase.KeyState
	// Subscribe calls fn, from any goroutine, after every change of state.
	Subscribe(fn func(usecase.KeyState))
	Login(pin string) error
	ChangePIN(old, new string) error
	Logout()
}

// SyncService is what the status bar needs from the sync loop (upstream.Syncer satisfies it).
type SyncService interface {
	Status() usecase.SyncStatus
	// Watch sends each new status until stop is called.
	Watch() (statuses <-chan usecase.SyncStatus, stop func())
}

// AlarmService is what the status bar needs from the alarms use case (usecase.Alarms).
type AlarmService interface {
	Open() ([]usecase.Alarm, error)
	Acknowledge(seq uint64, custodian string) error
	// Subscribe calls fn, from any goroutine, after every change.
	Subscribe(fn func())
}

// Options wires the window to the program.
type Options struct {
	Keys KeyService
	// Sync is the link to the seal-management server; nil when none is configured.
	Sync SyncService
	// Desk is the queue of approved documents and what can be done with them; nil shows an
	// empty queue that says why.
	Desk DeskService
	// Ledger shows the ledger's records, chain status and summary; nil says there is none.
	Ledger LedgerService
	// Custody carries out handovers and delegations; nil says none can be approved.
	Custody CustodyService
	// Alarms are shown in the status bar until acknowledged; nil shows none.
	Alarms AlarmService
	// Demo puts a DEMO badge in the title, a banner and the status bar.
	Demo bool
	// Language is the saved setting: "auto", "zh-CN" or "en".
	Language string
	// SaveLanguage stores a new language setting; nil hides the choice.
	SaveLanguage func(lang string) error
	ConfigPath   string
	DataDir      string
	// Problems found while starting (a ledger file moved aside, no server): shown to the
	// custodian in a dialog when the window opens, so nothing fails silently.
	Problems []error
}

// UI is the main window and its screens.
type UI struct {
	mu    sync.Mutex // held while an update from a goroutine changes the screens
	app   fyne.App
	win   fyne.Window
	opt   Options
	tr    *tr
	keys  *keyScreen
	queue *queueScreen
	led   *ledgerScreen
	hand  *handoverScreen
	bar   *statusBar
	tabs  *container.AppTabs

	stopSync func()
	problems dialog.Dialog
	attached bool // the screens are built (Start builds them after the first frame)
	frames   func(during string, longest time.Duration)
	busy     map[string]bool // what is running, for WatchFrames (main goroutine)
	seen     map[string]bool // what ran since the last frame, for WatchFrames
}

// New builds the main window with its screens at once (tests use it so; the program uses Start).
// Call ShowAndRun (or, in tests, use Window).
func New(a fyne.App, opt Options) *UI {
	u := newWindow(a, opt)
	u.attach()
	return u
}

// newWindow makes the window and nothing in it.
func newWindow(a fyne.App, opt Options) *UI {
	a.Settings().SetTheme(NewTheme())
	a.SetIcon(AppIcon)
	u := &UI{app: a, opt: opt, tr: newTr(opt.Language)}
	u.win = a.NewWindow(u.title())
	u.win.SetIcon(AppIcon)
	u.win.Resize(fyne.NewSize(960, 640))
	return u
}

// attach builds the screens and follows the use cases. It runs on the main goroutine.
func (u *UI) attach() {
	opt := u.opt
	u.build()
	// Show the state as it is when the update runs, not as it was when it was sent: two
	// notifications from different goroutines may arrive in either order.
	// attach holds the mutex from here on: an update from the key or sync goroutine waits until
	// the screens have their first state (the test driver runs it on that goroutine at once).
	u.mu.Lock()
	defer u.mu.Unlock()
	u.attached = true
	opt.Keys.Subscribe(func(usecase.KeyState) { u.do(func() { u.showKeyState(opt.Keys.State()) }) })
	u.showKeyState(opt.Keys.State())
	u.queue.refresh()
	if opt.Alarms != nil {
		opt.Alarms.Subscribe(func() { u.bar.refreshAlarms() })
	}
	if opt.Sync != nil {
		ch, stop := opt.Sync.Watch()
		u.stopSync = stop
		go func() {
			for range ch {
				st := opt.Sync.Status() // now: a short round's start and end both reach the bar
				u.do(func() {
					u.bar.showSync(st)
					u.queue.refresh() // a round may have brought or withdrawn documents
					u.led.refreshIfShown()
					if sel := u.tabs.Selected(); sel != nil && sel.Content == u.hand.content {
						u.hand.refresh() // a round may have brought an approval
					}
				})
			}
		}()
		u.bar.showSync(opt.Sync.Status())
	}
}

func (u *UI) Close() {
	if u.stopSync != nil {
		u.stopSync()
	}
}

// do runs fn on the UI thread. The mutex serialises updates where a driver runs fyne.Do on the
// calling goroutine (Fyne's test driver does), so screens never see two updates at once.
func (u *UI) do(fn func()) {
	fyne.Do(func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		fn()
	})
}

// Window is the main window.
func (u *UI) Window() fyne.Window { return u.win }

// ShowAndRun shows the window and runs the event loop until it is closed.
func (u *UI) ShowAndRun() {
	if u.attached {
		u.showProblems()
		u.app.Lifecycle().SetOnStarted(func() { u.warmUp(); u.startFrameWatch() })
	}
	u.win.ShowAndRun()
}

// warmUp readies the page renderer once the window is on screen: PDFium's start takes from
// 0.1 s (cached) to seconds.
func (u *UI) warmUp() {
	if u.opt.Desk == nil {
		return
	}
	go func() {
		if err := u.opt.Desk.WarmUp(); err != nil {
			u.do(func() { u.queue.problem.SetText(u.tr.explain(err)) })
		}
	}()
}

// showProblems puts the start-up problems in front of the custodian.
func (u *UI) showProblems() {
	if len(u.opt.Problems) == 0 {
		return
	}
	var msg []string
	for _, p := range u.opt.Problems {
		msg = append(msg, u.tr.explain(p))
	}
	u.problems = dialog.NewInformation(u.tr.T("error.title"), strings.Join(msg, "\n\n"), u.win)
	u.problems.Show()
}

func (u *UI) title() string {
	t := u.tr.T("app.title")
	if u.opt.Demo {
		t += " — " + u.tr.T("app.demo")
	}
	return t
}

// build makes every screen anew; it runs at start and when the language changes.
func (u *UI) build() {
	u.win.SetTitle(u.title())
	u.keys = newKeyScreen(u)
	if u.queue != nil && u.queue.preview != nil {
		u.queue.preview.p.Close() // the screens are made anew; the document is opened again from the queue
	}
	u.queue = newQueueScreen(u)
	u.led = newLedgerScreen(u)
	u.hand = newHandoverScreen(u)
	u.bar = newStatusBar(u)
	u.tabs = container.NewAppTabs(
		container.NewTabItem(u.tr.T("nav.key"), u.keys.content),
		container.NewTabItem(u.tr.T("nav.queue"), u.queue.content),
		container.NewTabItem(u.tr.T("nav.ledger"), u.led.content),
		container.NewTabItem(u.tr.T("nav.settings"), newSettingsScreen(u)),
		container.NewTabItem(u.tr.T("nav.handover"), u.hand.content),
	)
	u.tabs.OnSelected = func(ti *container.TabItem) {
		switch ti.Content {
		case u.led.content:
			u.led.refresh()
		case u.hand.content:
			u.hand.refresh()
		}
	}
	var top fyne.CanvasObject
	if u.opt.Demo {
		top = widget.NewLabelWithStyle(u.tr.T("app.demo")+" · "+u.tr.T("app.demo.note"), fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	}
	u.win.SetContent(container.NewBorder(top, u.bar.content, nil, nil, u.tabs))
	for _, sc := range []fyne.Shortcut{scStamp, scReturn, scNext} {
		u.win.Canvas().AddShortcut(sc, u.shortcut)
	}
}

// The custodian's shortcuts, on every screen: stamp (open the selected document, or confirm the
// placed seal), return the document, next document.
var (
	scStamp  = &desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault}
	scReturn = &desktop.CustomShortcut{KeyName: fyne.KeyR, Modifier: fyne.KeyModifierShortcutDefault}
	scNext   = &desktop.CustomShortcut{KeyName: fyne.KeyN, Modifier: fyne.KeyModifierShortcutDefault}
)

func (u *UI) shortcut(sc fyne.Shortcut) {
	q := u.queue
	if q.done != nil {
		q.closePreview() // the last result was seen: the shortcut acts on the queue
	}
	switch sc.ShortcutName() {
	case scStamp.ShortcutName():
		u.tabs.Select(u.tabs.Items[1])
		if q.preview != nil {
			q.preview.askStamp()
		} else {
			q.openPreview()
		}
	case scReturn.ShortcutName():
		u.tabs.Select(u.tabs.Items[1])
		q.openReject()
	case scNext.ShortcutName():
		if q.preview == nil {
			u.tabs.Select(u.tabs.Items[1])
			q.selectNext()
		}
	}
}

func (u *UI) showKeyState(s usecase.KeyState) {
	was := u.keys.last.Phase
	u.keys.show(s)
	u.bar.showKey(s)
	u.queue.show() // stamping needs a logged-in custodian
	if u.queue.preview != nil {
		u.queue.preview.refresh()
	}
	u.led.keyChanged(s)
	u.hand.picked() // Begin needs the outgoing custodian logged in
	if s.Phase != was {
		u.bar.refreshAlarms() // a login puts the waiting alarms in the chain, and shows the rest
	}
	if (s.Phase == usecase.LoggedIn) != (was == usecase.LoggedIn) {
		u.queue.refresh() // the queue is kept encrypted: it opens at login and closes at logout
	}
	if s.Phase == usecase.LoggedIn && was != usecase.LoggedIn {
		u.queue.reconcile()
	}
}

// setLanguage switches the language now and saves the setting.
func (u *UI) setLanguage(lang string) error {
	if u.opt.SaveLanguage != nil {
		if err := u.opt.SaveLanguage(lang); err != nil {
			return err
		}
	}
	u.opt.Language = lang
	u.tr = newTr(lang)
	u.build()
	u.showKeyState(u.opt.Keys.State())
	u.queue.refresh()
	if u.opt.Sync != nil {
		u.bar.showSync(u.opt.Sync.Status())
	}
	return nil
}

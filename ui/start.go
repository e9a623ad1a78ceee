package ui

import (
	"bytes"
	"image"
	"image/png"
	"maps"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"golang.org/x/image/draw"

	"github.com/sealkeeper/sealkeeper/assets"
)

// Start shows the window at once, with only the program's icon in it, and does the slow
// start-up work after the first frame: open (the workspace: ledger check, key watch, server
// link) and the fonts' parsing. On two cores that work, run beside the graphics driver's start,
// delayed the first frame by a third. While it runs the window says what it is opening; the
// screens are built once open has returned. opt carries what is known before open (language,
// demo, paths); open fills in the rest. trace, if not nil, is told "first-frame" (from the
// drawing goroutine) when the first frame is drawn and "ready" when the screens are; the
// start-up benchmark reports both.
//
// If open fails the window says why instead of closing: a custodian who started the program from
// the menu has no terminal to read.
func Start(a fyne.App, opt Options, open func(*Options) error, trace func(event string)) *UI {
	if trace == nil {
		trace = func(string) {}
	}
	u := newWindow(a, opt)
	drawn := make(chan struct{})
	var once sync.Once
	u.win.SetContent(newSplash(func() {
		once.Do(func() {
			close(drawn)
			trace("first-frame")
		})
	}))
	opened := make(chan error, 1)
	go func() {
		// The slow start-up work waits for the first frame: on two cores the ledger's child
		// check and the fonts' parsing, run beside the graphics driver's start, delayed the
		// frame by a third.
		<-drawn
		go warmFonts()
		go func() { opened <- open(&u.opt) }()
		var err error
		select {
		case err = <-opened:
		default: // still opening (the ledger's check, the token scan): say so
			fyne.Do(u.showOpening)
			err = <-opened
		}
		fyne.Do(func() {
			if err != nil {
				u.showStartError(err)
				return
			}
			u.attach()
			u.showProblems()
			u.warmUp()
			trace("ready")
			u.startFrameWatch()
		})
	}()
	return u
}

// WatchFrames has report told each new longest gap between two frames from the time the screens
// are ready (the time the window could not redraw because something held the main goroutine),
// once for the whole session ("any") and again for the gaps that fell while the key was signing
// ("signing") or a sync round was running ("syncing"): the goals are about those. It keeps the
// window redrawing without pause, so only the benchmarks use it. Call it before ShowAndRun.
func (u *UI) WatchFrames(report func(during string, longest time.Duration)) { u.frames = report }

// Activities a frame gap is counted under (WatchFrames). Kept on the main goroutine.
const (
	duringSigning = "signing"
	duringSyncing = "syncing"
)

// setBusy marks an activity as running or ended, for WatchFrames; on the main goroutine. An
// activity that began and ended between two frames still counts for the gap between them.
func (u *UI) setBusy(during string, on bool) {
	if u.busy == nil {
		u.busy, u.seen = map[string]bool{}, map[string]bool{}
	}
	u.busy[during] = on
	if on {
		u.seen[during] = true
	}
}

// startFrameWatch runs WatchFrames' animation; on the main goroutine. A gap counts under an
// activity that was running when it began, when it ended, or for a moment between.
func (u *UI) startFrameWatch() {
	if u.frames == nil {
		return
	}
	var last time.Time
	longest := map[string]time.Duration{}
	was := map[string]bool{}
	a := fyne.NewAnimation(time.Second, func(float32) {
		now := time.Now()
		if !last.IsZero() {
			gap := now.Sub(last)
			for _, during := range []string{"any", duringSigning, duringSyncing} {
				if during != "any" && !was[during] && !u.busy[during] && !u.seen[during] {
					continue
				}
				if gap > longest[during] {
					longest[during] = gap
					u.frames(during, gap)
				}
			}
		}
		last = now
		maps.Copy(was, u.busy)
		clear(u.seen)
	})
	a.RepeatCount = fyne.AnimationRepeatForever
	a.Start()
}

// warmFonts parses the theme's fonts (about 0.1 s for the Chinese ones) while the window opens;
// Fyne's font cache is safe to fill from any goroutine.
func warmFonts() {
	for _, s := range []fyne.TextStyle{{}, {Bold: true}} {
		fyne.MeasureText("印章 SealKeeper", theme.TextSize(), s)
	}
}

// showOpening replaces the splash, once it has been drawn, with what the program is doing.
func (u *UI) showOpening() {
	icon := canvas.NewImageFromResource(AppIcon)
	icon.FillMode = canvas.ImageFillContain
	icon.SetMinSize(fyne.NewSize(96, 96))
	u.win.SetContent(container.NewCenter(container.NewVBox(
		icon,
		widget.NewLabelWithStyle(u.tr.T("start.opening"), fyne.TextAlignCenter, fyne.TextStyle{}),
		widget.NewProgressBarInfinite(),
	)))
}

// showStartError replaces the splash with what went wrong and what to do.
func (u *UI) showStartError(err error) {
	msg := widget.NewLabel(u.tr.explain(err))
	msg.Wrapping = fyne.TextWrapWord
	quit := widget.NewButton(u.tr.T("action.quit"), func() { u.app.Quit() })
	u.win.SetContent(container.NewPadded(container.NewVBox(
		widget.NewLabelWithStyle(u.tr.T("error.start"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		msg,
		container.NewHBox(quit),
	)))
}

// newSplash is the first frame: the icon, centred on the window's background. drawn is called
// each time it is painted.
func newSplash(drawn func()) fyne.CanvasObject {
	icon, _ := png.Decode(bytes.NewReader(assets.Icon)) // without it the splash is the bare background
	bg := theme.DefaultTheme().Color(theme.ColorNameBackground, theme.VariantLight)
	return canvas.NewRaster(func(w, h int) image.Image {
		drawn()
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(img, img.Bounds(), image.NewUniform(bg), image.Point{}, draw.Src)
		if icon != nil {
			side := min(w, h) / 4
			at := image.Rect((w-side)/2, (h-side)/2, (w+side)/2, (h+side)/2)
			draw.CatmullRom.Scale(img, at, icon, icon.Bounds(), draw.Over, nil)
		}
		return img
	})
}

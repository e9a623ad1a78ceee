// Command sealkeeper-gui is SealKeeper's window. Custodians start it as `sealkeeper` (with no
// command, or `sealkeeper gui`), which runs this program from beside itself: the window lives
// in a binary of its own so that the command-line tools link no GUI libraries and pay nothing
// for Fyne's start-up.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	fyneapp "fyne.io/fyne/v2/app"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/workspace"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/ui"
)

// appID is the Fyne application ID, as in FyneApp.toml.
const appID = "org.sealkeeper.app"

func main() {
	args := os.Args[1:]
	// The ledger's consistency check runs in a child process of whichever program opens the
	// ledger (workspace.LedgerCheck runs this executable so).
	if len(args) >= 2 && args[0] == "ledger" && args[1] == "check-file" {
		os.Exit(ledger.CheckFileMain(args[2:], os.Stdout, os.Stderr))
	}
	if err := runGUI(args, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintf(os.Stderr, "sealkeeper: %v\n", err)
		os.Exit(1)
	}
}

func runGUI(args []string, stdout, stderr io.Writer) error {
	trace := startTrace(stderr)
	if trace != nil {
		trace("main") // the moment this program's main began (after the launcher's exec and package init)
	}
	fs := flag.NewFlagSet("sealkeeper-gui", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (default: the user's config dir, or the demo workspace)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := workspace.LoadConfig(*cfgPath)
	if errors.Is(err, config.ErrNotFound) && *cfgPath == "" {
		// Nothing configured: a first look at the program gets a demo workspace, made once.
		dir, derr := workspace.DemoDir()
		if derr != nil {
			return derr
		}
		fmt.Fprintf(stdout, "No configuration found: making a demo workspace in %s\n", dir)
		if _, err = workspace.ProvisionDemo(dir, stdout); err != nil {
			return fmt.Errorf("making the demo workspace: %w", err)
		}
		cfg, err = workspace.LoadConfig("")
	}
	if err != nil {
		return err
	}
	log, closeLog, err := workspace.OpenLog(cfg.Data())
	if err != nil {
		return err
	}
	defer closeLog()
	slog.SetDefault(log)
	log.Info("starting", "config", cfg.Path(), "demo", cfg.Demo.Enabled)

	if trace != nil {
		trace("window") // configuration and log open; the window is made now
	}
	// The window opens first and the workspace (ledger check, key watch, server link) beside
	// it: the custodian sees the window in the time the graphics driver takes to start.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var w *workspace.Workspace
	opened := make(chan struct{})
	open := func(o *ui.Options) error {
		defer close(opened)
		var err error
		if w, err = workspace.Open(cfg, log); err != nil {
			return err
		}
		// The window opens whatever Problems says: the custodian sees the key; without a
		// ledger nothing can be stamped or recorded until the administrator has looked at
		// it, and without the server stamping offline within policy is allowed and the
		// status bar says offline.
		for _, p := range w.Problems {
			fmt.Fprintf(stderr, "sealkeeper: %v\n", p)
		}
		go w.Keys.Run(ctx)
		if w.Link != nil {
			go func() {
				if err := w.Link.Syncer.Run(ctx); err != nil && ctx.Err() == nil {
					log.Error("sync loop stopped", "error", err.Error())
				}
			}()
			o.Sync = w.Link.Syncer
		}
		o.Keys, o.Desk, o.Ledger, o.Custody, o.Alarms, o.Problems = w.Keys, w.Desk, w.LedgerView, w.Custody, w.Alarms, w.Problems
		return nil
	}
	u := ui.Start(fyneapp.NewWithID(appID), ui.Options{
		Demo:     cfg.Demo.Enabled,
		Language: cfg.Language,
		SaveLanguage: func(lang string) error {
			cfg.Language = lang
			return config.SetLanguage(cfg.Path(), lang)
		},
		ConfigPath: cfg.Path(),
		DataDir:    cfg.Data(),
	}, open, trace)
	if os.Getenv("SEALKEEPER_FRAME_GAPS") != "" {
		u.WatchFrames(func(during string, longest time.Duration) {
			fmt.Fprintf(stderr, "frame-gap %s %d ms\n", during, longest.Milliseconds())
		})
	}
	u.ShowAndRun()
	u.Close()
	log.Info("window closed")
	cancel()
	<-opened // the workspace is closed only once open has finished with it
	if w != nil {
		w.Close()
	}
	return nil
}

// startTrace reports the start-up's moments when SEALKEEPER_START_NS holds the Unix time (ns)
// at which the program was started (scripts/bench-start.sh sets it); otherwise it does nothing.
func startTrace(out io.Writer) func(string) {
	ns, err := strconv.ParseInt(os.Getenv("SEALKEEPER_START_NS"), 10, 64)
	if err != nil {
		return nil
	}
	return func(event string) {
		fmt.Fprintf(out, "start-trace %s %d ms\n", event, (time.Now().UnixNano()-ns)/1e6)
	}
}

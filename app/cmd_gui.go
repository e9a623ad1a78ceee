package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	fyneapp "fyne.io/fyne/v2/app"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/ui"
)

func init() {
	register(command{name: "gui", summary: "open the window (what runs with no command)", run: runGUI})
}

// AppID is the Fyne application ID, as in FyneApp.toml.
const AppID = "org.sealkeeper.app"

func runGUI(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("gui", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if errors.Is(err, config.ErrNotFound) && *cfgPath == "" {
		// Nothing configured: a first look at the program gets a demo workspace, made once.
		dir, derr := demoWorkspaceDir()
		if derr != nil {
			return derr
		}
		fmt.Fprintf(stdout, "No configuration found: making a demo workspace in %s\n", dir)
		if _, err = provisionDemo(dir, stdout); err != nil {
			return fmt.Errorf("making the demo workspace: %w", err)
		}
		cfg, err = loadConfig("")
	}
	if err != nil {
		return err
	}
	log, closeLog, err := openLog(cfg.Data())
	if err != nil {
		return err
	}
	defer closeLog()
	slog.SetDefault(log)
	log.Info("starting", "config", cfg.Path(), "demo", cfg.Demo.Enabled)

	var problems []error
	led, err := openLedger(cfg)
	if err != nil {
		problems = append(problems, err)
		// The window still opens so the custodian sees the key; nothing can be stamped or
		// recorded until the administrator has looked at the ledger file.
		log.Error("ledger", "error", err.Error())
		fmt.Fprintf(stderr, "sealkeeper: %v\n", err)
	}
	if led != nil {
		defer led.Close()
	}

	keys, closeKeys, err := newKeys(cfg, led, log)
	if err != nil {
		return err
	}
	defer closeKeys()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go keys.Run(ctx)

	link, err := openSync(cfg, led, log)
	if err != nil {
		// The window still opens: stamping offline within policy is allowed, and the status
		// bar says offline. The reason goes to the log for the administrator.
		log.Error("server link", "error", err.Error())
		problems = append(problems, fmt.Errorf("working offline: %w", err))
		fmt.Fprintf(stderr, "sealkeeper: working offline: %v\n", err)
	}
	var syncSvc ui.SyncService
	if link != nil {
		defer link.Close()
		go func() {
			if err := link.Syncer.Run(ctx); err != nil && ctx.Err() == nil {
				log.Error("sync loop stopped", "error", err.Error())
			}
		}()
		syncSvc = link.Syncer
	}

	u := ui.New(fyneapp.NewWithID(AppID), ui.Options{
		Keys:     keys,
		Sync:     syncSvc,
		Demo:     cfg.Demo.Enabled,
		Language: cfg.Language,
		SaveLanguage: func(lang string) error {
			cfg.Language = lang
			return cfg.Save(cfg.Path())
		},
		ConfigPath: cfg.Path(),
		DataDir:    cfg.Data(),
		Problems:   problems,
	})
	u.ShowAndRun()
	u.Close()
	log.Info("window closed")
	return nil
}

// openLedger opens the workstation's ledger (DATA/ledger.db), checked in a child process first.
// It returns nil, nil when there is none yet: a ledger is made on purpose (demo provisioning,
// 'sealkeeper ledger --init'), never silently here.
func openLedger(cfg *config.Config) (*ledger.Ledger, error) {
	path := filepath.Join(cfg.Data(), "ledger.db")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return ledger.Open(path, ledger.Options{
		Workstation:        cfg.Workstation,
		CheckpointEvery:    cfg.Ledger.CheckpointEvery,
		CheckpointInterval: cfg.Ledger.CheckpointInterval.Duration,
		Check:              ledgerCheck,
	})
}

// newKeys opens the configured PKCS#11 modules and makes the key use case over them. A module
// that will not load is logged and skipped, so one broken driver does not hide the others; none
// at all is an error.
func newKeys(cfg *config.Config, led *ledger.Ledger, log *slog.Logger) (*usecase.Keys, func(), error) {
	var mods []*device.Module
	var errs []error
	for _, p := range cfg.Device.Modules {
		m, err := device.OpenModule(cfg.Resolve(p))
		if err != nil {
			log.Error("PKCS#11 module", "path", p, "error", err.Error())
			errs = append(errs, err)
			continue
		}
		mods = append(mods, m)
	}
	if len(mods) == 0 {
		return nil, nil, fmt.Errorf("no PKCS#11 module could be loaded: %w", errors.Join(errs...))
	}
	var known []device.KnownKey
	for _, k := range cfg.Device.KnownKeys {
		vid, pid, any, err := k.IDs()
		if err != nil {
			return nil, nil, err
		}
		known = append(known, device.KnownKey{VID: vid, PID: pid, AnyPID: any, Vendor: k.Vendor, Model: k.Model})
	}
	ages, err := device.LoadPINAges(cfg.Data())
	if err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	keys := usecase.NewKeys(usecase.KeysConfig{
		Watch:        device.WatchConfig{Modules: mods, KnownKeys: known, Interval: cfg.Device.PollInterval.Duration, NoUSB: cfg.Demo.Enabled},
		Policy:       device.PINPolicy{MaxAge: time.Duration(cfg.Device.PINMaxAgeDays) * 24 * time.Hour, ChangeInitial: *cfg.Device.ChangeInitialPIN},
		Ages:         ages,
		Custodian:    cfg.Custodian,
		SealKeyID:    cfg.Seal.KeyID,
		SealKeyLabel: cfg.Seal.KeyLabel,
		Log:          log,
		Ledger:       led,
		Workstation:  cfg.Workstation,
		Host:         host,
	})
	return keys, func() {
		keys.Close()
		for _, m := range mods {
			m.Close()
		}
	}, nil
}

package workspace

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	gmx509 "github.com/tjfoc/gmsm/x509"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
	"github.com/sealkeeper/sealkeeper/stamp/render"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// Workspace is a workstation opened from its configuration: the same parts for the window and
// the command line.
type Workspace struct {
	Config *config.Config
	Log    *slog.Logger
	// Ledger is nil when there is none yet or it failed its checks (Problems says why): then
	// nothing can be stamped.
	Ledger *ledger.Ledger
	Keys   *usecase.Keys
	// Alarms are the ledger's alarms not acknowledged yet (the status bar shows them).
	Alarms *usecase.Alarms
	// Link is nil when no server is configured or it could not be reached at start.
	Link *Link
	Desk *usecase.Desk
	// Custody carries out handovers and delegations, and ends delegations (through Desk too).
	Custody *usecase.Custody
	// LedgerView shows the ledger's records, chain status and reports (to a logged-in custodian).
	LedgerView *usecase.LedgerView
	// Problems are what went wrong opening it that still leaves it usable, for the custodian
	// to see (the window shows them in a dialog, the command line prints them).
	Problems []error

	closers []func()
}

// OnClose has Close run f after everything Open opened is closed.
func (w *Workspace) OnClose(f func()) { w.closers = append([]func(){f}, w.closers...) }

// Close closes everything Open opened, last first.
func (w *Workspace) Close() {
	for i := len(w.closers) - 1; i >= 0; i-- {
		w.closers[i]()
	}
	w.closers = nil
}

// Open opens the workspace: the ledger (checked in a child process), the PKCS#11 modules and
// the key use case, the link to the server (in a demo workspace the demo hub, in-process on
// 127.0.0.1), and the custodian's desk over them. Only what makes the workspace unusable is an
// error; the rest is in Problems.
func Open(cfg *config.Config, log *slog.Logger) (*Workspace, error) {
	w := &Workspace{Config: cfg, Log: log}
	if cfg.Demo.Enabled && cfg.Seal.ID == "" {
		cfg.Seal.ID = hub.DemoSeal // demo workspaces made before [seal] id existed
	}
	led, ledErr := OpenLedger(cfg)
	if ledErr != nil {
		w.Problems = append(w.Problems, ledErr)
		log.Error("ledger", "error", ledErr.Error())
	}
	if led != nil {
		w.Ledger = led
		w.closers = append(w.closers, func() { led.Close() })
	}
	anchors, err := TrustAnchors(cfg)
	if err != nil {
		w.Problems = append(w.Problems, err)
	}
	hours, err := usecase.ParseWorkingHours(cfg.Policy.WorkingHours)
	if err != nil {
		return nil, fmt.Errorf("[policy] working_hours in %s: %w", cfg.Path(), err)
	}
	w.Alarms = usecase.NewAlarms(w.Ledger, log)
	if ledgerFailed(ledErr) {
		// There is no ledger to write the alarm to: it stays in memory (the status bar shows
		// it) and goes to the server in every heartbeat of this run (OpenSync).
		_ = w.Alarms.Raise(ledger.Record{Alarm: usecase.AlarmLedgerVerify, Detail: "opening the ledger: " + ledErr.Error()})
	}
	keys, closeKeys, err := NewKeys(cfg, w.Ledger, w.Alarms, anchors, log)
	if err != nil {
		w.Close()
		return nil, err
	}
	w.Keys = keys
	w.closers = append(w.closers, closeKeys)
	link, err := OpenSync(cfg, w.Ledger, w.Alarms, log)
	if err != nil {
		// Stamping offline within policy is allowed; the status bar says offline.
		log.Error("server link", "error", err.Error())
		w.Problems = append(w.Problems, fmt.Errorf("working offline: %w", err))
	}
	dc := usecase.DeskConfig{
		Ledger: w.Ledger, SealID: cfg.Seal.ID, AllowUnapproved: cfg.Policy.AllowUnapprovedFiles,
		Policy:      upstream.Policy{MaxAge: cfg.Upstream.MaxOfflineAge.Duration, MaxStamps: cfg.Upstream.MaxOfflineStamps},
		OutDir:      StampedDir(cfg),
		Workstation: cfg.Workstation, Log: log,
		Alarms: w.Alarms, WorkingHours: hours, MaxClockJump: cfg.Policy.MaxClockJump.Duration,
	}
	dc.Host, _ = os.Hostname()
	dc.Keys, dc.Seal.SizeMM = keys, cfg.Seal.SizeMM
	if cfg.Seal.Image != "" {
		if dc.Seal.Image, err = stamp.LoadImage(cfg.Resolve(cfg.Seal.Image)); err != nil {
			w.Problems = append(w.Problems, fmt.Errorf("the seal image ([seal] image in %s): %w", cfg.Path(), err))
		}
	}
	if link != nil {
		w.Link = link
		w.closers = append(w.closers, link.Close)
		dc.Store, dc.ServerKey, dc.Upstream = link.Store, link.ServerKey, link.Client
		dc.Online = func() bool { return link.Syncer.Status().Online }
		dc.Trigger = link.Syncer.Trigger
		// Alarms go up at once: each round pushes the ledger before anything else.
		w.Alarms.OnRaise(link.Syncer.Trigger)
		statuses, stop := link.Syncer.Watch()
		ctx, cancel := context.WithCancel(context.Background())
		w.closers = append(w.closers, func() { cancel(); stop() })
		go w.Alarms.FollowSync(ctx, statuses)
	}
	// PDFium's compiled code is kept in the data directory: the first preview after a restart
	// then opens in milliseconds, not the seconds a compilation takes.
	dc.Renderer = render.New(render.Options{CacheDir: filepath.Join(cfg.Data(), "pdfium-cache")})
	w.closers = append(w.closers, func() { dc.Renderer.Close() })
	w.Custody = usecase.NewCustody(usecase.CustodyConfig{Ledger: w.Ledger, Store: dc.Store, Keys: keys, Online: dc.Online, Policy: dc.Policy,
		Trigger: dc.Trigger, SealID: dc.SealID, Workstation: dc.Workstation, Host: dc.Host, Log: log})
	dc.Custody = w.Custody
	w.Desk = usecase.NewDesk(dc)
	if link != nil {
		// Allowances for extra copies and the monthly table follow every round (usecase.AfterSync).
		link.Syncer.OnRound(func(ctx context.Context, online bool) {
			if err := w.Desk.AfterSync(ctx, online); err != nil {
				log.Warn("after the sync round", "error", err.Error())
			}
		})
	}
	w.LedgerView = usecase.NewLedgerView(w.Ledger)
	return w, nil
}

// TrustAnchors reads the configured CA certificates. A file that cannot be read is an error
// naming it, never silently left out.
func TrustAnchors(cfg *config.Config) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	var errs []error
	for _, f := range cfg.Seal.TrustAnchors {
		certs, err := usecase.ReadCertificates(cfg.Resolve(f))
		if err != nil {
			if gm, _ := readGMAnchors(cfg.Resolve(f)); len(gm) > 0 {
				continue // an SM2 CA: GMTrustAnchors reads it
			}
			errs = append(errs, fmt.Errorf("trust anchor %s (in [seal] trust_anchors of %s): %w", f, cfg.Path(), err))
			continue
		}
		out = append(out, certs...)
	}
	return out, errors.Join(errs...)
}

// StampedDir is where the workstation writes stamped files when the caller names none
// (DATA/stamped); the sync loop deletes each once the server accepted it.
func StampedDir(cfg *config.Config) string { return filepath.Join(cfg.Data(), "stamped") }

// GMTrustAnchors reads the SM2 CA certificates among [seal] trust_anchors (the anchors of GM
// seals: signers and seal makers); files of other certificates are TrustAnchors'.
func GMTrustAnchors(cfg *config.Config) []*gmx509.Certificate {
	var out []*gmx509.Certificate
	for _, f := range cfg.Seal.TrustAnchors {
		certs, _ := readGMAnchors(cfg.Resolve(f))
		out = append(out, certs...)
	}
	return out
}

func readGMAnchors(path string) ([]*gmx509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return gmseal.ParseCertificatesPEM(b)
}

// GMSeal is the stamp engine's GM request for the configured seal ([seal] gm_mode, gm_seal,
// gm_subfilter) and the key's SM2 certificate (DER); nil when the seal is not a GM seal.
func GMSeal(cfg *config.Config, cert []byte) (*stamp.GM, error) {
	if cfg.Seal.GMMode == "" {
		return nil, nil
	}
	g := &stamp.GM{Mode: stamp.GMMode(cfg.Seal.GMMode), Cert: cert, SubFilter: cfg.Seal.GMSubFilter}
	if cfg.Seal.GMSeal != "" {
		p := cfg.Resolve(cfg.Seal.GMSeal)
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("the GM seal file ([seal] gm_seal of %s): %w", cfg.Path(), err)
		}
		if _, err := gmseal.ParseSeal(b); err != nil {
			return nil, fmt.Errorf("%s ([seal] gm_seal): %w; ask the seal maker for the seal file again", p, err)
		}
		g.Seal = b
	}
	return g, nil
}

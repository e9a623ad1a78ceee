package workspace

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/stamp"
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
	// Link is nil when no server is configured or it could not be reached at start.
	Link *Link
	Desk *usecase.Desk
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
	led, err := OpenLedger(cfg)
	if err != nil {
		w.Problems = append(w.Problems, err)
		log.Error("ledger", "error", err.Error())
	}
	if led != nil {
		w.Ledger = led
		w.closers = append(w.closers, func() { led.Close() })
	}
	anchors, err := TrustAnchors(cfg)
	if err != nil {
		w.Problems = append(w.Problems, err)
	}
	keys, closeKeys, err := NewKeys(cfg, w.Ledger, anchors, log)
	if err != nil {
		w.Close()
		return nil, err
	}
	w.Keys = keys
	w.closers = append(w.closers, closeKeys)
	link, err := OpenSync(cfg, w.Ledger, log)
	if err != nil {
		// Stamping offline within policy is allowed; the status bar says offline.
		log.Error("server link", "error", err.Error())
		w.Problems = append(w.Problems, fmt.Errorf("working offline: %w", err))
	}
	dc := usecase.DeskConfig{
		Ledger: w.Ledger, SealID: cfg.Seal.ID, AllowUnapproved: cfg.Policy.AllowUnapprovedFiles,
		Policy:      upstream.Policy{MaxAge: cfg.Upstream.MaxOfflineAge.Duration, MaxStamps: cfg.Upstream.MaxOfflineStamps},
		OutDir:      filepath.Join(cfg.Data(), "stamped"),
		Workstation: cfg.Workstation, Log: log,
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
	}
	// PDFium's compiled code is kept in the data directory: the first preview after a restart
	// then opens in milliseconds, not the seconds a compilation takes.
	dc.Renderer = render.New(render.Options{CacheDir: filepath.Join(cfg.Data(), "pdfium-cache")})
	w.closers = append(w.closers, func() { dc.Renderer.Close() })
	w.Desk = usecase.NewDesk(dc)
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
			errs = append(errs, fmt.Errorf("trust anchor %s (in [seal] trust_anchors of %s): %w", f, cfg.Path(), err))
			continue
		}
		out = append(out, certs...)
	}
	return out, errors.Join(errs...)
}

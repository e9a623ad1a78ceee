package workspace

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/pinages"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// OpenLedger opens the workstation's ledger (DATA/ledger.db), checked in a child process first.
// It returns nil, nil when there is none yet: a ledger is made on purpose (demo provisioning,
// 'sealkeeper ledger --init'), never silently here.
func OpenLedger(cfg *config.Config) (*ledger.Ledger, error) {
	path := filepath.Join(cfg.Data(), "ledger.db")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		// A ledger that failed its checks was moved aside by an earlier run: say so at every
		// start until one is restored, not only at the start that found it.
		if moved, _ := filepath.Glob(path + ".corrupt-*"); len(moved) > 0 {
			slices.Sort(moved)
			return nil, fmt.Errorf("%w: there is no ledger at %s, only %s, moved aside when it failed its checks; nothing can be stamped until the ledger is restored from a backup (the server keeps every synced record) or a new one is started with 'sealkeeper ledger --init'",
				ErrLedgerMovedAside, path, moved[len(moved)-1])
		}
		return nil, nil
	}
	// The pinned server key checks the server's signature on the ledger's co-signed floor. A
	// workstation not enrolled yet has none (and nothing co-signed).
	serverKey, err := PinnedServerKey(cfg)
	if err != nil {
		return nil, fmt.Errorf("opening the ledger: %w", err)
	}
	return ledger.Open(path, ledger.Options{
		Workstation:        cfg.Workstation,
		CheckpointEvery:    cfg.Ledger.CheckpointEvery,
		CheckpointInterval: cfg.Ledger.CheckpointInterval.Duration,
		Check:              LedgerCheck,
		ServerKey:          serverKey,
	})
}

// ErrLedgerMovedAside: the ledger failed its checks at an earlier start and was moved aside.
var ErrLedgerMovedAside = errors.New("the ledger was moved aside")

// ledgerFailed tells a ledger that failed its checks (now or at an earlier start) from one
// that could not be opened for another reason (in use, a pinned key unreadable).
func ledgerFailed(err error) bool {
	var ve *ledger.VerifyError
	return errors.As(err, &ve) || errors.Is(err, ErrLedgerMovedAside)
}

// PinnedServerKey is the server's key pinned at enrolment (upstream.server_key, or where
// 'sealkeeper hub join' saved it; the demo hub's, pinned when the demo was made), or nil when the
// workstation has no server or is not enrolled yet.
func PinnedServerKey(cfg *config.Config) (*ecdsa.PublicKey, error) {
	if cfg.Upstream.URL == "" && !cfg.Demo.Enabled {
		return nil, nil
	}
	p := Credentials(cfg).ServerKey
	if _, err := os.Stat(p); err != nil {
		return nil, nil
	}
	k, err := upstream.LoadServerKey(p)
	if err != nil {
		return nil, fmt.Errorf("the pinned server key %s, which checks the ledger's co-signed floor, cannot be read: %w", p, err)
	}
	return k, nil
}

// OpenModule opens the PKCS#11 module at path (as the config names it: resolved against the
// config file's folder) and gives it the config's SM2 tables for it ([[device.sm2]] with this
// module or none named).
func OpenModule(cfg *config.Config, path string) (*device.Module, error) {
	abs := cfg.Resolve(path)
	m, err := device.OpenModule(abs)
	if err != nil {
		return nil, err
	}
	var tables []device.SM2Mechanisms
	for _, t := range cfg.Device.SM2 {
		if t.Module == "" || cfg.Resolve(t.Module) == abs {
			tables = append(tables, device.SM2Mechanisms{Vendor: t.Vendor, KeyType: t.KeyType, KeyGen: t.KeyGen, SignWithZ: t.SignWithZ, SignRaw: t.SignRaw, Decrypt: t.Decrypt})
		}
	}
	m.UseSM2Mechanisms(tables...)
	return m, nil
}

// NewKeys opens the configured PKCS#11 modules and makes the key use case over them. A module
// that will not load is logged and skipped, so one broken driver does not hide the others; none
// at all is an error.
func NewKeys(cfg *config.Config, led *ledger.Ledger, alarms *usecase.Alarms, anchors []*x509.Certificate, log *slog.Logger) (*usecase.Keys, func(), error) {
	var mods []*device.Module
	var errs []error
	for _, p := range cfg.Device.Modules {
		m, err := OpenModule(cfg, p)
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
	ages, err := pinages.Load(cfg.Data())
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
		Anchors:      anchors,
		Alarms:       alarms,
		MaxWrongPINs: cfg.Policy.MaxWrongPINs,
		GMAnchors:    GMTrustAnchors(cfg),
		GMSeal:       func(der []byte) (*stamp.GM, error) { return GMSeal(cfg, der) },
	})
	return keys, func() {
		keys.Close()
		for _, m := range mods {
			m.Close()
		}
	}, nil
}

// LedgerCheck runs the file's consistency check in a child: this program as
// `sealkeeper ledger check-file PATH` (argv[0] "sealkeeper", which also makes a test binary
// that runs commands by argv[0] run this one).
func LedgerCheck(path string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program to run the consistency check: %w", err)
	}
	return ledger.ChildCheckCommand(func(ctx context.Context, p string) *exec.Cmd {
		c := exec.CommandContext(ctx, exe, "ledger", "check-file", p)
		c.Args[0] = "sealkeeper"
		return c
	})(path)
}

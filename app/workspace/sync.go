package workspace

import (
	"crypto/ecdsa"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// Link is the running link to the seal-management server.
type Link struct {
	Syncer *upstream.Syncer
	Store  *upstream.Store
	// ServerKey is the server's ticket key: pinned at enrolment, or the demo hub's own.
	ServerKey *ecdsa.PublicKey
	close     []func()
}

func (l *Link) Close() {
	for i := len(l.close) - 1; i >= 0; i-- {
		l.close[i]()
	}
}

// OpenSync connects the workstation to its server: the configured one, or in a demo workspace a
// hub run in-process on 127.0.0.1 with sample documents. It returns nil, nil when no server is
// configured: the workstation then works offline with what it has.
func OpenSync(cfg *config.Config, led *ledger.Ledger, log *slog.Logger) (*Link, error) {
	l := &Link{}
	var (
		url    string
		key    *ecdsa.PublicKey
		client upstream.ClientConfig
	)
	switch {
	case cfg.Demo.Enabled && cfg.Demo.HubData != "":
		h, srv, err := hub.Demo(cfg.Resolve(cfg.Demo.HubData), cfg.Workstation)
		if err != nil {
			return nil, fmt.Errorf("starting the demo hub: %w", err)
		}
		l.close = append(l.close, func() { srv.Close(); h.Close() })
		url, key = srv.URL, h.TicketKey()
		log.Info("demo hub", "url", url)
	case cfg.Upstream.URL != "":
		tlsCfg, err := upstream.LoadTLS(cfg.Resolve(cfg.Upstream.CA), cfg.Resolve(cfg.Upstream.ClientCert), cfg.Resolve(cfg.Upstream.ClientKey))
		if err != nil {
			return nil, err
		}
		client.TLS = tlsCfg
		if cfg.Upstream.ServerKey != "" {
			if key, err = upstream.LoadServerKey(cfg.Resolve(cfg.Upstream.ServerKey)); err != nil {
				return nil, err
			}
		}
		url = cfg.Upstream.URL
	default:
		return nil, nil
	}
	client.URL, client.Workstation, client.ServerKey, client.Timeout = url, cfg.Workstation, key, 30*time.Second
	c, err := upstream.NewClient(client)
	if err != nil {
		l.Close()
		return nil, err
	}
	st, err := upstream.OpenStore(filepath.Join(cfg.Data(), "sync.db"))
	if err != nil {
		l.Close()
		return nil, err
	}
	l.close = append(l.close, func() { st.Close() })
	l.Store, l.ServerKey = st, key
	opt := upstream.SyncOptions{PullEvery: cfg.Upstream.PullEvery.Duration}
	if led != nil {
		opt.Ledger = led
		// The server's co-signature is what stops a rollback of the ledger file.
		opt.OnCosigned = func(cp ledger.Checkpoint, sig []byte) error {
			return led.SetCosigned(ledger.SignedCheckpoint{Checkpoint: cp}, sig)
		}
	}
	l.Syncer = upstream.NewSyncer(c, st, opt)
	return l, nil
}

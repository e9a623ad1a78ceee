package workspace

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// Link is the running link to the seal-management server.
type Link struct {
	Syncer *upstream.Syncer
	Client *upstream.Client
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
// configured: the workstation then works offline with what it has. The heartbeats carry the
// alarms not in the pushed chain (alarms may be nil).
func OpenSync(cfg *config.Config, led *ledger.Ledger, alarms *usecase.Alarms, log *slog.Logger) (*Link, error) {
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
		if pinned, err := PinnedServerKey(cfg); err != nil || (pinned != nil && !pinned.Equal(key)) {
			l.Close()
			if err == nil {
				err = fmt.Errorf("the demo hub in %s has another key than the one pinned when the demo was made (%s); make the demo again (sealkeeper demo provision)", cfg.Resolve(cfg.Demo.HubData), Credentials(cfg).ServerKey)
			}
			return nil, err
		}
		log.Info("demo hub", "url", url)
	case cfg.Upstream.URL != "":
		files := Credentials(cfg)
		cert, ckey := files.Cert, files.Key
		if !exists(cert) && !exists(ckey) {
			cert, ckey = "", "" // not enrolled yet: the hub answers hello and enrol only
		}
		tlsCfg, err := upstream.LoadTLS(cfg.Resolve(cfg.Upstream.CA), cert, ckey)
		if err != nil {
			return nil, err
		}
		client.TLS = tlsCfg
		if cfg.Upstream.ServerKey != "" || exists(files.ServerKey) {
			if key, err = upstream.LoadServerKey(files.ServerKey); err != nil {
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
	var keys upstream.DocumentKeys // documents are encrypted under the ledger's key slots
	if led != nil {
		keys = led
	}
	st, err := upstream.OpenStore(filepath.Join(cfg.Data(), "sync.db"), keys)
	if err != nil {
		l.Close()
		return nil, err
	}
	l.close = append(l.close, func() { st.Close() })
	l.Store, l.ServerKey = st, key
	opt := upstream.SyncOptions{PullEvery: cfg.Upstream.PullEvery.Duration, Outputs: StampedDir(cfg)}
	if alarms != nil {
		opt.State = func() upstream.Heartbeat {
			var hb upstream.Heartbeat
			for _, a := range alarms.Unrecorded() {
				hb.Alarms = append(hb.Alarms, upstream.HeartbeatAlarm{Name: a.Name, Time: a.Time, Detail: a.Detail})
			}
			return hb
		}
	}
	if led != nil {
		opt.Ledger = led
		// The server's co-signature is what stops a rollback of the ledger file.
		opt.OnCosigned = func(cp ledger.Checkpoint, sig []byte) error {
			return led.SetCosigned(ledger.SignedCheckpoint{Checkpoint: cp}, sig)
		}
	}
	l.Syncer, l.Client = upstream.NewSyncer(c, st, opt), c
	return l, nil
}

// Credentials are the files of the workstation's link to its server: upstream.client_cert,
// client_key and server_key when configured, else the ones enrolment writes in DATA/upstream/.
func Credentials(cfg *config.Config) upstream.CredentialFiles {
	f := upstream.DefaultCredentialFiles(cfg.Data())
	if cfg.Upstream.ClientCert != "" || cfg.Upstream.ClientKey != "" {
		f.Cert, f.Key = cfg.Resolve(cfg.Upstream.ClientCert), cfg.Resolve(cfg.Upstream.ClientKey)
	}
	if cfg.Upstream.ServerKey != "" {
		f.ServerKey = cfg.Resolve(cfg.Upstream.ServerKey)
	}
	return f
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return p != "" && err == nil
}

// Enrol enrols this workstation with upstream.url using a one-time code: it makes the
// workstation's key, has the hub sign its client certificate and pins the hub's ticket key, all
// saved in Credentials(cfg) (the key with mode 0600), where OpenSync finds them.
//
// The key is a software P-256 key in the data folder. Where the workstation's token can make
// keys, the key belongs on the token instead (see upstream.EnrolWithSoftwareKey).
func Enrol(cfg *config.Config, code, host string) (*upstream.Enrolment, upstream.CredentialFiles, error) {
	files := Credentials(cfg)
	if cfg.Upstream.URL == "" {
		return nil, files, errors.New("no server to enrol with: set upstream.url in the configuration")
	}
	tlsCfg, err := upstream.LoadTLS(cfg.Resolve(cfg.Upstream.CA), "", "")
	if err != nil {
		return nil, files, err
	}
	var pinned *ecdsa.PublicKey
	if exists(files.ServerKey) {
		if pinned, err = upstream.LoadServerKey(files.ServerKey); err != nil {
			return nil, files, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := upstream.EnrolWithSoftwareKey(ctx, upstream.ClientConfig{URL: cfg.Upstream.URL, Workstation: cfg.Workstation, TLS: tlsCfg, ServerKey: pinned, Timeout: 30 * time.Second}, code, host, files)
	return e, files, err
}

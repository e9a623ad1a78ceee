package workspace

import (
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/store/atomic"
	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// Demo ledger
//
// A demo workspace's ledger has two key slots: the demo token's seal key (P-256, opened by ECDH
// on the token after logging in with the demo PIN, as a real custodian's would be; in a GM demo
// SM2, opened by SM2 decryption on the token) and an escrow
// key made for the demo, kept as escrow-key.pem beside config.toml (a real escrow key never sits
// on the workstation; only its public half, [ledger] escrow_public_key, does). Checkpoints are
// signed by the token's seal key.

const demoEscrowKeyFile = "escrow-key.pem"

// DemoEscrowKeyPath is the demo escrow private key of a demo workspace, or "".
func DemoEscrowKeyPath(cfg *config.Config) string {
	if !cfg.Demo.Enabled || cfg.Path() == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(cfg.Path()), demoEscrowKeyFile)
}

// DemoToken is the demo token, logged in to the demo token with the demo PIN and returns its seal key's ECDH side
// and signer. close ends the session.
type DemoToken struct {
	Holder keyslot.Holder // the seal key's side of the ledger's key slot (ECDH, or SM2 decryption)
	Signer crypto.Signer  // the seal key, for checkpoints
	Serial string
	Close  func() // ends the session
}

func OpenDemoToken(cfg *config.Config) (*DemoToken, error) {
	pin, ok := DemoPIN(cfg)
	if !ok {
		return nil, errors.New("not a demo workspace (no demo PIN)")
	}
	if len(cfg.Device.Modules) == 0 {
		return nil, errors.New("no PKCS#11 module configured")
	}
	m, err := OpenModule(cfg, cfg.Device.Modules[0])
	if err != nil {
		return nil, err
	}
	toks, err := m.Tokens()
	if err != nil {
		m.Close()
		return nil, err
	}
	var tok *device.TokenInfo
	for i := range toks {
		if toks[i].Label == cfg.Demo.TokenLabel {
			tok = &toks[i]
		}
	}
	if tok == nil {
		m.Close()
		return nil, fmt.Errorf("the demo token %q is not present", cfg.Demo.TokenLabel)
	}
	s, err := m.Login(*tok, pin)
	if err != nil {
		m.Close()
		return nil, err
	}
	done := func() { s.Close(); m.Close() }
	keys, err := s.Seals()
	if err != nil {
		done()
		return nil, err
	}
	for _, k := range keys {
		if cfg.Seal.KeyID != "" && hex.EncodeToString(k.ID) != cfg.Seal.KeyID {
			continue
		}
		x, err := s.Holder(k)
		if err != nil {
			done()
			return nil, err
		}
		sg, err := s.Signer(k)
		if err != nil {
			done()
			return nil, err
		}
		return &DemoToken{Holder: x, Signer: sg, Serial: tok.Serial, Close: done}, nil
	}
	done()
	return nil, errors.New("the demo token has no seal key")
}

// InitDemoLedger makes the demo workspace's ledger (DATA/ledger.db) with its first records: key
// slots for the demo token and a demo escrow key (written beside the config, its public half
// named in [ledger] escrow_public_key, and the config saved), and the events of provisioning.
func InitDemoLedger(cfg *config.Config, out io.Writer) error {
	if !cfg.Demo.Enabled || cfg.Path() == "" {
		return errors.New("InitDemoLedger: not a saved demo workspace configuration")
	}
	dir := filepath.Dir(cfg.Path())
	escrow, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	privPEM, err := keyslot.MarshalPrivateKeyPEM(escrow)
	if err != nil {
		return err
	}
	pubPEM, err := keyslot.MarshalPublicKeyPEM(escrow.Public())
	if err != nil {
		return err
	}
	if err := atomic.WriteFile(filepath.Join(dir, demoEscrowKeyFile), privPEM, 0o600); err != nil {
		return err
	}
	pubPath := filepath.Join(dir, "escrow-public.pem")
	if err := atomic.WriteFile(pubPath, pubPEM, 0o644); err != nil {
		return err
	}
	cfg.Ledger.EscrowPublicKey = pubPath
	if err := cfg.Save(cfg.Path()); err != nil {
		return err
	}
	tok, err := OpenDemoToken(cfg)
	if err != nil {
		return fmt.Errorf("demo ledger: %w", err)
	}
	defer tok.Close()
	ws := cfg.Workstation
	if ws == "" {
		ws, _ = os.Hostname()
	}
	path := filepath.Join(cfg.Data(), ledger.FileName)
	l, err := ledger.Create(path, []ledger.Recipient{
		{Public: tok.Holder.Public(), Role: keyslot.RoleCustodian, Label: "演示保管人 Demo custodian"},
		{Public: escrow.Public(), Role: keyslot.RoleEscrow, Label: "演示托管密钥 Demo escrow"},
	}, ledger.Options{Workstation: ws, Signer: tok.Signer, Check: LedgerCheck, CheckpointEvery: cfg.Ledger.CheckpointEvery, CheckpointInterval: cfg.Ledger.CheckpointInterval.Duration})
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	now := time.Now()
	_, err = l.Append(
		ledger.Record{Kind: ledger.KindSettingsChanged, Time: now, Host: host, Setting: "demo workspace", New: dir, Detail: "sealkeeper demo provision"},
		ledger.Record{Kind: ledger.KindKeyInserted, Time: now, Host: host, Token: tok.Serial},
		ledger.Record{Kind: ledger.KindLoginOK, Time: now, Host: host, Token: tok.Serial, Custodian: "演示保管人 Demo custodian"},
	)
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Ledger:          %s (key slots: demo token, escrow key %s)\n", path, filepath.Join(dir, demoEscrowKeyFile))
	return nil
}

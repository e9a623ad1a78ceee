// Package config is SealKeeper's configuration file: where it lives, what it holds, and its
// defaults. It holds no secrets: PINs are never written; the demo workspace's PIN lives in its own
// file inside that workspace (Demo.PINFile), because that token exists only for trying the program.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/sealkeeper/sealkeeper/store/atomic"
)

// FileName is the configuration file's name in a config dir or demo workspace.
const FileName = "config.toml"

// Config is the whole configuration. Zero values mean "use the default" (see Defaults).
type Config struct {
	// Language is "auto" (follow the system), "zh-CN" or "en".
	Language string `toml:"language"`
	// DataDir holds the ledger, caches, logs and per-token PIN ages. Relative paths are taken
	// from the config file's folder.
	DataDir string `toml:"data_dir"`
	// Workstation names this machine to the server; the host name when empty.
	Workstation string `toml:"workstation"`
	// Custodian is the name of the seal's custodian at this workstation, shown once logged in
	// and written into the ledger; the operating-system user's name when empty.
	Custodian string `toml:"custodian"`

	Device   Device   `toml:"device"`
	Seal     Seal     `toml:"seal"`
	Ledger   Ledger   `toml:"ledger"`
	Upstream Upstream `toml:"upstream"`
	Policy   Policy   `toml:"policy"`
	Demo     Demo     `toml:"demo"`

	// path is the file this came from; relative paths resolve against its folder.
	path string
}

// Device configures the seal key: PKCS#11 modules and USB presence.
type Device struct {
	// Modules are PKCS#11 module paths, tried in order.
	Modules []string `toml:"modules"`
	// KnownKeys are USB vendor/product IDs of seal keys, for presence detection.
	KnownKeys []USBKey `toml:"known_keys"`
	// PollInterval is how often presence is polled (default 1s).
	PollInterval Duration `toml:"poll_interval"`
	// PINMaxAgeDays forces a PIN change after this many days (default 60; docs/rules.md 3).
	PINMaxAgeDays int `toml:"pin_max_age_days"`
	// ChangeInitialPIN forces a change when no change was ever recorded for a token (default true).
	ChangeInitialPIN *bool `toml:"change_initial_pin"`
	// SM2 are vendors' PKCS#11 numbers for SM2 keys ([[device.sm2]]): SM2 has no standard code.
	// They are tried before the built-in tables (device.BuiltinSM2: Sansec, TASS, SafeNet Luna,
	// IBM-style).
	SM2 []SM2Mechanisms `toml:"sm2"`
}

// SM2Mechanisms is one vendor's SM2 numbers, e.g.
//
//	[[device.sm2]]
//	module = "/usr/lib/libvendor-pkcs11.so"
//	vendor = "Sansec"
//	key_type = 0x80000004
//	key_gen = 0x80008001
//	sign_with_z = [0x80008103]
//	sign_raw = [0x80008104]
//	decrypt = [0x80008200]
type SM2Mechanisms struct {
	// Module is the PKCS#11 module it is for, as in modules; empty: every module.
	Module  string `toml:"module"`
	Vendor  string `toml:"vendor"`
	KeyType uint   `toml:"key_type"` // CKK_SM2
	KeyGen  uint   `toml:"key_gen"`  // SM2 key pair generation
	// SignWithZ: mechanisms that hash SM3(Z_A || M) with the user ID 1234567812345678 on the
	// token; SignRaw: mechanisms that sign e = SM3(Z_A || M) computed by SealKeeper.
	SignWithZ []uint `toml:"sign_with_z"`
	SignRaw   []uint `toml:"sign_raw"`
	// Decrypt: SM2 decryption over 04 || C1 || C3 || C2, which opens the ledger's key slot of an
	// SM2 key; without one an SM2 custodian cannot unlock the ledger.
	Decrypt []uint `toml:"decrypt"`
}

// USBKey is one known seal-key model.
type USBKey struct {
	VID    string `toml:"vid"` // four hex digits, e.g. "096e"
	PID    string `toml:"pid"` // four hex digits, or "*" for any product of the vendor
	Vendor string `toml:"vendor"`
	Model  string `toml:"model"`
}

// IDs parses VID and PID. PID 0 with anyPID true means every product of the vendor.
func (k USBKey) IDs() (vid, pid uint16, anyPID bool, err error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(k.VID), "0x"), 16, 16)
	if err != nil {
		return 0, 0, false, fmt.Errorf("known key %q: vid %q is not four hex digits", k.Vendor, k.VID)
	}
	if k.PID == "*" || k.PID == "" {
		return uint16(v), 0, true, nil
	}
	p, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(k.PID), "0x"), 16, 16)
	if err != nil {
		return 0, 0, false, fmt.Errorf("known key %q: pid %q is not four hex digits or *", k.Vendor, k.PID)
	}
	return uint16(v), uint16(p), false, nil
}

// Seal says which key on the token is the seal.
type Seal struct {
	// ID is the seal's id on the server's seal list; approval tickets name it.
	ID       string  `toml:"id"`
	KeyID    string  `toml:"key_id"`    // CKA_ID in hex; empty: the first key with a certificate
	KeyLabel string  `toml:"key_label"` // CKA_LABEL, used when KeyID is empty
	Image    string  `toml:"image"`     // PNG of the seal, transparent background
	SizeMM   float64 `toml:"size_mm"`   // true diameter of the seal in millimetres (default 42)
	// TrustAnchors are PEM files of CA certificates the verifier trusts.
	TrustAnchors []string `toml:"trust_anchors"`
	// TSA is an RFC 3161 timestamp server URL; empty for none.
	TSA string `toml:"tsa"`
	// GMMode makes the seal a GM seal (SM2 key): "ses" writes a GB/T 38540 seal signature
	// into the PDF, "cms" a GM/T 0010 SignedData; empty for PAdES.
	GMMode string `toml:"gm_mode"`
	// GMSeal is the SESeal file (DER) the seal maker issued, for gm_mode "ses".
	GMSeal string `toml:"gm_seal"`
	// GMSubFilter replaces the /SubFilter written for a GM seal (default adbe.pkcs7.detached).
	GMSubFilter string `toml:"gm_subfilter"`
}

// Ledger configures the usage ledger.
type Ledger struct {
	// EscrowPublicKey is a PEM public key of the organisation's escrow; every data key is
	// also wrapped for it.
	EscrowPublicKey string `toml:"escrow_public_key"`
	// CheckpointEvery and CheckpointInterval: sign a checkpoint every N records or T (default 100 / 10m).
	CheckpointEvery    int      `toml:"checkpoint_every"`
	CheckpointInterval Duration `toml:"checkpoint_interval"`
}

// Upstream configures the seal-management server.
type Upstream struct {
	URL        string   `toml:"url"`         // https://…; empty: work offline
	CA         string   `toml:"ca"`          // PEM file the server's certificate must chain to
	ClientCert string   `toml:"client_cert"` // workstation certificate for mutual TLS
	ClientKey  string   `toml:"client_key"`
	ServerKey  string   `toml:"server_key"` // PEM public key pinned at enrolment (ticket signatures)
	PullEvery  Duration `toml:"pull_every"`
	// Offline policy: how old a cached approval may be, and how many stamps may be made, while offline.
	MaxOfflineAge    Duration `toml:"max_offline_age"`
	MaxOfflineStamps int      `toml:"max_offline_stamps"`
}

// Policy is what the organisation allows on this workstation.
type Policy struct {
	// AllowUnapprovedFiles lets a local file without an approval ticket be stamped
	// (sealkeeper stamp --in); each such stamping is recorded with an alarm. Off by default:
	// only approved documents may be stamped (docs/rules.md 4).
	AllowUnapprovedFiles bool `toml:"allow_unapproved_files"`
	// WorkingHours, like "mon-fri 08:30-17:30", are when stamping is expected; a stamping
	// outside them is recorded with an alarm (RULES.md 13). Empty: any time.
	WorkingHours string `toml:"working_hours"`
	// MaxClockJump is how far past the newest ledger record the clock may be at a stamping
	// before an alarm says it jumped forward; 0 (the default) does not check it.
	MaxClockJump Duration `toml:"max_clock_jump"`
	// MaxWrongPINs is how many wrong PINs in a row on one key raise an alarm (default 3).
	MaxWrongPINs int `toml:"max_wrong_pins"`
}

// Demo marks a demo workspace: a SoftHSM token made by `sealkeeper demo provision`.
type Demo struct {
	Enabled bool `toml:"enabled"`
	// SoftHSMConf is the SOFTHSM2_CONF of the workspace's token directory.
	SoftHSMConf string `toml:"softhsm_conf"`
	TokenLabel  string `toml:"token_label"`
	// PINFile holds the demo token's PIN (demo workspaces only).
	PINFile string `toml:"pin_file"`
	// HubData is where the in-process demo hub keeps its bbolt file.
	HubData string `toml:"hub_data"`
	// GMTokenDir is the token folder of a GM demo's PKCS#11 module (device/gmtoken), which
	// reads it from SEALKEEPER_GMTOKEN_DIR.
	GMTokenDir string `toml:"gmtoken_dir"`
}

// Duration is a time.Duration written as "1s", "10m" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like 1s or 10m", b)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// CommonKeys is a starting list of USB seal keys sold in China; edit it in the config file.
var CommonKeys = []USBKey{
	{VID: "096e", PID: "*", Vendor: "Feitian (飞天诚信)", Model: "ePass / BioPass"},
	{VID: "1ea8", PID: "*", Vendor: "Haitai (海泰方圆)", Model: "HaiKey"},
	{VID: "055c", PID: "*", Vendor: "Watchdata (握奇)", Model: "TimeCOS"},
	{VID: "163c", PID: "*", Vendor: "Watchdata (握奇)", Model: "WatchKey"},
	{VID: "3a59", PID: "*", Vendor: "Longmai (龙脉)", Model: "mToken GM3000"},
	{VID: "04b9", PID: "*", Vendor: "Rainbow / SafeNet", Model: "iKey"},
	{VID: "0529", PID: "*", Vendor: "SafeNet / Aladdin", Model: "eToken"},
	{VID: "1050", PID: "*", Vendor: "Yubico", Model: "YubiKey (PIV)"},
	{VID: "20a0", PID: "4230", Vendor: "Nitrokey", Model: "HSM"},
}

// Defaults fills zero fields.
func (c *Config) Defaults() {
	if c.Language == "" {
		c.Language = "auto"
	}
	if len(c.Device.Modules) == 0 {
		c.Device.Modules = []string{SoftHSMModule}
	}
	if c.Device.KnownKeys == nil {
		c.Device.KnownKeys = append([]USBKey(nil), CommonKeys...)
	}
	if c.Device.PollInterval.Duration <= 0 {
		c.Device.PollInterval.Duration = time.Second
	}
	if c.Device.PINMaxAgeDays <= 0 {
		c.Device.PINMaxAgeDays = 60
	}
	if c.Device.ChangeInitialPIN == nil {
		t := true
		c.Device.ChangeInitialPIN = &t
	}
	if c.Seal.SizeMM <= 0 {
		c.Seal.SizeMM = 42
	}
	if c.Ledger.CheckpointEvery <= 0 {
		c.Ledger.CheckpointEvery = 100
	}
	if c.Ledger.CheckpointInterval.Duration <= 0 {
		c.Ledger.CheckpointInterval.Duration = 10 * time.Minute
	}
	if c.Upstream.PullEvery.Duration <= 0 {
		c.Upstream.PullEvery.Duration = time.Minute
	}
	if c.Upstream.MaxOfflineAge.Duration <= 0 {
		c.Upstream.MaxOfflineAge.Duration = 72 * time.Hour
	}
	if c.Upstream.MaxOfflineStamps <= 0 {
		c.Upstream.MaxOfflineStamps = 50
	}
	if c.Workstation == "" {
		c.Workstation, _ = os.Hostname()
	}
	if c.Custodian == "" {
		if u, err := user.Current(); err == nil {
			c.Custodian = u.Username
			if u.Name != "" {
				c.Custodian = u.Name
			}
		}
	}
}

// DefaultPath is the config file in the user's config dir (~/.config/sealkeeper/config.toml).
func DefaultPath() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the configuration folder: %w (set HOME or pass --config)", err)
	}
	return filepath.Join(d, "sealkeeper", FileName), nil
}

// ErrNotFound is returned by Load when the file does not exist.
var ErrNotFound = errors.New("no configuration file")

// Load reads a config file and applies defaults. Unknown keys are an error that names them, so a
// typo does not silently leave a setting at its default.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s", ErrNotFound, path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading configuration %s: %w", path, err)
	}
	var c Config
	md, err := toml.Decode(string(b), &c)
	if err != nil {
		return nil, fmt.Errorf("configuration %s is not valid TOML: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("configuration %s: unknown setting(s) %s; check the spelling", path, strings.Join(keys, ", "))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	c.path = abs
	for _, k := range c.Device.KnownKeys {
		if _, _, _, err := k.IDs(); err != nil {
			return nil, fmt.Errorf("configuration %s: %w", path, err)
		}
	}
	for _, t := range c.Device.SM2 {
		if t.KeyType == 0 || len(t.SignWithZ)+len(t.SignRaw) == 0 {
			return nil, fmt.Errorf("configuration %s: [[device.sm2]] %q needs key_type and at least one of sign_with_z and sign_raw (the vendor's CKK and CKM numbers)", path, t.Vendor)
		}
	}
	switch c.Seal.GMMode {
	case "", "cms":
	case "ses":
		if c.Seal.GMSeal == "" {
			return nil, fmt.Errorf("configuration %s: [seal] gm_mode \"ses\" needs gm_seal, the seal file (.esl) from the seal maker", path)
		}
	default:
		return nil, fmt.Errorf("configuration %s: [seal] gm_mode %q is neither \"ses\" (GB/T 38540 seal signature) nor \"cms\" (GM/T 0010); leave it out for PAdES", path, c.Seal.GMMode)
	}
	c.Defaults()
	if c.DataDir == "" {
		if c.DataDir, err = DefaultDataDir(); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

// Path is the file the configuration was loaded from or saved to ("" for one made in memory).
func (c *Config) Path() string { return c.path }

// Resolve makes a path from the config file absolute, relative to the file's folder.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || c.path == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.path), p)
}

// Data is the absolute data dir.
func (c *Config) Data() string { return c.Resolve(c.DataDir) }

// SetLanguage writes one setting, language, into the configuration file at path, leaving every
// other setting as the user wrote it: the defaults Load filled in (host name, user, the known
// keys list) stay out of the file.
func SetLanguage(path, lang string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading configuration %s: %w", path, err)
	}
	var raw map[string]any
	if _, err := toml.Decode(string(b), &raw); err != nil {
		return fmt.Errorf("configuration %s is not valid TOML: %w", path, err)
	}
	raw["language"] = lang
	var buf bytes.Buffer
	buf.WriteString("# SealKeeper configuration. No PINs or keys are kept here.\n")
	if err := toml.NewEncoder(&buf).Encode(raw); err != nil {
		return fmt.Errorf("encoding configuration: %w", err)
	}
	if err := atomic.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("saving configuration: %w", err)
	}
	return nil
}

// Save writes the configuration atomically (temp file, fsync, rename) with mode 0600.
func (c *Config) Save(path string) error {
	var buf bytes.Buffer
	buf.WriteString("# SealKeeper configuration. No PINs or keys are kept here.\n")
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		return fmt.Errorf("encoding configuration: %w", err)
	}
	if err := atomic.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("saving configuration: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	c.path = abs
	return nil
}

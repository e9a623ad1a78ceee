package workspace

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/assets"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/store/atomic"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// The demo workspace's fixed names.
const (
	demoTokenLabel = "SealKeeper Demo"
	demoKeyLabel   = "Demo seal"
	demoOrg        = "示范单位"
	demoPurpose    = "电子印章"
)

// demoFiles are what ProvisionDemo makes in a workspace, and what --force replaces.
var demoFiles = []string{config.FileName, "softhsm2.conf", "tokens", "ca.pem", "ca-key.pem", "demo-pin", "seal.png",
	"gm-ca.pem", "gm-ca-key.pem", "gm-cert.der", "gm-seal.esl"} // the gm-* files: MakeGMDemoSeal

// ErrDemoExists is returned when dir already holds a demo workspace.
var ErrDemoExists = errors.New("a demo workspace already exists")

// ProvisionDemo makes a demo workspace under dir: a SoftHSM token directory (dir/tokens, with
// dir/softhsm2.conf), a token "SealKeeper Demo" with a P-256 seal key made on the token and a
// certificate for it from a demo CA made here (dir/ca.pem; its key in dir/ca-key.pem, 0600),
// the seal image (dir/seal.png), the user PIN (dir/demo-pin, 0600: a demo token only) and the
// configuration (dir/config.toml, data in dir/data). It prints what it made to out.
//
// It sets SOFTHSM2_CONF for this process, as LoadConfig does for a demo workspace; SoftHSM reads
// it when initialised, so call this before the process opens the SoftHSM module for anything else.
func ProvisionDemo(dir string, out io.Writer) (*config.Config, error) {
	return ProvisionDemoWith(dir, DemoOptions{}, out)
}

// DemoOptions choose the demo's key.
type DemoOptions struct {
	// GM makes a GM demo (ProvisionGMDemo's token) instead of the SoftHSM one.
	GM bool
	// GMModule is our GM PKCS#11 module (libgmtoken.so) to copy into the workspace.
	GMModule string
	// GMMode is [seal] gm_mode: "ses" (default) or "cms".
	GMMode string
}

// demoKey is the demo token a provisioning step made: what the rest of the workspace names.
type demoKey struct {
	module  string
	tok     device.TokenInfo
	keyID   []byte
	hubCert []byte // the certificate the demo hub lists; nil: the hub takes any valid signature
	files   []demoFile
	set     func(c *config.Config) // the key's part of the configuration
	lines   []string               // what to print about it
}

type demoFile struct {
	name string
	data []byte
	perm os.FileMode
}

// ProvisionDemoWith is ProvisionDemo with the key chosen by o.
func ProvisionDemoWith(dir string, o DemoOptions, out io.Writer) (*config.Config, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{config.FileName, "tokens"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return nil, fmt.Errorf("%w in %s; use it with --config %s, or pass --force to replace it", ErrDemoExists, dir, filepath.Join(dir, config.FileName))
		}
	}
	userPIN, err := randomDigits(8)
	if err != nil {
		return nil, err
	}
	soPIN, err := randomDigits(16) // not kept: nobody administers a demo token
	if err != nil {
		return nil, err
	}
	keyID := make([]byte, 8)
	if _, err := rand.Read(keyID); err != nil {
		return nil, err
	}
	var k *demoKey
	if o.GM {
		k, err = provisionGMDemoKey(dir, o, soPIN, userPIN, keyID, out)
	} else {
		k, err = provisionSoftHSMDemoKey(dir, soPIN, userPIN, keyID)
	}
	if err != nil {
		return nil, err
	}

	seal, err := assets.DemoSeal(demoOrg, demoPurpose, 512)
	if err != nil {
		return nil, fmt.Errorf("drawing the demo seal: %w", err)
	}
	var sealPNG bytes.Buffer
	if err := png.Encode(&sealPNG, seal); err != nil {
		return nil, err
	}
	files := append(k.files,
		demoFile{"demo-pin", []byte(userPIN + "\n"), 0o600},
		demoFile{"seal.png", sealPNG.Bytes(), 0o644},
	)
	for _, f := range files {
		if err := atomic.WriteFile(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return nil, fmt.Errorf("writing the demo workspace: %w", err)
		}
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, fmt.Errorf("making the demo data folder: %w", err)
	}

	c := &config.Config{DataDir: data}
	c.Device.Modules = []string{k.module}
	// A demo PIN lives in demo-pin so the window can log in by itself; forcing a change of the
	// "initial" PIN would leave that file wrong.
	no := false
	c.Device.ChangeInitialPIN = &no
	c.Seal = config.Seal{
		ID:       hub.DemoSeal,
		KeyID:    hex.EncodeToString(keyID),
		KeyLabel: demoKeyLabel,
		Image:    filepath.Join(dir, "seal.png"),
		SizeMM:   42,
	}
	c.Demo = config.Demo{
		Enabled:    true,
		TokenLabel: demoTokenLabel,
		PINFile:    filepath.Join(dir, "demo-pin"),
		HubData:    filepath.Join(dir, "hub"),
	}
	k.set(c)
	// The demo lets a local file be stamped without a ticket, recorded with an alarm.
	c.Policy.AllowUnapprovedFiles = true
	c.Defaults()
	c.Workstation = "" // the host name, found again at each start
	c.Custodian = "张敏" // the demo hub's roster names her custodian of the demo seal
	cfgPath := filepath.Join(dir, config.FileName)
	if err := c.Save(cfgPath); err != nil {
		return nil, err
	}
	// The demo hub lists the seal's certificate, so that it records a stamping only when the
	// demo token signed it, as a real hub does (SeedDemo keeps it); and its ticket key is pinned
	// like an enrolled workstation's, so the ledger checks the hub's co-signed floor from the
	// first open and a demo hub whose key changed is refused.
	key, err := prepareDemoHub(c.Demo.HubData, k.hubCert)
	if err != nil {
		return nil, fmt.Errorf("preparing the demo hub: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(Credentials(c).ServerKey), 0o700); err != nil {
		return nil, err
	}
	if err := upstream.PinServerKey(Credentials(c).ServerKey, key); err != nil {
		return nil, fmt.Errorf("pinning the demo hub's key: %w", err)
	}
	// The ledger comes last: it needs the saved configuration (it adds the escrow key to it).
	if err := InitDemoLedger(c, out); err != nil {
		return nil, fmt.Errorf("making the demo ledger: %w", err)
	}

	fmt.Fprintf(out, "Demo workspace:  %s\n", dir)
	for _, l := range k.lines {
		fmt.Fprintln(out, l)
	}
	fmt.Fprintf(out, "Configuration:   %s\n", cfgPath)
	fmt.Fprintf(out, "Token label:     %s (serial %s)\n", k.tok.Label, k.tok.Serial)
	fmt.Fprintf(out, "Initial PIN:     %s (also in %s; demo tokens only)\n", userPIN, c.Demo.PINFile)
	return c, nil
}

// provisionSoftHSMDemoKey makes the SoftHSM demo token with its P-256 seal key and demo CA.
func provisionSoftHSMDemoKey(dir, soPIN, userPIN string, keyID []byte) (*demoKey, error) {
	if _, err := os.Stat(config.SoftHSMModule); err != nil {
		return nil, fmt.Errorf("the demo needs SoftHSM2 (%s is missing): install the softhsm2 package", config.SoftHSMModule)
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return nil, fmt.Errorf("making the demo workspace: %w", err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	hsmConf := fmt.Sprintf("# SoftHSM2 configuration of a SealKeeper demo workspace.\ndirectories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = true\n", tokens)
	if err := atomic.WriteFile(conf, []byte(hsmConf), 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", conf, err)
	}
	os.Setenv("SOFTHSM2_CONF", conf)

	m, err := device.OpenModule(config.SoftHSMModule)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if _, err := m.Tokens(); err != nil { // re-reads SOFTHSM2_CONF if the module was open before
		return nil, err
	}
	pub, tok, err := device.Provision(m, device.ProvisionOptions{
		Label: demoTokenLabel, SOPIN: soPIN, UserPIN: userPIN,
		KeyType: "p256", KeyLabel: demoKeyLabel, KeyID: keyID,
	})
	if err != nil {
		return nil, err
	}
	if ents, _ := os.ReadDir(tokens); len(ents) == 0 {
		return nil, errors.New("the demo token was made outside the workspace: this process had the SoftHSM module open with another SOFTHSM2_CONF; run 'sealkeeper demo provision' on its own")
	}

	caCert, caKey, err := demoCA()
	if err != nil {
		return nil, err
	}
	cert, err := demoCert(demoOrg+"公章 (SealKeeper Demo)", pub, caCert, caKey)
	if err != nil {
		return nil, err
	}
	s, err := m.Login(tok, userPIN)
	if err != nil {
		return nil, err
	}
	err = s.StoreCertificate(keyID, demoKeyLabel, cert)
	s.Close()
	if err != nil {
		return nil, err
	}
	caKeyDER, err := x509.MarshalPKCS8PrivateKey(caKey)
	if err != nil {
		return nil, err
	}
	return &demoKey{
		module: config.SoftHSMModule, tok: tok, keyID: keyID, hubCert: cert.Raw,
		files: []demoFile{
			{"ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw}), 0o644},
			{"ca-key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: caKeyDER}), 0o600},
		},
		set: func(c *config.Config) {
			c.Seal.TrustAnchors = []string{filepath.Join(dir, "ca.pem")}
			c.Demo.SoftHSMConf = conf
		},
		lines: []string{
			fmt.Sprintf("PKCS#11 module:  %s (SOFTHSM2_CONF=%s)", config.SoftHSMModule, conf),
			fmt.Sprintf("Seal:            %s, P-256 key id %x, issued by %s", cert.Subject.CommonName, keyID, caCert.Subject.CommonName),
		},
	}, nil
}

func prepareDemoHub(dir string, cert []byte) (*ecdsa.PublicKey, error) {
	h, err := hub.Open(dir, hub.Options{Name: "SealKeeper demo hub", AutoEnrol: true})
	if err != nil {
		return nil, err
	}
	defer h.Close()
	if err := h.SetSeal(upstream.SealStatus{ID: hub.DemoSeal, Name: "示范单位公章", Status: upstream.SealActive}); err != nil {
		return nil, err
	}
	if cert != nil {
		if err := h.SetSealCertificate(hub.DemoSeal, cert); err != nil {
			return nil, err
		}
	}
	return h.TicketKey(), nil
}

// ClearDemo removes what ProvisionDemo made in dir (for --force) and moves an old data folder
// aside rather than deleting a ledger.
func ClearDemo(dir string, out io.Writer) error {
	for _, f := range demoFiles {
		if err := os.RemoveAll(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("removing the old demo workspace: %w", err)
		}
	}
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(data); err == nil {
		aside := fmt.Sprintf("%s.replaced-%s", data, time.Now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(data, aside); err != nil {
			return fmt.Errorf("moving the old demo data aside: %w", err)
		}
		fmt.Fprintf(out, "Old demo data:   moved to %s\n", aside)
	}
	return nil
}

func randomDigits(n int) (string, error) {
	b := make([]byte, n)
	for i := range b {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			return "", err
		}
		b[i] = byte('0' + d.Int64())
	}
	return string(b), nil
}

func randomSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func demoCA() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "SealKeeper Demo CA", Organization: []string{"SealKeeper Demo"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

// idKPDocumentSigning is id-kp-documentSigning (RFC 9336).
var idKPDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}

// demoCert issues a certificate named cn for pub from the demo CA.
func demoCert(cn string, pub any, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	ski := sha256.Sum256(spki)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:       serial,
		Subject:            pkix.Name{CommonName: cn, Organization: []string{demoOrg}, Country: []string{"CN"}},
		NotBefore:          now.Add(-time.Hour),
		NotAfter:           now.AddDate(2, 0, 0),
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{idKPDocumentSigning},
		SubjectKeyId:       ski[:20],
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		return nil, fmt.Errorf("issuing the demo certificate %q: %w", cn, err)
	}
	return x509.ParseCertificate(der)
}

package workspace

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tjfoc/gmsm/sm2"
	gmx509 "github.com/tjfoc/gmsm/x509"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/assets"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal/gmca"
	"github.com/sealkeeper/sealkeeper/store/atomic"
)

// GMDemoSeal is what MakeGMDemoSeal made: the files of a GM demo seal.
type GMDemoSeal struct {
	// CA is the SM2 demo CA's certificate (PEM file): the trust anchor for GM seals.
	CA string
	// Cert is the signer's SM2 certificate (DER file), issued by the CA for the signer's key.
	Cert string
	// Seal is the v4 SESeal (DER file) the demo seal maker issued for that certificate.
	Seal string
	// SealDER and CertDER are the same bytes as the files.
	SealDER, CertDER []byte
}

const gmCAName = "SealKeeper Demo SM2 CA"

// MakeGMDemoSeal makes the GM side of a demo under dir for the SM2 key signer (a token's key,
// or any crypto.Signer following gmseal's signer contract): an SM2 demo CA (dir/gm-ca.pem, its
// key in dir/gm-ca-key.pem, 0600), a certificate for signer (dir/gm-cert.der), and a v4 seal
// (dir/gm-seal.esl) issued by a demo seal maker (its own SM2 key, certified by the same CA,
// made here and not kept) with the demo seal's picture, listing that certificate.
//
// The maker's key is thrown away: a real seal maker is another institution, and the demo never
// issues a second seal from the same maker.
func MakeGMDemoSeal(dir string, signer crypto.Signer, out io.Writer) (*GMDemoSeal, error) {
	if _, ok := signer.Public().(*sm2.PublicKey); !ok {
		return nil, fmt.Errorf("a GM demo seal needs an SM2 key; this key is %T", signer.Public())
	}
	ca, err := gmca.New(gmCAName)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	certDER, err := ca.Issue(demoOrg+"公章 (SealKeeper Demo SM2)", demoOrg, signer.Public(), now.Add(-time.Hour), now.AddDate(2, 0, 0))
	if err != nil {
		return nil, err
	}
	makerKey, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	makerCert, err := ca.Issue("SealKeeper 示范制章系统", "SealKeeper Demo", &makerKey.PublicKey, now.Add(-time.Hour), now.AddDate(5, 0, 0))
	if err != nil {
		return nil, err
	}
	img, err := assets.DemoSeal(demoOrg, demoPurpose, 512)
	if err != nil {
		return nil, fmt.Errorf("drawing the demo seal: %w", err)
	}
	var pic bytes.Buffer
	if err := png.Encode(&pic, img); err != nil {
		return nil, err
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	sealDER, err := gmseal.BuildSeal(gmseal.SealSpec{
		Vid: "SealKeeperDemo", ID: "DEMO" + hex.EncodeToString(id), Type: 1, Name: demoOrg + demoPurpose,
		SignerCerts: [][]byte{certDER}, Created: now, ValidStart: now.Add(-time.Hour), ValidEnd: now.AddDate(2, 0, 0),
		Picture: gmseal.Picture{Type: "PNG", Data: pic.Bytes(), WidthMM: 42, HeightMM: 42},
	}, makerCert, makerKey)
	if err != nil {
		return nil, fmt.Errorf("making the demo GM seal: %w", err)
	}
	caKeyDER, err := gmx509.MarshalSm2UnecryptedPrivateKey(ca.Key)
	if err != nil {
		return nil, err
	}
	g := &GMDemoSeal{
		CA: filepath.Join(dir, "gm-ca.pem"), Cert: filepath.Join(dir, "gm-cert.der"), Seal: filepath.Join(dir, "gm-seal.esl"),
		SealDER: sealDER, CertDER: certDER,
	}
	files := []struct {
		path string
		data []byte
		perm os.FileMode
	}{
		{g.CA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), 0o644},
		{filepath.Join(dir, "gm-ca-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: caKeyDER}), 0o600},
		{g.Cert, certDER, 0o644},
		{g.Seal, sealDER, 0o644},
	}
	for _, f := range files {
		if err := atomic.WriteFile(f.path, f.data, f.perm); err != nil {
			return nil, fmt.Errorf("writing the GM demo seal: %w", err)
		}
	}
	fmt.Fprintf(out, "GM seal:         %s (v4 SESeal, %s), SM2 certificate %s, issued by %s\n", g.Seal, demoOrg+demoPurpose, g.Cert, ca.Cert.Subject.CommonName)
	return g, nil
}

// GM demo token
//
// A GM demo's token lives on our own PKCS#11 module (device/gmtoken, a Go c-shared library
// that scripts/build.sh builds as libgmtoken.so beside sealkeeper): no vendor's GM token or
// SoftHSM build speaks SM2. The workspace names the module where it was found and keeps the
// token's state in dir/tokens (SEALKEEPER_GMTOKEN_DIR, set by LoadConfig).

// GMTokenDirEnv is where the GM module keeps its tokens; it reads it at C_Initialize.
const GMTokenDirEnv = "SEALKEEPER_GMTOKEN_DIR"

// GMModuleName is the GM module's file name, looked for beside the program.
const GMModuleName = "libgmtoken.so"

// FindGMModule is the GM PKCS#11 module to use: path when given, else $SEALKEEPER_GMTOKEN_MODULE,
// else libgmtoken.so beside the running program.
func FindGMModule(path string) (string, error) {
	if path == "" {
		path = os.Getenv("SEALKEEPER_GMTOKEN_MODULE")
	}
	if path == "" {
		exe, err := os.Executable()
		if err == nil {
			exe, err = filepath.EvalSymlinks(exe)
		}
		if err != nil {
			return "", fmt.Errorf("finding the GM token module beside this program: %w; pass --gm-module PATH", err)
		}
		path = filepath.Join(filepath.Dir(exe), GMModuleName)
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("the GM demo needs SealKeeper's GM token module, and %s is missing: build it with 'bash scripts/build.sh' (it puts %s beside sealkeeper), or pass --gm-module PATH", path, GMModuleName)
	}
	return path, nil
}

// provisionGMDemoKey makes the GM demo token: an SM2 key pair on our module, its certificate
// from the demo SM2 CA and the seal from the demo seal maker (MakeGMDemoSeal), the certificate
// stored on the token beside the key.
func provisionGMDemoKey(dir string, o DemoOptions, soPIN, userPIN string, keyID []byte, out io.Writer) (*demoKey, error) {
	mode := o.GMMode
	if mode == "" {
		mode = "ses"
	}
	if mode != "ses" && mode != "cms" {
		return nil, fmt.Errorf("GM mode %q is neither \"ses\" (GB/T 38540 seal signature) nor \"cms\" (GM/T 0010 SignedData)", mode)
	}
	module, err := FindGMModule(o.GMModule)
	if err != nil {
		return nil, err
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return nil, fmt.Errorf("making the demo workspace: %w", err)
	}
	os.Setenv(GMTokenDirEnv, tokens)
	m, err := device.OpenModule(module)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	// Our token, like an issuer's, asks for a PIN set by the SO to be changed
	// (CKF_USER_PIN_TO_BE_CHANGED); the demo changes the issued PIN to the one in demo-pin, as
	// the custodian would at the first login, so the demo PIN file stays right.
	issued, err := randomDigits(12) // never equal to the 8-digit userPIN
	if err != nil {
		return nil, err
	}
	_, tok, err := device.Provision(m, device.ProvisionOptions{
		Label: demoTokenLabel, SOPIN: soPIN, UserPIN: issued,
		KeyType: "sm2", KeyLabel: demoKeyLabel, KeyID: keyID,
	})
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(tokens, "gmtoken.json")); err != nil {
		return nil, fmt.Errorf("the GM demo token was made outside the workspace (this process had %s open with another %s); run 'sealkeeper demo provision --gm' on its own", module, GMTokenDirEnv)
	}
	s, err := m.Login(tok, issued)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.ChangePIN(issued, userPIN); err != nil {
		return nil, err
	}
	keys, err := s.Seals()
	if err != nil {
		return nil, err
	}
	var key *device.SealKey
	for i := range keys {
		if bytes.Equal(keys[i].ID, keyID) {
			key = &keys[i]
		}
	}
	if key == nil {
		return nil, errors.New("the new SM2 key is not on the GM demo token")
	}
	signer, err := s.Signer(*key)
	if err != nil {
		return nil, err
	}
	g, err := MakeGMDemoSeal(dir, signer, io.Discard)
	if err != nil {
		return nil, err
	}
	gc, err := gmx509.ParseCertificate(g.CertDER)
	if err != nil {
		return nil, err
	}
	cert := gc.ToX509Certificate()
	cert.PublicKey = signer.Public()
	if err := s.StoreCertificate(keyID, demoKeyLabel, cert); err != nil {
		return nil, err
	}
	return &demoKey{
		module: module, tok: tok, keyID: keyID, hubCert: g.CertDER,
		set: func(c *config.Config) {
			c.Seal.TrustAnchors = []string{g.CA}
			c.Seal.GMMode = mode
			if mode == "ses" {
				c.Seal.GMSeal = g.Seal
			}
			c.Demo.GMTokenDir = tokens
		},
		lines: []string{
			fmt.Sprintf("PKCS#11 module:  %s (our GM token; %s=%s)", module, GMTokenDirEnv, tokens),
			fmt.Sprintf("Seal:            %s, SM2 key id %x, certificate %s issued by %s", gc.Subject.CommonName, keyID, g.Cert, gmCAName),
			fmt.Sprintf("GM seal:         %s (v4 SESeal from the demo seal maker); signatures: gm_mode %q", g.Seal, mode),
		},
	}, nil
}

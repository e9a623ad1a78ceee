// Package softhsmtest makes SoftHSM2 tokens for tests: a private token directory and
// SOFTHSM2_CONF per test, a token with an RSA-2048 and a P-256 seal key and certificates from a
// throwaway CA, and Remove/Insert to pull and plug the "key".
//
// SOFTHSM2_CONF is process-global and SoftHSM reads it when the module is initialised, so tests
// that use New must not run in parallel (New sets it with t.Setenv, which refuses parallel tests),
// and every device.Session and device.Module a test opens must be closed before the next test's
// New (Open registers the Close for you).
package softhsmtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/device"
)

// ModulePath is where Debian's softhsm2 package installs the module.
const ModulePath = "/usr/lib/softhsm/libsofthsm2.so"

// Key IDs (CKA_ID) of the two seal keys New puts on the token.
var (
	RSAKeyID = []byte{0x52, 0x53, 0x41, 0x01} // "RSA\x01"
	ECKeyID  = []byte{0x45, 0x43, 0x01}       // "EC\x01"
)

// Token is a SoftHSM token made for one test.
type Token struct {
	Module  string // PKCS#11 module path
	Conf    string // the SOFTHSM2_CONF in force for the test
	Dir     string // the token directory (directories.tokendir)
	Label   string
	Serial  string
	SOPIN   string
	UserPIN string
	Info    device.TokenInfo  // as provisioned; SoftHSM renumbers the slot on re-initialisation, so log in with it (Login finds the token by serial) rather than use Info.SlotID
	CA      *x509.Certificate // issuer of both seal certificates
	RSACert *x509.Certificate
	ECCert  *x509.Certificate

	tb     testing.TB
	pulled string // where Remove put the token's folder
	tokDir string // the token's own folder inside Dir
	caKey  *ecdsa.PrivateKey
}

// Option changes what New makes.
type Option func(*options)

type options struct{ label, pin string }

// Label sets the token label (default "SealKeeper Test").
func Label(l string) Option { return func(o *options) { o.label = l } }

// UserPIN sets the initial user PIN (default "123456").
func UserPIN(p string) Option { return func(o *options) { o.pin = p } }

// New makes a token in a private token directory and points SOFTHSM2_CONF at it for the rest
// of the test. It skips the test when SoftHSM2 is not installed.
func New(tb testing.TB, opts ...Option) *Token {
	tb.Helper()
	if _, err := os.Stat(ModulePath); err != nil {
		tb.Skipf("SoftHSM2 is not installed (%s missing): apt-get install softhsm2 to run this test", ModulePath)
	}
	o := options{label: "SealKeeper Test", pin: "123456"}
	for _, f := range opts {
		f(&o)
	}
	base := tb.TempDir()
	t := &Token{
		tb:      tb,
		Module:  ModulePath,
		Conf:    filepath.Join(base, "softhsm2.conf"),
		Dir:     filepath.Join(base, "tokens"),
		Label:   o.label,
		SOPIN:   "so-" + o.pin,
		UserPIN: o.pin,
		pulled:  filepath.Join(base, "pulled"),
	}
	must(tb, os.Mkdir(t.Dir, 0o700))
	conf := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = true\n", t.Dir)
	must(tb, os.WriteFile(t.Conf, []byte(conf), 0o600))
	tb.Setenv("SOFTHSM2_CONF", t.Conf)

	m, err := device.OpenModule(ModulePath)
	must(tb, err)
	defer m.Close()
	if _, err := m.Tokens(); err != nil { // re-initialises SoftHSM so it reads the new SOFTHSM2_CONF
		tb.Fatal(err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(tb, err)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "SealKeeper Test CA", Organization: []string{"SealKeeper tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(tb, err)
	t.CA, err = x509.ParseCertificate(caDER)
	must(tb, err)
	t.caKey = caKey
	t.provision(tb, m, "Test Seal", 2)
	return t
}

// Another makes a second token in the same token directory (the same SOFTHSM2_CONF), with its
// own keys and certificates from the same CA, named cn: a second person's key plugged in
// beside the first. Its folder is found as the one that was not there before.
func (t *Token) Another(tb testing.TB, cn string, opts ...Option) *Token {
	tb.Helper()
	o := options{label: cn, pin: "654321"}
	for _, f := range opts {
		f(&o)
	}
	n := &Token{tb: tb, Module: t.Module, Conf: t.Conf, Dir: t.Dir, Label: o.label, SOPIN: "so-" + o.pin, UserPIN: o.pin,
		pulled: filepath.Join(tb.TempDir(), "pulled"), CA: t.CA, caKey: t.caKey}
	m, err := device.OpenModule(ModulePath)
	must(tb, err)
	defer m.Close()
	n.provision(tb, m, cn, time.Now().UnixNano())
	return n
}

// provision initialises a free slot as this token: an RSA-2048 and a P-256 key, each with a
// certificate from the CA (common names cn+" RSA" and cn+" EC", serials serial and serial+1).
func (t *Token) provision(tb testing.TB, m *device.Module, cn string, serial int64) {
	before := map[string]bool{}
	if ents, err := os.ReadDir(t.Dir); err == nil {
		for _, e := range ents {
			before[e.Name()] = true
		}
	}
	rsaPub, info, err := device.Provision(m, device.ProvisionOptions{
		Label: t.Label, SOPIN: t.SOPIN, UserPIN: t.UserPIN,
		KeyType: "rsa2048", KeyLabel: "RSA seal", KeyID: RSAKeyID,
	})
	must(tb, err)
	ents, _ := os.ReadDir(t.Dir)
	for _, e := range ents {
		if !before[e.Name()] {
			if t.tokDir != "" {
				tb.Fatalf("softhsmtest: two new token folders in %s", t.Dir)
			}
			t.tokDir = filepath.Join(t.Dir, e.Name())
		}
	}
	if t.tokDir == "" || len(ents) != len(before)+1 {
		tb.Fatalf("softhsmtest: the token was not made in %s: a device.Session or Module from an earlier test is still open (close them), so SoftHSM still uses the earlier SOFTHSM2_CONF", t.Dir)
	}
	t.Info, t.Serial = info, info.Serial

	s, err := m.Login(info, t.UserPIN)
	must(tb, err)
	defer s.Close()
	ecPub, err := s.GenerateKeyPair("p256", "EC seal", ECKeyID)
	must(tb, err)
	now := time.Now()
	caKey := t.caKey
	issue := func(serial int64, cn string, pub crypto.PublicKey) *x509.Certificate {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn, Organization: []string{"SealKeeper tests"}},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, t.CA, pub, caKey)
		must(tb, err)
		c, err := x509.ParseCertificate(der)
		must(tb, err)
		return c
	}
	t.RSACert = issue(serial, cn+" RSA", rsaPub)
	t.ECCert = issue(serial+1, cn+" EC", ecPub)
	must(tb, s.StoreCertificate(RSAKeyID, "RSA seal", t.RSACert))
	must(tb, s.StoreCertificate(ECKeyID, "EC seal", t.ECCert))
}

// Open opens the module for the test and closes it when the test ends.
func (t *Token) Open(tb testing.TB) *device.Module {
	tb.Helper()
	m, err := device.OpenModule(t.Module)
	must(tb, err)
	tb.Cleanup(func() { m.Close() })
	return m
}

// Remove simulates pulling the key out: the token's folder leaves the token directory.
func (t *Token) Remove() {
	t.tb.Helper()
	must(t.tb, os.Rename(t.tokDir, t.pulled))
}

// Insert plugs the key back in after Remove.
func (t *Token) Insert() {
	t.tb.Helper()
	must(t.tb, os.Rename(t.pulled, t.tokDir))
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

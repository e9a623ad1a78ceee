// Package gmtokentest builds the GM test token (device/gmtoken) and makes tokens on it for
// tests: a private token folder per test, an SM2 seal key and its certificate from a throwaway
// SM2 CA, made through the module's own PKCS#11 calls (as an issuer's tool would), not through
// SealKeeper's device package.
//
// Call Main from the test binary's TestMain: it builds the module once into a temporary folder.
// SEALKEEPER_GMTOKEN_DIR is process-global and read at C_Initialize, so tests that use New must
// not run in parallel (t.Setenv refuses that), and every device.Module a test opens must be
// closed before the next test's New.
package gmtokentest

import (
	"encoding/asn1"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/tjfoc/gmsm/sm2"
	gmx509 "github.com/tjfoc/gmsm/x509"

	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal/gmca"
)

// The vendor numbers the module speaks (Sansec's; see device/gmtoken/token.go).
const (
	CKKSM2        = 0x80000004
	CKMSM2KeyGen  = 0x80008001
	CKMSM3SM2Z    = 0x80008102 // hashes SM3(Z||M) on the token, answers r||s
	CKMSM3SM2ZDER = 0x80008103 // hashes SM3(Z||M) on the token, answers DER
	CKMSM2Sign    = 0x80008104 // signs a host-computed e, answers DER
	CKMSM2SignRaw = 0x80008105 // signs a host-computed e, answers r||s
	CKMSM2Encrypt = 0x80008200 // SM2 encryption; C_Decrypt over 04 || C1 || C3 || C2
)

// MaxTries is how many wrong user PINs lock a token.
const MaxTries = 5

// KeyID is the CKA_ID of the SM2 seal key New makes.
var KeyID = []byte{0x53, 0x4d, 0x32, 0x01} // "SM2\x01"

var module string // set by Main

// Main builds the module, runs the tests and removes the build. Use it as TestMain's body:
// os.Exit(gmtokentest.Main(m)).
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gmtoken-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "gmtokentest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	module, err = Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gmtokentest:", err)
		return 1
	}
	return m.Run()
}

// Build compiles device/gmtoken into dir/libgmtoken.so with `go build -buildmode=c-shared`
// and returns its path. It needs cgo and a C compiler, as miekg/pkcs11 does.
func Build(dir string) (string, error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot find the source of device/gmtoken")
	}
	src := filepath.Dir(filepath.Dir(self)) // device/gmtoken
	out := filepath.Join(dir, "libgmtoken.so")
	goTool := "go" // go test puts its own go first on PATH
	if root := os.Getenv("GOROOT"); root != "" {
		goTool = filepath.Join(root, "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the GM test token (go build -buildmode=c-shared in %s): %v\n%s", src, err, b)
	}
	return out, nil
}

// Path is the built module; the test fails when Main did not build it.
func Path(tb testing.TB) string {
	tb.Helper()
	if module == "" {
		tb.Fatal("gmtokentest: the module is not built: call gmtokentest.Main from TestMain")
	}
	return module
}

// Module is the built module's path, "" before Main built it (for a test binary's programs,
// such as testscript's, which get it in the environment).
func Module() string { return module }

// Token is a GM token made for one test.
type Token struct {
	Module  string // PKCS#11 module path
	Dir     string // SEALKEEPER_GMTOKEN_DIR for the test
	Label   string
	Serial  string
	SOPIN   string
	UserPIN string
	Public  *sm2.PublicKey
	Cert    *gmx509.Certificate // the seal certificate, issued by CA
	CA      *gmx509.Certificate
}

// Option changes what New makes.
type Option func(*options)

type options struct {
	label, pin  string
	mechs       []uint
	toBeChanged bool
}

// Label sets the token label (default "SealKeeper GM Test").
func Label(l string) Option { return func(o *options) { o.label = l } }

// UserPIN sets the user PIN (default "123456").
func UserPIN(p string) Option { return func(o *options) { o.pin = p } }

// Mechanisms makes the module offer only these signing mechanisms (CKM* above; key generation
// and SM2 decryption stay) for the test, as a vendor's token that lacks the others would.
func Mechanisms(m ...uint) Option { return func(o *options) { o.mechs = append([]uint{}, m...) } }

// PINToBeChanged leaves the token as its issuer hands it over: the PIN set by the SO, which the
// token asks to be changed (CKF_USER_PIN_TO_BE_CHANGED). Without it New changes the PIN once.
func PINToBeChanged() Option { return func(o *options) { o.toBeChanged = true } }

// ctx is the one handle on the module: a Go c-shared library must never be unloaded (its
// runtime's threads would run on in unmapped code), so it is opened once and kept.
var ctx *pkcs11.Ctx

// New makes a token in a fresh folder and points SEALKEEPER_GMTOKEN_DIR (and
// SEALKEEPER_GMTOKEN_MECHANISMS) at it for the rest of the test.
func New(tb testing.TB, opts ...Option) *Token {
	tb.Helper()
	o := options{label: "SealKeeper GM Test", pin: "123456"}
	for _, f := range opts {
		f(&o)
	}
	t := &Token{Module: Path(tb), Dir: tb.TempDir(), Label: o.label, SOPIN: "so-" + o.pin, UserPIN: o.pin}
	tb.Setenv("SEALKEEPER_GMTOKEN_DIR", t.Dir)
	var mechs []string
	if o.mechs != nil {
		mechs = append(mechs, fmt.Sprintf("0x%x", CKMSM2KeyGen), fmt.Sprintf("0x%x", CKMSM2Encrypt))
	}
	for _, m := range o.mechs {
		mechs = append(mechs, fmt.Sprintf("0x%x", m))
	}
	tb.Setenv("SEALKEEPER_GMTOKEN_MECHANISMS", strings.Join(mechs, ","))

	if ctx == nil {
		if ctx = pkcs11.New(t.Module); ctx == nil {
			tb.Fatalf("gmtokentest: %s does not load as a PKCS#11 module", t.Module)
		}
	}
	must(tb, ctx.Initialize())
	defer ctx.Finalize()
	slots, err := ctx.GetSlotList(true)
	must(tb, err)
	slot := slots[len(slots)-1] // the free one
	must(tb, ctx.InitToken(slot, t.SOPIN, t.Label))
	h, err := ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	must(tb, err)
	defer ctx.CloseSession(h)
	must(tb, ctx.Login(h, pkcs11.CKU_SO, t.SOPIN))
	must(tb, ctx.InitPIN(h, t.UserPIN))
	must(tb, ctx.Logout(h))
	must(tb, ctx.Login(h, pkcs11.CKU_USER, t.UserPIN))
	defer ctx.Logout(h)
	if !o.toBeChanged {
		must(tb, ctx.SetPIN(h, t.UserPIN, t.UserPIN))
	}
	ti, err := ctx.GetTokenInfo(slot)
	must(tb, err)
	t.Serial = strings.TrimSpace(ti.SerialNumber)

	common := func(class uint) []*pkcs11.Attribute {
		return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, CKKSM2),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_ID, KeyID),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, "SM2 seal"),
		}
	}
	pubH, _, err := ctx.GenerateKeyPair(h, []*pkcs11.Mechanism{pkcs11.NewMechanism(CKMSM2KeyGen, nil)},
		common(pkcs11.CKO_PUBLIC_KEY), append(common(pkcs11.CKO_PRIVATE_KEY), pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true))) // SM2 decryption: the ledger's key slot
	must(tb, err)
	attrs, err := ctx.GetAttributeValue(h, pubH, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil)})
	must(tb, err)
	t.Public, err = parsePoint(attrs[0].Value)
	must(tb, err)

	// gmca names SM2-with-SM3 as the signature algorithm: tjfoc's CreateCertificate picks it
	// from the template, and certificates without it do not verify under tjfoc x509.
	ca, err := gmca.New("SealKeeper GM Test CA")
	must(tb, err)
	t.CA = ca.Cert
	now := time.Now()
	der, err := ca.Issue("Test Seal SM2", "SealKeeper tests", t.Public, now.Add(-time.Hour), now.Add(24*time.Hour))
	must(tb, err)
	t.Cert, err = gmx509.ParseCertificate(der)
	must(tb, err)
	_, err = ctx.CreateObject(h, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_ID, KeyID),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "SM2 seal"),
		pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, t.Cert.RawSubject),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, der),
	})
	must(tb, err)
	return t
}

// Open opens the module through the device package for the test and closes it when the test
// ends, as softhsmtest's Token.Open does.
func (t *Token) Open(tb testing.TB) *device.Module {
	tb.Helper()
	m, err := device.OpenModule(t.Module)
	must(tb, err)
	tb.Cleanup(func() { m.Close() })
	return m
}

// parsePoint reads CKA_EC_POINT: a DER OCTET STRING holding 04 || X || Y.
func parsePoint(b []byte) (*sm2.PublicKey, error) {
	var p []byte
	if _, err := asn1.Unmarshal(b, &p); err != nil || len(p) != 65 || p[0] != 4 {
		return nil, fmt.Errorf("CKA_EC_POINT %x is not an uncompressed SM2 point", b)
	}
	return &sm2.PublicKey{Curve: sm2.P256Sm2(), X: new(big.Int).SetBytes(p[1:33]), Y: new(big.Int).SetBytes(p[33:])}, nil
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

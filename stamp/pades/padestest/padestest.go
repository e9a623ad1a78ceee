// Package padestest makes what signature tests need: a CA hierarchy with a seal certificate
// (RSA or ECDSA keys in software) and a real RFC 3161 timestamp server on 127.0.0.1.
package padestest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sealkeeper/sealkeeper/stamp/internal/cms"
)

// KeyType selects the seal key's algorithm.
type KeyType string

// Key types for NewIdentity.
const (
	RSA   KeyType = "rsa"   // RSA 2048
	ECDSA KeyType = "ecdsa" // P-256
)

// Identity is a seal key with its certificate chain: Chain[0] is the seal's certificate,
// then an intermediate CA; Root is the trust anchor (not in Chain).
type Identity struct {
	Signer crypto.Signer
	Chain  []*x509.Certificate
	Root   *x509.Certificate
}

// NewKey makes a software key of the given type.
func NewKey(t testing.TB, kt KeyType) crypto.Signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch kt {
	case ECDSA:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var serial atomic.Int64

func issue(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano() + serial.Add(1))
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
		tmpl.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// CA is a certificate authority that can issue more certificates.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewRoot makes a self-signed root CA.
func NewRoot(t testing.TB, name string) *CA {
	t.Helper()
	k := NewKey(t, ECDSA)
	c := issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name, Organization: []string{"SealKeeper Test"}},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, k.Public(), nil, k)
	return &CA{Cert: c, Key: k}
}

// Intermediate issues a subordinate CA.
func (ca *CA) Intermediate(t testing.TB, name string) *CA {
	t.Helper()
	k := NewKey(t, ECDSA)
	c := issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name, Organization: []string{"SealKeeper Test"}},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, k.Public(), ca.Cert, ca.Key)
	return &CA{Cert: c, Key: k}
}

// Leaf issues an end-entity certificate for pub. Its validity can be set with notBefore/notAfter
// (zero values mean an hour ago to a year ahead).
func (ca *CA) Leaf(t testing.TB, name string, pub crypto.PublicKey, notBefore, notAfter time.Time, eku ...x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	return issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: name, Organization: []string{"SealKeeper Test"}},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage: eku,
		NotBefore:   notBefore,
		NotAfter:    notAfter,
	}, pub, ca.Cert, ca.Key)
}

// NewIdentity makes root -> intermediate -> seal certificate with a fresh key of type kt.
func NewIdentity(t testing.TB, kt KeyType) *Identity {
	t.Helper()
	root := NewRoot(t, "Test Root CA")
	inter := root.Intermediate(t, "Test Seal CA")
	k := NewKey(t, kt)
	leaf := inter.Leaf(t, "测试单位电子公章", k.Public(), time.Time{}, time.Time{})
	return &Identity{Signer: k, Chain: []*x509.Certificate{leaf, inter.Cert}, Root: root.Cert}
}

// TSA is a running RFC 3161 timestamp server.
type TSA struct {
	URL  string
	Root *x509.Certificate // trust anchor of the TSA's certificate
	// Requests counts the tokens issued.
	Requests atomic.Int64
	// Fail, when set, makes the server answer 500.
	Fail atomic.Bool
}

// NewTSA starts a timestamp server on 127.0.0.1 for the duration of the test.
func NewTSA(t testing.TB) *TSA {
	t.Helper()
	root := NewRoot(t, "Test TSA Root")
	k := NewKey(t, RSA)
	cert := root.Leaf(t, "Test TSA", k.Public(), time.Time{}, time.Time{}, x509.ExtKeyUsageTimeStamping)
	tsa := &TSA{Root: root.Cert}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tsa.Fail.Load() {
			http.Error(w, "failing on purpose", http.StatusInternalServerError)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		resp, err := respond(body, k, cert)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		tsa.Requests.Add(1)
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	tsa.URL = srv.URL
	return tsa
}

var errBadRequest = asn1.SyntaxError{Msg: "not a TimeStampReq"}

func respond(req []byte, key crypto.Signer, cert *x509.Certificate) ([]byte, error) {
	in := cryptobyte.String(req)
	var s, imprint cryptobyte.String
	var version int64
	if !in.ReadASN1(&s, cbasn1.SEQUENCE) || !s.ReadASN1Integer(&version) || !s.ReadASN1Element(&imprint, cbasn1.SEQUENCE) {
		return nil, errBadRequest
	}
	if s.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) {
		var skip cryptobyte.String
		s.ReadASN1(&skip, cbasn1.OBJECT_IDENTIFIER)
	}
	var nonce *big.Int
	if s.PeekASN1Tag(cbasn1.INTEGER) {
		nonce = new(big.Int)
		s.ReadASN1Integer(nonce)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1})
		b.AddBytes(imprint)
		b.AddASN1BigInt(big.NewInt(time.Now().UnixNano()))
		b.AddASN1GeneralizedTime(time.Now().UTC().Truncate(time.Second))
		if nonce != nil {
			b.AddASN1BigInt(nonce)
		}
	})
	tst, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	tok, err := cms.Sign(cms.Request{
		ContentType: cms.OIDTSTInfo,
		Content:     tst,
		Hash:        crypto.SHA256,
		Signer:      key,
		Chain:       []*x509.Certificate{cert},
		SigningTime: time.Now(),
	})
	if err != nil {
		return nil, err
	}
	var r cryptobyte.Builder
	r.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1Int64(0) })
		b.AddBytes(tok)
	})
	return r.Bytes()
}

// Package gmca is a small SM2 certificate authority (tjfoc/gmsm x509) for the demo and the
// tests: a CA certificate, seal certificates for signers and for the seal maker.
package gmca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/tjfoc/gmsm/sm2"
	gmx509 "github.com/tjfoc/gmsm/x509"
)

// CA is an SM2 certificate authority.
type CA struct {
	Cert *gmx509.Certificate
	Key  *sm2.PrivateKey
}

// New makes a CA valid from an hour ago for ten years.
func New(name string) (*CA, error) {
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := serial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &gmx509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{name}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              gmx509.KeyUsageCertSign | gmx509.KeyUsageCRLSign,
		SignatureAlgorithm:    gmx509.SM2WithSM3,
	}
	der, err := gmx509.CreateCertificate(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("making the SM2 CA %q: %w", name, err)
	}
	cert, err := gmx509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issue makes a signing certificate (DER) for pub, valid from notBefore to notAfter.
func (ca *CA) Issue(commonName, org string, pub crypto.PublicKey, notBefore, notAfter time.Time) ([]byte, error) {
	k, ok := pub.(*sm2.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the key for %q is %T, not an SM2 key", commonName, pub)
	}
	serial, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &gmx509.Certificate{
		SerialNumber:       serial,
		Subject:            pkix.Name{CommonName: commonName, Organization: []string{org}, Country: []string{"CN"}},
		NotBefore:          notBefore,
		NotAfter:           notAfter,
		KeyUsage:           gmx509.KeyUsageDigitalSignature | gmx509.KeyUsageContentCommitment,
		SignatureAlgorithm: gmx509.SM2WithSM3,
	}
	der, err := gmx509.CreateCertificate(tmpl, ca.Cert, k, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issuing the SM2 certificate of %q: %w", commonName, err)
	}
	return der, nil
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

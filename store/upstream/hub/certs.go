package hub

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"fmt"

	gmx509 "github.com/tjfoc/gmsm/x509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
)

// sealCert is a seal's certificate as the hub reads it: standard X.509 (PAdES seals) or, when
// crypto/x509 refuses it, SM2 (GM seals; crypto/x509 knows no SM2, tjfoc's x509 reads it).
// Exactly one of std and gm is set.
type sealCert struct {
	std *x509.Certificate
	gm  *gmx509.Certificate
}

// parseSealCert reads a seal's or custodian's certificate (DER), standard X.509 first.
func parseSealCert(der []byte) (*sealCert, error) {
	c, err := x509.ParseCertificate(der)
	if err == nil {
		return &sealCert{std: c}, nil
	}
	if g, _, gerr := gmseal.ParseCertificate(der); gerr == nil {
		return &sealCert{gm: g}, nil
	}
	// The standard library's reason is the readable one; tjfoc's repeats it as ASN.1 detail.
	return nil, fmt.Errorf("it is not an X.509 certificate, standard or SM2 (%v)", err)
}

// isSM2Cert tells whether der is an SM2 certificate (one crypto/x509 refuses).
func isSM2Cert(der []byte) bool {
	c, err := parseSealCert(der)
	return err == nil && c.gm != nil
}

func (c *sealCert) raw() []byte {
	if c.gm != nil {
		return c.gm.Raw
	}
	return c.std.Raw
}

// is tells whether der is exactly this certificate.
func (c *sealCert) is(der []byte) bool { return bytes.Equal(c.raw(), der) }

// names are the subject, issuer and serial (hex) as stamp/verify reports a signer's.
func (c *sealCert) names() (subject, issuer, serial string) {
	if c.gm != nil {
		return c.gm.Subject.String(), c.gm.Issuer.String(), c.gm.SerialNumber.Text(16)
	}
	return c.std.Subject.String(), c.std.Issuer.String(), c.std.SerialNumber.Text(16)
}

// sesSignerCert is the signer's certificate (DER) that the GB/T 38540 seal signature in a
// signature's /Contents carries: the certificate whose key stamp/verify checked the
// signature with. contents is the hex string /Contents is, brackets included.
func sesSignerCert(contents []byte) ([]byte, error) {
	contents = bytes.TrimSuffix(bytes.TrimPrefix(contents, []byte("<")), []byte(">"))
	raw := make([]byte, hex.DecodedLen(len(contents)))
	n, err := hex.Decode(raw, contents)
	if err != nil {
		return nil, fmt.Errorf("its /Contents is not hex: %v", err)
	}
	// The signature is followed by the zero padding of the room reserved for it.
	in := cryptobyte.String(raw[:n])
	var el cryptobyte.String
	if !in.ReadASN1Element(&el, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("its /Contents holds no seal signature")
	}
	g, err := gmseal.ParseSignature(el)
	if err != nil {
		return nil, err
	}
	return g.Cert, nil
}

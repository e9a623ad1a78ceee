package usecase

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tjfoc/gmsm/sm2"

	"github.com/sealkeeper/sealkeeper/stamp"
)

// Seal is the logged-in seal, ready to sign: the one path from a token to "signer and
// certificate chain" for the window and the command line alike.
type Seal struct {
	Signer    crypto.Signer
	Chain     []*x509.Certificate // Chain[0] is the seal's certificate, then the CAs that issued it
	Custodian string
	Token     string // the token's serial number
	// GM, for an SM2 seal, makes Stamp write a GM seal (stamp.GM: mode, seal file, SM2
	// certificate); Chain[0] is then that certificate as crypto/x509 fields
	// (gmx509.Certificate.ToX509Certificate), for its validity and serial number.
	GM *stamp.GM
}

// Cert is the seal's certificate.
func (s Seal) Cert() *x509.Certificate { return s.Chain[0] }

// ErrSealCertificate is returned when the seal's certificate is not valid now: a seal's
// validity is its certificate's (docs/rules.md 10).
var ErrSealCertificate = errors.New("the seal's certificate is not valid now")

// CertWarnBefore is how long before the seal's certificate expires the custodian is told.
const CertWarnBefore = 30 * 24 * time.Hour

// checkValidity refuses a certificate outside its validity period.
func checkValidity(c *x509.Certificate, now time.Time) error {
	switch {
	case now.Before(c.NotBefore):
		return fmt.Errorf("%w: it becomes valid on %s; check this computer's clock, or wait", ErrSealCertificate, c.NotBefore.Local().Format("2006-01-02 15:04"))
	case now.After(c.NotAfter):
		return fmt.Errorf("%w: it expired on %s; the seal cannot be used until the certificate is renewed by the seal-making institution", ErrSealCertificate, c.NotAfter.Local().Format("2006-01-02 15:04"))
	}
	return nil
}

// Seal returns the logged-in seal with its certificate chain built from the trust anchors.
func (k *Keys) Seal() (Seal, error) {
	signer, cert, err := k.Signer()
	if err != nil {
		return Seal{}, err
	}
	if cert == nil {
		return Seal{}, errors.New("the seal key has no certificate on the token; it cannot stamp")
	}
	st := k.State()
	s := Seal{Signer: signer, Chain: ChainFor(cert, k.cfg.Anchors), Custodian: st.Custodian, Token: st.Token.Serial}
	if _, gm := cert.PublicKey.(*sm2.PublicKey); gm {
		// An SM2 key signs GM seals only (GB/T 38540 or GM/T 0010), as the configuration says.
		var g *stamp.GM
		if k.cfg.GMSeal != nil {
			if g, err = k.cfg.GMSeal(cert.Raw); err != nil {
				return Seal{}, err
			}
		}
		if g == nil {
			return Seal{}, fmt.Errorf("the seal key on %q is an SM2 (GM) key: set [seal] gm_mode to \"ses\" (with gm_seal, the seal maker's .esl file) or \"cms\" in the configuration", st.Token.Label)
		}
		s.GM, s.Chain = g, []*x509.Certificate{cert}
	}
	return s, nil
}

// ChainFor adds the CA certificates from anchors that issued leaf, in order, so that a
// verifier can build the path.
func ChainFor(leaf *x509.Certificate, anchors []*x509.Certificate) []*x509.Certificate {
	chain := []*x509.Certificate{leaf}
	for cur := leaf; len(chain) < 8; {
		var next *x509.Certificate
		for _, ca := range anchors {
			if cur.CheckSignatureFrom(ca) == nil && !ca.Equal(cur) {
				next = ca
				break
			}
		}
		if next == nil {
			break
		}
		chain = append(chain, next)
		if string(next.RawIssuer) == string(next.RawSubject) {
			break
		}
		cur = next
	}
	return chain
}

// ReadCertificates reads the PEM certificates in a file; a file without one is an error.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading certificates: %w", err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return out, nil
}

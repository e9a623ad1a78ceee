package gmseal

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tjfoc/gmsm/sm2"
	"github.com/tjfoc/gmsm/sm3"
	gmx509 "github.com/tjfoc/gmsm/x509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The reasons a seal or seal signature fails, in the order Signature.Verify checks them.
var (
	ErrSignature       = errors.New("the signer's signature over the seal signature (TBS_Sign) does not verify")
	ErrSignerNotListed = errors.New("the signer's certificate is not one of the seal's signer certificates")
	ErrMakerSignature  = errors.New("the seal maker's signature over the seal does not verify")
	ErrMakerCert       = errors.New("the seal maker's certificate is not usable")
	ErrSealValidity    = errors.New("the seal was not valid at the signing time")
	ErrSignerCert      = errors.New("the signer's certificate was not valid at the signing time")
	ErrDataHash        = errors.New("the digest in the seal signature is not that of the signed data")
	ErrAlgorithm       = errors.New("the signature algorithm is not SM2 with SM3")
)

// sm2Alg accepts SM2-with-SM3 and the SM2-1 signature OID some makers write.
func sm2Alg(oid asn1.ObjectIdentifier) bool { return oid.Equal(OIDSM2WithSM3) || oid.Equal(OIDSM2Sign) }

// VerifyMaker checks the maker's signature over the seal and the maker's certificate (an SM2
// certificate, valid when the seal was made). It returns the maker's certificate.
//
// What is signed (observed in real files): v4 and v5 seals sign the DER of SES_SealInfo
// alone; v1 seals sign SEQUENCE{esealInfo, cert, signatureAlgorithm}. Each form is tried
// first for its version and the other second, over the bytes as received.
func (s *Seal) VerifyMaker() (*gmx509.Certificate, error) {
	cert, pub, err := ParseCertificate(s.MakerCert)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMakerCert, err)
	}
	if !sm2Alg(s.SignAlg) {
		return cert, fmt.Errorf("%w: the seal is signed with %v", ErrAlgorithm, s.SignAlg)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(s.rawInfo)
		b.AddBytes(s.rawCert)
		b.AddBytes(s.rawAlg)
	})
	withSignInfo := b.BytesOrPanic()
	forms := [][]byte{s.rawInfo, withSignInfo}
	if s.Version == 1 {
		forms[0], forms[1] = forms[1], forms[0]
	}
	ok := false
	for _, f := range forms {
		if verifySM2(pub, f, s.Signature) {
			ok = true
			break
		}
	}
	if !ok {
		return cert, fmt.Errorf("%w (seal %q, maker %q)", ErrMakerSignature, s.ID, cert.Subject.CommonName)
	}
	if !s.Created.IsZero() && (s.Created.Before(cert.NotBefore) || s.Created.After(cert.NotAfter)) {
		return cert, fmt.Errorf("%w: it was not valid when the seal was made (%s; valid %s to %s)", ErrMakerCert,
			day(s.Created), day(cert.NotBefore), day(cert.NotAfter))
	}
	return cert, nil
}

// ValidAt tells whether t is within the seal's validity.
func (s *Seal) ValidAt(t time.Time) bool { return !t.Before(s.ValidStart) && !t.After(s.ValidEnd) }

// Lists tells whether the seal names the certificate cert (DER) as one of its signers: the
// same bytes, or (digest lists) the same digest under the named algorithm.
func (s *Seal) Lists(cert []byte) bool {
	for _, c := range s.SignerCerts {
		if bytes.Equal(c, cert) {
			return true
		}
	}
	for _, d := range s.CertDigests {
		var sum []byte
		switch strings.ToUpper(strings.ReplaceAll(d.Type, "-", "")) {
		case "SM3":
			sum = sm3.Sm3Sum(cert)
		case "SHA1":
			h := sha1.Sum(cert)
			sum = h[:]
		case "SHA256":
			h := sha256.Sum256(cert)
			sum = h[:]
		}
		if sum != nil && bytes.Equal(sum, d.Value) {
			return true
		}
	}
	return false
}

// VerifyOptions configure Signature.Verify.
type VerifyOptions struct {
	// Digest is the SM3 digest of the signed data, computed by the caller; nil leaves the
	// data unchecked (Result.DigestChecked false).
	Digest []byte
	// Roots are the trust anchors for signer and maker certificates; none: trust not judged.
	Roots []*gmx509.Certificate
}

// Result is what Signature.Verify found.
type Result struct {
	Signer, Maker *gmx509.Certificate
	DigestChecked bool
	// Trusted: both certificates chain to one of the roots (at the signing time).
	Trusted    bool
	TrustError string
}

// Verify checks the seal signature, in this order (GB/T 38540's verification steps): the
// signer's signature over TBS_Sign as received; the signer's certificate among the seal's;
// the maker's signature over the seal; the maker's certificate; the seal's validity at the
// signing time; the signer's certificate then; the data digest. The first failure is
// returned (errors.Is tells the reason); Result holds what was read up to it.
func (g *Signature) Verify(opts VerifyOptions) (*Result, error) {
	res := &Result{}
	cert, pub, err := ParseCertificate(g.Cert)
	if err != nil {
		return res, fmt.Errorf("%w: the signer's certificate: %v", ErrSignature, err)
	}
	res.Signer = cert
	if !sm2Alg(g.SignAlg) {
		return res, fmt.Errorf("%w: the seal signature is signed with %v", ErrAlgorithm, g.SignAlg)
	}
	if !g.verifyValue(pub) {
		return res, fmt.Errorf("%w (signer %q)", ErrSignature, cert.Subject.CommonName)
	}
	if !g.Seal.Lists(g.Cert) {
		return res, fmt.Errorf("%w: %q signed with seal %q (%s)", ErrSignerNotListed, cert.Subject.CommonName, g.Seal.Name, g.Seal.ID)
	}
	res.Maker, err = g.Seal.VerifyMaker()
	if err != nil {
		return res, err
	}
	if !g.Seal.ValidAt(g.Time) {
		return res, fmt.Errorf("%w: signed %s, seal %q valid %s to %s", ErrSealValidity,
			g.Time.Format(time.RFC3339), g.Seal.Name, day(g.Seal.ValidStart), day(g.Seal.ValidEnd))
	}
	if g.Time.Before(cert.NotBefore) || g.Time.After(cert.NotAfter) {
		return res, fmt.Errorf("%w: signed %s, certificate of %q valid %s to %s", ErrSignerCert,
			g.Time.Format(time.RFC3339), cert.Subject.CommonName, day(cert.NotBefore), day(cert.NotAfter))
	}
	if opts.Digest != nil {
		if !bytes.Equal(opts.Digest, g.DataHash) {
			return res, ErrDataHash
		}
		res.DigestChecked = true
	}
	res.Trusted, res.TrustError = true, ""
	for _, c := range []*gmx509.Certificate{res.Signer, res.Maker} {
		if err := Chain(c, opts.Roots, g.Time); err != nil {
			res.Trusted, res.TrustError = false, err.Error()
			break
		}
	}
	return res, nil
}

// verifyValue checks Value over TBS_Sign as received (v4: the SM2 signature over DER(TBS_Sign)).
func (g *Signature) verifyValue(pub *sm2.PublicKey) bool {
	return verifySM2(pub, g.tbs, g.Value)
}

// Chain checks that cert chains to one of roots at time at.
func Chain(cert *gmx509.Certificate, roots []*gmx509.Certificate, at time.Time) error {
	if len(roots) == 0 {
		return errors.New("no trust anchors are configured")
	}
	pool := gmx509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	_, err := cert.Verify(gmx509.VerifyOptions{Roots: pool, CurrentTime: at, KeyUsages: []gmx509.ExtKeyUsage{gmx509.ExtKeyUsageAny}})
	if err != nil {
		return fmt.Errorf("%q: %v", cert.Subject.CommonName, err)
	}
	return nil
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

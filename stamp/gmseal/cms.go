package gmseal

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	gmx509 "github.com/tjfoc/gmsm/x509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// GM/T 0010 (GB/T 35275) content types, and the PKCS #7 ones some GM tools write instead.
var (
	OIDGMData           = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 1}
	OIDGMSignedData     = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 2}
	oidPKCS7SignedData  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidAttrContentType  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigst = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
)

// This file is a GM/T 0010 SignedData of its own rather than stamp/internal/cms because that
// package is built on crypto.Hash and crypto/x509, and neither knows SM3 or SM2 certificates.

// SignCMS makes a detached GM/T 0010 SignedData for content whose SM3 digest is digest: one
// SignerInfo (SM3, SM2-1 signature) with contentType, messageDigest and signingTime signed
// attributes, and the signer's certificate (DER). signer follows the signer contract (sm2.go):
// it signs DER(SET OF signed attributes).
func SignCMS(digest, cert []byte, at time.Time, signer crypto.Signer) ([]byte, error) {
	c, pub, err := ParseCertificate(cert)
	if err != nil {
		return nil, fmt.Errorf("the signer's certificate: %w", err)
	}
	if err := sameKey(signer, pub); err != nil {
		return nil, err
	}
	if len(digest) != 32 {
		return nil, fmt.Errorf("the digest is %d bytes, not an SM3 digest", len(digest))
	}
	var attrs cryptobyte.Builder
	attrs.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		// DER SET OF: sorted by encoding; these three are in that order already.
		addAttr(b, oidAttrContentType, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(OIDGMData) })
		addAttr(b, oidAttrSigningTime, func(b *cryptobyte.Builder) { b.AddASN1UTCTime(at.UTC().Truncate(time.Second)) })
		addAttr(b, oidAttrMessageDigst, func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest) })
	})
	signed, err := attrs.Bytes()
	if err != nil {
		return nil, err
	}
	sig, err := signSM2(signer, signed)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(OIDGMSignedData)
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { addAlg(b, OIDSM3) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(OIDGMData) })
				b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { b.AddBytes(cert) })
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(1)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddBytes(c.RawIssuer)
							b.AddASN1BigInt(c.SerialNumber)
						})
						addAlg(b, OIDSM3)
						// [0] IMPLICIT: the SET's contents under another tag.
						b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { b.AddBytes(signed[setHeader(signed):]) })
						addAlg(b, OIDSM2Sign)
						b.AddASN1OctetString(sig)
					})
				})
			})
		})
	})
	return b.Bytes()
}

func addAttr(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, value func(*cryptobyte.Builder)) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(cbasn1.SET, value)
	})
}

func addAlg(b *cryptobyte.Builder, oid asn1.ObjectIdentifier) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) })
}

// setHeader is the length of a DER element's tag and length octets.
func setHeader(el []byte) int {
	in := cryptobyte.String(el)
	var body cryptobyte.String
	var tag cbasn1.Tag
	if !in.ReadAnyASN1(&body, &tag) {
		return 0
	}
	return len(el) - len(body)
}

// CMS is a GM/T 0010 SignedData as received.
type CMS struct {
	// Certificates are the DER certificates it carries.
	Certificates [][]byte
	// MessageDigest is the signed messageDigest attribute (SM3 of the content).
	MessageDigest []byte
	// SigningTime is the signed signingTime attribute (zero when absent).
	SigningTime  time.Time
	DigestAlg    asn1.ObjectIdentifier
	SignatureAlg asn1.ObjectIdentifier
	Signature    []byte

	issuer []byte
	serial *big.Int
	signed []byte // the signed attributes re-tagged as SET (what the signature covers)
}

// IsGMCMS tells whether a ContentInfo is a GM/T 0010 SignedData: the GM content type, or a
// PKCS #7 SignedData whose digest algorithm is SM3.
func IsGMCMS(der []byte) bool {
	c, err := ParseCMS(der)
	return err == nil && c.DigestAlg.Equal(OIDSM3)
}

// ParseCMS reads a SignedData with one SignerInfo (never more: a PDF signature is one
// signer's) under the GM or the PKCS #7 content type. Trailing zero padding is allowed.
func ParseCMS(der []byte) (*CMS, error) {
	in := cryptobyte.String(der)
	var ci, sd, certs, sis, si, sid, attrs cryptobyte.String
	var ct asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&ct) {
		return nil, malformed("not a CMS ContentInfo")
	}
	if !ct.Equal(OIDGMSignedData) && !ct.Equal(oidPKCS7SignedData) {
		return nil, malformed(fmt.Sprintf("content type %v is not SignedData", ct))
	}
	var v int64
	if !ci.ReadASN1(&sd, cbasn1.Tag(0).ContextSpecific().Constructed()) || !sd.ReadASN1(&sd, cbasn1.SEQUENCE) ||
		!sd.ReadASN1Integer(&v) || !sd.SkipASN1(cbasn1.SET) || !sd.SkipASN1(cbasn1.SEQUENCE) {
		return nil, malformed("the SignedData does not start with version, digest algorithms and content")
	}
	c := &CMS{}
	if sd.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		sd.ReadASN1(&certs, cbasn1.Tag(0).ContextSpecific().Constructed())
		for !certs.Empty() {
			var el cryptobyte.String
			if !certs.ReadASN1Element(&el, cbasn1.SEQUENCE) {
				return nil, malformed("a certificate in the SignedData is not a SEQUENCE")
			}
			c.Certificates = append(c.Certificates, el)
		}
	}
	if sd.PeekASN1Tag(cbasn1.Tag(1).ContextSpecific().Constructed()) {
		sd.SkipASN1(cbasn1.Tag(1).ContextSpecific().Constructed())
	}
	if !sd.ReadASN1(&sis, cbasn1.SET) || !sis.ReadASN1(&si, cbasn1.SEQUENCE) {
		return nil, malformed("the SignedData has no SignerInfo")
	}
	if !sis.Empty() {
		return nil, malformed("the SignedData has more than one SignerInfo")
	}
	var digestAlg, sigAlg cryptobyte.String
	var sig cryptobyte.String
	c.serial = new(big.Int)
	var issuer cryptobyte.String
	if !si.ReadASN1Integer(&v) || !si.ReadASN1(&sid, cbasn1.SEQUENCE) || !sid.ReadASN1Element(&issuer, cbasn1.SEQUENCE) || !sid.ReadASN1Integer(c.serial) ||
		!si.ReadASN1(&digestAlg, cbasn1.SEQUENCE) || !digestAlg.ReadASN1ObjectIdentifier(&c.DigestAlg) {
		return nil, malformed("the SignerInfo does not name its signer by issuer and serial number, then a digest algorithm")
	}
	c.issuer = issuer
	var attrsEl cryptobyte.String
	if !si.ReadASN1Element(&attrsEl, cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return nil, malformed("the SignerInfo has no signed attributes (an SM2 signature over the bare content cannot be checked from its digest)")
	}
	// The signature covers the attributes under the SET tag (RFC 5652 5.4).
	c.signed = append([]byte{0x31}, attrsEl[1:]...)
	attrsEl.ReadASN1(&attrs, cbasn1.Tag(0).ContextSpecific().Constructed())
	for !attrs.Empty() {
		var a, vals cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !attrs.ReadASN1(&a, cbasn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&oid) || !a.ReadASN1(&vals, cbasn1.SET) {
			return nil, malformed("a signed attribute is not {type, values}")
		}
		switch {
		case oid.Equal(oidAttrMessageDigst):
			var d cryptobyte.String
			if !vals.ReadASN1(&d, cbasn1.OCTET_STRING) {
				return nil, malformed("the messageDigest attribute is not an OCTET STRING")
			}
			c.MessageDigest = d
		case oid.Equal(oidAttrSigningTime):
			t, err := readTime(&vals)
			if err != nil {
				return nil, err
			}
			c.SigningTime = t
		}
	}
	if c.MessageDigest == nil {
		return nil, malformed("the signed attributes have no messageDigest")
	}
	if !si.ReadASN1(&sigAlg, cbasn1.SEQUENCE) || !sigAlg.ReadASN1ObjectIdentifier(&c.SignatureAlg) || !si.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return nil, malformed("the SignerInfo has no signature algorithm and value")
	}
	c.Signature = sig
	for _, b := range in {
		if b != 0 {
			return nil, malformed("unexpected data after the SignedData")
		}
	}
	return c, nil
}

// Verify checks the SignedData for content whose SM3 digest is digest: the messageDigest, the
// SM2 signature over the signed attributes by the certificate the SignerInfo names (among
// those carried), and that certificate's validity at the signing time (the signed
// signingTime, else at). It returns the signer's certificate.
func (c *CMS) Verify(digest []byte, at time.Time) (*gmx509.Certificate, error) {
	if !c.DigestAlg.Equal(OIDSM3) {
		return nil, fmt.Errorf("%w: the digest algorithm is %v, not SM3", ErrAlgorithm, c.DigestAlg)
	}
	if !sm2Alg(c.SignatureAlg) {
		return nil, fmt.Errorf("%w: the signature algorithm is %v", ErrAlgorithm, c.SignatureAlg)
	}
	var cert *gmx509.Certificate
	for _, der := range c.Certificates {
		if x, err := gmx509.ParseCertificate(der); err == nil && bytes.Equal(x.RawIssuer, c.issuer) && x.SerialNumber.Cmp(c.serial) == 0 {
			cert = x
			break
		}
	}
	if cert == nil {
		return nil, fmt.Errorf("%w: the signer's certificate is not in the SignedData", ErrSignature)
	}
	pub, err := sm2Public(cert)
	if err != nil {
		return cert, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	if !verifySM2(pub, c.signed, c.Signature) {
		return cert, fmt.Errorf("%w (signer %q)", ErrCMSSignature, cert.Subject.CommonName)
	}
	if !bytes.Equal(c.MessageDigest, digest) {
		return cert, ErrDataHash
	}
	if !c.SigningTime.IsZero() {
		at = c.SigningTime
	}
	if at.Before(cert.NotBefore) || at.After(cert.NotAfter) {
		return cert, fmt.Errorf("%w: signed %s, certificate of %q valid %s to %s", ErrSignerCert, at.Format(time.RFC3339), cert.Subject.CommonName, day(cert.NotBefore), day(cert.NotAfter))
	}
	return cert, nil
}

// ErrCMSSignature: the SM2 signature over a SignedData's signed attributes does not verify.
var ErrCMSSignature = errors.New("the SM2 signature over the CMS signed attributes does not verify")

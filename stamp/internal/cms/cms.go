// Package cms builds and parses the CMS SignedData (RFC 5652) that PDF signatures and RFC 3161
// timestamp tokens carry. It is written over cryptobyte rather than a general ASN.1 library so
// that every byte that gets signed is built here explicitly.
package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers used by PAdES and RFC 3161.
var (
	OIDData                 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	OIDSignedData           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	OIDContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	OIDMessageDigest        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	OIDSigningTime          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	OIDSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	OIDTimeStampToken       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	OIDTSTInfo              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}

	OIDSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	OIDSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	OIDSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	OIDSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	OIDSM3    = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}

	OIDRSA           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	OIDRSAPSS        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	OIDMGF1          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	OIDSHA1WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	OIDSHA256WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	OIDSHA384WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	OIDSHA512WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	OIDECDSASHA256   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	OIDECDSASHA384   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	OIDECDSASHA512   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	OIDSM2WithSM3    = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}
)

// HashOID names a digest algorithm.
func HashOID(h crypto.Hash) (asn1.ObjectIdentifier, error) {
	switch h {
	case crypto.SHA256:
		return OIDSHA256, nil
	case crypto.SHA384:
		return OIDSHA384, nil
	case crypto.SHA512:
		return OIDSHA512, nil
	}
	return nil, fmt.Errorf("digest %v is not supported for signing", h)
}

// HashFromOID maps a digest algorithm identifier to a hash (SHA-1 only for reading old files).
func HashFromOID(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	switch {
	case oid.Equal(OIDSHA1):
		return crypto.SHA1, true
	case oid.Equal(OIDSHA256):
		return crypto.SHA256, true
	case oid.Equal(OIDSHA384):
		return crypto.SHA384, true
	case oid.Equal(OIDSHA512):
		return crypto.SHA512, true
	}
	return 0, false
}

// Attribute is one CMS attribute; each value is a complete DER element.
type Attribute struct {
	Type   asn1.ObjectIdentifier
	Values [][]byte
}

func (a Attribute) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(a.Type)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
			for _, v := range sortDER(a.Values) {
				b.AddBytes(v)
			}
		})
	})
	return b.Bytes()
}

// sortDER orders the elements of a SET OF as DER requires.
func sortDER(v [][]byte) [][]byte {
	s := append([][]byte(nil), v...)
	sort.Slice(s, func(i, j int) bool { return bytes.Compare(s[i], s[j]) < 0 })
	return s
}

// Request is what Sign needs.
type Request struct {
	// ContentType is OIDData for a PDF signature, OIDTSTInfo for a timestamp token.
	ContentType asn1.ObjectIdentifier
	// Content is embedded when not nil (timestamp tokens); PDF signatures are detached.
	Content []byte
	// Digest is the digest of the (detached) content under Hash; computed when Content is set.
	Digest []byte
	Hash   crypto.Hash
	Signer crypto.Signer
	// Chain starts with the signer's certificate; the rest are CA certificates to embed.
	Chain []*x509.Certificate
	// PSS selects RSASSA-PSS for an RSA key (salt length = digest length).
	PSS bool
	// SigningTime adds the signing-time attribute (not for PAdES, which puts the time in /M).
	SigningTime time.Time
	// Unsigned returns unsigned attributes once the signature value is known (timestamps).
	Unsigned func(signature []byte) ([]Attribute, error)
	// Rand is the randomness for the signer; crypto/rand when nil.
	Rand io.Reader
}

// Sign builds a ContentInfo holding a SignedData with one SignerInfo. The signed attributes are
// content-type, message-digest and ESS signing-certificate-v2 (and signing-time when asked).
func Sign(r Request) ([]byte, error) {
	if r.Signer == nil || len(r.Chain) == 0 {
		return nil, errors.New("cms: a signer and its certificate are required")
	}
	if r.Hash == 0 {
		r.Hash = crypto.SHA256
	}
	hashOID, err := HashOID(r.Hash)
	if err != nil {
		return nil, err
	}
	if r.Content != nil {
		h := r.Hash.New()
		h.Write(r.Content)
		r.Digest = h.Sum(nil)
	}
	if len(r.Digest) != r.Hash.Size() {
		return nil, fmt.Errorf("cms: digest is %d bytes, want %d", len(r.Digest), r.Hash.Size())
	}
	cert := r.Chain[0]
	sigAlg, opts, err := signatureAlgorithm(r.Signer.Public(), r.Hash, r.PSS)
	if err != nil {
		return nil, err
	}

	attrs := []Attribute{
		{Type: OIDContentType, Values: [][]byte{derOID(r.ContentType)}},
		{Type: OIDMessageDigest, Values: [][]byte{derOctets(r.Digest)}},
		{Type: OIDSigningCertificateV2, Values: [][]byte{essCertIDv2(cert)}},
	}
	if !r.SigningTime.IsZero() {
		var b cryptobyte.Builder
		b.AddASN1UTCTime(r.SigningTime.UTC())
		attrs = append(attrs, Attribute{Type: OIDSigningTime, Values: [][]byte{b.BytesOrPanic()}})
	}
	var encAttrs [][]byte
	for _, a := range attrs {
		e, err := a.marshal()
		if err != nil {
			return nil, err
		}
		encAttrs = append(encAttrs, e)
	}
	encAttrs = sortDER(encAttrs)
	// The signature covers the attributes encoded as a SET (tag 0x31), although they are stored
	// under the implicit tag [0].
	var sb cryptobyte.Builder
	sb.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		for _, e := range encAttrs {
			b.AddBytes(e)
		}
	})
	signedAttrs := sb.BytesOrPanic()
	h := r.Hash.New()
	h.Write(signedAttrs)
	rnd := r.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	sig, err := r.Signer.Sign(rnd, h.Sum(nil), opts)
	if err != nil {
		return nil, fmt.Errorf("the key refused to sign: %w", err)
	}
	var unsigned [][]byte
	if r.Unsigned != nil {
		ua, err := r.Unsigned(sig)
		if err != nil {
			return nil, err
		}
		for _, a := range ua {
			e, err := a.marshal()
			if err != nil {
				return nil, err
			}
			unsigned = append(unsigned, e)
		}
		unsigned = sortDER(unsigned)
	}

	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(OIDSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				version := int64(1)
				if !r.ContentType.Equal(OIDData) {
					version = 3
				}
				b.AddASN1Int64(version)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					addAlgID(b, hashOID, nil)
				})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncapsulatedContentInfo
					b.AddASN1ObjectIdentifier(r.ContentType)
					if r.Content != nil {
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1OctetString(r.Content)
						})
					}
				})
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					for _, c := range r.Chain {
						b.AddBytes(c.Raw)
					}
				})
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignerInfo
						b.AddASN1Int64(1)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerAndSerialNumber
							b.AddBytes(cert.RawIssuer)
							b.AddASN1BigInt(cert.SerialNumber)
						})
						addAlgID(b, hashOID, nil)
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							for _, e := range encAttrs {
								b.AddBytes(e)
							}
						})
						b.AddBytes(sigAlg)
						b.AddASN1OctetString(sig)
						if len(unsigned) > 0 {
							b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
								for _, e := range unsigned {
									b.AddBytes(e)
								}
							})
						}
					})
				})
			})
		})
	})
	return b.Bytes()
}

// signatureAlgorithm is the one place that maps a public key to a CMS signature algorithm.
// SM2 (gm profile) belongs here when the token offers it: OIDSM2WithSM3 with an SM3 digest.
func signatureAlgorithm(pub crypto.PublicKey, h crypto.Hash, pss bool) ([]byte, crypto.SignerOpts, error) {
	var b cryptobyte.Builder
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, nil, fmt.Errorf("RSA key of %d bits is too small (2048 or more)", k.N.BitLen())
		}
		if pss {
			hashOID, _ := HashOID(h)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(OIDRSAPSS)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						addAlgID(b, hashOID, nil)
					})
					b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(OIDMGF1)
							addAlgID(b, hashOID, nil)
						})
					})
					b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1Int64(int64(h.Size()))
					})
				})
			})
			return b.BytesOrPanic(), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}, nil
		}
		addAlgID(&b, OIDRSA, []byte{0x05, 0x00})
		return b.BytesOrPanic(), h, nil
	case *ecdsa.PublicKey:
		oid := map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: OIDECDSASHA256, crypto.SHA384: OIDECDSASHA384, crypto.SHA512: OIDECDSASHA512}[h]
		addAlgID(&b, oid, nil)
		return b.BytesOrPanic(), h, nil
	}
	return nil, nil, fmt.Errorf("keys of type %T cannot sign here yet (RSA and ECDSA are supported; SM2 comes with the gm profile)", pub)
}

func addAlgID(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, params []byte) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if params != nil {
			b.AddBytes(params)
		}
	})
}

func derOID(oid asn1.ObjectIdentifier) []byte {
	var b cryptobyte.Builder
	b.AddASN1ObjectIdentifier(oid)
	return b.BytesOrPanic()
}

func derOctets(v []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1OctetString(v)
	return b.BytesOrPanic()
}

// essCertIDv2 is SigningCertificateV2 with one ESSCertIDv2 (SHA-256, the default algorithm, so
// it is omitted) and the issuer and serial of the signer's certificate.
func essCertIDv2(cert *x509.Certificate) []byte {
	sum := sha256.Sum256(cert.Raw)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1OctetString(sum[:])
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
						b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddBytes(cert.RawIssuer)
						})
					})
					b.AddASN1BigInt(cert.SerialNumber)
				})
			})
		})
	})
	return b.BytesOrPanic()
}

// SignedData is a parsed CMS SignedData.
type SignedData struct {
	ContentType  asn1.ObjectIdentifier
	Content      []byte // the embedded content, nil when detached
	Certificates []*x509.Certificate
	Signers      []SignerInfo
}

// SignerInfo is one parsed SignerInfo.
type SignerInfo struct {
	issuer      []byte
	serial      *big.Int
	ski         []byte
	Hash        crypto.Hash
	DigestOID   asn1.ObjectIdentifier
	SigAlgOID   asn1.ObjectIdentifier
	sigParams   []byte
	signedAttrs []byte // re-tagged as SET, ready to hash; nil when absent
	Signed      []Attribute
	Signature   []byte
	Unsigned    []Attribute
}

// Attr returns the first value of the attribute, or nil.
func Attr(attrs []Attribute, oid asn1.ObjectIdentifier) []byte {
	for _, a := range attrs {
		if a.Type.Equal(oid) && len(a.Values) > 0 {
			return a.Values[0]
		}
	}
	return nil
}

var errMalformed = errors.New("the CMS signature is malformed")

// Parse reads a ContentInfo holding a SignedData. Bytes after it (the zero padding of a PDF's
// /Contents) are ignored.
func Parse(der []byte) (*SignedData, error) {
	der, err := toDER(der)
	if err != nil {
		return nil, err
	}
	in := cryptobyte.String(der)
	var ci, sd cryptobyte.String
	var ct asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&ct) {
		return nil, errMalformed
	}
	if !ct.Equal(OIDSignedData) {
		return nil, fmt.Errorf("the CMS content is %v, not SignedData", ct)
	}
	var wrapped cryptobyte.String
	if !ci.ReadASN1(&wrapped, cbasn1.Tag(0).Constructed().ContextSpecific()) || !wrapped.ReadASN1(&sd, cbasn1.SEQUENCE) {
		return nil, errMalformed
	}
	var version int64
	var digestAlgs, encap cryptobyte.String
	if !sd.ReadASN1Integer(&version) || !sd.ReadASN1(&digestAlgs, cbasn1.SET) || !sd.ReadASN1(&encap, cbasn1.SEQUENCE) {
		return nil, errMalformed
	}
	out := &SignedData{}
	if !encap.ReadASN1ObjectIdentifier(&out.ContentType) {
		return nil, errMalformed
	}
	if encap.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var ec, oct cryptobyte.String
		if !encap.ReadASN1(&ec, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, errMalformed
		}
		// DER has a plain OCTET STRING; BER producers may use a constructed one.
		if ec.PeekASN1Tag(cbasn1.OCTET_STRING) {
			if !ec.ReadASN1(&oct, cbasn1.OCTET_STRING) {
				return nil, errMalformed
			}
			out.Content = append([]byte{}, oct...)
		} else {
			return nil, errors.New("the CMS content uses BER constructed encoding, which is not supported")
		}
	}
	if sd.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var certs cryptobyte.String
		if !sd.ReadASN1(&certs, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, errMalformed
		}
		for !certs.Empty() {
			var c cryptobyte.String
			var tag cbasn1.Tag
			if !certs.ReadAnyASN1Element(&c, &tag) {
				return nil, errMalformed
			}
			if tag != cbasn1.SEQUENCE {
				continue // attribute certificates and others are not ours to judge
			}
			cert, err := x509.ParseCertificate(c)
			if err != nil {
				return nil, fmt.Errorf("a certificate in the signature is unreadable: %w", err)
			}
			out.Certificates = append(out.Certificates, cert)
		}
	}
	if sd.PeekASN1Tag(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		var skip cryptobyte.String
		sd.ReadASN1(&skip, cbasn1.Tag(1).Constructed().ContextSpecific())
	}
	var infos cryptobyte.String
	if !sd.ReadASN1(&infos, cbasn1.SET) {
		return nil, errMalformed
	}
	for !infos.Empty() {
		var si cryptobyte.String
		if !infos.ReadASN1(&si, cbasn1.SEQUENCE) {
			return nil, errMalformed
		}
		s, err := parseSignerInfo(si)
		if err != nil {
			return nil, err
		}
		out.Signers = append(out.Signers, *s)
	}
	if len(out.Signers) == 0 {
		return nil, errors.New("the CMS signature has no signer")
	}
	return out, nil
}

func parseSignerInfo(si cryptobyte.String) (*SignerInfo, error) {
	s := &SignerInfo{}
	var version int64
	if !si.ReadASN1Integer(&version) {
		return nil, errMalformed
	}
	if si.PeekASN1Tag(cbasn1.SEQUENCE) {
		var ias cryptobyte.String
		var issuer cryptobyte.String
		s.serial = new(big.Int)
		if !si.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&issuer, cbasn1.SEQUENCE) || !ias.ReadASN1Integer(s.serial) {
			return nil, errMalformed
		}
		s.issuer = issuer
	} else {
		var ski cryptobyte.String
		if !si.ReadASN1(&ski, cbasn1.Tag(0).ContextSpecific()) {
			return nil, errMalformed
		}
		s.ski = ski
	}
	var alg cryptobyte.String
	if !si.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&s.DigestOID) {
		return nil, errMalformed
	}
	s.Hash, _ = HashFromOID(s.DigestOID)
	if si.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var el cryptobyte.String
		if !si.ReadASN1Element(&el, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, errMalformed
		}
		s.signedAttrs = append([]byte{}, el...)
		s.signedAttrs[0] = 0x31
		attrs, err := parseAttrs(el)
		if err != nil {
			return nil, err
		}
		s.Signed = attrs
	}
	var salg cryptobyte.String
	if !si.ReadASN1(&salg, cbasn1.SEQUENCE) || !salg.ReadASN1ObjectIdentifier(&s.SigAlgOID) {
		return nil, errMalformed
	}
	s.sigParams = salg
	var sig cryptobyte.String
	if !si.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return nil, errMalformed
	}
	s.Signature = sig
	if si.PeekASN1Tag(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		var el cryptobyte.String
		if !si.ReadASN1Element(&el, cbasn1.Tag(1).Constructed().ContextSpecific()) {
			return nil, errMalformed
		}
		attrs, err := parseAttrs(el)
		if err != nil {
			return nil, err
		}
		s.Unsigned = attrs
	}
	return s, nil
}

func parseAttrs(el cryptobyte.String) ([]Attribute, error) {
	var set cryptobyte.String
	var tag cbasn1.Tag
	if !el.ReadAnyASN1(&set, &tag) {
		return nil, errMalformed
	}
	var out []Attribute
	for !set.Empty() {
		var a, vals cryptobyte.String
		var at Attribute
		if !set.ReadASN1(&a, cbasn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&at.Type) || !a.ReadASN1(&vals, cbasn1.SET) {
			return nil, errMalformed
		}
		for !vals.Empty() {
			var v cryptobyte.String
			var t cbasn1.Tag
			if !vals.ReadAnyASN1Element(&v, &t) {
				return nil, errMalformed
			}
			at.Values = append(at.Values, v)
		}
		out = append(out, at)
	}
	return out, nil
}

// FindCertificate returns the signer's certificate among certs.
func (s *SignerInfo) FindCertificate(certs []*x509.Certificate) (*x509.Certificate, error) {
	for _, c := range certs {
		if s.ski != nil && bytes.Equal(c.SubjectKeyId, s.ski) {
			return c, nil
		}
		if s.serial != nil && c.SerialNumber.Cmp(s.serial) == 0 && bytes.Equal(c.RawIssuer, s.issuer) {
			return c, nil
		}
	}
	return nil, errors.New("the signer's certificate is not in the signature")
}

// Verify checks the signer's signature for content with the given digest (under s.Hash) and
// returns the signer's certificate.
func (s *SignerInfo) Verify(digest []byte, certs []*x509.Certificate) (*x509.Certificate, error) {
	if s.Hash == 0 {
		return nil, fmt.Errorf("digest algorithm %v is not supported", s.DigestOID)
	}
	cert, err := s.FindCertificate(certs)
	if err != nil {
		return nil, err
	}
	msg := digest
	if s.signedAttrs != nil {
		md := Attr(s.Signed, OIDMessageDigest)
		var v cryptobyte.String
		in := cryptobyte.String(md)
		if md == nil || !in.ReadASN1(&v, cbasn1.OCTET_STRING) {
			return nil, errors.New("the signature has no message-digest attribute")
		}
		if !bytes.Equal(v, digest) {
			return nil, errors.New("the document digest does not match the signed digest: the signed bytes were changed")
		}
		h := s.Hash.New()
		h.Write(s.signedAttrs)
		msg = h.Sum(nil)
	}
	if err := s.checkSignature(cert.PublicKey, msg); err != nil {
		return cert, err
	}
	return cert, nil
}

func (s *SignerInfo) checkSignature(pub crypto.PublicKey, msg []byte) error {
	bad := errors.New("the signature value does not match the signer's key")
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if s.SigAlgOID.Equal(OIDRSAPSS) {
			if rsa.VerifyPSS(k, s.Hash, msg, s.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) != nil {
				return bad
			}
			return nil
		}
		if rsa.VerifyPKCS1v15(k, s.Hash, msg, s.Signature) != nil {
			return bad
		}
		return nil
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, msg, s.Signature) {
			return bad
		}
		return nil
	}
	return fmt.Errorf("signatures by %T keys cannot be verified yet", pub)
}

// TSTInfo is the part of a timestamp token that matters here.
type TSTInfo struct {
	Policy        asn1.ObjectIdentifier
	Hash          crypto.Hash
	MessageDigest []byte
	Serial        *big.Int
	GenTime       time.Time
	Nonce         *big.Int
}

// ParseTSTInfo reads an RFC 3161 TSTInfo.
func ParseTSTInfo(der []byte) (*TSTInfo, error) {
	in := cryptobyte.String(der)
	var s, mi, alg, digest cryptobyte.String
	var version int64
	t := &TSTInfo{Serial: new(big.Int)}
	var hashOID asn1.ObjectIdentifier
	if !in.ReadASN1(&s, cbasn1.SEQUENCE) || !s.ReadASN1Integer(&version) || !s.ReadASN1ObjectIdentifier(&t.Policy) ||
		!s.ReadASN1(&mi, cbasn1.SEQUENCE) || !mi.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&hashOID) ||
		!mi.ReadASN1(&digest, cbasn1.OCTET_STRING) || !s.ReadASN1Integer(t.Serial) || !s.ReadASN1GeneralizedTime(&t.GenTime) {
		return nil, errors.New("the timestamp token's TSTInfo is malformed")
	}
	var ok bool
	if t.Hash, ok = HashFromOID(hashOID); !ok {
		return nil, fmt.Errorf("the timestamp uses digest %v, which is not supported", hashOID)
	}
	t.MessageDigest = digest
	if s.PeekASN1Tag(cbasn1.SEQUENCE) { // accuracy
		var skip cryptobyte.String
		s.ReadASN1(&skip, cbasn1.SEQUENCE)
	}
	if s.PeekASN1Tag(cbasn1.BOOLEAN) {
		var skip cryptobyte.String
		s.ReadASN1(&skip, cbasn1.BOOLEAN)
	}
	if s.PeekASN1Tag(cbasn1.INTEGER) {
		t.Nonce = new(big.Int)
		s.ReadASN1Integer(t.Nonce)
	}
	return t, nil
}

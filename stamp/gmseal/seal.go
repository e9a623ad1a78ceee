// Package gmseal reads, makes and checks Chinese electronic seals: the seal structure SESeal
// that a seal-making institution issues (GM/T 0031-2014 "v1", GB/T 38540-2020 "v4", and the
// v5 revision) and the seal signature SES_Signature made with it (v1, v4).
//
// Everything is parsed with cryptobyte, keeping the bytes of each signed part exactly as they
// were received: signatures are checked over those bytes, never over a re-encoding, because
// real seals are not always DER (an explicit critical BOOLEAN FALSE, for one) and re-encoding
// them would break their signatures. The ASN.1 and what each party signs are in
// /work/shared/research/gm-seals.md (rebuilt from ofdrw, Chingliu's verifier and ofd.js, and
// checked against their files).
package gmseal

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers.
var (
	OIDSM2WithSM3 = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}
	OIDSM2Sign    = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 1}
	OIDSM3        = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}
)

// Certificate list kinds (SES_ESPropertyInfo.certListType, v4).
const (
	CertListCerts   = 1 // signer certificates
	CertListDigests = 2 // digests of signer certificates
)

// ErrMalformed: the bytes are not a seal or seal signature this package can read.
var ErrMalformed = errors.New("not a well-formed GM seal structure")

// Seal is an SESeal as received.
type Seal struct {
	// Raw is the whole SESeal.
	Raw []byte
	// Version is the header's version: 1 (GM/T 0031-2014), 4 (GB/T 38540-2020) or 5.
	Version  int
	HeaderID string // "ES"
	Vid      string // the seal maker's vendor ID
	ID       string // esID, the seal's identifier
	// Type is the seal's type (property.type): 1 official seal, 2 personal seal, ...
	Type int
	Name string
	// CertListType says which of SignerCerts and CertDigests is set (always CertListCerts in v1).
	CertListType int
	// SignerCerts are the DER certificates allowed to sign with this seal.
	SignerCerts [][]byte
	CertDigests []CertDigest
	Created     time.Time
	ValidStart  time.Time
	ValidEnd    time.Time
	Picture     Picture
	Extensions  []Extension
	// MakerCert is the seal-making institution's certificate (DER).
	MakerCert []byte
	SignAlg   asn1.ObjectIdentifier
	// Signature is the maker's SM2 signature.
	Signature []byte
	// TimeStamp is v5's optional timestamp token.
	TimeStamp []byte

	rawInfo []byte // SES_SealInfo as received
	rawCert []byte // the maker certificate's OCTET STRING element
	rawAlg  []byte // the signature algorithm's OBJECT IDENTIFIER element
}

// Picture is the seal's image.
type Picture struct {
	Type string // "PNG", "png", "ofd", ...
	Data []byte
	// WidthMM and HeightMM are the printed size in millimetres.
	WidthMM, HeightMM int
}

// CertDigest is one entry of a digest certificate list.
type CertDigest struct {
	Type  string // the digest algorithm's name, e.g. "SM3"
	Value []byte
}

// Extension is one ExtData.
type Extension struct {
	ID       asn1.ObjectIdentifier
	Critical bool
	Value    []byte
}

func malformed(what string) error { return fmt.Errorf("%w: %s", ErrMalformed, what) }

// ParseSeal reads an SESeal of version 1, 4 or 5. The returned Seal keeps the signed bytes.
func ParseSeal(der []byte) (*Seal, error) {
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	var raw cryptobyte.String
	if !in.ReadASN1Element(&raw, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, malformed("the seal is not one SEQUENCE")
	}
	seq = raw
	seq.ReadASN1(&seq, cbasn1.SEQUENCE)
	s := &Seal{Raw: []byte(raw)}
	var info cryptobyte.String
	if !seq.ReadASN1Element(&info, cbasn1.SEQUENCE) {
		return nil, malformed("no seal information (SES_SealInfo)")
	}
	s.rawInfo = info
	if err := s.parseInfo(info); err != nil {
		return nil, err
	}
	// v1: SES_SignInfo{cert, alg, signData}; v4/v5: cert, alg, signedValue [, [0] timeStamp].
	rest := seq
	if s.Version == 1 {
		if !seq.ReadASN1(&rest, cbasn1.SEQUENCE) || !seq.Empty() {
			return nil, malformed("v1 seal without its signature information (SES_SignInfo)")
		}
	}
	var cert, alg cryptobyte.String
	if !rest.ReadASN1Element(&cert, cbasn1.OCTET_STRING) || !rest.ReadASN1Element(&alg, cbasn1.OBJECT_IDENTIFIER) {
		return nil, malformed("the maker's certificate or signature algorithm is missing")
	}
	s.rawCert, s.rawAlg = cert, alg
	cert.ReadASN1(&cert, cbasn1.OCTET_STRING)
	s.MakerCert = cert
	if !alg.ReadASN1ObjectIdentifier(&s.SignAlg) {
		return nil, malformed("the signature algorithm is not an object identifier")
	}
	var err error
	if s.Signature, err = readBits(&rest, "the maker's signature"); err != nil {
		return nil, err
	}
	if rest.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		var ts cryptobyte.String
		rest.ReadASN1(&ts, cbasn1.Tag(0).ContextSpecific().Constructed())
		if s.TimeStamp, err = readBits(&ts, "the seal's timestamp"); err != nil {
			return nil, err
		}
	}
	if !rest.Empty() {
		return nil, malformed("unexpected data after the maker's signature")
	}
	return s, nil
}

func (s *Seal) parseInfo(info cryptobyte.String) error {
	info.ReadASN1(&info, cbasn1.SEQUENCE)
	var hdr, prop, pic cryptobyte.String
	var ver int64
	if !info.ReadASN1(&hdr, cbasn1.SEQUENCE) || !readString(&hdr, cbasn1.IA5String, &s.HeaderID) ||
		!hdr.ReadASN1Integer(&ver) || !readString(&hdr, cbasn1.IA5String, &s.Vid) {
		return malformed("the seal header (SES_Header) is not {id, version, vid}")
	}
	s.Version = int(ver)
	if s.HeaderID != "ES" {
		return malformed(fmt.Sprintf("the header says %q, not \"ES\"", s.HeaderID))
	}
	if s.Version != 1 && s.Version != 4 && s.Version != 5 {
		return malformed(fmt.Sprintf("seal version %d is not 1, 4 or 5", s.Version))
	}
	if !readString(&info, cbasn1.IA5String, &s.ID) {
		return malformed("no seal identifier (esID)")
	}
	var typ int64
	if !info.ReadASN1(&prop, cbasn1.SEQUENCE) || !prop.ReadASN1Integer(&typ) || !readString(&prop, cbasn1.UTF8String, &s.Name) {
		return malformed("the seal's properties do not start with type and name")
	}
	s.Type = int(typ)
	s.CertListType = CertListCerts
	if s.Version != 1 {
		var lt int64
		if !prop.ReadASN1Integer(&lt) {
			return malformed("no certificate list type")
		}
		s.CertListType = int(lt)
	}
	var list cryptobyte.String
	if !prop.ReadASN1(&list, cbasn1.SEQUENCE) {
		return malformed("no certificate list")
	}
	for !list.Empty() {
		switch s.CertListType {
		case CertListCerts:
			var c cryptobyte.String
			if !list.ReadASN1(&c, cbasn1.OCTET_STRING) {
				return malformed("a signer certificate is not an OCTET STRING")
			}
			s.SignerCerts = append(s.SignerCerts, c)
		case CertListDigests:
			var d cryptobyte.String
			var cd CertDigest
			var v cryptobyte.String
			if !list.ReadASN1(&d, cbasn1.SEQUENCE) || !readString(&d, cbasn1.PrintableString, &cd.Type) || !d.ReadASN1(&v, cbasn1.OCTET_STRING) {
				return malformed("a certificate digest is not {type, value}")
			}
			cd.Value = v
			s.CertDigests = append(s.CertDigests, cd)
		default:
			return malformed(fmt.Sprintf("certificate list type %d is neither 1 (certificates) nor 2 (digests)", s.CertListType))
		}
	}
	var err error
	for _, t := range []*time.Time{&s.Created, &s.ValidStart, &s.ValidEnd} {
		if *t, err = readTime(&prop); err != nil {
			return err
		}
	}
	var data cryptobyte.String
	var w, h int64
	if !info.ReadASN1(&pic, cbasn1.SEQUENCE) || !readString(&pic, cbasn1.IA5String, &s.Picture.Type) ||
		!pic.ReadASN1(&data, cbasn1.OCTET_STRING) || !pic.ReadASN1Integer(&w) || !pic.ReadASN1Integer(&h) {
		return malformed("the seal picture is not {type, data, width, height}")
	}
	s.Picture.Data, s.Picture.WidthMM, s.Picture.HeightMM = data, int(w), int(h)
	if info.PeekASN1Tag(cbasn1.SEQUENCE) {
		var ext cryptobyte.String
		info.ReadASN1(&ext, cbasn1.SEQUENCE)
		s.Extensions = readExtensions(ext)
	}
	if !info.Empty() {
		return malformed("unexpected data after the seal picture")
	}
	return nil
}

// readExtensions reads ExtensionDatas, skipping entries it cannot read (as ofdrw does): they
// are inside the signed bytes, which are checked as received.
func readExtensions(in cryptobyte.String) []Extension {
	var out []Extension
	for !in.Empty() {
		var e cryptobyte.String
		if !in.ReadAnyASN1Element(&e, new(cbasn1.Tag)) {
			break
		}
		var x Extension
		if !e.ReadASN1(&e, cbasn1.SEQUENCE) || !e.ReadASN1ObjectIdentifier(&x.ID) {
			continue
		}
		if e.PeekASN1Tag(cbasn1.BOOLEAN) {
			// BER: any non-zero octet is true. Real seals write FALSE explicitly (not DER).
			var b cryptobyte.String
			e.ReadASN1(&b, cbasn1.BOOLEAN)
			x.Critical = len(b) == 1 && b[0] != 0
		}
		var v cryptobyte.String
		if !e.ReadASN1(&v, cbasn1.OCTET_STRING) {
			continue
		}
		x.Value = v
		out = append(out, x)
	}
	return out
}

func readString(s *cryptobyte.String, tag cbasn1.Tag, out *string) bool {
	var v cryptobyte.String
	if !s.ReadASN1(&v, tag) {
		return false
	}
	*out = string(v)
	return true
}

// readBits reads a BIT STRING (or, as non-conforming seals write, an OCTET STRING) whole octets.
func readBits(s *cryptobyte.String, what string) ([]byte, error) {
	var v cryptobyte.String
	switch {
	case s.PeekASN1Tag(cbasn1.BIT_STRING):
		var bs asn1.BitString
		if !s.ReadASN1BitString(&bs) || bs.BitLength%8 != 0 {
			return nil, malformed(what + " is not a BIT STRING of whole octets")
		}
		return bs.Bytes, nil
	case s.PeekASN1Tag(cbasn1.OCTET_STRING) && s.ReadASN1(&v, cbasn1.OCTET_STRING):
		return v, nil
	}
	return nil, malformed(what + " is missing")
}

// readTime reads a GeneralizedTime or UTCTime, whichever is there (v1 seals in the wild use
// both where UTCTime is specified).
func readTime(s *cryptobyte.String) (time.Time, error) {
	var v cryptobyte.String
	// ReadASN1 consumes an element of another tag too: peek first.
	switch {
	case s.PeekASN1Tag(cbasn1.GeneralizedTime) && s.ReadASN1(&v, cbasn1.GeneralizedTime):
		return parseTime(string(v), false)
	case s.PeekASN1Tag(cbasn1.UTCTime) && s.ReadASN1(&v, cbasn1.UTCTime):
		return parseTime(string(v), true)
	}
	return time.Time{}, malformed("a date is neither GeneralizedTime nor UTCTime")
}

func parseTime(v string, utc bool) (time.Time, error) {
	layouts := []string{"20060102150405Z0700", "20060102150405.999999999Z0700", "20060102150405"}
	if utc {
		layouts = []string{"060102150405Z0700", "0601021504Z0700"}
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, malformed(fmt.Sprintf("unreadable date %q", v))
}

// Kind tells what a DER value is.
type Kind int

// Kinds of value Sniff tells apart.
const (
	KindUnknown   Kind = iota
	KindSeal           // an SESeal
	KindSignature      // an SES_Signature
	KindCMS            // a CMS ContentInfo (PKCS #7 or GM/T 0010)
)

// Sniff tells an SESeal, an SES_Signature and a CMS ContentInfo apart by their first elements:
// a ContentInfo starts with an OID, an SES_Signature with TBS_Sign (starting with its version
// INTEGER), an SESeal with SES_SealInfo (starting with the SES_Header SEQUENCE).
func Sniff(der []byte) Kind {
	in := cryptobyte.String(der)
	var seq, first cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return KindUnknown
	}
	if seq.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) {
		return KindCMS
	}
	if !seq.ReadASN1(&first, cbasn1.SEQUENCE) {
		return KindUnknown
	}
	switch {
	case first.PeekASN1Tag(cbasn1.INTEGER):
		return KindSignature
	case first.PeekASN1Tag(cbasn1.SEQUENCE):
		return KindSeal
	}
	return KindUnknown
}

// PictureFormat names the picture's type for people: "PNG", "JPEG", "OFD vector", ...
func (p Picture) Format() string {
	switch strings.ToLower(p.Type) {
	case "ofd":
		return "OFD vector"
	case "jpg", "jpeg":
		return "JPEG"
	}
	return strings.ToUpper(p.Type)
}

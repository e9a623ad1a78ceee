package gmseal

import (
	"encoding/asn1"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Signature is an SES_Signature as received: a seal applied to data by a signer.
type Signature struct {
	// Raw is the whole SES_Signature.
	Raw []byte
	// Version is TBS_Sign's version: 1 or 4.
	Version int
	Seal    *Seal
	// Time is when the signer says it signed (timeInfo).
	Time time.Time
	// DataHash is the SM3 digest of the signed data (for a PDF, of its byte ranges).
	DataHash []byte
	// PropertyInfo is free text naming what was signed.
	PropertyInfo string
	// Cert is the signer's certificate (DER).
	Cert    []byte
	SignAlg asn1.ObjectIdentifier
	// Value is the signer's SM2 signature over TBS_Sign.
	Value []byte
	// TimeStamp is the optional timestamp token over Value.
	TimeStamp  []byte
	Extensions []Extension

	tbs []byte // TBS_Sign as received: what Value signs
}

// ParseSignature reads an SES_Signature of version 1 (GM/T 0031-2014) or 4 (GB/T 38540-2020).
func ParseSignature(der []byte) (*Signature, error) {
	in := cryptobyte.String(der)
	var raw cryptobyte.String
	if !in.ReadASN1Element(&raw, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, malformed("the seal signature is not one SEQUENCE")
	}
	g := &Signature{Raw: raw}
	seq := raw
	seq.ReadASN1(&seq, cbasn1.SEQUENCE)
	var tbs cryptobyte.String
	if !seq.ReadASN1Element(&tbs, cbasn1.SEQUENCE) {
		return nil, malformed("no TBS_Sign")
	}
	g.tbs = tbs
	t := tbs
	t.ReadASN1(&t, cbasn1.SEQUENCE)
	var ver int64
	var seal cryptobyte.String
	if !t.ReadASN1Integer(&ver) || !t.ReadASN1Element(&seal, cbasn1.SEQUENCE) {
		return nil, malformed("TBS_Sign does not start with version and seal")
	}
	g.Version = int(ver)
	if g.Version != 1 && g.Version != 4 {
		return nil, malformed(fmt.Sprintf("seal signature version %d is not 1 or 4", g.Version))
	}
	var err error
	if g.Seal, err = ParseSeal(seal); err != nil {
		return nil, fmt.Errorf("the seal inside the signature: %w", err)
	}
	if g.Version == 1 {
		// v1 writes the time as a BIT STRING holding its text (or a time element).
		tb, err := readBits(&t, "the signing time")
		if err != nil {
			return nil, err
		}
		if g.Time, err = bitsTime(tb); err != nil {
			return nil, err
		}
	} else if g.Time, err = readTime(&t); err != nil {
		return nil, err
	}
	if g.DataHash, err = readBits(&t, "the data digest"); err != nil {
		return nil, err
	}
	if !readString(&t, cbasn1.IA5String, &g.PropertyInfo) {
		return nil, malformed("no property information")
	}
	// v1 keeps the signer's certificate and algorithm inside TBS_Sign, v4 after it.
	src := &seq
	if g.Version == 1 {
		src = &t
	} else if t.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) || t.PeekASN1Tag(cbasn1.SEQUENCE) {
		// extDatas: [0] EXPLICIT (ofdrw) or untagged (Chingliu's reading).
		var ext cryptobyte.String
		if t.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
			t.ReadASN1(&ext, cbasn1.Tag(0).ContextSpecific().Constructed())
			ext.ReadASN1(&ext, cbasn1.SEQUENCE)
		} else {
			t.ReadASN1(&ext, cbasn1.SEQUENCE)
		}
		g.Extensions = readExtensions(ext)
	}
	var cert cryptobyte.String
	if !src.ReadASN1(&cert, cbasn1.OCTET_STRING) || !src.ReadASN1ObjectIdentifier(&g.SignAlg) {
		return nil, malformed("the signer's certificate or signature algorithm is missing")
	}
	g.Cert = cert
	if !t.Empty() {
		return nil, malformed("unexpected data at the end of TBS_Sign")
	}
	rest := seq
	if g.Value, err = readBits(&rest, "the signer's signature"); err != nil {
		return nil, err
	}
	// timeStamp: [0] EXPLICIT BIT STRING (ofdrw) or an untagged BIT STRING (Chingliu).
	var ts cryptobyte.String
	switch {
	case rest.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()):
		rest.ReadASN1(&ts, cbasn1.Tag(0).ContextSpecific().Constructed())
		if g.TimeStamp, err = readBits(&ts, "the timestamp"); err != nil {
			return nil, err
		}
	case rest.PeekASN1Tag(cbasn1.BIT_STRING):
		if g.TimeStamp, err = readBits(&rest, "the timestamp"); err != nil {
			return nil, err
		}
	}
	if !rest.Empty() {
		return nil, malformed("unexpected data after the signer's signature")
	}
	return g, nil
}

// bitsTime reads v1's timeInfo: the DER of a time, or the time's text itself.
func bitsTime(b []byte) (time.Time, error) {
	s := cryptobyte.String(b)
	if t, err := readTime(&s); err == nil && s.Empty() {
		return t, nil
	}
	if t, err := parseTime(string(b), false); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02 15:04:05", string(b)); err == nil {
		return t, nil
	}
	return time.Time{}, malformed(fmt.Sprintf("unreadable signing time %q", b))
}

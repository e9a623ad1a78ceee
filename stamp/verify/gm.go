package verify

import (
	"errors"
	"time"

	"github.com/tjfoc/gmsm/sm3"
	gmx509 "github.com/tjfoc/gmsm/x509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
)

// checkSES checks a GB/T 38540 seal signature in /Contents (gmseal's checks in the standard's
// order, with the SM3 digest of the byte ranges) and fills s.
func (v *verifier) checkSES(s *Signature, contents []byte) {
	s.Format = FormatSES
	der, ok := element(contents)
	if !ok {
		s.problem("the seal signature in /Contents is followed by bytes other than padding")
		return
	}
	g, err := gmseal.ParseSignature(der)
	if err != nil {
		s.problem("%v", err)
		return
	}
	s.Seal = &GMSeal{ID: g.Seal.ID, Name: g.Seal.Name, Version: g.Seal.Version, ValidStart: g.Seal.ValidStart, ValidEnd: g.Seal.ValidEnd}
	// The signing time is the one inside the signed TBS_Sign, not the unsigned /M.
	s.Time, s.TimeSource = g.Time, "claimed (in the seal signature)"
	b := s.ByteRange
	h := sm3.New()
	h.Write(v.data[:b[1]])
	h.Write(v.data[b[2]:s.revEnd])
	res, err := g.Verify(gmseal.VerifyOptions{Digest: h.Sum(nil), Roots: v.opts.GMRoots})
	if res.Signer != nil {
		setSigner(s, res.Signer)
	}
	if res.Maker != nil {
		s.Seal.Maker = res.Maker.Subject.CommonName
	}
	if err != nil {
		if errors.Is(err, gmseal.ErrSignerCert) {
			s.problem("the certificate was not valid at the signing time %s", s.Time.Format(time.RFC3339))
		}
		s.problem("%v", err)
		return
	}
	s.Intact, s.CertValid = true, true
	s.Trusted, s.TrustError = res.Trusted, res.TrustError
}

// checkGMCMS checks a GM/T 0010 SignedData in /Contents: the SM3 digest of the byte ranges,
// the SM2 signature, the signer's certificate at the signing time and its chain to GMRoots.
func (v *verifier) checkGMCMS(s *Signature, f sigField, contents []byte) {
	s.Format = FormatGMCMS
	c, err := gmseal.ParseCMS(contents)
	if err != nil {
		s.problem("%v", err)
		return
	}
	s.Time, s.TimeSource = c.SigningTime, "claimed (signed attribute)"
	if c.SigningTime.IsZero() {
		s.TimeSource = "claimed"
		if t, err := parseDate(v.text(f.Sig["M"])); err == nil {
			s.Time = t
		}
	}
	b := s.ByteRange
	h := sm3.New()
	h.Write(v.data[:b[1]])
	h.Write(v.data[b[2]:s.revEnd])
	cert, err := c.Verify(h.Sum(nil), s.Time)
	if cert != nil {
		setSigner(s, cert)
	}
	// As for PAdES, a certificate outside its validity leaves the signature intact (Verify
	// checks digest and signature first) and is reported.
	if errors.Is(err, gmseal.ErrSignerCert) {
		s.Intact = true
		s.problem("%v", err)
		return
	}
	if err != nil {
		s.problem("%v", err)
		return
	}
	s.Intact, s.CertValid = true, true
	if err := gmseal.Chain(cert, v.opts.GMRoots, s.Time); err != nil {
		s.TrustError = err.Error()
	} else {
		s.Trusted = true
	}
}

func setSigner(s *Signature, c *gmx509.Certificate) {
	s.Signer = c.Subject.CommonName
	s.SignerDN = c.Subject.String()
	s.Issuer = c.Issuer.String()
	s.Serial = c.SerialNumber.Text(16)
}

// element is the DER element at the start of a /Contents value, which may be followed only by
// the zero padding of the reserved room.
func element(b []byte) ([]byte, bool) {
	in := cryptobyte.String(b)
	var el cryptobyte.String
	if !in.ReadASN1Element(&el, cbasn1.SEQUENCE) {
		return nil, false
	}
	for _, c := range in {
		if c != 0 {
			return nil, false
		}
	}
	return el, true
}

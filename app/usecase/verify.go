package usecase

import (
	"crypto/x509"
	"time"

	gmx509 "github.com/tjfoc/gmsm/x509"

	"github.com/sealkeeper/sealkeeper/stamp/verify"
)

// Verification is what the result screen says of a stamped file: our verifier's findings on
// the file as written to disk.
type Verification struct {
	File string
	// Valid: every signature intact and nothing changed after it that it does not permit.
	Valid bool
	// Trusted: every signature chains to a configured trust anchor.
	Trusted    bool
	Signatures int
	// The last signature (the one just made): who, when, what it shows.
	Signer, Issuer string
	Time           time.Time
	TimeSource     string // "timestamp" or "claimed"
	CoversFile     bool
	RidingSeam     bool
	Widgets        int
	Problems       []string
}

// Verify checks a stamped file with the verifier, trusting the configured anchors.
func (d *Desk) Verify(path string) (Verification, error) {
	var gm []*gmx509.Certificate
	if d.cfg.Keys != nil {
		gm = d.cfg.Keys.cfg.GMAnchors
	}
	rep, err := verify.File(path, verify.Options{Roots: d.anchors(), GMRoots: gm})
	if err != nil {
		return Verification{File: path}, err
	}
	v := Verification{File: path, Valid: rep.Valid, Trusted: rep.Trusted, Signatures: len(rep.Signatures)}
	for _, s := range rep.Signatures {
		v.Problems = append(v.Problems, s.Problems...)
	}
	if n := len(rep.Signatures); n > 0 {
		s := rep.Signatures[n-1]
		v.Signer, v.Issuer, v.Time, v.TimeSource = s.Signer, s.Issuer, s.Time, s.TimeSource
		v.CoversFile, v.RidingSeam, v.Widgets = s.CoversFile, s.RidingSeam, len(s.Widgets)
		if !s.Trusted && s.TrustError != "" {
			v.Problems = append(v.Problems, s.TrustError)
		}
	}
	return v, nil
}

func (d *Desk) anchors() []*x509.Certificate {
	if d.cfg.Keys == nil {
		return nil
	}
	return d.cfg.Keys.cfg.Anchors
}

package usecase

import (
	"crypto/x509"
	"fmt"
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
	// Format is what the last signature holds, in the verifier's words (FormatCMS, FormatGMCMS,
	// FormatSES): PAdES and GM seals side by side in the same words.
	Format string
	// GMSeal describes the GM seal the last signature carries (GMSealSummary); "" for none.
	GMSeal   string
	Problems []string
}

// What a signature holds, as the verifier names it (told by /Contents, never by the SubFilter).
const (
	FormatCMS   = verify.FormatCMS
	FormatGMCMS = verify.FormatGMCMS
	FormatSES   = verify.FormatSES
)

// GMSealSummary is the one line the result screen and `sealkeeper verify` show of a GM seal.
func GMSealSummary(g *verify.GMSeal) string {
	day := func(t time.Time) string { return t.UTC().Format("2006-01-02") }
	return fmt.Sprintf("%s (esID %s, version %d, valid %s to %s, made by %s)", g.Name, g.ID, g.Version, day(g.ValidStart), day(g.ValidEnd), g.Maker)
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
		v.Format = s.Format
		if s.Seal != nil {
			v.GMSeal = GMSealSummary(s.Seal)
		}
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

package stamp

import (
	"errors"
	"fmt"

	"github.com/tjfoc/gmsm/sm2"

	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
	"github.com/sealkeeper/sealkeeper/stamp/pades"
)

// GMMode is how a GM seal's signature is written into /Contents.
type GMMode string

// The GM modes, chosen per seal in the configuration ([seal] gm_mode).
const (
	// GMSES writes a GB/T 38540-2020 (v4) SES_Signature: TBS_Sign with the seal as issued, the
	// signing time, the SM3 digest of the byte ranges and the field's name as property info,
	// signed with SM2 by the seal's key. This is the seal-signature practice of Chinese
	// e-seal systems (the research note's iText recipe); GM/T 0112's own names are not known
	// to us, so the /SubFilter is configurable (GM.SubFilter).
	GMSES GMMode = "ses"
	// GMCMS writes a GM/T 0010 SignedData (SM2 signature, SM3 digest), as GM digital-signature
	// PDF tools do under /adbe.pkcs7.detached.
	GMCMS GMMode = "cms"
)

// GMSubFilter is the /SubFilter written for a GM seal unless GM.SubFilter says otherwise: the
// name generic tools know, so that they list the signature (and, not knowing SM2, cannot
// check it), and the name GM tools use for both modes. The verifier tells the modes apart by
// what /Contents holds, never by this name.
const GMSubFilter = "adbe.pkcs7.detached"

// GM makes the seal a GM seal (SM2/SM3) instead of a PAdES signature. Request.Signer must be
// an SM2 key following gmseal's signer contract; Request.Chain is not used.
type GM struct {
	Mode GMMode
	// Seal is the SESeal (DER) as its maker issued it: required for GMSES.
	Seal []byte
	// Cert is the signer's SM2 certificate (DER); the seal must list it.
	Cert []byte
	// SubFilter overrides GMSubFilter.
	SubFilter string
}

// subFilter is the /SubFilter name written for the request.
func (r *Request) subFilter() string {
	switch {
	case r.GM == nil:
		return pades.SubFilter
	case r.GM.SubFilter != "":
		return r.GM.SubFilter
	}
	return GMSubFilter
}

// checkGM checks a GM request and returns the signer's name for /Name.
func checkGM(r *Request) (string, error) {
	g := r.GM
	if _, ok := r.Signer.Public().(*sm2.PublicKey); !ok {
		return "", fmt.Errorf("a GM seal needs an SM2 key; this key is %T", r.Signer.Public())
	}
	cert, _, err := gmseal.ParseCertificate(g.Cert)
	if err != nil {
		return "", fmt.Errorf("the GM seal's certificate: %w", err)
	}
	switch g.Mode {
	case GMSES:
		seal, err := gmseal.ParseSeal(g.Seal)
		if err != nil {
			return "", fmt.Errorf("the GM seal: %w", err)
		}
		if !seal.Lists(g.Cert) {
			return "", fmt.Errorf("the GM seal %q (%s) does not list the key's certificate %q: the seal is not this key's", seal.Name, seal.ID, cert.Subject.CommonName)
		}
		if !seal.ValidAt(r.Time) {
			return "", fmt.Errorf("the GM seal %q is valid from %s to %s, not now: ask the seal maker for a new seal", seal.Name, seal.ValidStart.Format("2006-01-02"), seal.ValidEnd.Format("2006-01-02"))
		}
	case GMCMS:
	default:
		return "", fmt.Errorf("GM mode %q is neither %q nor %q", g.Mode, GMSES, GMCMS)
	}
	return cert.Subject.CommonName, nil
}

// signGM makes the /Contents value of a GM seal over the byte ranges whose SM3 digest is digest.
func signGM(r Request, field string, digest []byte) ([]byte, error) {
	switch r.GM.Mode {
	case GMSES:
		return gmseal.Sign(gmseal.SignSpec{Seal: r.GM.Seal, Time: r.Time, DataHash: digest, PropertyInfo: field, Cert: r.GM.Cert}, r.Signer)
	case GMCMS:
		return gmseal.SignCMS(digest, r.GM.Cert, r.Time, r.Signer)
	}
	return nil, errors.New("no GM mode")
}

// estimateGM is the room reserved for a GM signature: the seal (with its picture) and the
// certificate, the signature value and the structure around them.
func estimateGM(r Request) int {
	return len(r.GM.Seal) + len(r.GM.Cert) + 1024
}

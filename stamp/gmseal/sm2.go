package gmseal

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	"github.com/tjfoc/gmsm/sm2"
	gmx509 "github.com/tjfoc/gmsm/x509"
)

// The signer contract, for every crypto.Signer this package (and stamp's GM modes) is given:
//
//   - Public() returns a *sm2.PublicKey (tjfoc/gmsm).
//   - Sign(rand, msg, opts) gets the whole message to be signed, never a digest, and opts is
//     crypto.Hash(0). The signer computes Z_A with the default user ID 1234567812345678 and
//     e = SM3(Z_A ‖ msg) itself (on the token, or on the host for a raw-SM2 mechanism).
//   - It returns the signature as DER SEQUENCE{r, s}.
//
// This is what tjfoc's sm2.PrivateKey.Sign does, so a software key and a token key are
// interchangeable; the ledger's checkpoints (store/ledger) sign SM2 the same way.
func signSM2(signer crypto.Signer, msg []byte) ([]byte, error) {
	if _, ok := signer.Public().(*sm2.PublicKey); !ok {
		return nil, fmt.Errorf("the key is %T, not an SM2 key: GM seals are signed with SM2", signer.Public())
	}
	sig, err := signer.Sign(rand.Reader, msg, crypto.Hash(0))
	if err != nil {
		return nil, err
	}
	if _, _, err := parseSM2Sig(sig); err != nil {
		return nil, fmt.Errorf("the key returned a signature that is not an SM2 signature: %w", err)
	}
	return sig, nil
}

// parseSM2Sig reads an SM2 signature: DER SEQUENCE{r, s}, or the raw 64-byte r‖s some tokens
// and vendors write.
func parseSM2Sig(sig []byte) (r, s *big.Int, err error) {
	var v struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &v); err == nil && len(rest) == 0 && v.R != nil && v.S != nil {
		return v.R, v.S, nil
	}
	if len(sig) == 64 {
		return new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]), nil
	}
	return nil, nil, errors.New("neither DER SEQUENCE{r,s} nor 64 bytes r‖s")
}

// verifySM2 checks an SM2-with-SM3 signature (default user ID) over msg.
func verifySM2(pub *sm2.PublicKey, msg, sig []byte) bool {
	r, s, err := parseSM2Sig(sig)
	if err != nil {
		return false
	}
	return sm2.Sm2Verify(pub, msg, nil, r, s)
}

// sm2Public is the SM2 key of a certificate parsed by tjfoc's x509.
func sm2Public(c *gmx509.Certificate) (*sm2.PublicKey, error) {
	// tjfoc's x509 gives an *ecdsa.PublicKey on the SM2 curve; the SM2 key is read again from
	// the SubjectPublicKeyInfo.
	if k, ok := c.PublicKey.(*ecdsa.PublicKey); ok && k.Curve == sm2.P256Sm2() {
		return gmx509.ParseSm2PublicKey(c.RawSubjectPublicKeyInfo)
	}
	return nil, fmt.Errorf("the certificate of %q has a %T key, not an SM2 key", c.Subject.CommonName, c.PublicKey)
}

// ParseCertificate reads an SM2 certificate (DER).
func ParseCertificate(der []byte) (*gmx509.Certificate, *sm2.PublicKey, error) {
	c, err := gmx509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("the certificate cannot be read: %w", err)
	}
	pub, err := sm2Public(c)
	if err != nil {
		return nil, nil, err
	}
	return c, pub, nil
}

// ParseCertificatesPEM reads the SM2 certificates of a PEM file (trust anchors).
func ParseCertificatesPEM(b []byte) ([]*gmx509.Certificate, error) {
	var out []*gmx509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		c, err := gmx509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("a certificate cannot be read: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate in it")
	}
	return out, nil
}

// sameKey checks that signer's key is the certificate's key pub.
func sameKey(signer crypto.Signer, pub *sm2.PublicKey) error {
	if k, ok := signer.Public().(*sm2.PublicKey); !ok || k.X.Cmp(pub.X) != 0 || k.Y.Cmp(pub.Y) != 0 {
		return errors.New("the key is not the one the signer's certificate is for: use the seal's key on its token")
	}
	return nil
}

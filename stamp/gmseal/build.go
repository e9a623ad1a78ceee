package gmseal

import (
	"crypto"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// SealSpec is what a seal maker puts in a v4 seal.
type SealSpec struct {
	Vid  string // the maker's vendor ID
	ID   string // esID
	Type int    // 1 official seal
	Name string
	// SignerCerts are the DER certificates allowed to sign with the seal.
	SignerCerts                   [][]byte
	Created, ValidStart, ValidEnd time.Time
	Picture                       Picture
}

// BuildSeal makes a GB/T 38540-2020 (v4) SESeal signed by the maker's key, whose certificate
// (DER) is makerCert. The maker signs DER(SES_SealInfo), as the seals in use do. maker
// follows the signer contract (sm2.go).
func BuildSeal(spec SealSpec, makerCert []byte, maker crypto.Signer) ([]byte, error) {
	if len(spec.SignerCerts) == 0 {
		return nil, errors.New("a seal needs at least one signer certificate")
	}
	if spec.ID == "" || spec.Name == "" || len(spec.Picture.Data) == 0 {
		return nil, errors.New("a seal needs an identifier, a name and a picture")
	}
	if !spec.ValidEnd.After(spec.ValidStart) {
		return nil, fmt.Errorf("the seal's validity ends (%s) before it starts (%s)", day(spec.ValidEnd), day(spec.ValidStart))
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addString(b, cbasn1.IA5String, "ES")
			b.AddASN1Int64(4)
			addString(b, cbasn1.IA5String, spec.Vid)
		})
		addString(b, cbasn1.IA5String, spec.ID)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(int64(spec.Type))
			addString(b, cbasn1.UTF8String, spec.Name)
			b.AddASN1Int64(CertListCerts)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, c := range spec.SignerCerts {
					b.AddASN1OctetString(c)
				}
			})
			for _, t := range []time.Time{spec.Created, spec.ValidStart, spec.ValidEnd} {
				b.AddASN1GeneralizedTime(t.UTC().Truncate(time.Second))
			}
		})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addString(b, cbasn1.IA5String, spec.Picture.Type)
			b.AddASN1OctetString(spec.Picture.Data)
			b.AddASN1Int64(int64(spec.Picture.WidthMM))
			b.AddASN1Int64(int64(spec.Picture.HeightMM))
		})
	})
	info, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	sig, err := signSM2(maker, info)
	if err != nil {
		return nil, fmt.Errorf("the seal maker's key: %w", err)
	}
	return sealed(info, makerCert, sig)
}

// SignSpec is what a v4 seal signature says.
type SignSpec struct {
	// Seal is the SESeal (DER) as issued: it is embedded unchanged.
	Seal []byte
	Time time.Time
	// DataHash is the SM3 digest of the signed data.
	DataHash []byte
	// PropertyInfo names what is signed (free text).
	PropertyInfo string
	// Cert is the signer's certificate (DER); the seal must list it.
	Cert []byte
}

// Sign makes a GB/T 38540-2020 (v4) SES_Signature: the signer's SM2 signature over
// DER(TBS_Sign). signer follows the signer contract (sm2.go).
func Sign(spec SignSpec, signer crypto.Signer) ([]byte, error) {
	seal, err := ParseSeal(spec.Seal)
	if err != nil {
		return nil, err
	}
	if !seal.Lists(spec.Cert) {
		return nil, fmt.Errorf("seal %q (%s) does not list the signer's certificate: it cannot sign with this key", seal.Name, seal.ID)
	}
	_, pub, err := ParseCertificate(spec.Cert)
	if err != nil {
		return nil, fmt.Errorf("the signer's certificate: %w", err)
	}
	if err := sameKey(signer, pub); err != nil {
		return nil, err
	}
	if len(spec.DataHash) != 32 {
		return nil, fmt.Errorf("the data digest is %d bytes, not an SM3 digest", len(spec.DataHash))
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(4)
		b.AddBytes(seal.Raw)
		b.AddASN1GeneralizedTime(spec.Time.UTC().Truncate(time.Second))
		addBits(b, spec.DataHash)
		addString(b, cbasn1.IA5String, spec.PropertyInfo)
	})
	tbs, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	sig, err := signSM2(signer, tbs)
	if err != nil {
		return nil, err
	}
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddASN1OctetString(spec.Cert)
		b.AddASN1ObjectIdentifier(OIDSM2WithSM3)
		addBits(b, sig)
	})
	return out.Bytes()
}

// sealed wraps a signed SES_SealInfo into a v4 SESeal.
func sealed(info, makerCert, sig []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(info)
		b.AddASN1OctetString(makerCert)
		b.AddASN1ObjectIdentifier(OIDSM2WithSM3)
		addBits(b, sig)
	})
	return b.Bytes()
}

func addString(b *cryptobyte.Builder, tag cbasn1.Tag, s string) {
	b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
}

func addBits(b *cryptobyte.Builder, v []byte) {
	b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
		b.AddUint8(0)
		b.AddBytes(v)
	})
}

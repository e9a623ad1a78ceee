package gmseal

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/tjfoc/gmsm/sm2"
	"github.com/tjfoc/gmsm/sm3"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sealkeeper/sealkeeper/stamp/gmseal/gmca"
)

// A GM/T 0031-2014 (v1) seal and seal signature, written here by hand as v1 lays them out
// (UTCTime dates, SES_SignInfo, the signer's certificate inside TBS_Sign, the time as a BIT
// STRING): both parse and verify, and a changed byte of TBS_Sign fails.
func TestV1SignatureRoundTrip(t *testing.T) {
	ca, err := gmca.New("CA")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	mk := func(name string) (*sm2.PrivateKey, []byte) {
		k, _ := sm2.GenerateKey(rand.Reader)
		c, err := ca.Issue(name, "o", &k.PublicKey, now.Add(-time.Hour), now.AddDate(1, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		return k, c
	}
	makerKey, makerCert := mk("maker")
	signerKey, signerCert := mk("signer")
	var info cryptobyte.Builder
	info.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addString(b, cbasn1.IA5String, "ES")
			b.AddASN1Int64(1)
			addString(b, cbasn1.IA5String, "v1test")
		})
		addString(b, cbasn1.IA5String, "V1-0001")
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(1)
			addString(b, cbasn1.UTF8String, "一号章")
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1OctetString(signerCert) })
			b.AddASN1UTCTime(now)
			b.AddASN1UTCTime(now.Add(-time.Minute))
			b.AddASN1UTCTime(now.AddDate(1, 0, 0))
		})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addString(b, cbasn1.IA5String, "PNG")
			b.AddASN1OctetString([]byte("png"))
			b.AddASN1Int64(40)
			b.AddASN1Int64(40)
		})
	})
	infoDER := info.BytesOrPanic()
	var signed cryptobyte.Builder
	signed.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(infoDER)
		b.AddASN1OctetString(makerCert)
		b.AddASN1ObjectIdentifier(OIDSM2WithSM3)
	})
	makerSig, err := signSM2(makerKey, signed.BytesOrPanic())
	if err != nil {
		t.Fatal(err)
	}
	var seal cryptobyte.Builder
	seal.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(infoDER)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1OctetString(makerCert)
			b.AddASN1ObjectIdentifier(OIDSM2WithSM3)
			addBits(b, makerSig)
		})
	})
	sealDER := seal.BytesOrPanic()
	s, err := ParseSeal(sealDER)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyMaker(); err != nil || s.Version != 1 || !s.ValidStart.Equal(now.Add(-time.Minute)) {
		t.Fatalf("v1 seal: %v, %+v", err, s)
	}
	digest := sm3.Sm3Sum([]byte("data"))
	var tbs cryptobyte.Builder
	tbs.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddBytes(sealDER)
		addBits(b, []byte(now.Format("20060102150405Z")))
		addBits(b, digest)
		addString(b, cbasn1.IA5String, "doc.pdf")
		b.AddASN1OctetString(signerCert)
		b.AddASN1ObjectIdentifier(OIDSM2WithSM3)
	})
	tbsDER := tbs.BytesOrPanic()
	sig, err := signSM2(signerKey, tbsDER)
	if err != nil {
		t.Fatal(err)
	}
	build := func(tbs []byte) []byte {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(tbs)
			addBits(b, sig)
		})
		return b.BytesOrPanic()
	}
	g, err := ParseSignature(build(tbsDER))
	if err != nil {
		t.Fatal(err)
	}
	if g.Version != 1 || !g.Time.Equal(now) || g.PropertyInfo != "doc.pdf" {
		t.Fatalf("v1 signature read as %+v", g)
	}
	if _, err := g.Verify(VerifyOptions{Digest: digest}); err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), tbsDER...)
	bad[len(bad)-40] ^= 1 // inside the signer's certificate... or property: either is signed
	if g, err := ParseSignature(build(bad)); err == nil {
		if _, err := g.Verify(VerifyOptions{Digest: digest}); !errors.Is(err, ErrSignature) {
			t.Fatalf("changed TBS_Sign: %v", err)
		}
	}
}

package gmseal

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/tjfoc/gmsm/sm2"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sealkeeper/sealkeeper/stamp/gmseal/gmca"
)

// A seal whose ExtData writes critical BOOLEAN FALSE explicitly (as a real tax-bureau seal
// does; not DER) verifies: its signature is checked over the bytes as received.
func TestNonDERBooleanVerifies(t *testing.T) {
	ca, err := gmca.New("CA")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := sm2.GenerateKey(rand.Reader)
	now := time.Now()
	cert, err := ca.Issue("maker", "o", &key.PublicKey, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addString(b, cbasn1.IA5String, "ES")
			b.AddASN1Int64(4)
			addString(b, cbasn1.IA5String, "GOMAIN")
		})
		addString(b, cbasn1.IA5String, "id")
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(1)
			addString(b, cbasn1.UTF8String, "章")
			b.AddASN1Int64(CertListCerts)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1OctetString(cert) })
			for i := 0; i < 3; i++ {
				b.AddASN1GeneralizedTime(now.UTC().Truncate(time.Second))
			}
		})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addString(b, cbasn1.IA5String, "ofd")
			b.AddASN1OctetString([]byte("<ofd/>"))
			b.AddASN1Int64(40)
			b.AddASN1Int64(40)
		})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(OIDSM3)
				b.AddBytes([]byte{0x01, 0x01, 0x00}) // BOOLEAN FALSE, written although DEFAULT
				b.AddASN1OctetString([]byte("v"))
			})
		})
	})
	info := b.BytesOrPanic()
	sig, err := signSM2(key, info)
	if err != nil {
		t.Fatal(err)
	}
	der, err := sealed(info, cert, sig)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSeal(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Extensions) != 1 || s.Extensions[0].Critical || string(s.Extensions[0].Value) != "v" || s.Picture.Format() != "OFD vector" {
		t.Fatalf("extensions %+v, picture %q", s.Extensions, s.Picture.Format())
	}
	if _, err := s.VerifyMaker(); err != nil {
		t.Fatal(err)
	}
}

package gmseal_test

import (
	"encoding/asn1"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tjfoc/gmsm/sm3"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
)

func TestCMSRoundTripAndTampering(t *testing.T) {
	now := time.Now()
	f := newFixture(t, now.Add(-time.Minute), now.AddDate(1, 0, 0))
	digest := sm3.Sm3Sum([]byte("content"))
	der, err := gmseal.SignCMS(digest, f.signer.cert, now, f.signer.key)
	if err != nil {
		t.Fatal(err)
	}
	if gmseal.Sniff(der) != gmseal.KindCMS || !gmseal.IsGMCMS(der) {
		t.Fatal("a GM SignedData is not told as one")
	}
	// Trailing zeros are the PDF's padding and allowed.
	c, err := gmseal.ParseCMS(append(der, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.Verify(digest, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "测试单位公章" || c.SigningTime.Unix() != now.Unix() {
		t.Fatalf("signer %q, time %v", cert.Subject.CommonName, c.SigningTime)
	}
	if _, err := c.Verify(sm3.Sm3Sum([]byte("other")), time.Time{}); !errors.Is(err, gmseal.ErrDataHash) {
		t.Fatalf("other content: %v", err)
	}
	bad := append([]byte(nil), der...)
	bad[len(bad)-3] ^= 1 // inside the signature value
	if c, err := gmseal.ParseCMS(bad); err == nil {
		if _, err := c.Verify(digest, time.Time{}); !errors.Is(err, gmseal.ErrCMSSignature) {
			t.Fatalf("flipped signature byte: %v", err)
		}
	}
	if _, err := gmseal.SignCMS(digest, f.signer.cert, now, f.maker.key); err == nil {
		t.Fatal("a key other than the certificate's signed")
	}
}

// A SignedData with two SignerInfos is refused: a PDF signature is one signer's.
func TestCMSTwoSignerInfosRefused(t *testing.T) {
	now := time.Now()
	f := newFixture(t, now.Add(-time.Minute), now.AddDate(1, 0, 0))
	der, err := gmseal.SignCMS(make([]byte, 32), f.signer.cert, now, f.signer.key)
	if err != nil {
		t.Fatal(err)
	}
	// Take it apart down to the SignerInfos and put the one SignerInfo in twice.
	in := cryptobyte.String(der)
	var ci, sd, sdSeq, sis cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&oid) || !ci.ReadASN1(&sd, cbasn1.Tag(0).ContextSpecific().Constructed()) || !sd.ReadASN1(&sdSeq, cbasn1.SEQUENCE) {
		t.Fatal("cannot take the SignedData apart")
	}
	var head []cryptobyte.String
	for !sdSeq.Empty() {
		var el cryptobyte.String
		var tag cbasn1.Tag
		if !sdSeq.ReadAnyASN1Element(&el, &tag) {
			t.Fatal("bad element")
		}
		if sdSeq.Empty() {
			sis = el
			sis.ReadASN1(&sis, cbasn1.SET)
			break
		}
		head = append(head, el)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, h := range head {
					b.AddBytes(h)
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddBytes(sis)
					b.AddBytes(sis)
				})
			})
		})
	})
	if _, err := gmseal.ParseCMS(b.BytesOrPanic()); !errors.Is(err, gmseal.ErrMalformed) || !strings.Contains(err.Error(), "more than one SignerInfo") {
		t.Fatalf("two SignerInfos: %v", err)
	}
	if _, err := gmseal.ParseCMS(der); err != nil {
		t.Fatalf("the original no longer parses: %v", err)
	}
}

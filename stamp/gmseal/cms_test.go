package gmseal_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tjfoc/gmsm/sm3"

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

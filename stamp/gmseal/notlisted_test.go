package gmseal

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/tjfoc/gmsm/sm2"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sealkeeper/sealkeeper/stamp/gmseal/gmca"
)

// A seal signature whose own signature is right but whose signer the seal does not list
// (Sign refuses to make one; this one is put together by hand) fails with ErrSignerNotListed.
func TestSignerNotListedInSeal(t *testing.T) {
	ca, err := gmca.New("CA")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	party := func(name string) (*sm2.PrivateKey, []byte) {
		k, _ := sm2.GenerateKey(rand.Reader)
		c, err := ca.Issue(name, "o", &k.PublicKey, now.Add(-time.Hour), now.AddDate(1, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		return k, c
	}
	makerKey, makerCert := party("maker")
	_, ownerCert := party("owner")
	strangerKey, strangerCert := party("stranger")
	seal, err := BuildSeal(SealSpec{Vid: "v", ID: "id", Type: 1, Name: "章", SignerCerts: [][]byte{ownerCert},
		Created: now, ValidStart: now.Add(-time.Minute), ValidEnd: now.AddDate(1, 0, 0),
		Picture: Picture{Type: "PNG", Data: []byte("png"), WidthMM: 40, HeightMM: 40}}, makerCert, makerKey)
	if err != nil {
		t.Fatal(err)
	}
	var tbs cryptobyte.Builder
	tbs.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(4)
		b.AddBytes(seal)
		b.AddASN1GeneralizedTime(now.UTC().Truncate(time.Second))
		addBits(b, make([]byte, 32))
		addString(b, cbasn1.IA5String, "x")
	})
	tbsDER := tbs.BytesOrPanic()
	sig, err := signSM2(strangerKey, tbsDER)
	if err != nil {
		t.Fatal(err)
	}
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbsDER)
		b.AddASN1OctetString(strangerCert)
		b.AddASN1ObjectIdentifier(OIDSM2WithSM3)
		addBits(b, sig)
	})
	g, err := ParseSignature(out.BytesOrPanic())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Verify(VerifyOptions{}); !errors.Is(err, ErrSignerNotListed) {
		t.Fatalf("%v, want ErrSignerNotListed", err)
	}
}

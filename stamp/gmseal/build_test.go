package gmseal_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"errors"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/tjfoc/gmsm/sm2"
	"github.com/tjfoc/gmsm/sm3"
	gmx509 "github.com/tjfoc/gmsm/x509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal/gmca"
)

// party is a key with its certificate from the test CA.
type party struct {
	key  *sm2.PrivateKey
	cert []byte
}

func newParty(t testing.TB, ca *gmca.CA, name string, from, to time.Time) party {
	t.Helper()
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.Issue(name, "测试单位", &k.PublicKey, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return party{k, der}
}

type fixture struct {
	ca            *gmca.CA
	maker, signer party
	seal          []byte
}

func newFixture(t testing.TB, validStart, validEnd time.Time) fixture {
	t.Helper()
	ca, err := gmca.New("GM Test CA")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	f := fixture{ca: ca,
		maker:  newParty(t, ca, "测试制章系统", now.Add(-time.Hour), now.AddDate(5, 0, 0)),
		signer: newParty(t, ca, "测试单位公章", now.Add(-time.Hour), now.AddDate(2, 0, 0)),
	}
	f.seal, err = gmseal.BuildSeal(gmseal.SealSpec{
		Vid: "SealKeeperTest", ID: "1101000000001", Type: 1, Name: "测试单位公章",
		SignerCerts: [][]byte{f.signer.cert}, Created: now, ValidStart: validStart, ValidEnd: validEnd,
		Picture: gmseal.Picture{Type: "png", Data: []byte("\x89PNG not really"), WidthMM: 42, HeightMM: 42},
	}, f.maker.cert, f.maker.key)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f fixture) sign(t *testing.T, data []byte, at time.Time) []byte {
	t.Helper()
	der, err := gmseal.Sign(gmseal.SignSpec{Seal: f.seal, Time: at, DataHash: sm3.Sm3Sum(data), PropertyInfo: "test.pdf", Cert: f.signer.cert}, f.signer.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestBuildSealAndSignV4(t *testing.T) {
	now := time.Now()
	f := newFixture(t, now.Add(-time.Minute), now.AddDate(1, 0, 0))
	s, err := gmseal.ParseSeal(f.seal)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != 4 || s.Name != "测试单位公章" || s.Picture.WidthMM != 42 || !s.Lists(f.signer.cert) {
		t.Fatalf("seal read back as %+v", s)
	}
	if gmseal.Sniff(f.seal) != gmseal.KindSeal {
		t.Fatal("a seal is not sniffed as one")
	}
	data := []byte("the signed bytes")
	der := f.sign(t, data, now)
	if gmseal.Sniff(der) != gmseal.KindSignature {
		t.Fatal("a seal signature is not sniffed as one")
	}
	g, err := gmseal.ParseSignature(der)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g.Seal.Raw, f.seal) {
		t.Fatal("the seal is not embedded unchanged")
	}
	res, err := g.Verify(gmseal.VerifyOptions{Digest: sm3.Sm3Sum(data), Roots: []*gmx509.Certificate{f.ca.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.DigestChecked || !res.Trusted || res.Signer.Subject.CommonName != "测试单位公章" || res.Maker.Subject.CommonName != "测试制章系统" {
		t.Fatalf("result %+v", res)
	}
	if _, err := g.Verify(gmseal.VerifyOptions{Digest: sm3.Sm3Sum([]byte("other bytes"))}); !errors.Is(err, gmseal.ErrDataHash) {
		t.Fatalf("other data: %v, want ErrDataHash", err)
	}
	other, _ := gmca.New("Another CA")
	if res, err := g.Verify(gmseal.VerifyOptions{Roots: []*gmx509.Certificate{other.Cert}}); err != nil || res.Trusted {
		t.Fatalf("another CA's root: err %v, trusted %v", err, res.Trusted)
	}
}

func TestSignatureOutsideSealValidity(t *testing.T) {
	now := time.Now()
	f := newFixture(t, now.Add(-time.Minute), now.Add(time.Hour))
	g, err := gmseal.ParseSignature(f.sign(t, []byte("x"), now.Add(2*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Verify(gmseal.VerifyOptions{}); !errors.Is(err, gmseal.ErrSealValidity) {
		t.Fatalf("signed after the seal's end: %v, want ErrSealValidity", err)
	}
}

func TestSignerCertificateExpiredAtSigning(t *testing.T) {
	now := time.Now()
	f := newFixture(t, now.Add(-time.Minute), now.AddDate(5, 0, 0))
	g, err := gmseal.ParseSignature(f.sign(t, []byte("x"), now.AddDate(3, 0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Verify(gmseal.VerifyOptions{}); !errors.Is(err, gmseal.ErrSignerCert) {
		t.Fatalf("signed after the certificate's end: %v, want ErrSignerCert", err)
	}
}

// A key the seal does not list cannot sign with it, and a signature made by swapping in
// another certificate is refused.
func TestSignerNotListed(t *testing.T) {
	now := time.Now()
	f := newFixture(t, now.Add(-time.Minute), now.AddDate(1, 0, 0))
	stranger := newParty(t, f.ca, "陌生人", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	_, err := gmseal.Sign(gmseal.SignSpec{Seal: f.seal, Time: now, DataHash: make([]byte, 32), Cert: stranger.cert}, stranger.key)
	if err == nil {
		t.Fatal("signed with a seal that does not list the certificate")
	}
	// The same TBS_Sign and value, with the stranger's certificate put in.
	in := cryptobyte.String(f.sign(t, []byte("x"), now))
	var seq, tbs, cert, rest cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1Element(&tbs, cbasn1.SEQUENCE) || !seq.ReadASN1(&cert, cbasn1.OCTET_STRING) {
		t.Fatal("cannot take the signature apart")
	}
	rest = seq
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddASN1OctetString(stranger.cert)
		b.AddBytes(rest)
	})
	g, err := gmseal.ParseSignature(b.BytesOrPanic())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Verify(gmseal.VerifyOptions{}); !errors.Is(err, gmseal.ErrSignature) {
		t.Fatalf("certificate swapped: %v, want ErrSignature", err)
	}
}

// rawSigner returns r‖s (64 bytes) as some tokens do; the verifier accepts it.
type rawSigner struct{ *sm2.PrivateKey }

func (r rawSigner) Sign(rnd io.Reader, msg []byte, _ crypto.SignerOpts) ([]byte, error) {
	a, b, err := sm2.Sm2Sign(r.PrivateKey, msg, nil, rnd)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 64)
	a.FillBytes(out[:32])
	b.FillBytes(out[32:])
	return out, nil
}

func TestRawSignatureAccepted(t *testing.T) {
	now := time.Now()
	f := newFixture(t, now.Add(-time.Minute), now.AddDate(1, 0, 0))
	der, err := gmseal.Sign(gmseal.SignSpec{Seal: f.seal, Time: now, DataHash: make([]byte, 32), Cert: f.signer.cert}, rawSigner{f.signer.key})
	if err != nil {
		t.Fatal(err)
	}
	g, err := gmseal.ParseSignature(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Value) != 64 {
		t.Fatalf("value is %d bytes", len(g.Value))
	}
	if _, err := g.Verify(gmseal.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	// One changed bit of the raw value fails.
	g.Value[63] ^= 1
	if _, err := g.Verify(gmseal.VerifyOptions{}); !errors.Is(err, gmseal.ErrSignature) {
		t.Fatalf("%v, want ErrSignature", err)
	}
}

// A key that is not SM2 is refused before anything is signed.
func TestNonSM2KeyRefused(t *testing.T) {
	now := time.Now()
	f := newFixture(t, now.Add(-time.Minute), now.AddDate(1, 0, 0))
	_, err := gmseal.Sign(gmseal.SignSpec{Seal: f.seal, Time: now, DataHash: make([]byte, 32), Cert: f.signer.cert}, notSM2{})
	if err == nil {
		t.Fatal("a non-SM2 key signed a GM seal")
	}
}

type notSM2 struct{}

func (notSM2) Public() crypto.PublicKey { return big.NewInt(1) }
func (notSM2) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("never called")
}

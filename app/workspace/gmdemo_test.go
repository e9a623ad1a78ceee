package workspace_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"testing"
	"time"

	"github.com/tjfoc/gmsm/sm2"
	"github.com/tjfoc/gmsm/sm3"

	"github.com/sealkeeper/sealkeeper/app/workspace"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
)

// The GM demo seal: an SM2 certificate for the given key from the demo SM2 CA, and a v4 seal
// from the demo seal maker that lists it; a seal signature made with the key verifies and
// chains to the CA written in the workspace; another key cannot use the seal.
func TestGMDemoSeal(t *testing.T) {
	dir := t.TempDir()
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	g, err := workspace.MakeGMDemoSeal(dir, key, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{g.CA, g.Cert, g.Seal} {
		if _, err := os.Stat(f); err != nil {
			t.Fatal(err)
		}
	}
	onDisk, _ := os.ReadFile(g.Seal)
	if !bytes.Equal(onDisk, g.SealDER) {
		t.Fatal("the seal file is not the seal returned")
	}
	s, err := gmseal.ParseSeal(onDisk)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != 4 || s.Picture.Format() != "PNG" || !s.Lists(g.CertDER) {
		t.Fatalf("seal %+v", s)
	}
	pem, _ := os.ReadFile(g.CA)
	roots, err := gmseal.ParseCertificatesPEM(pem)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("document")
	der, err := gmseal.Sign(gmseal.SignSpec{Seal: g.SealDER, Time: time.Now(), DataHash: sm3.Sm3Sum(data), PropertyInfo: "doc", Cert: g.CertDER}, key)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := gmseal.ParseSignature(der)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sig.Verify(gmseal.VerifyOptions{Digest: sm3.Sm3Sum(data), Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Trusted {
		t.Fatalf("not trusted: %s", res.TrustError)
	}
	other, _ := sm2.GenerateKey(rand.Reader)
	if _, err := gmseal.Sign(gmseal.SignSpec{Seal: g.SealDER, Time: time.Now(), DataHash: sm3.Sm3Sum(data), Cert: g.CertDER}, other); err == nil {
		t.Fatal("another key signed with the demo seal")
	}
}

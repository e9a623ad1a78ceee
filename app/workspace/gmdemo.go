package workspace

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tjfoc/gmsm/sm2"
	gmx509 "github.com/tjfoc/gmsm/x509"

	"github.com/sealkeeper/sealkeeper/assets"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal/gmca"
	"github.com/sealkeeper/sealkeeper/store/atomic"
)

// GMDemoSeal is what MakeGMDemoSeal made: the files of a GM demo seal.
type GMDemoSeal struct {
	// CA is the SM2 demo CA's certificate (PEM file): the trust anchor for GM seals.
	CA string
	// Cert is the signer's SM2 certificate (DER file), issued by the CA for the signer's key.
	Cert string
	// Seal is the v4 SESeal (DER file) the demo seal maker issued for that certificate.
	Seal string
	// SealDER and CertDER are the same bytes as the files.
	SealDER, CertDER []byte
}

// MakeGMDemoSeal makes the GM side of a demo under dir for the SM2 key signer (a token's key,
// or any crypto.Signer following gmseal's signer contract): an SM2 demo CA (dir/gm-ca.pem, its
// key in dir/gm-ca-key.pem, 0600), a certificate for signer (dir/gm-cert.der), and a v4 seal
// (dir/gm-seal.esl) issued by a demo seal maker (its own SM2 key, certified by the same CA,
// made here and not kept) with the demo seal's picture, listing that certificate.
//
// The maker's key is thrown away: a real seal maker is another institution, and the demo never
// issues a second seal from the same maker.
func MakeGMDemoSeal(dir string, signer crypto.Signer, out io.Writer) (*GMDemoSeal, error) {
	if _, ok := signer.Public().(*sm2.PublicKey); !ok {
		return nil, fmt.Errorf("a GM demo seal needs an SM2 key; this key is %T", signer.Public())
	}
	ca, err := gmca.New("SealKeeper Demo SM2 CA")
	if err != nil {
		return nil, err
	}
	now := time.Now()
	certDER, err := ca.Issue(demoOrg+"公章 (SealKeeper Demo SM2)", demoOrg, signer.Public(), now.Add(-time.Hour), now.AddDate(2, 0, 0))
	if err != nil {
		return nil, err
	}
	makerKey, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	makerCert, err := ca.Issue("SealKeeper 示范制章系统", "SealKeeper Demo", &makerKey.PublicKey, now.Add(-time.Hour), now.AddDate(5, 0, 0))
	if err != nil {
		return nil, err
	}
	img, err := assets.DemoSeal(demoOrg, demoPurpose, 512)
	if err != nil {
		return nil, fmt.Errorf("drawing the demo seal: %w", err)
	}
	var pic bytes.Buffer
	if err := png.Encode(&pic, img); err != nil {
		return nil, err
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	sealDER, err := gmseal.BuildSeal(gmseal.SealSpec{
		Vid: "SealKeeperDemo", ID: "DEMO" + hex.EncodeToString(id), Type: 1, Name: demoOrg + demoPurpose,
		SignerCerts: [][]byte{certDER}, Created: now, ValidStart: now.Add(-time.Hour), ValidEnd: now.AddDate(2, 0, 0),
		Picture: gmseal.Picture{Type: "PNG", Data: pic.Bytes(), WidthMM: 42, HeightMM: 42},
	}, makerCert, makerKey)
	if err != nil {
		return nil, fmt.Errorf("making the demo GM seal: %w", err)
	}
	caKeyDER, err := gmx509.MarshalSm2UnecryptedPrivateKey(ca.Key)
	if err != nil {
		return nil, err
	}
	g := &GMDemoSeal{
		CA: filepath.Join(dir, "gm-ca.pem"), Cert: filepath.Join(dir, "gm-cert.der"), Seal: filepath.Join(dir, "gm-seal.esl"),
		SealDER: sealDER, CertDER: certDER,
	}
	files := []struct {
		path string
		data []byte
		perm os.FileMode
	}{
		{g.CA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), 0o644},
		{filepath.Join(dir, "gm-ca-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: caKeyDER}), 0o600},
		{g.Cert, certDER, 0o644},
		{g.Seal, sealDER, 0o644},
	}
	for _, f := range files {
		if err := atomic.WriteFile(f.path, f.data, f.perm); err != nil {
			return nil, fmt.Errorf("writing the GM demo seal: %w", err)
		}
	}
	fmt.Fprintf(out, "GM seal:         %s (v4 SESeal, %s), SM2 certificate %s, issued by %s\n", g.Seal, demoOrg+demoPurpose, g.Cert, ca.Cert.Subject.CommonName)
	return g, nil
}

package usecase_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"testing"
	"time"

	"github.com/tjfoc/gmsm/sm2"
	gmx509 "github.com/tjfoc/gmsm/x509"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal/gmca"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// An approved document stamped with a GM seal (SM2 software key standing in for the token's;
// SES mode) goes the whole desk path: ticket check, intent, signing, done; the file carries a
// GB/T 38540 seal signature that the verifier accepts and that chains to the SM2 CA.
func TestDeskStampsGMSeal(t *testing.T) {
	d := newDay(t, nil)
	id := d.add(t, "关于国密印章的通知", 1)
	d.syncOnce(t)

	ca, err := gmca.New("GM Test CA")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	key, _ := sm2.GenerateKey(rand.Reader)
	maker, _ := sm2.GenerateKey(rand.Reader)
	certDER, err := ca.Issue("测试单位公章", "测试单位", &key.PublicKey, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	makerCert, err := ca.Issue("测试制章系统", "测试", &maker.PublicKey, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	seal, err := gmseal.BuildSeal(gmseal.SealSpec{Vid: "t", ID: "GM-1", Type: 1, Name: "测试单位公章", SignerCerts: [][]byte{certDER},
		Created: now, ValidStart: now.Add(-time.Hour), ValidEnd: now.AddDate(1, 0, 0),
		Picture: gmseal.Picture{Type: "PNG", Data: pdftest.SealPNG(64), WidthMM: 42, HeightMM: 42}}, makerCert, maker)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := gmx509.ParseCertificate(certDER)
	if err != nil {
		t.Fatal(err)
	}
	gmSeal := usecase.Seal{Signer: key, Chain: []*x509.Certificate{cert.ToX509Certificate()}, Custodian: "张伟", Token: d.seal.Token,
		GM: &stamp.GM{Mode: stamp.GMSES, Seal: seal, Cert: certDER}}
	res, err := d.desk.Stamp(context.Background(), gmSeal, d.request(t, id, 1))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.File(res.Out, verify.Options{GMRoots: []*gmx509.Certificate{ca.Cert}})
	if err != nil || !rep.Valid || !rep.Trusted || len(rep.Signatures) != 1 || rep.Signatures[0].Format != verify.FormatSES {
		t.Fatalf("stamped file: %+v, %v", rep, err)
	}
	if k := d.kinds(t, id); k[ledger.KindStampIntent] != 1 || k[ledger.KindStampDone] != 1 {
		t.Fatalf("ledger for %s: %v", id, k)
	}
	// The result screen's check trusts the SM2 CA configured for GM seals, and names the signer
	// as it does for PAdES.
	desk := usecase.NewDesk(usecase.DeskConfig{Keys: usecase.NewKeys(usecase.KeysConfig{GMAnchors: []*gmx509.Certificate{ca.Cert}})})
	v, err := desk.Verify(res.Out)
	if err != nil || !v.Valid || !v.Trusted || v.Signer != "测试单位公章" {
		t.Fatalf("Desk.Verify: %+v, %v", v, err)
	}
}

package usecase_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/tjfoc/gmsm/sm2"
	gmx509 "github.com/tjfoc/gmsm/x509"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device/gmtoken/gmtokentest"
	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal/gmca"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
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
	certDER, err := ca.Issue("测试单位公章", "测试单位", &key.PublicKey, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	seal := makeGMSeal(t, ca, "GM-1", "测试单位公章", certDER)
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

// The join of the GM token and the GM seal: the SM2 key on our PKCS#11 module (device's SM2
// signer, through the key use case) signs a GM seal in both modes; a seal from a test maker
// lists a certificate for the token's key, and the verifier accepts and trusts both files.
// The certificate is issued here: gmtokentest's own certificate is signed over SM3(TBS) hashed
// once more by the signer (its template names no SignatureAlgorithm, so tjfoc's
// CreateCertificate hashes first), and does not chain under tjfoc's x509.
func TestGMSealSignedOnToken(t *testing.T) {
	tok, k := startGM(t)
	waitPhase(t, k, usecase.KeyPresent)
	if err := k.Login(tok.UserPIN); err != nil {
		t.Fatal(err)
	}
	signer, _, err := k.Signer()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := gmca.New("Seal maker CA")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	certDER, err := ca.Issue("令牌印章", "测试", signer.Public(), now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	seal := makeGMSeal(t, ca, "GM-TOKEN-1", "令牌印章", certDER)
	in := pdftest.PDF(pdftest.Options{Pages: 1})
	doc, err := pdftest.Inspect("in.pdf", in)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := placement.AtViewMM(doc.Pages[0].Page, 100, 100, placement.Size{W: 119, H: 119})
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []stamp.GMMode{stamp.GMSES, stamp.GMCMS} {
		res, err := stamp.Sign(context.Background(), doc, bytes.NewReader(in), stamp.Request{Placement: pl, Image: pdftest.Seal(128), Signer: signer,
			GM: &stamp.GM{Mode: mode, Seal: seal, Cert: certDER}})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		out := append(append([]byte(nil), in...), res.Update...)
		rep, err := verify.Bytes("out.pdf", out, verify.Options{GMRoots: []*gmx509.Certificate{ca.Cert}})
		if err != nil || !rep.Valid || !rep.Trusted || len(rep.Signatures) != 1 {
			t.Fatalf("%s: %+v, %v", mode, rep, err)
		}
	}
}

// Keys.Seal on an SM2 key gives a GM seal as the configuration says (KeysConfig.GMSeal, which
// the workspace fills from [seal] gm_mode and gm_seal), and refuses to make one up without it:
// the seal the window and the command line stamp with is then a GM seal, signed on the token.
func TestKeysSealIsGMOnAnSM2Key(t *testing.T) {
	tok := gmtokentest.New(t)
	var asked []byte
	var made *stamp.GM
	ca, err := gmca.New("Seal maker CA")
	if err != nil {
		t.Fatal(err)
	}
	// Keys.Seal calls it on the test's goroutine.
	k, _ := runKeys(t, tok.Open(t), usecase.KeysConfig{Now: time.Now, GMSeal: func(der []byte) (*stamp.GM, error) {
		asked = der
		made = &stamp.GM{Mode: stamp.GMSES, Seal: makeGMSeal(t, ca, "GM-CFG-1", "配置的印章", der), Cert: der}
		return made, nil
	}})
	waitPhase(t, k, usecase.KeyPresent)
	if err := k.Login(tok.UserPIN); err != nil {
		t.Fatal(err)
	}
	s, err := k.Seal()
	if err != nil {
		t.Fatal(err)
	}
	if s.GM != made || !bytes.Equal(asked, s.Cert().Raw) || len(s.Chain) != 1 {
		t.Fatalf("Seal on an SM2 key: GM %v (made %v), asked for %d bytes, chain %d", s.GM, made, len(asked), len(s.Chain))
	}
	in := pdftest.PDF(pdftest.Options{Pages: 1})
	doc, err := pdftest.Inspect("in.pdf", in)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := placement.AtViewMM(doc.Pages[0].Page, 100, 100, placement.Size{W: 119, H: 119})
	if err != nil {
		t.Fatal(err)
	}
	res, err := stamp.Sign(context.Background(), doc, bytes.NewReader(in), stamp.Request{Placement: pl, Image: pdftest.Seal(128), Signer: s.Signer, GM: s.GM})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Bytes("out.pdf", append(append([]byte(nil), in...), res.Update...), verify.Options{})
	if err != nil || len(rep.Signatures) != 1 || !rep.Signatures[0].Intact {
		t.Fatalf("the GM seal signed on the token: %+v, %v", rep, err)
	}
}

// Without a GM configuration an SM2 key does not stamp, and the refusal says what to set.
func TestKeysSealRefusesAnSM2KeyWithoutGMConfig(t *testing.T) {
	bare := gmtokentest.New(t)
	k2, _ := runKeys(t, bare.Open(t), usecase.KeysConfig{Now: time.Now})
	waitPhase(t, k2, usecase.KeyPresent)
	if err := k2.Login(bare.UserPIN); err != nil {
		t.Fatal(err)
	}
	if _, err := k2.Seal(); err == nil || !strings.Contains(err.Error(), "gm_mode") {
		t.Fatalf("an SM2 key with no GM configuration: %v", err)
	}
}

// makeGMSeal is a v4 seal (SESeal) for the signer certificate signerCert, made by a seal maker
// whose certificate ca issues, valid from an hour ago for a year.
func makeGMSeal(t *testing.T, ca *gmca.CA, id, name string, signerCert []byte) []byte {
	t.Helper()
	now := time.Now()
	maker, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	makerCert, err := ca.Issue("测试制章系统", "测试", &maker.PublicKey, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	seal, err := gmseal.BuildSeal(gmseal.SealSpec{Vid: "t", ID: id, Type: 1, Name: name, SignerCerts: [][]byte{signerCert},
		Created: now, ValidStart: now.Add(-time.Hour), ValidEnd: now.AddDate(1, 0, 0),
		Picture: gmseal.Picture{Type: "PNG", Data: pdftest.SealPNG(64), WidthMM: 42, HeightMM: 42}}, makerCert, maker)
	if err != nil {
		t.Fatal(err)
	}
	return seal
}

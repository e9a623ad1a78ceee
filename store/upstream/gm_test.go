package upstream_test

import (
	"context"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tjfoc/gmsm/sm2"
	gmx509 "github.com/tjfoc/gmsm/x509"

	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal/gmca"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// gmSigner is an SM2 software key with its certificate from ca and a v4 seal (SESeal) from a
// seal maker ca also issues, listing that certificate.
type gmSigner struct {
	key  *sm2.PrivateKey
	cert []byte
	seal []byte
}

func newGMSigner(t *testing.T, ca *gmca.CA, name string) gmSigner {
	t.Helper()
	now := time.Now()
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(name, "测试单位", &key.PublicKey, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	maker, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	makerCert, err := ca.Issue("测试制章系统", "测试", &maker.PublicKey, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	seal, err := gmseal.BuildSeal(gmseal.SealSpec{Vid: "t", ID: "GM-" + name, Type: 1, Name: name, SignerCerts: [][]byte{cert},
		Created: now, ValidStart: now.Add(-time.Hour), ValidEnd: now.AddDate(1, 0, 0),
		Picture: gmseal.Picture{Type: "PNG", Data: pdftest.SealPNG(64), WidthMM: 42, HeightMM: 42}}, makerCert, maker)
	if err != nil {
		t.Fatal(err)
	}
	return gmSigner{key: key, cert: cert, seal: seal}
}

// stampGM seals page 1 of in into out with g in mode, and checks the file: qpdf finds it sound
// and mutool lists one signature (neither checks SM2), and our verifier finds the GM signature
// intact and trusted under ca.
func stampGM(t *testing.T, in, out string, g gmSigner, mode stamp.GMMode, ca *gmca.CA) {
	t.Helper()
	pl, err := placement.AtPoint(placement.Page{Number: 1, Crop: placement.Rect{X1: 595, Y1: 842}}, 450, 150, placement.Size{W: 119, H: 119}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stamp.SignFile(context.Background(), in, out, false, stamp.Request{Placement: pl, Image: pdftest.Seal(240), Signer: g.key,
		GM: &stamp.GM{Mode: mode, Seal: g.seal, Cert: g.cert}}); err != nil {
		t.Fatal(err)
	}
	pdftest.QpdfCheck(t, out)
	if _, total, msg := pdftest.MutoolVerify(t, out); total != 1 {
		t.Fatalf("mutool lists %d signatures in the GM stamped file (%s):\n%s", total, mode, msg)
	}
	rep, err := verify.File(out, verify.Options{GMRoots: []*gmx509.Certificate{ca.Cert}})
	if err != nil || !rep.Valid || !rep.Trusted || len(rep.Signatures) != 1 {
		t.Fatalf("GM stamped file (%s): %+v, %v", mode, rep, err)
	}
}

// TestGMStampedResultMustBeSignedBySealCertificate: the hub used to read seal certificates with
// crypto/x509 only, which refuses SM2, so a GM seal could list no certificate and a "stamped"
// result was taken for any valid signature. Now `hub seal --cert` takes an SM2 certificate,
// the seal list gives its SHA-256, and a GM stamping (GB/T 38540 seal signature, and GM/T 0010
// CMS) is recorded only when its signer is that certificate: one by another SM2 certificate
// from the same CA (valid signature, trusted chain, wrong seal) is refused naming the seal.
func TestGMStampedResultMustBeSignedBySealCertificate(t *testing.T) {
	p := newPKI(t)
	th := startHub(t, hub.Options{}, p.serverTLS())
	ctx := context.Background()
	ca, err := gmca.New("GM Test CA")
	if err != nil {
		t.Fatal(err)
	}
	seal, other := newGMSigner(t, ca, "测试单位公章"), newGMSigner(t, ca, "另一单位公章")
	if err := th.H.SetSeal(upstream.SealStatus{ID: "SEAL-1", Status: upstream.SealActive}); err != nil {
		t.Fatal(err)
	}
	if err := th.H.SetSealCertificate("SEAL-1", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: seal.cert})); err != nil {
		t.Fatalf("listing an SM2 seal certificate: %v", err)
	}
	if err := th.H.SetSealCertificate("SEAL-1", []byte("not a certificate")); err == nil || !strings.Contains(err.Error(), "seal SEAL-1") {
		t.Errorf("listing bytes that are no certificate: %v", err)
	}
	a, _ := enrolled(t, th, p, "WS-A")
	list, err := a.Seals(ctx)
	if err != nil || len(list.Seals) != 1 || list.Seals[0].CertSHA256 != upstream.CertHash(seal.cert) {
		t.Fatalf("the seal list after listing the SM2 certificate: %+v, %v", list, err)
	}

	dir := t.TempDir()
	report := func(d upstream.Document, g gmSigner, mode stamp.GMMode, name string) error {
		t.Helper()
		orig, out := filepath.Join(dir, d.ID+".pdf"), filepath.Join(dir, name)
		if _, err := os.Stat(orig); err != nil {
			if err := a.Download(ctx, d.SHA256, d.Size, orig); err != nil {
				t.Fatal(err)
			}
		}
		stampGM(t, orig, out, g, mode, ca)
		sha, size, err := a.Upload(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		return a.PostResult(ctx, upstream.Result{DocumentID: d.ID, TicketID: ticketOf(t, d), Outcome: upstream.OutcomeStamped, OutputSHA256: sha, OutputSize: size})
	}
	for _, mode := range []stamp.GMMode{stamp.GMSES, stamp.GMCMS} {
		d := addDocFor(t, th.H, "WS-A", "国密通知 "+string(mode), 1)
		err := report(d, other, mode, "other-"+string(mode)+".pdf")
		if serverCode(err) != upstream.CodeNotStamped || !strings.Contains(err.Error(), "not by the certificate of seal SEAL-1") || !strings.Contains(err.Error(), "另一单位公章") {
			t.Errorf("%s: a valid signature by another SM2 certificate: want not_stamped naming SEAL-1 and the signer, got %v", mode, err)
		}
		if err := report(d, seal, mode, "real-"+string(mode)+".pdf"); err != nil {
			t.Errorf("%s: a stamping by the seal's SM2 certificate: %v", mode, err)
		}
	}
	docs, err := th.H.Documents()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if d.State != hub.StateStamped {
			t.Errorf("document %s (%s): %s, want stamped", d.ID, d.Title, d.State)
		}
	}
}

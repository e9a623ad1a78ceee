package stamp_test

import (
	"crypto/rand"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/tjfoc/gmsm/sm2"
	gmx509 "github.com/tjfoc/gmsm/x509"

	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal/gmca"
	"github.com/sealkeeper/sealkeeper/stamp/pades/padestest"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
)

// gmIdentity is an SM2 seal key (tjfoc) with its certificate and a v4 seal from a test maker.
type gmIdentity struct {
	key  *sm2.PrivateKey
	cert []byte
	seal []byte
	ca   *gmca.CA
}

func newGMIdentity(t testing.TB) gmIdentity {
	t.Helper()
	ca, err := gmca.New("GM Test CA")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	key, _ := sm2.GenerateKey(rand.Reader)
	maker, _ := sm2.GenerateKey(rand.Reader)
	cert, err := ca.Issue("测试单位公章", "测试单位", &key.PublicKey, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	makerCert, err := ca.Issue("测试制章系统", "测试", &maker.PublicKey, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	seal, err := gmseal.BuildSeal(gmseal.SealSpec{Vid: "test", ID: "T1", Type: 1, Name: "测试单位公章", SignerCerts: [][]byte{cert},
		Created: now, ValidStart: now.Add(-time.Hour), ValidEnd: now.AddDate(1, 0, 0),
		Picture: gmseal.Picture{Type: "PNG", Data: pdftest.SealPNG(64), WidthMM: 42, HeightMM: 42}}, makerCert, maker)
	if err != nil {
		t.Fatal(err)
	}
	return gmIdentity{key, cert, seal, ca}
}

func (g gmIdentity) request(mode stamp.GMMode, r stamp.Request) stamp.Request {
	r.Image, r.Signer = sealImg, g.key
	r.GM = &stamp.GM{Mode: mode, Seal: g.seal, Cert: g.cert}
	return r
}

// checkOutside: pdfsig and mutool (which know no SM2) parse the file and list the signature
// field; qpdf finds no damage.
func checkOutside(t *testing.T, path string, wantSigs int) {
	t.Helper()
	if _, total, out := pdftest.Pdfsig(t, path); total != wantSigs {
		t.Errorf("pdfsig lists %d signatures, want %d\n%s", total, wantSigs, out)
	}
	if _, total, out := pdftest.MutoolVerify(t, path); total != wantSigs {
		t.Errorf("mutool lists %d signatures, want %d\n%s", total, wantSigs, out)
	}
	pdftest.QpdfCheck(t, path)
}

// A GM seal in SES mode: the same incremental update and appearance as PAdES, a GB/T 38540
// SES_Signature in /Contents; our verifier accepts it and trusts the GM CA; a flipped byte in
// the signed range fails it.
func TestGMSealSES(t *testing.T) {
	g := newGMIdentity(t)
	in := pdftest.PDF(pdftest.Options{Pages: 2})
	doc := read(t, in)
	out := stampOnce(t, in, g.request(stamp.GMSES, stamp.Request{Placement: centre(t, doc, 2)}))
	path := write(t, "gm.pdf", out)
	rep, err := verify.File(path, verify.Options{GMRoots: []*gmx509.Certificate{g.ca.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) != 1 || !rep.Valid || !rep.Trusted {
		t.Fatalf("report %+v", rep)
	}
	s := rep.Signatures[0]
	if s.Format != verify.FormatSES || s.SubFilter != stamp.GMSubFilter || s.Signer != "测试单位公章" || s.Seal == nil || s.Seal.Name != "测试单位公章" || s.Seal.Maker != "测试制章系统" || !s.CertValid || len(s.Widgets) != 1 || s.Widgets[0].ImageW == 0 {
		t.Fatalf("signature %+v", s)
	}
	checkOutside(t, path, 1)
	showsSeal(t, path, doc.Pages[1].Page, s.Widgets[0].Rect)

	// A byte of the original document flipped (inside the signed range): not valid.
	bad := append([]byte(nil), out...)
	bad[len(in)/2] ^= 0x01
	rep, err = verify.File(write(t, "bad.pdf", bad), verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Valid || rep.Signatures[0].Intact || !strings.Contains(strings.Join(rep.Signatures[0].Problems, ";"), gmseal.ErrDataHash.Error()) {
		t.Fatalf("flipped byte: %+v", rep.Signatures[0])
	}
}

// A PAdES seal added after a GM seal keeps both valid, each checked as what it is.
func TestPAdESAfterGMSeal(t *testing.T) {
	g := newGMIdentity(t)
	id := padestest.NewIdentity(t, padestest.ECDSA)
	in := pdftest.PDF(pdftest.Options{Pages: 1})
	doc := read(t, in)
	one := stampOnce(t, in, g.request(stamp.GMSES, stamp.Request{Placement: centre(t, doc, 1)}))
	two := stampOnce(t, one, request(id, centre(t, read(t, one), 1)))
	path := write(t, "two.pdf", two)
	rep, err := verify.File(path, verify.Options{Roots: []*x509.Certificate{id.Root}, GMRoots: []*gmx509.Certificate{g.ca.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) != 2 || !rep.Valid || !rep.Trusted {
		t.Fatalf("report %+v", rep)
	}
	if rep.Signatures[0].Format != verify.FormatSES || rep.Signatures[1].Format != verify.FormatCMS || rep.Signatures[0].CoversFile {
		t.Fatalf("formats %q, %q", rep.Signatures[0].Format, rep.Signatures[1].Format)
	}
	checkOutside(t, path, 2)
}

// The seal must list the key's certificate, and the key must be SM2.
func TestGMSealRefusals(t *testing.T) {
	g := newGMIdentity(t)
	other := newGMIdentity(t)
	in := pdftest.PDF(pdftest.Options{Pages: 1})
	doc := read(t, in)
	r := g.request(stamp.GMSES, stamp.Request{Placement: centre(t, doc, 1)})
	r.GM.Seal = other.seal
	if _, err := trySign(in, r); err == nil || !strings.Contains(err.Error(), "does not list") {
		t.Fatalf("another seal: %v", err)
	}
	id := padestest.NewIdentity(t, padestest.ECDSA)
	r = g.request(stamp.GMSES, stamp.Request{Placement: centre(t, doc, 1)})
	r.Signer = id.Signer
	if _, err := trySign(in, r); err == nil || !strings.Contains(err.Error(), "needs an SM2 key") {
		t.Fatalf("an ECDSA key: %v", err)
	}
}

// A GM seal in CMS mode: a GM/T 0010 SignedData (SM2/SM3) under /adbe.pkcs7.detached; our
// verifier accepts it and trusts the GM CA; a flipped byte in the signed range fails it.
func TestGMSealCMS(t *testing.T) {
	g := newGMIdentity(t)
	in := pdftest.PDF(pdftest.Options{Pages: 1})
	doc := read(t, in)
	out := stampOnce(t, in, g.request(stamp.GMCMS, stamp.Request{Placement: centre(t, doc, 1)}))
	path := write(t, "gmcms.pdf", out)
	rep, err := verify.File(path, verify.Options{GMRoots: []*gmx509.Certificate{g.ca.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) != 1 || !rep.Valid || !rep.Trusted {
		t.Fatalf("report %+v", rep)
	}
	s := rep.Signatures[0]
	if s.Format != verify.FormatGMCMS || s.SubFilter != "adbe.pkcs7.detached" || s.Signer != "测试单位公章" || s.TimeSource != "claimed (signed attribute)" || !s.CertValid {
		t.Fatalf("signature %+v", s)
	}
	checkOutside(t, path, 1)
	showsSeal(t, path, doc.Pages[0].Page, s.Widgets[0].Rect)

	bad := append([]byte(nil), out...)
	bad[len(in)/2] ^= 0x01
	rep, err = verify.File(write(t, "bad.pdf", bad), verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Valid || rep.Signatures[0].Intact || !strings.Contains(strings.Join(rep.Signatures[0].Problems, ";"), gmseal.ErrDataHash.Error()) {
		t.Fatalf("flipped byte: %+v", rep.Signatures[0])
	}
}

package ui

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/tjfoc/gmsm/sm2"
	gmx509 "github.com/tjfoc/gmsm/x509"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device/gmtoken/gmtokentest"
	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal/gmca"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
)

// The result screen after a GM stamping (an SM2 key on the GM token, a GB/T 38540 seal from a
// seal maker, the ledger's slot on the SM2 key): the same rows as after a PAdES stamping, in the
// same words, with the format the verifier found in /Contents and the GM seal it carries.
func TestResultScreenShowsGMSeal(t *testing.T) {
	tok := gmtokentest.New(t)
	maker, err := gmca.New("Seal maker CA")
	if err != nil {
		t.Fatal(err)
	}
	makerKey, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	makerDER, err := maker.Issue("示范制章系统", "Seal maker", &makerKey.PublicKey, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	seal, err := gmseal.BuildSeal(gmseal.SealSpec{
		Vid: "UITest", ID: "GM-UI-1", Type: 1, Name: "界面测试印章",
		SignerCerts: [][]byte{tok.Cert.Raw}, Created: now, ValidStart: now.Add(-time.Hour), ValidEnd: now.AddDate(1, 0, 0),
		Picture: gmseal.Picture{Type: "PNG", Data: pdftest.SealPNG(64), WidthMM: 42, HeightMM: 42},
	}, makerDER, makerKey)
	if err != nil {
		t.Fatal(err)
	}
	w := newDeskWindowOn(t, "WS-UI-GM", deskKey{m: tok.Open(t), pub: tok.Public, pin: tok.UserPIN, keys: usecase.KeysConfig{
		GMAnchors: []*gmx509.Certificate{tok.CA, maker.Cert},
		GMSeal: func(der []byte) (*stamp.GM, error) {
			return &stamp.GM{Mode: stamp.GMSES, Seal: seal, Cert: der}, nil
		},
	}}, nil)
	u, q := w.u, w.u.queue
	w.login(t, 5)
	u.mu.Lock()
	q.list.Select(0)
	u.mu.Unlock()
	eventually(t, u, "Stamp is enabled", func() bool { return q.sel == 0 && !q.stamp.Disabled() && q.problem.Text == "" })
	first := q.items[0]
	test.Tap(q.stamp)
	p := q.preview
	if p == nil {
		t.Fatalf("Place seal opened no preview: %q", q.problem.Text)
	}
	eventually(t, u, "the first page is drawn", func() bool { return p.view.pic != nil && p.view.pic.Image != nil })
	p.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	u.shortcut(scStamp)
	if p.confirmOK == nil {
		t.Fatal("Ctrl+Enter opened no confirmation")
	}
	test.Tap(p.confirmOK)
	eventually(t, u, "stamped: the result screen", func() bool { return q.done != nil })
	f := q.done.form
	if !strings.HasPrefix(q.done.heading.Text, "Stamped “"+first.Title) || !formHas(f, "Signatures", "valid") ||
		!formHas(f, "Chains to a trusted CA", "yes") || !formHas(f, "Covers the whole file", "yes") {
		t.Fatalf("result says %q; rows %v", q.done.heading.Text, formRows(f))
	}
	if !formHas(f, "Signature format", "GB/T 38540 seal signature (SM2/SM3)") {
		t.Errorf("no GM format row: %v", formRows(f))
	}
	var sealRow string
	for _, it := range f.Items {
		if it.Text == "GM seal" {
			sealRow = it.Widget.(*widget.Label).Text
		}
	}
	if !strings.HasPrefix(sealRow, "界面测试印章 (esID GM-UI-1, version 4,") || !strings.Contains(sealRow, "made by 示范制章系统") {
		t.Errorf("GM seal row %q", sealRow)
	}
}

// formRows lists a form's rows as "label: value", for failure messages.
func formRows(f *widget.Form) []string {
	var out []string
	for _, it := range f.Items {
		if l, ok := it.Widget.(*widget.Label); ok {
			out = append(out, it.Text+": "+l.Text)
		}
	}
	return out
}

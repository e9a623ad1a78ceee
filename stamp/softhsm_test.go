package stamp_test

import (
	"crypto/x509"
	"testing"

	"github.com/sealkeeper/sealkeeper/device/softhsmtest"
	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
)

// The engine with the keys on a real PKCS#11 token (SoftHSM2): RSA (PKCS#1 v1.5 and PSS) and
// P-256, as the custodian's key would sign.
func TestSoftHSMKeys(t *testing.T) {
	pdftest.RequireTool(t, "softhsm2-util")
	tok := softhsmtest.New(t)
	m := tok.Open(t)
	s, err := m.Login(tok.Info, tok.UserPIN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys, err := s.Seals()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 2 {
		t.Fatalf("want the RSA and EC seal keys, got %d", len(keys))
	}
	in := pdftest.PDF(pdftest.Options{Pages: 2})
	data := in
	n := 0
	for _, k := range keys {
		if k.Cert == nil {
			continue
		}
		signer, err := s.Signer(k)
		if err != nil {
			t.Fatal(err)
		}
		for _, pss := range []bool{false, true} {
			if _, isRSA := k.Cert.PublicKey.(interface{ Size() int }); pss && !isRSA {
				continue
			}
			req := stamp.Request{Placement: centre(t, read(t, data), 1+n%2), Image: sealImg, Signer: signer, Chain: []*x509.Certificate{k.Cert}, PSS: pss}
			data = stampOnce(t, data, req)
			n++
		}
	}
	path := write(t, "softhsm.pdf", data)
	// MuPDF 1.21 cannot verify the PSS signature among them (see pss).
	pss = true
	defer func() { pss = false }()
	checkAll(t, path, n, tok.CA)
	if n < 3 {
		t.Errorf("only %d signatures made", n)
	}
}

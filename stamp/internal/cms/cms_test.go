package cms_test

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/sealkeeper/sealkeeper/stamp/internal/cms"
	"github.com/sealkeeper/sealkeeper/stamp/pades/padestest"
)

func TestSignParseVerify(t *testing.T) {
	for _, tc := range []struct {
		kt  padestest.KeyType
		pss bool
	}{{padestest.RSA, false}, {padestest.RSA, true}, {padestest.ECDSA, false}} {
		id := padestest.NewIdentity(t, tc.kt)
		digest := sha256.Sum256([]byte("the signed bytes"))
		der, err := cms.Sign(cms.Request{ContentType: cms.OIDData, Digest: digest[:], Hash: crypto.SHA256, Signer: id.Signer, Chain: id.Chain, PSS: tc.pss})
		if err != nil {
			t.Fatal(err)
		}
		// PDF /Contents are zero-padded: trailing zeros must not matter.
		sd, err := cms.Parse(append(der, make([]byte, 100)...))
		if err != nil {
			t.Fatal(err)
		}
		if len(sd.Certificates) != 2 || sd.Content != nil || !sd.ContentType.Equal(cms.OIDData) {
			t.Errorf("%s: %d certificates, content %v", tc.kt, len(sd.Certificates), sd.Content)
		}
		si := sd.Signers[0]
		if cms.Attr(si.Signed, cms.OIDSigningCertificateV2) == nil || cms.Attr(si.Signed, cms.OIDSigningTime) != nil {
			t.Error("want ESS signing-certificate-v2 and no signing-time")
		}
		cert, err := si.Verify(digest[:], sd.Certificates)
		if err != nil || !cert.Equal(id.Chain[0]) {
			t.Fatalf("%s pss=%v: %v", tc.kt, tc.pss, err)
		}
		other := sha256.Sum256([]byte("other bytes"))
		if _, err := si.Verify(other[:], sd.Certificates); err == nil {
			t.Error("a wrong digest verified")
		}
		if _, err := si.Verify(digest[:], []*x509.Certificate{id.Chain[1]}); err == nil {
			t.Error("verified without the signer's certificate")
		}
		// Flip a bit of the signature value.
		bad := bytes.Clone(der)
		bad[len(bad)-5] ^= 1
		if sd2, err := cms.Parse(bad); err == nil {
			if _, err := sd2.Signers[0].Verify(digest[:], sd2.Certificates); err == nil {
				t.Error("a damaged signature verified")
			}
		}
	}
}

// BER with indefinite lengths (as NSS writes) reads like its DER form.
func TestBER(t *testing.T) {
	id := padestest.NewIdentity(t, padestest.ECDSA)
	digest := sha256.Sum256([]byte("x"))
	der, err := cms.Sign(cms.Request{ContentType: cms.OIDData, Digest: digest[:], Hash: crypto.SHA256, Signer: id.Signer, Chain: id.Chain})
	if err != nil {
		t.Fatal(err)
	}
	// Re-wrap the outer SEQUENCE with an indefinite length.
	hl := 2
	if der[1]&0x80 != 0 {
		hl += int(der[1] & 0x7f)
	}
	ber := append(append([]byte{0x30, 0x80}, der[hl:]...), 0, 0)
	sd, err := cms.Parse(ber)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sd.Signers[0].Verify(digest[:], sd.Certificates); err != nil {
		t.Fatal(err)
	}
}

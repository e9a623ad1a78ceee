package hub

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"image"
	"image/color"
	"math"
	"math/big"
	"time"

	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
)

// signAsApprover adds an approver's signature (a handwritten-looking stroke, signed with a
// throw-away demo certificate) to the last page of a sample PDF, as an incremental update, so
// the demo has a document that arrives already signed.
func signAsApprover(pdf []byte, name string, pageCount int) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name + "（审批人，演示证书）", Organization: []string{"示范单位"}},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	doc, err := pdfinspect.Open("sample.pdf", bytes.NewReader(pdf), int64(len(pdf)))
	if err == nil {
		err = doc.Validate()
	}
	if err != nil {
		return nil, err
	}
	page := placement.Page{Number: pageCount, Crop: placement.Rect{X1: 595, Y1: 842}}
	pl, err := placement.AtPoint(page, 200, 120, placement.Size{W: 140, H: 45}, 0)
	if err != nil {
		return nil, err
	}
	res, err := stamp.Sign(context.Background(), doc, bytes.NewReader(pdf), stamp.Request{
		Placement: pl, Image: strokeImage(), Signer: key, Chain: []*x509.Certificate{cert},
		Reason: "审批同意", Location: "示范单位办公室",
	})
	if err != nil {
		return nil, err
	}
	return append(pdf[:len(pdf):len(pdf)], res.Update...), nil
}

// strokeImage draws a blue pen stroke on a transparent background.
func strokeImage() image.Image {
	const w, h = 280, 90
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	ink := color.NRGBA{R: 20, G: 40, B: 140, A: 255}
	for x := 10; x < w-10; x++ {
		fx := float64(x)
		y := 45 + 22*math.Sin(fx/17)*math.Cos(fx/53)
		for d := -2; d <= 2; d++ {
			img.SetNRGBA(x, int(y)+d, ink)
		}
	}
	return img
}

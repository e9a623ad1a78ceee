// Package pades makes the CMS value of a PAdES baseline signature (ETSI EN 319 142-1): B-B with
// ESS signing-certificate-v2 and no signing-time attribute (the time is the signature
// dictionary's /M), and B-T with an RFC 3161 timestamp over the signature value.
package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sealkeeper/sealkeeper/stamp/internal/cms"
)

// SubFilter is the PDF /SubFilter of the signatures made here.
const SubFilter = "ETSI.CAdES.detached"

// Options choose the signature's details.
type Options struct {
	// PSS signs with RSASSA-PSS instead of PKCS#1 v1.5 (RSA keys only).
	PSS bool
	// TSA is an RFC 3161 timestamp server URL; empty makes a B-B signature.
	TSA string
	// HTTPClient talks to the TSA; http.DefaultClient with a 30 s timeout when nil.
	HTTPClient *http.Client
}

// Sign returns the DER CMS SignedData for a PDF whose ByteRange digest (SHA-256) is digest.
// chain[0] is the signer's certificate; the rest are embedded so verifiers can build the path.
func Sign(ctx context.Context, digest []byte, signer crypto.Signer, chain []*x509.Certificate, opts Options) ([]byte, error) {
	if len(chain) == 0 {
		return nil, errors.New("the seal has no certificate")
	}
	req := cms.Request{
		ContentType: cms.OIDData,
		Digest:      digest,
		Hash:        crypto.SHA256,
		Signer:      signer,
		Chain:       chain,
		PSS:         opts.PSS,
	}
	if opts.TSA != "" {
		req.Unsigned = func(sig []byte) ([]cms.Attribute, error) {
			tok, err := Timestamp(ctx, opts.HTTPClient, opts.TSA, sig)
			if err != nil {
				return nil, err
			}
			return []cms.Attribute{{Type: cms.OIDTimeStampToken, Values: [][]byte{tok}}}, nil
		}
	}
	return cms.Sign(req)
}

// Timestamp asks the TSA at url for a token over SHA-256(data) and checks that the answer is a
// validly signed token for exactly that digest and the nonce sent.
func Timestamp(ctx context.Context, client *http.Client, url string, data []byte) ([]byte, error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	sum := crypto.SHA256.New()
	sum.Write(data)
	digest := sum.Sum(nil)
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(cms.OIDSHA256)
				b.AddASN1NULL()
			})
			b.AddASN1OctetString(digest)
		})
		b.AddASN1BigInt(nonce)
		b.AddASN1Boolean(true) // certReq: the token carries the TSA certificate
	})
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b.BytesOrPanic()))
	if err != nil {
		return nil, fmt.Errorf("timestamp server %s: %w", url, err)
	}
	hreq.Header.Set("Content-Type", "application/timestamp-query")
	resp, err := client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("timestamp server %s is unreachable: %w (stamp without --tsa, or try again when it is up)", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("timestamp server %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("timestamp server %s answered %s", url, resp.Status)
	}
	tok, err := parseResponse(body)
	if err != nil {
		return nil, fmt.Errorf("timestamp server %s: %w", url, err)
	}
	info, _, err := VerifyTimestamp(tok, data)
	if err != nil {
		return nil, fmt.Errorf("timestamp server %s sent a bad token: %w", url, err)
	}
	if info.Nonce == nil || info.Nonce.Cmp(nonce) != 0 {
		return nil, fmt.Errorf("timestamp server %s answered with another request's nonce", url)
	}
	return tok, nil
}

func parseResponse(der []byte) ([]byte, error) {
	in := cryptobyte.String(der)
	var resp, status cryptobyte.String
	var code int64
	if !in.ReadASN1(&resp, cbasn1.SEQUENCE) || !resp.ReadASN1(&status, cbasn1.SEQUENCE) || !status.ReadASN1Integer(&code) {
		return nil, errors.New("the answer is not a TimeStampResp")
	}
	if code != 0 && code != 1 {
		return nil, fmt.Errorf("the request was refused (PKIStatus %d)", code)
	}
	var tok cryptobyte.String
	if !resp.ReadASN1Element(&tok, cbasn1.SEQUENCE) {
		return nil, errors.New("the answer has no token")
	}
	return tok, nil
}

// VerifyTimestamp checks that token is an RFC 3161 token, validly signed by the certificate it
// carries, over SHA-x(data). It returns the token's TSTInfo and the TSA's certificate (whose
// chain the caller judges).
func VerifyTimestamp(token, data []byte) (*cms.TSTInfo, *TSA, error) {
	sd, err := cms.Parse(token)
	if err != nil {
		return nil, nil, err
	}
	if !sd.ContentType.Equal(cms.OIDTSTInfo) || sd.Content == nil {
		return nil, nil, errors.New("the token holds no TSTInfo")
	}
	info, err := cms.ParseTSTInfo(sd.Content)
	if err != nil {
		return nil, nil, err
	}
	h := info.Hash.New()
	h.Write(data)
	if !bytes.Equal(h.Sum(nil), info.MessageDigest) {
		return nil, nil, errors.New("the timestamp is over other data than this signature")
	}
	si := sd.Signers[0]
	ch := si.Hash.New()
	ch.Write(sd.Content)
	cert, err := si.Verify(ch.Sum(nil), sd.Certificates)
	if err != nil {
		return nil, nil, fmt.Errorf("the timestamp's own signature: %w", err)
	}
	return info, &TSA{Cert: cert, Certificates: sd.Certificates}, nil
}

// TSA is the signer of a timestamp token.
type TSA struct {
	Cert         *x509.Certificate
	Certificates []*x509.Certificate // all certificates in the token, for path building
}

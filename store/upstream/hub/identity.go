package hub

// Workstation identity. A workstation is known by the TLS client certificate bound to it at
// enrolment: the hub signs a certificate for a key the workstation made (POST /v1/enrol with a
// one-time code and a CSR), or, with an outside workstation CA (--client-ca), binds the
// certificate the workstation presents. From then on every request must come over mutual TLS
// with exactly that certificate. The X-SealKeeper-Workstation header alone names a workstation
// only in the demo and test mode (Options.AutoEnrol), and only on a loopback connection.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/upstream"
)

func randSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1))
}

// WorkstationCA is the hub's CA for workstation certificates. Serve trusts it for client
// certificates; a TLS front end in front of the hub would need it too.
func (h *Hub) WorkstationCA() *x509.Certificate { return h.caCert }

// checkName refuses workstation names that cannot be a certificate's Common Name or a key.
func checkName(ws string) error {
	if ws == "" || len(ws) > 255 || !utf8.ValidString(ws) || strings.IndexFunc(ws, func(r rune) bool { return unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("workstation name %q: use 1 to 255 bytes of printable UTF-8", ws)
	}
	return nil
}

func loopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// loopbackHost reports whether addr (host:port) names a loopback IP.
func loopbackHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// headerMode is true when the request may name its workstation by the header alone: the hub
// is in the demo and test mode and both ends of the connection are loopback addresses.
func (h *Hub) headerMode(r *http.Request) bool {
	if !h.opt.AutoEnrol {
		return false
	}
	la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !loopback(la) {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

// clientLeaf is the verified TLS client certificate, or nil.
func clientLeaf(r *http.Request) *x509.Certificate {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil
	}
	return r.TLS.VerifiedChains[0][0]
}

func certHash(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

func keyHash(c *x509.Certificate) string {
	s := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(s[:])
}

// bind records c as the one certificate of w.
func bind(w *Workstation, c *x509.Certificate) {
	w.CertSHA256, w.KeySHA256, w.CertExpires = certHash(c), keyHash(c), c.NotAfter.UTC()
	w.CertSerial = c.SerialNumber.Text(16)
}

// matches reports whether c is the certificate bound to w: the same certificate, and so the
// same public key (both are compared; the key is what a stolen name cannot bring along).
func (w *Workstation) matches(c *x509.Certificate) bool {
	if w.CertSHA256 != certHash(c) {
		return false
	}
	return w.KeySHA256 == "" || w.KeySHA256 == keyHash(c) // "" only for bindings older than the key hash
}

// identify names the calling workstation. With a verified client certificate: its Common Name,
// which must be an enrolled workstation bound to exactly that certificate. Without one: nobody,
// except in the demo and test mode on loopback, where the header names a workstation that has
// no certificate bound.
func (h *Hub) identify(r *http.Request) (string, error) {
	hdr := r.Header.Get(upstream.HeaderWorkstation)
	leaf := clientLeaf(r)
	demo := h.headerMode(r)
	if leaf == nil && !demo {
		return "", fail(http.StatusUnauthorized, upstream.CodeForbidden, "this hub knows a workstation only by the client certificate it received at enrolment; the %s header alone is not an identity (enrol with a one-time code, then connect with upstream.client_cert and client_key)", upstream.HeaderWorkstation)
	}
	ws := hdr
	if leaf != nil {
		cn := leaf.Subject.CommonName
		if hdr != "" && hdr != cn {
			return "", fail(http.StatusForbidden, upstream.CodeForbidden, "the workstation header says %q but the client certificate is %q", hdr, cn)
		}
		ws = cn
	}
	if ws == "" {
		return "", fail(http.StatusBadRequest, upstream.CodeBadRequest, "the request does not name its workstation (%s header)", upstream.HeaderWorkstation)
	}
	var (
		rec   Workstation
		known bool
	)
	err := h.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bWS).Get([]byte(ws))
		if raw == nil {
			return nil
		}
		known = true
		return json.Unmarshal(raw, &rec)
	})
	if err != nil {
		return "", err
	}
	switch {
	case !known && !demo:
		return "", fail(http.StatusForbidden, upstream.CodeUnknownWS, "workstation %q is not enrolled with this hub; ask the administrator for an enrolment code", ws)
	case !known || (rec.CertSHA256 == "" && demo):
		// Demo and test mode: enrolled on first contact, bound to its certificate if it has one.
		if err := checkName(ws); err != nil {
			return "", fail(http.StatusBadRequest, upstream.CodeBadRequest, "%v", err)
		}
		if !known || leaf != nil {
			rec.Name = ws
			if !known {
				rec.EnrolledAt = h.now()
			}
			if leaf != nil {
				bind(&rec, leaf)
			}
			if err := h.putWS(rec); err != nil {
				return "", err
			}
		}
	case rec.CertSHA256 == "":
		return "", fail(http.StatusForbidden, upstream.CodeForbidden, "workstation %q was enrolled without a certificate; enrol it again with a new code", ws)
	case leaf == nil:
		return "", fail(http.StatusUnauthorized, upstream.CodeForbidden, "workstation %q is bound to the client certificate it was enrolled with; present that certificate (upstream.client_cert and client_key)", ws)
	case !rec.matches(leaf):
		return "", fail(http.StatusForbidden, upstream.CodeForbidden, "this client certificate is not the one workstation %q was enrolled with; if the workstation was replaced, un-enrol it and enrol it again with a new code", ws)
	}
	return ws, nil
}

func (h *Hub) boundTx(tx *bolt.Tx, ws string) bool {
	var w Workstation
	raw := tx.Bucket(bWS).Get([]byte(ws))
	return raw != nil && json.Unmarshal(raw, &w) == nil && w.CertSHA256 != ""
}

func (h *Hub) putWS(w Workstation) error {
	return h.db.Update(func(tx *bolt.Tx) error { return putJSON(tx.Bucket(bWS), w.Name, w) })
}

// enrolCode is an enrolment code as the hub keeps it.
type enrolCode struct {
	Workstation string    `json:"workstation"`
	Expires     time.Time `json:"expires"`
}

// EnrolmentCode is a one-time code an administrator hands to a workstation's installer.
type EnrolmentCode struct {
	Code        string    `json:"code"`
	Workstation string    `json:"workstation"`
	Expires     time.Time `json:"expires"`
}

// EnrolCode makes a one-time code with which a workstation enrols (POST /v1/enrol). It expires
// after valid (Options.EnrolCodeValidity, 24 hours, when valid is 0).
func (h *Hub) EnrolCode(workstation string, valid time.Duration) (EnrolmentCode, error) {
	if err := checkName(workstation); err != nil {
		return EnrolmentCode{}, err
	}
	if valid <= 0 {
		valid = h.opt.EnrolCodeValidity
	}
	if valid > maxCodeValidity {
		return EnrolmentCode{}, fmt.Errorf("an enrolment code may be valid for at most %s", maxCodeValidity)
	}
	var r [10]byte
	if _, err := rand.Read(r[:]); err != nil {
		return EnrolmentCode{}, err
	}
	now := h.now()
	ec := EnrolmentCode{Code: strings.ToUpper(hex.EncodeToString(r[:])), Workstation: workstation, Expires: now.Add(valid)}
	err := h.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bCodes)
		if err := dropCodes(b, func(c enrolCode) bool { return !now.Before(c.Expires) }); err != nil {
			return err
		}
		return putJSON(b, ec.Code, enrolCode{Workstation: workstation, Expires: ec.Expires})
	})
	return ec, err
}

const maxCodeValidity = 30 * 24 * time.Hour

// dropCodes deletes the codes for which drop is true (and codes in an older format, which had
// no expiry).
func dropCodes(b *bolt.Bucket, drop func(enrolCode) bool) error {
	var del [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var c enrolCode
		if json.Unmarshal(v, &c) != nil || c.Expires.IsZero() || drop(c) {
			del = append(del, append([]byte(nil), k...))
		}
		return nil
	})
	for _, k := range del {
		if err == nil {
			err = b.Delete(k)
		}
	}
	return err
}

// useCode consumes a code for ws, or says why it cannot be used.
func (h *Hub) useCode(tx *bolt.Tx, code, ws string) error {
	b := tx.Bucket(bCodes)
	key := []byte(strings.ToUpper(strings.TrimSpace(code)))
	raw := b.Get(key)
	var c enrolCode
	if raw == nil || json.Unmarshal(raw, &c) != nil || c.Workstation != ws {
		return fail(http.StatusForbidden, upstream.CodeForbidden, "enrolment code not valid for workstation %q (codes are used once; ask the administrator for a new one)", ws)
	}
	if !h.now().Before(c.Expires) {
		return fail(http.StatusForbidden, upstream.CodeForbidden, "the enrolment code for workstation %q expired at %s; ask the administrator for a new one", ws, c.Expires.Format(time.RFC3339))
	}
	return b.Delete(key)
}

// Unenrol removes a workstation: its certificate is no longer accepted and its unused enrolment
// codes are withdrawn. What it sent (ledger, results, files) and the documents approved for it
// stay on the hub; it can be enrolled again with a new code.
func (h *Hub) Unenrol(workstation string) error {
	return h.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bWS)
		known := b.Get([]byte(workstation)) != nil
		codes := 0
		if err := dropCodes(tx.Bucket(bCodes), func(c enrolCode) bool {
			if c.Workstation == workstation {
				codes++
				return true
			}
			return false
		}); err != nil {
			return err
		}
		if !known && codes == 0 {
			return fmt.Errorf("workstation %q is not enrolled on this hub and has no enrolment code", workstation)
		}
		if up := tx.Bucket(bUploads); up.Bucket([]byte(workstation)) != nil {
			if err := up.DeleteBucket([]byte(workstation)); err != nil {
				return err
			}
		}
		return b.Delete([]byte(workstation))
	})
}

// parseCSR checks a certificate signing request for ws: well-formed, signed by its own key
// (which proves the workstation holds it), a key type TLS can use, and no other name.
func parseCSR(der []byte, ws string) (*x509.CertificateRequest, error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("the certificate signing request (csr) is not a DER PKCS#10 request: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("the certificate signing request is not signed by its own key: %v", err)
	}
	if cn := csr.Subject.CommonName; cn != "" && cn != ws {
		return nil, fmt.Errorf("the certificate signing request names %q, not workstation %q", cn, ws)
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, errors.New("the workstation key must be ECDSA P-256 or P-384, or RSA of at least 2048 bits")
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, errors.New("the workstation key must be ECDSA P-256 or P-384, or RSA of at least 2048 bits")
		}
	default:
		return nil, fmt.Errorf("a %T workstation key is not accepted; use ECDSA P-256 or P-384, or RSA of at least 2048 bits", csr.PublicKey)
	}
	return csr, nil
}

// issue signs the workstation's client certificate.
func (h *Hub) issue(csr *x509.CertificateRequest, ws string) (*x509.Certificate, error) {
	now := h.opt.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: ws, Organization: []string{"SealKeeper workstation"}},
		NotBefore:    now.Add(-5 * time.Minute), NotAfter: now.Add(h.opt.CertValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, h.caCert, csr.PublicKey, h.caKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func (h *Hub) enrol(w http.ResponseWriter, r *http.Request) {
	var req upstream.EnrolRequest
	if err := readJSON(w, r, upstream.MaxJSONBody, &req); err != nil {
		writeErr(w, err)
		return
	}
	if err := h.doEnrol(w, r, req); err != nil {
		writeErr(w, err)
	}
}

func (h *Hub) doEnrol(w http.ResponseWriter, r *http.Request, req upstream.EnrolRequest) error {
	ws := req.Workstation
	if err := checkName(ws); err != nil {
		return fail(http.StatusBadRequest, upstream.CodeBadRequest, "%v", err)
	}
	leaf := clientLeaf(r)
	demo := h.headerMode(r)
	if leaf != nil && leaf.Subject.CommonName != ws {
		return fail(http.StatusForbidden, upstream.CodeForbidden, "the client certificate is for %q, not %q", leaf.Subject.CommonName, ws)
	}
	var csr *x509.CertificateRequest
	switch {
	case len(req.CSR) > 0:
		var err error
		if csr, err = parseCSR(req.CSR, ws); err != nil {
			return fail(http.StatusBadRequest, upstream.CodeBadRequest, "%v", err)
		}
	case leaf == nil && !demo:
		return fail(http.StatusBadRequest, upstream.CodeBadRequest, "enrolment needs a certificate signing request (csr) for a key the workstation made, or, over mutual TLS, the workstation certificate to bind; this hub has no other client certificate")
	}
	var issued *x509.Certificate
	err := h.db.Update(func(tx *bolt.Tx) error {
		// A demo or test hub enrols without a code, but not over a workstation already bound
		// to a certificate: replacing that binding takes a code everywhere.
		if !demo || h.boundTx(tx, ws) {
			if err := h.useCode(tx, req.Code, ws); err != nil {
				return err
			}
		}
		rec := Workstation{Name: ws, Host: req.Host, EnrolledAt: h.now()}
		switch {
		case csr != nil:
			c, err := h.issue(csr, ws)
			if err != nil {
				return err
			}
			issued = c
			bind(&rec, c)
		case leaf != nil:
			bind(&rec, leaf)
		}
		return putJSON(tx.Bucket(bWS), ws, rec)
	})
	if err != nil {
		return err
	}
	hb := h.helloBody()
	resp := upstream.EnrolResponse{Workstation: ws, TicketKey: hb.TicketKey, KeyID: h.kid, EnrolledAt: h.now()}
	switch {
	case issued != nil:
		resp.CertSHA256, resp.Certificate, resp.CACertificate = certHash(issued), issued.Raw, h.caCert.Raw
	case leaf != nil:
		resp.CertSHA256 = certHash(leaf)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

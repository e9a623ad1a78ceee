package upstream

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	bolt "go.etcd.io/bbolt"
)

// HandoverRecord is POST /v1/handovers: a custody change carried out on a workstation, signed
// by the seal key of the custodian who gave custody (FromSig) and by the key of the one who
// took it (ToSig), each over SignedBytes. The same record is in the workstation's ledger
// (kind "handover"). A return (the end of a delegation) carries only FromSig, by the key that
// recorded it.
type HandoverRecord struct {
	HandoverID  string    `json:"handoverId"` // the approval carried out
	Kind        string    `json:"kind"`       // CustodyHandover, CustodyDelegation, CustodyReturn
	SealID      string    `json:"sealId"`
	Workstation string    `json:"workstation"`
	From        Person    `json:"from"`
	To          Person    `json:"to"`
	FromCert    []byte    `json:"fromCert"`         // DER
	ToCert      []byte    `json:"toCert,omitempty"` // DER
	Until       time.Time `json:"until,omitzero"`   // a delegation's end
	// Inventory is the SHA-256 (hex) of the inventory both confirmed; LedgerSize and LedgerHead
	// the ledger's state it names.
	Inventory  string    `json:"inventory"`
	LedgerSize uint64    `json:"ledgerSize"`
	LedgerHead string    `json:"ledgerHead"`
	At         time.Time `json:"at"`
	// CodeSHA256 is the approval's one-time code when the incoming custodian identified with
	// it: the record names the code, so it is used once. ToCert is then FromCert (the seal key
	// passed) and ToSig is by that key under the new PIN.
	CodeSHA256 string `json:"codeSha256,omitempty"`
	FromSig    []byte `json:"fromSig"`
	ToSig      []byte `json:"toSig,omitempty"`
}

// SignedBytes is what both keys sign: "SealKeeper handover v1" ‖ 0x00 ‖ the record's JSON
// without the signatures.
func (r HandoverRecord) SignedBytes() []byte {
	r.FromSig, r.ToSig = nil, nil
	b, _ := json.Marshal(r) // a struct of strings, bytes and times always marshals
	return append([]byte("SealKeeper handover v1\x00"), b...)
}

// SignHandover signs the record's SignedBytes with s (SHA-256; PKCS#1 v1.5 for RSA, ASN.1
// ECDSA for P-256, as certificates check them).
func SignHandover(r HandoverRecord, s crypto.Signer) ([]byte, error) {
	d := sha256.Sum256(r.SignedBytes())
	return s.Sign(rand.Reader, d[:], crypto.SHA256)
}

func certSignatureAlg(c *x509.Certificate) (x509.SignatureAlgorithm, error) {
	switch c.PublicKey.(type) {
	case *rsa.PublicKey:
		return x509.SHA256WithRSA, nil
	case *ecdsa.PublicKey:
		return x509.ECDSAWithSHA256, nil
	}
	return 0, fmt.Errorf("certificate %q has a key this program does not check", c.Subject.CommonName)
}

// Verify checks the signatures with the certificates the record carries: FromSig always, ToSig
// unless the record is a return. It returns the parsed certificates (to nil for a return
// without one); whether they are the right people's is the caller's check.
func (r HandoverRecord) Verify() (from, to *x509.Certificate, err error) {
	check := func(der, sig []byte, who string) (*x509.Certificate, error) {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("the handover record's certificate of %s does not parse: %w", who, err)
		}
		alg, err := certSignatureAlg(c)
		if err == nil {
			err = c.CheckSignature(alg, r.SignedBytes(), sig)
		}
		if err != nil {
			return nil, fmt.Errorf("the handover record's signature by %s does not verify: %w", who, err)
		}
		return c, nil
	}
	if from, err = check(r.FromCert, r.FromSig, "the custodian who gave custody ("+r.From.Name+")"); err != nil {
		return nil, nil, err
	}
	if r.Kind == CustodyReturn && len(r.ToSig) == 0 {
		return from, nil, nil
	}
	if to, err = check(r.ToCert, r.ToSig, "the custodian who took custody ("+r.To.Name+")"); err != nil {
		return nil, nil, err
	}
	return from, to, nil
}

// CertHash is the hex SHA-256 of a certificate's DER, as Custodian.CertSHA256 names it.
func CertHash(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

// NewHandoverCode makes a one-time handover code: 128 random bits in base32, in groups of
// four, and the hash an approval carries (HandoverCodeHash). The code is shown once and kept
// nowhere.
func NewHandoverCode() (code, hash string, err error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	raw := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
	var groups []string
	for len(raw) > 4 {
		groups, raw = append(groups, raw[:4]), raw[4:]
	}
	code = strings.Join(append(groups, raw), "-")
	return code, HandoverCodeHash(code), nil
}

// HandoverCodeHash is the hex SHA-256 of a handover code as typed, without the separators
// and case it may be typed with. A plain hash suffices (no scrypt): the code is 128 random
// bits, so there is no dictionary to slow down.
func HandoverCodeHash(code string) string {
	norm := strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' || r == '\t' {
			return -1
		}
		return unicode.ToUpper(r)
	}, code)
	s := sha256.Sum256([]byte(norm))
	return hex.EncodeToString(s[:])
}

// PostHandover sends a handover record.
func (c *Client) PostHandover(ctx context.Context, r HandoverRecord) error {
	_, _, err := c.do(ctx, http.MethodPost, APIVersion+"/handovers", nil, r, MaxJSONBody, nil)
	return err
}

// Handover records wait in their own bucket of the client store and go up before anything
// else in a sync round (pushHandovers): the server learns of a custody change before it sees
// any stamping by the new custodian.
var sHandovers = []byte("handovers")

// EnqueueHandover keeps a handover record until the server has it.
func (s *Store) EnqueueHandover(r HandoverRecord) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(sHandovers)
		if err != nil {
			return err
		}
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		return setJSON(b, fmt.Appendf(nil, "%016x", n), r)
	})
}

// PendingHandovers lists the handover records the server does not have yet, oldest first.
func (s *Store) PendingHandovers() ([]HandoverRecord, error) {
	var out []HandoverRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(sHandovers)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var r HandoverRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// pushHandovers sends the waiting handover records, oldest first; each leaves the queue once
// the server took it. A refusal stops the round: the custody change must reach the server
// before anything that follows it.
func (s *Syncer) pushHandovers(ctx context.Context) error {
	for {
		var key []byte
		var rec HandoverRecord
		err := s.st.db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(sHandovers)
			if b == nil {
				return nil
			}
			k, v := b.Cursor().First()
			if k == nil {
				return nil
			}
			key = append([]byte(nil), k...)
			return json.Unmarshal(v, &rec)
		})
		if err != nil || key == nil {
			return err
		}
		if err := s.c.PostHandover(ctx, rec); err != nil {
			var se *ServerError
			if errors.As(err, &se) && !se.Temporary() {
				return fmt.Errorf("%w: the server refused the handover record of %s → %s: %v", ErrLedgerAlarm, rec.From.Name, rec.To.Name, err)
			}
			return err
		}
		err = s.st.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(sHandovers).Delete(key) })
		if err != nil {
			return err
		}
	}
}

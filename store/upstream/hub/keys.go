package hub

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The hub's two keys, the ticket key (workstations pin it: it signs approval tickets, signed
// answers and checkpoint co-signatures) and the workstation CA's key, live either in hub.db
// (made on first use, unencrypted: protect the file) or on a PKCS#11 token
// (Options.TicketSigner, Options.CASigner), where they cannot be copied.
//
// Invariants, kept by loadKey and loadCA:
//   - hub.db records the public half of every key it has been opened with (kKeyPub,
//     kCACert), and a database is never opened with another key: workstations have pinned the
//     ticket key and hold certificates from the CA, so a silent change would cut them all off.
//   - A database whose key is on a token holds no private key for it and does not open without
//     the token: an administrator cannot end up with a software copy by forgetting a flag.
//   - A database made with software keys may move to a token only with the same key (imported
//     to the token first), never to a new one.
var (
	kKeyPub = []byte("ticketkey.public") // SubjectPublicKeyInfo of the ticket key
	kCAKey  = []byte("workstationca.key")
	kCACert = []byte("workstationca.cert")
)

// ErrKeyOnToken is returned by Open when hub.db's key is on a token that was not given.
var ErrKeyOnToken = errors.New("the hub's key is on a PKCS#11 token")

func (h *Hub) loadKey(m *bolt.Bucket) error {
	soft, pub := m.Get(kKey), m.Get(kKeyPub)
	if s := h.opt.TicketSigner; s != nil {
		der, err := p256Public(s, "ticket key")
		if err != nil {
			return err
		}
		have, err := recordedPublic(soft, pub)
		if err != nil {
			return err
		}
		if have != nil && string(have) != string(der) {
			return errors.New("the ticket key on the token is not the key this hub's database was made with; workstations have pinned that key, so the hub refuses another (give the token holding the hub's own key)")
		}
		h.key = s
		if pub == nil {
			return m.Put(kKeyPub, der)
		}
		return nil
	}
	if soft == nil && pub != nil {
		return fmt.Errorf("%w: its ticket key is there, not in hub.db; start the hub with the token (--key-module, --key-token, --key-pin-file), or run admin commands through the running hub (serve --admin)", ErrKeyOnToken)
	}
	if soft != nil {
		k, err := x509.ParseECPrivateKey(soft)
		if err != nil {
			return fmt.Errorf("the hub's ticket key is damaged: %w", err)
		}
		h.key = k
		return nil
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return err
	}
	h.key = k
	return m.Put(kKey, der)
}

// recordedPublic is the SubjectPublicKeyInfo hub.db knows for the ticket key: its own record,
// or the public half of the software key; nil when there is none yet.
func recordedPublic(soft, pub []byte) ([]byte, error) {
	if pub != nil || soft == nil {
		return pub, nil
	}
	k, err := x509.ParseECPrivateKey(soft)
	if err != nil {
		return nil, fmt.Errorf("the hub's ticket key is damaged: %w", err)
	}
	return x509.MarshalPKIXPublicKey(&k.PublicKey)
}

// p256Public checks that s holds an ECDSA P-256 key (the protocol's only kind) and returns its
// SubjectPublicKeyInfo.
func p256Public(s crypto.Signer, what string) ([]byte, error) {
	pk, ok := s.Public().(*ecdsa.PublicKey)
	if !ok || pk.Curve != elliptic.P256() {
		return nil, fmt.Errorf("the hub's %s must be an ECDSA P-256 key, not %T", what, s.Public())
	}
	return x509.MarshalPKIXPublicKey(pk)
}

// loadCA reads the hub's workstation CA from the meta bucket, making it on first use (its key in
// hub.db, or Options.CASigner's on the token).
func (h *Hub) loadCA(m *bolt.Bucket) error {
	kd, cd := m.Get(kCAKey), m.Get(kCACert)
	var c *x509.Certificate
	if cd != nil {
		var err error
		if c, err = x509.ParseCertificate(cd); err != nil {
			return fmt.Errorf("the hub's workstation CA certificate is damaged: %w", err)
		}
	}
	if s := h.opt.CASigner; s != nil {
		der, err := p256Public(s, "workstation CA key")
		if err != nil {
			return err
		}
		if c != nil {
			have, _ := x509.MarshalPKIXPublicKey(c.PublicKey)
			if string(have) != string(der) {
				return errors.New("the CA key on the token is not the key of this hub's workstation CA; the workstations' certificates come from that CA, so the hub refuses another (give the token holding the hub's own CA key)")
			}
			h.caKey, h.caCert = s, c
			return nil
		}
		return h.makeCA(m, s, nil)
	}
	if c != nil && kd == nil {
		return fmt.Errorf("%w: its workstation CA key is there, not in hub.db; start the hub with the token (--key-module, --key-token, --key-pin-file)", ErrKeyOnToken)
	}
	if c != nil {
		k, err := x509.ParseECPrivateKey(kd)
		if err != nil {
			return fmt.Errorf("the hub's workstation CA key is damaged: %w", err)
		}
		h.caKey, h.caCert = k, c
		return nil
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	kd, err = x509.MarshalECPrivateKey(k)
	if err != nil {
		return err
	}
	return h.makeCA(m, k, kd)
}

// makeCA makes the workstation CA's certificate for key and stores it (and keyDER, a software
// key's private half, when not nil).
func (h *Hub) makeCA(m *bolt.Bucket, key crypto.Signer, keyDER []byte) error {
	now := h.opt.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: "SealKeeper workstation CA", Organization: []string{h.opt.Name}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.AddDate(20, 0, 0),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("making the workstation CA certificate: %w", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	if keyDER != nil {
		if err := m.Put(kCAKey, keyDER); err != nil {
			return err
		}
	}
	h.caKey, h.caCert = key, c
	return m.Put(kCACert, der)
}

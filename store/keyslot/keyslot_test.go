package keyslot_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/tjfoc/gmsm/sm2"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
)

// tokenEC stands in for a token-backed EC key: it reports an *ecdsa.PublicKey, as PKCS#11 code
// usually does, and does ECDH without exposing the scalar.
type tokenEC struct{ k *ecdsa.PrivateKey }

func (t tokenEC) Public() crypto.PublicKey { return &t.k.PublicKey }
func (t tokenEC) ECDH(p *ecdh.PublicKey) ([]byte, error) {
	e, err := t.k.ECDH()
	if err != nil {
		return nil, err
	}
	return e.ECDH(p)
}

func holders(t *testing.T) map[string]keyslot.Holder {
	t.Helper()
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	g, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]keyslot.Holder{"rsa": r, "ecdh": e, "token-ec": tokenEC{s}, "sm2": g}
}

func TestWrapUnwrap(t *testing.T) {
	hs := holders(t)
	key, _ := keyslot.NewKey()
	for name, h := range hs {
		t.Run(name, func(t *testing.T) {
			s, err := keyslot.Wrap(key, h.Public(), keyslot.RoleCustodian, "张三")
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Unwrap(h)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, key) {
				t.Fatal("unwrapped a different key")
			}
			for other, o := range hs {
				if other == name {
					continue
				}
				if _, err := s.Unwrap(o); !errors.Is(err, keyslot.ErrNoSlot) {
					t.Errorf("%s opened %s's slot: %v", other, name, err)
				}
			}
			bad := s
			bad.Wrapped = append([]byte(nil), s.Wrapped...)
			bad.Wrapped[len(bad.Wrapped)/2] ^= 1
			if _, err := bad.Unwrap(h); !errors.Is(err, keyslot.ErrUnwrap) {
				t.Errorf("tampered slot: %v, want ErrUnwrap", err)
			}
		})
	}
}

func TestSealOpen(t *testing.T) {
	hs := holders(t)
	var pubs []crypto.PublicKey
	for _, h := range hs {
		pubs = append(pubs, h.Public())
	}
	msg := []byte(`{"kind":"login.failed"}`)
	sealed, err := keyslot.Seal(msg, []byte("ad"), pubs)
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range hs {
		got, err := keyslot.Open(sealed, []byte("ad"), h)
		if err != nil || !bytes.Equal(got, msg) {
			t.Errorf("%s: %q %v", name, got, err)
		}
		if _, err := keyslot.Open(sealed, []byte("other"), h); err == nil {
			t.Errorf("%s: opened with the wrong associated data", name)
		}
	}
	stranger, _ := ecdh.P256().GenerateKey(rand.Reader)
	if _, err := keyslot.Open(sealed, []byte("ad"), stranger); !errors.Is(err, keyslot.ErrNoSlot) {
		t.Errorf("stranger: %v", err)
	}
}

func TestPEMRoundTrip(t *testing.T) {
	for name, h := range holders(t) {
		if name == "token-ec" || name == "sm2" { // private key files are escrow keys: RSA or P-256
			continue
		}
		priv, err := keyslot.MarshalPrivateKeyPEM(h)
		if err != nil {
			t.Fatal(err)
		}
		back, err := keyslot.ParsePrivateKeyPEM(priv)
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := keyslot.MarshalPublicKeyPEM(h.Public())
		p, err := keyslot.ParsePublicKeyPEM(pub)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := keyslot.ID(p)
		b, _ := keyslot.ID(back.Public())
		if a != b {
			t.Errorf("%s: ids %s and %s", name, a, b)
		}
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := keyslot.Wrap(make([]byte, 16), small.Public(), keyslot.RoleEscrow, ""); err == nil {
		t.Error("wrapped for a 1024-bit RSA key")
	}
}

// An SM2 key's slot: its public key survives the PEM form and the slot's PKIX field (which the
// standard library cannot parse), and the slot says it is SM2-encrypted.
func TestSM2PublicKeyForms(t *testing.T) {
	g, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := keyslot.NewKey()
	s, err := keyslot.Wrap(key, &g.PublicKey, keyslot.RoleCustodian, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Alg != keyslot.AlgSM2 {
		t.Fatalf("alg %q", s.Alg)
	}
	pub, err := s.Recipient()
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := pub.(*sm2.PublicKey); !ok || p.X.Cmp(g.X) != 0 || p.Y.Cmp(g.Y) != 0 {
		t.Fatalf("recipient %T is not the SM2 key", pub)
	}
	pemB, err := keyslot.MarshalPublicKeyPEM(&g.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	back, err := keyslot.ParsePublicKeyPEM(pemB)
	if err != nil {
		t.Fatal(err)
	}
	id1, _ := keyslot.ID(back)
	if id1 != s.ID {
		t.Fatalf("the PEM key's slot ID %s is not the slot's %s", id1, s.ID)
	}
	msg, err := keyslot.Seal([]byte("pending event"), []byte("ad"), []crypto.PublicKey{&g.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := keyslot.Open(msg, []byte("ad"), g); err != nil || string(got) != "pending event" {
		t.Fatalf("open: %q, %v", got, err)
	}
}

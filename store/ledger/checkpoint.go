package ledger

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tjfoc/gmsm/sm2"
	gmx509 "github.com/tjfoc/gmsm/x509"
	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/atomic"
)

// Signature algorithms of a checkpoint.
const (
	SigRSASHA256   = "rsa-sha256"   // RSA over SHA-256(SignedBytes); PKCS#1 v1.5 or PSS, as the signer does
	SigECDSASHA256 = "ecdsa-sha256" // ECDSA over SHA-256(SignedBytes), ASN.1 DER
	SigEd25519     = "ed25519"      // Ed25519 over SignedBytes
	SigSM2SM3      = "sm2-sm3"      // SM2 with SM3 over SignedBytes, user ID 1234567812345678
)

// SignedCheckpoint is a checkpoint with the workstation's signature (seal key).
type SignedCheckpoint struct {
	Checkpoint
	Time      time.Time `json:"time"`
	Alg       string    `json:"alg"`
	PublicKey []byte    `json:"pub"` // PKIX DER of the signing key
	Signature []byte    `json:"sig"`
}

type checkpointJSON struct {
	Workstation string    `json:"ws"`
	Size        uint64    `json:"size"`
	Head        string    `json:"head"`
	Time        time.Time `json:"time"`
	Alg         string    `json:"alg"`
	PublicKey   []byte    `json:"pub"`
	Signature   []byte    `json:"sig"`
}

// MarshalJSON writes the head in hex.
func (c SignedCheckpoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(checkpointJSON{c.Workstation, c.Size, hex.EncodeToString(c.Head[:]), c.Time, c.Alg, c.PublicKey, c.Signature})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (c *SignedCheckpoint) UnmarshalJSON(b []byte) error {
	var j checkpointJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	h, err := hex.DecodeString(j.Head)
	if err != nil || len(h) != HashSize {
		return fmt.Errorf("checkpoint head %q is not %d hex bytes", j.Head, HashSize)
	}
	*c = SignedCheckpoint{Checkpoint: Checkpoint{Workstation: j.Workstation, Size: j.Size}, Time: j.Time, Alg: j.Alg, PublicKey: j.PublicKey, Signature: j.Signature}
	copy(c.Head[:], h)
	return nil
}

// SignCheckpoint signs cp with s. RSA and ECDSA keys sign SHA-256(cp.SignedBytes()) with
// crypto.SHA256 as options; Ed25519 signs the bytes; SM2 signers (gmsm's *sm2.PrivateKey and
// token signers that follow it) take the whole message and hash it with SM3 and the default
// user ID themselves.
func SignCheckpoint(s crypto.Signer, cp Checkpoint) (SignedCheckpoint, error) {
	msg := cp.SignedBytes()
	sc := SignedCheckpoint{Checkpoint: cp, Time: time.Now().UTC().Truncate(time.Second)}
	var err error
	switch pub := s.Public().(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
		d := sha256.Sum256(msg)
		sc.Alg = SigECDSASHA256
		if _, ok := pub.(*rsa.PublicKey); ok {
			sc.Alg = SigRSASHA256
		}
		sc.Signature, err = s.Sign(rand.Reader, d[:], crypto.SHA256)
	case ed25519.PublicKey:
		sc.Alg = SigEd25519
		sc.Signature, err = s.Sign(rand.Reader, msg, crypto.Hash(0))
	case *sm2.PublicKey:
		// SM2/SM3: the signer computes SM3(Z ‖ msg) itself (gmsm's convention; the device
		// package's SM2 signer takes the message the same way).
		sc.Alg = SigSM2SM3
		sc.Signature, err = s.Sign(rand.Reader, msg, nil)
	default:
		return SignedCheckpoint{}, fmt.Errorf("signing a checkpoint: %T keys are not supported (RSA, ECDSA, Ed25519, SM2)", pub)
	}
	if err == nil {
		sc.PublicKey, err = checkpointKeyDER(s.Public())
	}
	if err != nil {
		return SignedCheckpoint{}, fmt.Errorf("signing checkpoint at size %d: %w", cp.Size, err)
	}
	return sc, nil
}

// checkpointKeyDER is the encoding of a signing key in SignedCheckpoint.PublicKey and in the
// pinned keys: PKIX DER (gmsm's encoding for SM2).
func checkpointKeyDER(pub crypto.PublicKey) ([]byte, error) {
	switch p := pub.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return x509.MarshalPKIXPublicKey(p)
	case *sm2.PublicKey:
		return gmx509.MarshalSm2PublicKey(p)
	}
	return nil, fmt.Errorf("%T keys cannot sign checkpoints (RSA, ECDSA, Ed25519, SM2)", pub)
}

// VerifyBy checks the checkpoint's signature with one of keys (PKIX DER, as checkpointKeyDER
// writes them): the keys pinned in the ledger, or the seal certificates the caller trusts.
// Invariant: a checkpoint is trusted only this way, never by the key it carries (anyone can
// sign a checkpoint with a fresh key of their own); ok is false when none of keys made it.
func (c SignedCheckpoint) VerifyBy(keys [][]byte) (ok bool, err error) {
	for _, k := range keys {
		if bytes.Equal(k, c.PublicKey) {
			return true, c.VerifySignature()
		}
	}
	return false, nil
}

// VerifySignature checks the checkpoint's signature against its own public key. That proves
// nothing about who signed: use VerifyBy with the keys you trust.
func (c SignedCheckpoint) VerifySignature() error {
	msg := c.SignedBytes()
	bad := fmt.Errorf("checkpoint at size %d: signature does not verify", c.Size)
	switch c.Alg {
	case SigRSASHA256, SigECDSASHA256, SigEd25519:
		pub, err := x509.ParsePKIXPublicKey(c.PublicKey)
		if err != nil {
			return fmt.Errorf("checkpoint at size %d: public key does not parse: %v", c.Size, err)
		}
		d := sha256.Sum256(msg)
		switch p := pub.(type) {
		case *rsa.PublicKey:
			if c.Alg != SigRSASHA256 {
				return bad
			}
			if rsa.VerifyPKCS1v15(p, crypto.SHA256, d[:], c.Signature) != nil &&
				rsa.VerifyPSS(p, crypto.SHA256, d[:], c.Signature, nil) != nil {
				return bad
			}
		case *ecdsa.PublicKey:
			if c.Alg != SigECDSASHA256 || !ecdsa.VerifyASN1(p, d[:], c.Signature) {
				return bad
			}
		case ed25519.PublicKey:
			if c.Alg != SigEd25519 || !ed25519.Verify(p, msg, c.Signature) {
				return bad
			}
		default:
			return bad
		}
		return nil
	case SigSM2SM3:
		pub, err := gmx509.ParseSm2PublicKey(c.PublicKey)
		if err != nil {
			return fmt.Errorf("checkpoint at size %d: SM2 public key does not parse: %v", c.Size, err)
		}
		if !pub.Verify(msg, c.Signature) {
			return bad
		}
		return nil
	}
	return fmt.Errorf("checkpoint at size %d: unknown signature algorithm %q", c.Size, c.Alg)
}

// Cosigned is the last checkpoint the server co-signed, kept in a file beside the ledger
// (ledger.db.cosigned) so that replacing ledger.db with an older copy does not also roll it
// back. The ledger refuses to open with fewer records than Size (rollback) or with another
// record at Size (fork).
type Cosigned struct {
	Checkpoint SignedCheckpoint `json:"checkpoint"`
	// ServerSignature is the server's signature over Checkpoint.SignedBytes(); checked by
	// the upstream client against the pinned server key before it is stored here.
	ServerSignature []byte    `json:"server_sig,omitempty"`
	Stored          time.Time `json:"stored"`
}

func cosignedPath(path string) string { return path + ".cosigned" }

// ReadCosigned returns the co-signed checkpoint stored beside the ledger at path, or nil.
func ReadCosigned(path string) (*Cosigned, error) {
	b, err := os.ReadFile(cosignedPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c Cosigned
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s is damaged: %v; restore it from a backup or ask the server for the last co-signed checkpoint", cosignedPath(path), err)
	}
	return &c, nil
}

func writeCosigned(path string, c Cosigned) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return atomic.WriteFile(cosignedPath(path), b, 0o600)
}

// Checkpoint signs {size, head} now (if there is anything new since the last one).
func (l *Ledger) Checkpoint() (*SignedCheckpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if err := l.checkpointLocked(); err != nil {
		return nil, err
	}
	var c *SignedCheckpoint
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		c, err = lastCheckpoint(tx)
		return err
	})
	return c, err
}

func (l *Ledger) checkpointLocked() error {
	s := l.signer()
	if s == nil {
		return errors.New("no signer for checkpoints (the seal key is not available)")
	}
	if l.size == l.lastCP {
		return nil
	}
	if !isPinned(l.pins, s.Public()) {
		return errors.New("the seal key is not pinned in this ledger yet: it is pinned at the first login with it (Unlock)")
	}
	if l.verifiedTo != l.size {
		return fmt.Errorf("records %d to %d have not been checked with the data key yet: log in first", l.verifiedTo+1, l.size)
	}
	sc, err := SignCheckpoint(s, Checkpoint{Workstation: l.workstation, Size: l.size, Head: l.head})
	if err != nil {
		return err
	}
	err = l.db.Update(func(tx *bolt.Tx) error { return putCheckpoint(tx, sc) })
	if err != nil {
		return fmt.Errorf("storing checkpoint: %w", err)
	}
	l.lastCP, l.lastCPTime = sc.Size, time.Now()
	return nil
}

// Checkpoints lists the signed checkpoints, oldest first.
func (l *Ledger) Checkpoints() ([]SignedCheckpoint, error) {
	var out []SignedCheckpoint
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCheckpoints).ForEach(func(_, v []byte) error {
			var c SignedCheckpoint
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

func putCheckpoint(tx *bolt.Tx, sc SignedCheckpoint) error {
	b, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], sc.Size)
	return tx.Bucket(bucketCheckpoints).Put(k[:], b)
}

// SetSigner gives the ledger the logged-in custodian's seal key for checkpoints, until Lock or
// Close (Options.Signer is the one for the whole time the ledger is open). A key the ledger has
// not pinned yet is pinned now when the ledger is unlocked, otherwise at the next Unlock:
// checkpoints are signed only by pinned keys, and only a data key holder can pin one.
func (l *Ledger) SetSigner(s crypto.Signer) error {
	if _, err := checkpointKeyDER(s.Public()); err != nil {
		return fmt.Errorf("this seal key cannot sign the ledger's checkpoints: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.session = s
	if l.key == nil || isPinned(l.pins, s.Public()) {
		return nil
	}
	if err := l.update(func(tx *bolt.Tx, c *chain) error { return l.pinTx(tx, c, s) }); err != nil {
		return fmt.Errorf("pinning the seal key for the ledger's checkpoints: %w", err)
	}
	return nil
}

// signer is the key that signs checkpoints now (nil: none).
func (l *Ledger) signer() crypto.Signer {
	if l.session != nil {
		return l.session
	}
	return l.opts.Signer
}

// pinTx pins s's key as a checkpoint key, with a record in the chain saying so.
func (l *Ledger) pinTx(tx *bolt.Tx, c *chain, s crypto.Signer) error {
	cur := c.pins
	if cur == nil {
		cur = l.pins
	}
	pins, p, err := pinKey(tx, cur, s.Public(), c.size)
	if err != nil || p == nil {
		return err
	}
	c.pins, c.meta = pins, true
	_, err = l.appendTx(tx, c, []Record{{Kind: KindSettingsChanged, Setting: "checkpoint key", New: p.ID,
		Detail: "the seal key that signs this ledger's checkpoints from now on; checkpoints by any other key are refused"}})
	return err
}

package ticket

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"
)

// Allowance is the server's signed permission to print extra copies (加印) of one stamped file
// on one workstation. It is the ticket's sibling: the same key, algorithms and encoding, its
// own prefix and domain string, so neither can be taken for the other.
//
//	ska1.<base64url(payload)>.<base64url(signature)>
type Allowance struct {
	Alg          Alg
	KeyID        [8]byte
	DocumentID   string
	Workstation  string
	OutputSHA256 [32]byte // the stamped file the copies are printed from
	Copies       int
	IssuedAt     time.Time
	Nonce        [nonceSize]byte
}

const (
	allowancePrefix  = "ska1."
	allowanceDomain  = "SealKeeper copy allowance v1\x00"
	allowanceVersion = 1
)

// ID is the allowance's identity (its nonce in hex): an allowance is counted once.
func (a *Allowance) ID() string { return hex.EncodeToString(a.Nonce[:]) }

func (a *Allowance) payload() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte(allowanceVersion)
	b.WriteByte(byte(a.Alg))
	b.Write(a.KeyID[:])
	for _, s := range []string{a.DocumentID, a.Workstation} {
		if len(s) > 255 {
			return nil, errors.New("copy allowance field longer than 255 bytes")
		}
		b.WriteByte(byte(len(s)))
		b.WriteString(s)
	}
	b.Write(a.OutputSHA256[:])
	if a.Copies < 1 || a.Copies > 0xffff {
		return nil, fmt.Errorf("copy allowance of %d copies is outside 1..65535", a.Copies)
	}
	var n [8]byte
	binary.BigEndian.PutUint16(n[:2], uint16(a.Copies))
	b.Write(n[:2])
	binary.BigEndian.PutUint64(n[:], uint64(a.IssuedAt.Unix()))
	b.Write(n[:])
	b.Write(a.Nonce[:])
	return b.Bytes(), nil
}

func parseAllowance(p []byte) (*Allowance, error) {
	r := bytes.NewReader(p)
	bad := errors.New("the copy allowance is cut short or has extra bytes")
	var head [10]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, bad
	}
	if head[0] != allowanceVersion {
		return nil, fmt.Errorf("copy allowance version %d is not supported", head[0])
	}
	a := &Allowance{Alg: Alg(head[1])}
	copy(a.KeyID[:], head[2:])
	for _, dst := range []*string{&a.DocumentID, &a.Workstation} {
		n, err := r.ReadByte()
		if err != nil {
			return nil, bad
		}
		s := make([]byte, n)
		if _, err := io.ReadFull(r, s); err != nil {
			return nil, bad
		}
		*dst = string(s)
	}
	var rest [32 + 2 + 8 + nonceSize]byte
	if _, err := io.ReadFull(r, rest[:]); err != nil || r.Len() != 0 {
		return nil, bad
	}
	copy(a.OutputSHA256[:], rest[:32])
	a.Copies = int(binary.BigEndian.Uint16(rest[32:34]))
	a.IssuedAt = time.Unix(int64(binary.BigEndian.Uint64(rest[34:42])), 0).UTC()
	copy(a.Nonce[:], rest[42:])
	return a, nil
}

// SignAllowance fills Alg, KeyID and Nonce and returns the allowance's text.
func SignAllowance(a Allowance, key crypto.Signer) (string, error) {
	a.Nonce = [nonceSize]byte{} // always a fresh one: an allowance is counted once by it
	alg, err := signerFields(key, &a.Alg, &a.KeyID, &a.Nonce)
	if err != nil {
		return "", err
	}
	p, err := a.payload()
	if err != nil {
		return "", err
	}
	return sealText(allowancePrefix, allowanceDomain, alg, key, p, "copy allowance")
}

// VerifyAllowance checks an allowance against the pinned server key and this workstation.
func VerifyAllowance(s string, pinned crypto.PublicKey, workstation string) (*Allowance, error) {
	p, sig, err := openText(s, allowancePrefix, "copy allowance")
	if err != nil {
		return nil, err
	}
	a, err := parseAllowance(p)
	if err != nil {
		return nil, &Error{Reason: Malformed, msg: "the copy allowance is damaged: " + err.Error()}
	}
	kid, err := KeyIDOf(pinned)
	if err != nil {
		return nil, err
	}
	if a.KeyID != kid || !verifyMessage(a.Alg, pinned, append([]byte(allowanceDomain), p...), sig) {
		return nil, &Error{Reason: WrongKey, msg: "the copy allowance was not signed by the seal-management server this workstation is enrolled with; no extra copies are printed"}
	}
	if a.Workstation != workstation {
		return nil, &Error{Reason: OtherWorkstation, msg: fmt.Sprintf("the copy allowance was issued to workstation %q, not to this one (%q)", a.Workstation, workstation)}
	}
	return a, nil
}

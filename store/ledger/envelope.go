// Package ledger is the workstation's usage ledger: an append-only, encrypted, hash-chained
// record of every use of the seal, kept in a bbolt file.
//
// This file holds the wire form of one record (the envelope) and of a checkpoint. Both the
// workstation and the server compute hashes over these exact bytes, so the encoding is fixed:
// changing it is a protocol change.
package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"github.com/tjfoc/gmsm/sm3"
)

// HashSize is the size of an SM3 digest.
const HashSize = 32

// NonceSize is the SM4-GCM nonce size.
const NonceSize = 12

// MaxCiphertext bounds one record so a corrupt length field cannot make a reader allocate
// gigabytes.
const MaxCiphertext = 16 << 20

const envelopeMagic = "SKE1"

// Envelope is one ledger record as stored and as sent upstream. The server can check the chain
// (Seq, PrevHash, Hash) without being able to read Ciphertext.
type Envelope struct {
	Seq        uint64         // 1 for the first record; no gaps
	PrevHash   [HashSize]byte // Hash() of the record before; zero for seq 1
	Nonce      [NonceSize]byte
	Ciphertext []byte // SM4-GCM sealed record, tag included
}

// AssociatedData is what the AEAD binds besides the plaintext: seq (8 bytes, big-endian) ‖ prevHash.
func (e Envelope) AssociatedData() []byte {
	ad := make([]byte, 8+HashSize)
	binary.BigEndian.PutUint64(ad, e.Seq)
	copy(ad[8:], e.PrevHash[:])
	return ad
}

// envelopeHead is the fixed part of an envelope, before the ciphertext.
const envelopeHead = 4 + 8 + HashSize + NonceSize + 4

// The functions below are the only code that knows the envelope's bytes; the append path, the
// scanner and the hub all go through them (the first two without copying, for speed). The
// vectors in testdata/envelope pin the layout: a change here fails TestEnvelopeVectors.

// appendEnvelopeHeader appends "SKE1" ‖ seq u64be ‖ prevHash[32] ‖ nonce[12] ‖ len u32be for a
// ciphertext of n bytes, which the caller appends (or seals in place) right after.
func appendEnvelopeHeader(b []byte, seq uint64, prev *[HashSize]byte, nonce []byte, n int) []byte {
	b = append(b, envelopeMagic...)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = append(b, prev[:]...)
	b = append(b, nonce[:NonceSize]...)
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

// envelopeAD is seq ‖ prevHash (AssociatedData) inside an encoded envelope or header, uncopied.
func envelopeAD(raw []byte) []byte { return raw[4 : 12+HashSize] }

// envelopeView is a parsed envelope whose fields are slices of the bytes it was parsed from.
type envelopeView struct {
	seq        uint64
	prev       []byte // HashSize bytes
	ad         []byte // seq ‖ prevHash: AssociatedData without a copy
	nonce      []byte // NonceSize bytes
	ciphertext []byte
}

// parseEnvelope checks b is exactly one envelope and returns views into it. The error's detail
// (after ErrMalformedEnvelope) says what is wrong.
func parseEnvelope(b []byte) (envelopeView, error) {
	if len(b) < envelopeHead || string(b[:4]) != envelopeMagic {
		return envelopeView{}, fmt.Errorf("%w: %d bytes with no SKE1 header", ErrMalformedEnvelope, len(b))
	}
	n := binary.BigEndian.Uint32(b[envelopeHead-4 : envelopeHead])
	if n > MaxCiphertext || int(n) != len(b)-envelopeHead {
		return envelopeView{}, fmt.Errorf("%w: length field says %d bytes, %d present", ErrMalformedEnvelope, n, len(b)-envelopeHead)
	}
	return envelopeView{
		seq:        binary.BigEndian.Uint64(b[4:12]),
		prev:       b[12 : 12+HashSize],
		ad:         envelopeAD(b),
		nonce:      b[12+HashSize : 12+HashSize+NonceSize],
		ciphertext: b[envelopeHead:],
	}, nil
}

// entryHashOf writes the entry hash of the encoded envelope raw, SM3(0x00 ‖ raw), into out,
// using h (an SM3 state, reset here) so batch callers can reuse one. The 0x00 prefix separates
// entry hashes from checkpoint hashes (0x01) so one can never be passed off as the other.
func entryHashOf(h hash.Hash, raw []byte, out *[HashSize]byte) {
	h.Reset()
	h.Write([]byte{0x00})
	h.Write(raw)
	h.Sum(out[:0])
}

// MarshalBinary encodes: "SKE1" ‖ seq u64be ‖ prevHash[32] ‖ nonce[12] ‖ len u32be ‖ ciphertext.
func (e Envelope) MarshalBinary() ([]byte, error) {
	if len(e.Ciphertext) > MaxCiphertext {
		return nil, fmt.Errorf("ledger record %d: ciphertext of %d bytes is over the %d-byte limit", e.Seq, len(e.Ciphertext), MaxCiphertext)
	}
	b := appendEnvelopeHeader(make([]byte, 0, envelopeHead+len(e.Ciphertext)), e.Seq, &e.PrevHash, e.Nonce[:], len(e.Ciphertext))
	return append(b, e.Ciphertext...), nil
}

// ErrMalformedEnvelope is returned for bytes that are not an envelope.
var ErrMalformedEnvelope = errors.New("malformed ledger envelope")

// UnmarshalBinary decodes what MarshalBinary wrote and nothing else: trailing bytes are an error.
func (e *Envelope) UnmarshalBinary(b []byte) error {
	v, err := parseEnvelope(b)
	if err != nil {
		return err
	}
	e.Seq = v.seq
	copy(e.PrevHash[:], v.prev)
	copy(e.Nonce[:], v.nonce)
	e.Ciphertext = append([]byte(nil), v.ciphertext...)
	return nil
}

// Hash is the entry hash: SM3(0x00 ‖ MarshalBinary()) (entryHashOf).
func (e Envelope) Hash() [HashSize]byte {
	raw, err := e.MarshalBinary()
	if err != nil {
		// Only an oversized ciphertext fails, and such an envelope is never written or accepted.
		raw = nil
	}
	var out [HashSize]byte
	entryHashOf(sm3.New(), raw, &out)
	return out
}

// Checkpoint states that a workstation's ledger had Size records ending in Head. It is signed by
// the seal key (workstation side) and co-signed by the server on sync.
type Checkpoint struct {
	Workstation string
	Size        uint64
	Head        [HashSize]byte
}

// SignedBytes is the message both sides sign: "SKC1" ‖ len u16be ‖ workstation ‖ size u64be ‖ head.
func (c Checkpoint) SignedBytes() []byte {
	b := make([]byte, 0, 4+2+len(c.Workstation)+8+HashSize)
	b = append(b, "SKC1"...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.Workstation)))
	b = append(b, c.Workstation...)
	b = binary.BigEndian.AppendUint64(b, c.Size)
	b = append(b, c.Head[:]...)
	return b
}

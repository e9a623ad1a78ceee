package ledger_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/vectortest"
)

// testdata/envelope (store/vectortest's layout):
// good_*: "hash: HEX" (the entry hash); the bytes decode and re-encode unchanged.
// fail_*: the bytes are refused with ErrMalformedEnvelope.
const envelopeVectors = "testdata/envelope"

func TestEnvelopeVectors(t *testing.T) {
	vectortest.Run(t, envelopeVectors, writeEnvelopeVectors, func(t *testing.T, v vectortest.Vector) {
		var e ledger.Envelope
		err := e.UnmarshalBinary(v.Body)
		if !v.Good {
			if !errors.Is(err, ledger.ErrMalformedEnvelope) {
				t.Fatalf("got %v, want ErrMalformedEnvelope", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("refused a good envelope: %v", err)
		}
		again, err := e.MarshalBinary()
		if err != nil || !bytes.Equal(again, v.Body) {
			t.Fatalf("re-encoded to %x (%v), want %x", again, err, v.Body)
		}
		if h, want := e.Hash(), v.Get(t, "hash"); hex.EncodeToString(h[:]) != want {
			t.Fatalf("entry hash %x, the vector says %q", h, want)
		}
	})
}

func writeEnvelopeVectors(add vectortest.Add) {
	var prev [ledger.HashSize]byte
	for i := range prev {
		prev[i] = byte(0xa0 + i)
	}
	var nonce [ledger.NonceSize]byte
	for i := range nonce {
		nonce[i] = byte(i + 1)
	}
	enc := func(e ledger.Envelope) []byte {
		b, err := e.MarshalBinary()
		if err != nil {
			panic(err)
		}
		return b
	}
	first := ledger.Envelope{Seq: 1, Nonce: nonce, Ciphertext: []byte("sixteen-byte-tag+ciphertext")}
	chained := ledger.Envelope{Seq: 0x0102030405060708, PrevHash: prev, Nonce: nonce, Ciphertext: bytes.Repeat([]byte{0xff, 0x00}, 40)}
	empty := ledger.Envelope{Seq: 2, PrevHash: prev, Nonce: nonce}
	good := map[string]ledger.Envelope{"good_first": first, "good_chained": chained, "good_empty_ciphertext": empty}
	c := enc(chained)
	badMagic := append([]byte("SKE2"), c[4:]...)
	overLimit := append([]byte(nil), c...)
	copy(overLimit[4+8+ledger.HashSize+ledger.NonceSize:], []byte{0x01, 0x00, 0x00, 0x01})
	fail := map[string][]byte{
		"fail_empty":             {},
		"fail_bad_magic":         badMagic,
		"fail_short_header":      c[:4+8+ledger.HashSize+ledger.NonceSize+3],
		"fail_truncated":         c[:len(c)-1],
		"fail_trailing_byte":     append(append([]byte(nil), c...), 0),
		"fail_length_over_limit": overLimit,
	}
	for name, e := range good {
		h := e.Hash()
		add(name, map[string]string{"hash": hex.EncodeToString(h[:])}, enc(e))
	}
	for name, raw := range fail {
		add(name, map[string]string{"expect": "ErrMalformedEnvelope"}, raw)
	}
}

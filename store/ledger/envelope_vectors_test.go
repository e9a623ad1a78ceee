package ledger_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// Each file in testdata/envelope is a text header, one blank line, then the envelope bytes.
// good_*: "hash: HEX" (the entry hash); the bytes decode and re-encode unchanged.
// fail_*: the bytes are refused with ErrMalformedEnvelope.
// SEALKEEPER_WRITE_VECTORS=1 rewrites them from writeEnvelopeVectors; do that only for a
// deliberate format change, which is a protocol change (existing ledgers and the hub).
const envelopeVectors = "testdata/envelope"

func TestEnvelopeVectors(t *testing.T) {
	if os.Getenv("SEALKEEPER_WRITE_VECTORS") == "1" {
		writeEnvelopeVectors(t)
	}
	files, err := filepath.Glob(filepath.Join(envelopeVectors, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors in %s: %v", envelopeVectors, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			head, raw, ok := bytes.Cut(b, []byte("\n\n"))
			if !ok {
				t.Fatalf("%s: no blank line after the header", name)
			}
			var e ledger.Envelope
			err = e.UnmarshalBinary(raw)
			switch {
			case strings.HasPrefix(name, "good_"):
				if err != nil {
					t.Fatalf("refused a good envelope: %v", err)
				}
				again, err := e.MarshalBinary()
				if err != nil || !bytes.Equal(again, raw) {
					t.Fatalf("re-encoded to %x (%v), want %x", again, err, raw)
				}
				var want string
				for _, l := range strings.Split(string(head), "\n") {
					if h, ok := strings.CutPrefix(l, "hash: "); ok {
						want = h
					}
				}
				if h := e.Hash(); hex.EncodeToString(h[:]) != want {
					t.Fatalf("entry hash %x, the vector says %q", h, want)
				}
			case strings.HasPrefix(name, "fail_"):
				if !errors.Is(err, ledger.ErrMalformedEnvelope) {
					t.Fatalf("got %v, want ErrMalformedEnvelope", err)
				}
			default:
				t.Fatalf("%s: a vector is named good_* or fail_*", name)
			}
		})
	}
}

func writeEnvelopeVectors(t *testing.T) {
	t.Helper()
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
			t.Fatal(err)
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
	if err := os.MkdirAll(envelopeVectors, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, e := range good {
		h := e.Hash()
		out := append([]byte("hash: "+hex.EncodeToString(h[:])+"\n\n"), enc(e)...)
		if err := os.WriteFile(filepath.Join(envelopeVectors, name), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, raw := range fail {
		out := append([]byte("expect: ErrMalformedEnvelope\n\n"), raw...)
		if err := os.WriteFile(filepath.Join(envelopeVectors, name), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

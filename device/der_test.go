package device

import (
	"bytes"
	"encoding/asn1"
	"math/big"
	"testing"
)

// rawToDER must give exactly what encoding/asn1 gives for SEQUENCE{r, s}, including leading
// zero bytes (stripped) and a set top bit (a 0x00 added).
func TestRawToDER(t *testing.T) {
	for _, raw := range [][]byte{
		append(bytes.Repeat([]byte{0x80}, 32), bytes.Repeat([]byte{0x7f}, 32)...),
		append(append([]byte{0, 0, 0x01}, bytes.Repeat([]byte{0xff}, 29)...), append([]byte{0, 0x80}, bytes.Repeat([]byte{1}, 30)...)...),
		make([]byte, 64),
		{1, 2},
	} {
		got, err := rawToDER(raw)
		if err != nil {
			t.Fatal(err)
		}
		n := len(raw) / 2
		want, _ := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:n]), new(big.Int).SetBytes(raw[n:])})
		if !bytes.Equal(got, want) {
			t.Errorf("%x:\n got %x\nwant %x", raw, got, want)
		}
	}
	if _, err := rawToDER([]byte{1, 2, 3}); err == nil {
		t.Error("odd length accepted")
	}
}

// sm2DER keeps a DER signature, turns 64 bytes of r||s into DER and refuses anything else.
func TestSM2DER(t *testing.T) {
	raw := bytes.Repeat([]byte{0x81}, 64)
	der, err := sm2DER(raw)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := rawToDER(raw)
	if !bytes.Equal(der, want) {
		t.Fatalf("r||s gave %x, want %x", der, want)
	}
	if again, err := sm2DER(der); err != nil || !bytes.Equal(again, der) {
		t.Fatalf("DER gave %x, %v; want it unchanged", again, err)
	}
	for _, bad := range [][]byte{nil, raw[:63], append(bytes.Clone(der), 0), {0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01}} {
		if _, err := sm2DER(bad); err == nil {
			t.Errorf("%x accepted", bad)
		}
	}
}

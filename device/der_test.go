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

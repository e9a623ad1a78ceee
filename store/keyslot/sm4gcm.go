package keyslot

import (
	"crypto/cipher"
	"fmt"

	"github.com/tjfoc/gmsm/sm4"
)

// KeySize is the size of an SM4 key, and so of a data key.
const KeySize = 16

// NewSM4GCM returns SM4 in GCM mode: the standard library's cipher.NewGCM over tjfoc/gmsm's SM4
// block cipher (12-byte nonce, 16-byte tag, as RFC 8998 specifies for SM4-GCM).
//
// gmsm's own Sm4GCM helper is not used: it computes a wrong tag and does not check it on
// decryption. The testdata/sm4gcm vectors pin this construction against known answers.
//
// The returned AEAD is NOT safe for concurrent use: gmsm's SM4 block keeps scratch buffers in
// the cipher value. Make one per goroutine.
func NewSM4GCM(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("SM4 key must be %d bytes, got %d", KeySize, len(key))
	}
	b, err := sm4.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

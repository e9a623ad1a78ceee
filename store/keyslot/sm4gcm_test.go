package keyslot_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
)

var update = flag.Bool("update", false, "write new good_*/fail_* SM4-GCM vectors (known answers computed once)")

type vector struct {
	Comment    string `json:"comment,omitempty"`
	Key        string `json:"key"`
	Nonce      string `json:"nonce"`
	AAD        string `json:"aad"`
	Plaintext  string `json:"plaintext"`
	Ciphertext string `json:"ciphertext"` // ciphertext ‖ tag
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSM4GCMVectors drives every testdata/sm4gcm file through one loop: good_* must seal to the
// stored ciphertext and open back; fail_* (tampered tag, ciphertext, nonce or associated data)
// must be refused.
func TestSM4GCMVectors(t *testing.T) {
	if *update {
		writeVectors(t)
	}
	files, err := filepath.Glob("testdata/sm4gcm/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	var good, bad int
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var v vector
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			aead, err := keyslot.NewSM4GCM(unhex(t, v.Key))
			if err != nil {
				t.Fatal(err)
			}
			nonce, aad, pt, ct := unhex(t, v.Nonce), unhex(t, v.AAD), unhex(t, v.Plaintext), unhex(t, v.Ciphertext)
			got, err := aead.Open(nil, nonce, ct, aad)
			switch {
			case strings.HasPrefix(name, "good_"):
				good++
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				if !bytes.Equal(got, pt) {
					t.Fatalf("plaintext %x, want %x", got, pt)
				}
				if sealed := aead.Seal(nil, nonce, pt, aad); !bytes.Equal(sealed, ct) {
					t.Fatalf("seal gives %x, want %x", sealed, ct)
				}
			case strings.HasPrefix(name, "fail_"):
				bad++
				if err == nil {
					t.Fatalf("tampered vector opened: %x", got)
				}
			default:
				t.Fatalf("vector file %s must start with good_ or fail_", name)
			}
		})
	}
	if good < 2 || bad < 4 {
		t.Fatalf("only %d good and %d fail vectors", good, bad)
	}
}

func writeVectors(t *testing.T) {
	rnd := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	put := func(name string, v vector) {
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(filepath.Join("testdata/sm4gcm", name), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range []int{0, 1, 16, 37, 300} {
		key, nonce, aad, pt := rnd(16), rnd(12), rnd(i*7), rnd(n)
		aead, _ := keyslot.NewSM4GCM(key)
		ct := aead.Seal(nil, nonce, pt, aad)
		v := vector{Key: hex.EncodeToString(key), Nonce: hex.EncodeToString(nonce), AAD: hex.EncodeToString(aad), Plaintext: hex.EncodeToString(pt), Ciphertext: hex.EncodeToString(ct)}
		put("good_"+string(rune('a'+i))+".json", v)
		if i != 3 {
			continue
		}
		flip := func(s string, at int) string {
			b, _ := hex.DecodeString(s)
			b[at] ^= 0x01
			return hex.EncodeToString(b)
		}
		w := v
		w.Comment, w.Ciphertext = "last tag byte flipped", flip(v.Ciphertext, len(ct)-1)
		put("fail_tag.json", w)
		w = v
		w.Comment, w.Ciphertext = "first ciphertext byte flipped", flip(v.Ciphertext, 0)
		put("fail_ciphertext.json", w)
		w = v
		w.Comment, w.Nonce = "nonce flipped", flip(v.Nonce, 5)
		put("fail_nonce.json", w)
		w = v
		w.Comment, w.AAD = "associated data flipped", flip(v.AAD, 2)
		put("fail_aad.json", w)
		w = v
		w.Comment, w.Ciphertext = "tag cut off", v.Ciphertext[:len(v.Ciphertext)-32]
		put("fail_truncated.json", w)
	}
}

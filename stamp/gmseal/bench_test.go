package gmseal_test

import (
	"crypto/rand"
	"crypto/sha256"
	"io"
	"testing"
	"time"

	"github.com/tjfoc/gmsm/sm2"
	"github.com/tjfoc/gmsm/sm3"

	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
)

// BenchmarkSM2 puts our seal signature (parse the seal, check the key, build TBS_Sign, sign)
// and its full verification (two SM2 verifications, certificates parsed) next to one bare
// tjfoc SM2 sign and verify over a message of the same size. Figures only.
func BenchmarkSM2(b *testing.B) {
	now := time.Now()
	f := newFixture(b, now.Add(-time.Minute), now.AddDate(1, 0, 0))
	digest := make([]byte, 32)
	spec := gmseal.SignSpec{Seal: f.seal, Time: now, DataHash: digest, PropertyInfo: "Seal1", Cert: f.signer.cert}
	der, err := gmseal.Sign(spec, f.signer.key)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, len(der))
	bareSig, _ := f.signer.key.Sign(rand.Reader, msg, nil)
	b.Run("bare-tjfoc-sign", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := sm2.Sm2Sign(f.signer.key, msg, nil, rand.Reader); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gmseal-Sign", func(b *testing.B) {
		for b.Loop() {
			if _, err := gmseal.Sign(spec, f.signer.key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-tjfoc-verify", func(b *testing.B) {
		for b.Loop() {
			if !f.signer.key.PublicKey.Verify(msg, bareSig) {
				b.Fatal("no")
			}
		}
	})
	b.Run("gmseal-Verify(2 SM2 verifications)", func(b *testing.B) {
		for b.Loop() {
			g, err := gmseal.ParseSignature(der)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := g.Verify(gmseal.VerifyOptions{Digest: digest}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSM3 is bare tjfoc SM3 next to the stamping pass, which hashes the input with
// SHA-256 and SM3 through one io.MultiWriter (32 KiB copies).
func BenchmarkSM3(b *testing.B) {
	data := make([]byte, 8<<20)
	b.Run("bare-tjfoc", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			h := sm3.New()
			for off := 0; off < len(data); off += 32 << 10 {
				h.Write(data[off : off+32<<10])
			}
			h.Sum(nil)
		}
	})
	b.Run("stamping-pass(SHA-256+SM3)", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			h1, h2 := sha256.New(), sm3.New()
			w := io.MultiWriter(h1, h2)
			for off := 0; off < len(data); off += 32 << 10 {
				w.Write(data[off : off+32<<10])
			}
			h1.Sum(nil)
			h2.Sum(nil)
		}
	})
}

package device_test

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/tjfoc/gmsm/sm2"

	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/gmtoken/gmtokentest"
	"github.com/sealkeeper/sealkeeper/device/softhsmtest"
)

// BenchmarkSign compares a signature through our crypto.Signer with a bare miekg/pkcs11
// C_SignInit+C_Sign on the same key (RSA-2048 PKCS#1 v1.5 SHA-256, ECDSA P-256 SHA-256).
// The wrapper adds the DigestInfo prefix (RSA) or the DER conversion (ECDSA) and a mutex.
func BenchmarkSign(b *testing.B) {
	tok := softhsmtest.New(b)
	m, err := device.OpenModule(tok.Module)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	s, err := m.Login(tok.Info, tok.UserPIN)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	keys, err := s.Seals()
	if err != nil {
		b.Fatal(err)
	}

	// The bare path: a second handle on the same (already initialised) library.
	ctx := pkcs11.New(tok.Module)
	defer ctx.Destroy() // not Finalize: the module stays initialised for device
	sh, err := ctx.OpenSession(s.Token().SlotID, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		b.Fatal(err)
	}
	defer ctx.CloseSession(sh)
	// Login state is per token and application; device's session already logged in.
	if err := ctx.Login(sh, pkcs11.CKU_USER, tok.UserPIN); err != nil && err != pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		b.Fatal(err)
	}

	digest := sha256.Sum256([]byte("benchmark"))
	sha256Info := append([]byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}, digest[:]...)
	for _, c := range []struct {
		name  string
		id    []byte
		mech  uint
		input []byte
	}{
		{"RSA2048", softhsmtest.RSAKeyID, pkcs11.CKM_RSA_PKCS, sha256Info},
		{"P256", softhsmtest.ECKeyID, pkcs11.CKM_ECDSA, digest[:]},
	} {
		var key device.SealKey
		for _, k := range keys {
			if string(k.ID) == string(c.id) {
				key = k
			}
		}
		signer, err := s.Signer(key)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/Signer", func(b *testing.B) {
			for b.Loop() {
				if _, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
		})
		if err := ctx.FindObjectsInit(sh, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_ID, c.id),
		}); err != nil {
			b.Fatal(err)
		}
		objs, _, err := ctx.FindObjects(sh, 1)
		ctx.FindObjectsFinal(sh)
		if err != nil || len(objs) != 1 {
			b.Fatalf("bare find: %v %v", objs, err)
		}
		mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(c.mech, nil)}
		bare := func(b *testing.B) {
			if err := ctx.SignInit(sh, mech, objs[0]); err != nil {
				b.Fatal(err)
			}
			if _, err := ctx.Sign(sh, c.input); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(c.name+"/bare", func(b *testing.B) {
			for b.Loop() {
				bare(b)
			}
		})
		// The machine may be shared (load 10+ on 2 cores while this was written), which makes
		// wall time mostly scheduling noise. So alternate the two calls, and time each by the
		// CPU time of this OS thread (the module signs on the calling thread), reporting each
		// one's mean and the wrapper's overhead.
		b.Run(c.name+"/interleaved", func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var tw, tb time.Duration
			wrapped := func() {
				t0 := threadCPU()
				if _, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
				tw += threadCPU() - t0
			}
			plain := func() {
				t0 := threadCPU()
				bare(b)
				tb += threadCPU() - t0
			}
			for i := 0; b.Loop(); i++ {
				if i%2 == 0 { // alternate the order too
					wrapped()
					plain()
				} else {
					plain()
					wrapped()
				}
			}
			n := float64(b.N)
			b.ReportMetric(float64(tw.Nanoseconds())/n, "signer-cpu-ns/op")
			b.ReportMetric(float64(tb.Nanoseconds())/n, "bare-cpu-ns/op")
			b.ReportMetric(100*(float64(tw)-float64(tb))/float64(tb), "overhead-%")
		})
	}
}

// BenchmarkSM2 prints SM2 through our signer on the GM test token (a Z-hashing mechanism, and
// raw SM2 over e computed on the host) next to tjfoc/gmsm's software SM2 sign and verify in
// the same run. The token is itself tjfoc/gmsm behind PKCS#11, so the difference is the cost
// of the PKCS#11 path (and, for raw, of hashing Z on the host).
func BenchmarkSM2(b *testing.B) {
	msg := make([]byte, 1024)
	for _, c := range []struct {
		name string
		opts []gmtokentest.Option
	}{
		{"token/Z", nil},
		{"token/raw", []gmtokentest.Option{gmtokentest.Mechanisms(gmtokentest.CKMSM2Sign)}},
	} {
		func() {
			tok := gmtokentest.New(b, c.opts...)
			m, err := device.OpenModule(tok.Module)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			toks, err := m.Tokens()
			if err != nil || len(toks) != 1 {
				b.Fatal(toks, err)
			}
			s, err := m.Login(toks[0], tok.UserPIN)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			keys, err := s.Seals()
			if err != nil || len(keys) != 1 {
				b.Fatal(keys, err)
			}
			signer, err := s.Signer(keys[0])
			if err != nil {
				b.Fatal(err)
			}
			b.Run(c.name+"/sign", func(b *testing.B) {
				for b.Loop() {
					if _, err := signer.Sign(rand.Reader, msg, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
			if c.opts != nil {
				return
			}
			// What opening an SM2 key slot costs on the token: one 16-byte data key decrypted.
			d, err := s.Decrypter(keys[0])
			if err != nil {
				b.Fatal(err)
			}
			ct, err := sm2.Encrypt(tok.Public, make([]byte, 16), rand.Reader, sm2.C1C3C2)
			if err != nil {
				b.Fatal(err)
			}
			b.Run("token/decrypt-slot-key", func(b *testing.B) {
				for b.Loop() {
					if _, err := d.Decrypt(rand.Reader, ct, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}()
	}
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	var sig []byte
	b.Run("tjfoc/sign", func(b *testing.B) {
		for b.Loop() {
			if sig, err = key.Sign(rand.Reader, msg, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tjfoc/verify", func(b *testing.B) {
		for b.Loop() {
			if !key.PublicKey.Verify(msg, sig) {
				b.Fatal("does not verify")
			}
		}
	})
	ct, err := sm2.Encrypt(&key.PublicKey, make([]byte, 16), rand.Reader, sm2.C1C3C2)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("tjfoc/decrypt-slot-key", func(b *testing.B) {
		for b.Loop() {
			if _, err := key.Decrypt(rand.Reader, ct, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package ledger_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/vectortest"
)

// testdata/checkpoint (store/vectortest's layout): a SignedCheckpoint as the checkpoints bucket
// stores it and sync sends it (JSON).
// good_*: "signed: HEX" is its SignedBytes ("SKC1" ‖ len u16 ‖ workstation ‖ size u64 ‖ head),
// the signature verifies by the key it names, and it re-encodes to the same JSON.
// fail_*: it does not parse, or its signature does not verify.
const checkpointVectors = "testdata/checkpoint"

// checkpointVectorKey signs the vectors: Ed25519 from a fixed seed, so that rewriting them
// without a format change changes no byte.
func checkpointVectorKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func TestCheckpointVectors(t *testing.T) {
	vectortest.Run(t, checkpointVectors, writeCheckpointVectors, func(t *testing.T, v vectortest.Vector) {
		var c ledger.SignedCheckpoint
		err := json.Unmarshal(v.Body, &c)
		if err == nil {
			var ok bool
			ok, err = c.VerifyBy([][]byte{c.PublicKey})
			if !ok && err == nil {
				t.Fatal("VerifyBy with the checkpoint's own key did not find it")
			}
		}
		if !v.Good {
			if err == nil {
				t.Fatalf("accepted a bad checkpoint: %+v", c)
			}
			return
		}
		if err != nil {
			t.Fatalf("refused a good checkpoint: %v", err)
		}
		if got, want := hex.EncodeToString(c.SignedBytes()), v.Get(t, "signed"); got != want {
			t.Fatalf("signed bytes %s, the vector says %s", got, want)
		}
		again, err := json.Marshal(c)
		if err != nil || !bytes.Equal(again, v.Body) {
			t.Fatalf("re-encoded to %s (%v), want %s", again, err, v.Body)
		}
	})
}

func writeCheckpointVectors(add vectortest.Add) {
	var head [ledger.HashSize]byte
	for i := range head {
		head[i] = byte(0xc0 + i)
	}
	sign := func(cp ledger.Checkpoint, seed byte) ledger.SignedCheckpoint {
		sc, err := ledger.SignCheckpoint(checkpointVectorKey(seed), cp)
		if err != nil {
			panic(err)
		}
		sc.Time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		return sc
	}
	js := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return b
	}
	good := map[string]ledger.SignedCheckpoint{
		"good_ed25519":           sign(ledger.Checkpoint{Workstation: "WS-01", Size: 0x0102030405060708, Head: head}, 1),
		"good_first_record":      sign(ledger.Checkpoint{Workstation: "财务部-工作站", Size: 1, Head: head}, 1),
		"good_empty_workstation": sign(ledger.Checkpoint{Size: 7}, 2),
	}
	for name, sc := range good {
		add(name, map[string]string{"signed": hex.EncodeToString(sc.SignedBytes())}, js(sc))
	}
	base := good["good_ed25519"]
	changed := func(f func(*ledger.SignedCheckpoint)) []byte {
		c := base
		c.PublicKey = append([]byte(nil), base.PublicKey...)
		c.Signature = append([]byte(nil), base.Signature...)
		f(&c)
		return js(c)
	}
	other := sign(base.Checkpoint, 3)
	var raw map[string]any
	if err := json.Unmarshal(js(base), &raw); err != nil {
		panic(err)
	}
	withHead := func(h string) []byte {
		m := map[string]any{}
		for k, v := range raw {
			m[k] = v
		}
		m["head"] = h
		return js(m)
	}
	fail := map[string][]byte{
		"fail_size_changed":        changed(func(c *ledger.SignedCheckpoint) { c.Size++ }),
		"fail_workstation_changed": changed(func(c *ledger.SignedCheckpoint) { c.Workstation = "WS-02" }),
		"fail_head_changed":        changed(func(c *ledger.SignedCheckpoint) { c.Head[0] ^= 1 }),
		"fail_signature_cut":       changed(func(c *ledger.SignedCheckpoint) { c.Signature = c.Signature[:len(c.Signature)-1] }),
		"fail_other_key":           changed(func(c *ledger.SignedCheckpoint) { c.PublicKey = other.PublicKey }),
		"fail_alg_ecdsa":           changed(func(c *ledger.SignedCheckpoint) { c.Alg = ledger.SigECDSASHA256 }),
		"fail_alg_unknown":         changed(func(c *ledger.SignedCheckpoint) { c.Alg = "none" }),
		"fail_head_not_hex":        withHead("zz" + hex.EncodeToString(head[1:])),
		"fail_head_short":          withHead(hex.EncodeToString(head[:ledger.HashSize-1])),
		"fail_not_json":            []byte(`{"ws":"WS-01","size":`),
	}
	for name, b := range fail {
		add(name, map[string]string{"expect": "refused"}, b)
	}
}

package ledger

import (
	"bytes"
	"crypto"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The ledger's authenticated metadata (meta bucket, MAC version 2)
//
//	macv      "2": metamac covers the fields below besides workstation, created and the slots
//	state     size u64be ‖ head[32]: the chain as the last write with the data key left it
//	cpkeys    JSON []pinnedKey: the keys whose checkpoints this ledger trusts
//	legacy    size u64be: the size at which a ledger of MAC version 1 was upgraded (its
//	          checkpoints up to there were made before any key was pinned); absent otherwise
//	floor     size u64be ‖ head[32]: the largest server co-signed checkpoint the ledger has seen
//	          while the data key was in hand ("this ledger was synced up to here")
//	cosigned  JSON Cosigned: the server's last co-signed checkpoint, the same as the file
//	          PATH.cosigned. Not under the MAC (it is also written while locked); the server's
//	          signature authenticates it.
//
// Invariants:
//   - metamac is HMAC-SHA256 under HKDF(data key, "sealkeeper ledger meta mac") over the
//     workstation name, the creation time, every slot and, from MAC version 2 on, state,
//     cpkeys, legacy, floor, the used-ticket index's mark once there is one (tickets.go), the
//     sealed slot labels and open-intent index once there are (sealed.go) and the key of every
//     entry in the intents bucket (open intents of a file from before, empty after). Every
//     write transaction made with the data key (appends, slot changes, pinning, the floor)
//     rewrites state and metamac in the same transaction (Ledger.update), so state always names
//     the chain's size and head.
//   - So without the data key nothing under the MAC can be changed, added or removed unnoticed
//     at the next Unlock or keyed Verify: the chain cannot be cut at its end (state), an
//     interrupted stamping cannot be hidden (intents), a checkpoint key cannot be added or
//     swapped (cpkeys), and "synced up to N" cannot be forgotten (floor).
//   - Limit: an older copy of the meta bucket is consistent only with the records as they were
//     then (state), so replaying it means cutting the records back to that point as well, which
//     is restoring an older copy of the whole ledger. Nothing inside the data dir can tell an
//     older copy of all of it from the newest: the server's co-signed floor can (it refuses a
//     shorter or different chain on the next push), and so can this ledger while the newer floor
//     file survives beside it (see floor.go).

var (
	keyMACVersion = []byte("macv")
	keyState      = []byte("state")
	keyCPKeys     = []byte("cpkeys")
	keyLegacy     = []byte("legacy")
	keyFloor      = []byte("floor")
	keyCosigned   = []byte("cosigned")
)

const (
	macVersion     = "2"
	metaMACInfo    = "sealkeeper ledger meta mac"
	digestMACInfo  = "sealkeeper ledger closed-file digest"
	pendingMACInfo = "sealkeeper ledger pending mac"
)

// subkey derives a key for one purpose from the data key.
func subkey(key []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, key, nil, info, 32)
	if err != nil {
		panic("ledger: HKDF: " + err.Error()) // only for lengths HKDF-SHA256 cannot give
	}
	return k
}

// sizeHead names a state of the chain: Size records, the last of them hashing to Head.
type sizeHead struct {
	Size uint64
	Head [HashSize]byte
}

func (s sizeHead) bytes() []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+HashSize), s.Size), s.Head[:]...)
}

func parseSizeHead(b []byte) (sizeHead, bool) {
	var s sizeHead
	if len(b) != 8+HashSize {
		return s, false
	}
	s.Size = binary.BigEndian.Uint64(b)
	copy(s.Head[:], b[8:])
	return s, true
}

// pinnedKey is a key whose checkpoints the ledger trusts: the seal key of a custodian who
// logged in (or the one given at creation), pinned with the data key in hand.
type pinnedKey struct {
	ID        string    `json:"id"`  // 16 hex digits of SHA-256 over PublicKey
	PublicKey []byte    `json:"pub"` // as SignedCheckpoint.PublicKey (checkpointKeyDER)
	At        uint64    `json:"at"`  // ledger size when it was pinned
	Time      time.Time `json:"time"`
}

// metaView is what the meta bucket says. It is authenticated only once checkMetaMAC passed in
// the same transaction; before that (Open, Verify without a key) it may be an attacker's.
type metaView struct {
	v2       bool
	state    *sizeHead
	pins     []pinnedKey
	legacy   uint64 // checkpoints up to this size may be signed by unpinned keys (format 1)
	floor    *sizeHead
	cosigned *Cosigned // the copy inside the ledger
}

func readMeta(path string, tx *bolt.Tx) (metaView, error) {
	m := tx.Bucket(bucketMeta)
	bad := func(r Reason, f string, a ...any) (metaView, error) {
		return metaView{}, &VerifyError{Path: path, Reason: r, Detail: fmt.Sprintf(f, a...)}
	}
	var mv metaView
	switch v := m.Get(keyMACVersion); {
	case v == nil:
		// MAC version 1 (before keys were pinned): every checkpoint is from before pinning.
		mv.legacy = math.MaxUint64
		return mv, nil
	case string(v) != macVersion:
		return bad(ReasonMetaChanged, "the metadata has MAC version %q; this SealKeeper knows %s (made by a newer version, or damaged)", v, macVersion)
	}
	mv.v2 = true
	if b := m.Get(keyState); b != nil {
		s, ok := parseSizeHead(b)
		if !ok {
			return bad(ReasonMetaChanged, "the recorded ledger size is damaged (%d bytes)", len(b))
		}
		mv.state = &s
	}
	if b := m.Get(keyCPKeys); b != nil {
		if err := json.Unmarshal(b, &mv.pins); err != nil {
			return bad(ReasonMetaChanged, "the list of checkpoint keys does not parse: %v", err)
		}
	}
	if b := m.Get(keyLegacy); b != nil {
		if len(b) != 8 {
			return bad(ReasonMetaChanged, "the upgrade mark is damaged")
		}
		mv.legacy = binary.BigEndian.Uint64(b)
	}
	if b := m.Get(keyFloor); b != nil {
		s, ok := parseSizeHead(b)
		if !ok {
			return bad(ReasonMetaChanged, "the co-signed floor mark is damaged")
		}
		mv.floor = &s
	}
	if b := m.Get(keyCosigned); b != nil {
		var c Cosigned
		if err := json.Unmarshal(b, &c); err != nil {
			return bad(ReasonCosigned, "the copy of the co-signed checkpoint inside the ledger does not parse: %v", err)
		}
		mv.cosigned = &c
	}
	return mv, nil
}

// pinDERs lists the pinned keys' encodings.
func (mv metaView) pinDERs() [][]byte {
	out := make([][]byte, len(mv.pins))
	for i, p := range mv.pins {
		out[i] = p.PublicKey
	}
	return out
}

// checkState compares the recorded state with the records (size and head as scanned).
// Invariant: in MAC version 2 they are equal; a difference is records cut, added or replaced
// by someone without the data key (or the state itself rewritten: the MAC finds that).
func (mv metaView) checkState(path string, size uint64, head [HashSize]byte) error {
	if !mv.v2 {
		return nil
	}
	if mv.state == nil {
		return &VerifyError{Path: path, Reason: ReasonMetaChanged, Detail: "the ledger's record of its own size is missing (removed without the data key)"}
	}
	st := *mv.state
	switch {
	case st.Size > size:
		return &VerifyError{Path: path, Seq: size + 1, Reason: ReasonRollback,
			Detail: fmt.Sprintf("the ledger had %d records at its last write, the file has %d: records were cut from the end. Restore the newest ledger from a backup (the server keeps every synced record); do not start a new one", st.Size, size)}
	case st.Size < size:
		return &VerifyError{Path: path, Seq: st.Size + 1, Reason: ReasonMetaChanged,
			Detail: fmt.Sprintf("records %d to %d were added after the ledger's last write with the data key: SealKeeper did not write them", st.Size+1, size)}
	case st.Head != head:
		return &VerifyError{Path: path, Seq: size, Reason: ReasonMetaChanged,
			Detail: "the last record is not the one the ledger wrote last (replaced without the data key)"}
	}
	return nil
}

// field writes one length-prefixed value into a MAC; absent (nil) and empty differ from
// version 2 on.
func macField(m interface{ Write([]byte) (int, error) }, b []byte, absent bool) {
	if absent && b == nil {
		m.Write([]byte{0xff, 0xff, 0xff, 0xff})
		return
	}
	m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
	m.Write(b)
}

// metaMAC computes metamac (see the invariants above) under mk = subkey(data key, metaMACInfo).
func metaMAC(path string, tx *bolt.Tx, mk []byte) ([]byte, error) {
	m := hmac.New(sha256.New, mk)
	meta := tx.Bucket(bucketMeta)
	macField(m, meta.Get(keyWorkstation), false)
	macField(m, meta.Get(keyCreated), false)
	err := tx.Bucket(bucketSlots).ForEach(func(k, v []byte) error {
		macField(m, k, false)
		macField(m, v, false)
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch v := meta.Get(keyMACVersion); {
	case v == nil:
		return m.Sum(nil), nil // version 1
	case string(v) != macVersion:
		return nil, &VerifyError{Path: path, Reason: ReasonMetaChanged, Detail: fmt.Sprintf("the metadata has MAC version %q; this SealKeeper knows %s", v, macVersion)}
	}
	macField(m, []byte(macVersion), true)
	for _, k := range [][]byte{keyState, keyCPKeys, keyLegacy, keyFloor} {
		macField(m, k, true)
		macField(m, meta.Get(k), true)
	}
	// The used-ticket index's mark (tickets.go), once the ledger has one: a ledger from before
	// it keeps its MAC until the first login builds the index.
	if v := meta.Get(keyTickets); v != nil {
		macField(m, keyTickets, true)
		macField(m, v, true)
	}
	// The sealed labels and intent index (sealed.go), once the ledger has them, as the index.
	for _, k := range [][]byte{keySlotLabels, keyOpenIntents} {
		if v := meta.Get(k); v != nil {
			macField(m, k, true)
			macField(m, v, true)
		}
	}
	macField(m, []byte("intents"), true)
	err = tx.Bucket(bucketIntents).ForEach(func(k, _ []byte) error {
		macField(m, k, true)
		return nil
	})
	return m.Sum(nil), err
}

// putMetaMAC records state and rewrites metamac, in version 2.
func putMetaMAC(path string, tx *bolt.Tx, mk []byte, state sizeHead) error {
	meta := tx.Bucket(bucketMeta)
	if err := meta.Put(keyMACVersion, []byte(macVersion)); err != nil {
		return err
	}
	if err := meta.Put(keyState, state.bytes()); err != nil {
		return err
	}
	mac, err := metaMAC(path, tx, mk)
	if err != nil {
		return err
	}
	return meta.Put(keyMetaMAC, mac)
}

func checkMetaMAC(path string, tx *bolt.Tx, mk []byte) error {
	mac, err := metaMAC(path, tx, mk)
	if err != nil {
		return err
	}
	if !hmac.Equal(mac, tx.Bucket(bucketMeta).Get(keyMetaMAC)) {
		return &VerifyError{Path: path, Reason: ReasonMetaChanged,
			Detail: "the ledger's metadata does not match its MAC: its key slots, workstation name, checkpoint keys, co-signed floor, open stampings or recorded size were changed by someone without the data key. Do not go on with this file: keep it for the auditor and restore the ledger from a backup (the server keeps every synced record)"}
	}
	return nil
}

// pinKey adds pub to the pinned checkpoint keys inside tx (the data key in hand: the caller
// rewrites metamac) and returns the new list, or nil when it was pinned already.
func pinKey(tx *bolt.Tx, pins []pinnedKey, pub crypto.PublicKey, at uint64) ([]pinnedKey, *pinnedKey, error) {
	der, err := checkpointKeyDER(pub)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range pins {
		if bytes.Equal(p.PublicKey, der) {
			return nil, nil, nil
		}
	}
	h := sha256.Sum256(der)
	p := pinnedKey{ID: fmt.Sprintf("%x", h[:8]), PublicKey: der, At: at, Time: time.Now().UTC().Truncate(time.Second)}
	out := append(append([]pinnedKey(nil), pins...), p)
	b, err := json.Marshal(out)
	if err != nil {
		return nil, nil, err
	}
	return out, &p, tx.Bucket(bucketMeta).Put(keyCPKeys, b)
}

func isPinned(pins []pinnedKey, pub crypto.PublicKey) bool {
	der, err := checkpointKeyDER(pub)
	if err != nil {
		return false
	}
	for _, p := range pins {
		if bytes.Equal(p.PublicKey, der) {
			return true
		}
	}
	return false
}

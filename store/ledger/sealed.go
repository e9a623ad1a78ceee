package ledger

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
)

// Sealed metadata: what the ledger keeps beside the records that only the data key opens
//
//	meta slotlabels   nonce[12] ‖ SM4-GCM(data key, {slot id: label} JSON, padded)
//	meta openintents  nonce[12] ‖ SM4-GCM(data key, [seq, …] JSON, ascending, padded)
//
// The associated data is "sealkeeper ledger meta " ‖ the meta key, so one sealed value cannot
// stand in for the other. The JSON is padded with spaces to a multiple of 64 bytes
// (metaPadStep): the length then shows no label's length, nor up to about eight open
// stampings whether there are any (the number of slots is visible anyway). Not to pad.go's
// 1 KiB: two such values would keep the meta bucket from staying inline in its parent page.
//
// Invariants:
//   - from the format that has them (marked by their presence; a file from before gets both
//     at its first login, upgradeTx), a stored key slot carries no label: a slot's label (a
//     custodian's name) is only in slotlabels, written in the same transaction as the slot
//     (Create, ChangeSlots). Unlock picks the slot by the token's public key, never by a name.
//   - openintents is the set of stamp.intent seqs that no stamp.done or stamp.failed written
//     with the data key has settled (Record.Settles): update rewrites it in every transaction
//     that opens or settles one. The intents bucket of older files is emptied into it at the
//     first login and stays empty (the consistency check still expects the bucket).
//   - both are under metamac once present (meta.go), so deleting, editing or putting back an
//     older sealed copy without the data key is ReasonMetaChanged at Unlock and in a keyed
//     Verify; a keyed Verify also derives the open intents from the records and compares.

var (
	keySlotLabels  = []byte("slotlabels")
	keyOpenIntents = []byte("openintents")
)

func sealedAD(k []byte) []byte { return append([]byte("sealkeeper ledger meta "), k...) }

// putSealed stores v's JSON, padded and sealed under aead, in meta under k.
func putSealed(tx *bolt.Tx, aead cipher.AEAD, k []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	nonce := make([]byte, NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	if r := len(b) % metaPadStep; r != 0 {
		b = append(b, spaces[:metaPadStep-r]...)
	}
	return tx.Bucket(bucketMeta).Put(k, aead.Seal(nonce, nonce, b, sealedAD(k)))
}

// metaPadStep: sealed metadata is padded to a multiple of this (see the top of this file).
const metaPadStep = 64

// getSealed opens meta k into v; found is false when the ledger has no such value (a file from
// before it). what names the value in the error.
func getSealed(path string, tx *bolt.Tx, aead cipher.AEAD, k []byte, what string, v any) (found bool, err error) {
	b := tx.Bucket(bucketMeta).Get(k)
	if b == nil {
		return false, nil
	}
	bad := &VerifyError{Path: path, Reason: ReasonMetaChanged, Detail: fmt.Sprintf("the %s does not open with the data key: it was changed or replaced without it. Keep the file for the auditor and restore the ledger from a backup (the server keeps every synced record)", what)}
	if len(b) < NonceSize {
		return true, bad
	}
	pt, err := aead.Open(nil, b[:NonceSize], b[NonceSize:], sealedAD(k))
	if err != nil || json.Unmarshal(pt, v) != nil {
		return true, bad
	}
	return true, nil
}

const (
	labelsWhat  = "list of key slot labels (custodians' names)"
	intentsWhat = "index of interrupted stampings"
)

// readLabels returns each slot's label: from slotlabels, or from the slots themselves in a
// file from before it. upgrade reports that the file still needs upgradeTx's labels part.
func readLabels(path string, tx *bolt.Tx, aead cipher.AEAD, slots []keyslot.Slot) (labels map[string]string, upgrade bool, err error) {
	labels = map[string]string{}
	found, err := getSealed(path, tx, aead, keySlotLabels, labelsWhat, &labels)
	if err != nil {
		return nil, false, err
	}
	for _, s := range slots {
		if s.Label != "" {
			upgrade = true
			if _, ok := labels[s.ID]; !ok {
				labels[s.ID] = s.Label
			}
		}
	}
	return labels, upgrade || !found, nil
}

// withLabels returns slots with their labels filled in.
func withLabels(slots []keyslot.Slot, labels map[string]string) []keyslot.Slot {
	out := slices.Clone(slots)
	for i := range out {
		if l, ok := labels[out[i].ID]; ok {
			out[i].Label = l
		}
	}
	return out
}

// readOpenIntents returns the open stamp intents: openintents and, in a file from before it,
// the intents bucket. upgrade reports that the file still needs upgradeTx's intents part.
func readOpenIntents(path string, tx *bolt.Tx, aead cipher.AEAD) (open map[uint64]bool, upgrade bool, err error) {
	var seqs []uint64
	found, err := getSealed(path, tx, aead, keyOpenIntents, intentsWhat, &seqs)
	if err != nil {
		return nil, false, err
	}
	open = map[uint64]bool{}
	for _, s := range seqs {
		open[s] = true
	}
	err = tx.Bucket(bucketIntents).ForEach(func(k, _ []byte) error {
		upgrade = true
		if len(k) != 8 {
			return &VerifyError{Path: path, Reason: ReasonMetaChanged, Detail: fmt.Sprintf("the intents bucket has a %d-byte key", len(k))}
		}
		open[binary.BigEndian.Uint64(k)] = true
		return nil
	})
	return open, upgrade || !found, err
}

// putOpenIntents rewrites openintents as open.
func putOpenIntents(tx *bolt.Tx, aead cipher.AEAD, open map[uint64]bool) error {
	return putSealed(tx, aead, keyOpenIntents, sortedSeqs(open))
}

// sortedSeqs lists a set of seqs in ascending order ([] when empty).
func sortedSeqs(m map[uint64]bool) []uint64 {
	out := make([]uint64, 0, len(m))
	for s := range m {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// putLabels rewrites slotlabels as labels, keeping only the slots that exist.
func putLabels(tx *bolt.Tx, aead cipher.AEAD, labels map[string]string) error {
	keep := map[string]string{}
	for id, l := range labels {
		if tx.Bucket(bucketSlots).Get([]byte(id)) != nil && l != "" {
			keep[id] = l
		}
	}
	return putSealed(tx, aead, keySlotLabels, keep)
}

// upgradeTx moves what a file from before the sealed metadata keeps in clear into it (with the
// data key in hand, inside the first keyed transaction after Unlock): the slots' labels into
// slotlabels (the slots rewritten without them) and the intents bucket into openintents (the
// bucket emptied). The caller's chain then rewrites metamac.
func (l *Ledger) upgradeTx(tx *bolt.Tx, c *chain, labels bool, intents bool) error {
	if labels {
		slots, err := readSlots(l.path, tx)
		if err != nil {
			return err
		}
		names, _, err := readLabels(l.path, tx, l.aead, slots)
		if err != nil {
			return err
		}
		for _, s := range slots {
			if err := putSlot(tx, s); err != nil { // putSlot drops the label
				return err
			}
		}
		if err := putLabels(tx, l.aead, names); err != nil {
			return err
		}
		c.meta = true
	}
	if intents {
		b := tx.Bucket(bucketIntents)
		var keys [][]byte
		b.ForEach(func(k, _ []byte) error { keys = append(keys, append([]byte(nil), k...)); return nil })
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		c.intents, c.meta = true, true // update writes openintents from l.interrupted
	}
	return nil
}

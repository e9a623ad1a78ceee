package ledger

import (
	"crypto"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
)

// Slots lists the key slots. Their labels (custodians' names) are sealed under the data key
// (sealed.go): while the ledger is locked they are empty, except in a file not yet upgraded.
func (l *Ledger) Slots() ([]keyslot.Slot, error) {
	aead, _ := l.readAEAD()
	var out []keyslot.Slot
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		if out, err = readSlots(l.path, tx); err != nil || aead == nil {
			return err
		}
		labels, _, err := readLabels(l.path, tx, aead, out)
		out = withLabels(out, labels)
		return err
	})
	return out, err
}

func idOfSlot(s keyslot.Slot) (string, error) {
	pub, err := s.Recipient()
	if err != nil {
		return "", err
	}
	return keyslot.ID(pub)
}

func readSlots(path string, tx *bolt.Tx) ([]keyslot.Slot, error) {
	var out []keyslot.Slot
	err := tx.Bucket(bucketSlots).ForEach(func(k, v []byte) error {
		var s keyslot.Slot
		if err := json.Unmarshal(v, &s); err != nil {
			return &VerifyError{Path: path, Reason: ReasonBadSlot, Detail: fmt.Sprintf("key slot %q does not parse: %v", k, err)}
		}
		if id, err := idOfSlot(s); err != nil || id != string(k) || s.ID != id {
			return &VerifyError{Path: path, Reason: ReasonBadSlot, Detail: fmt.Sprintf("key slot %q does not match its public key", k)}
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// putSlot stores s without its label: the label goes into slotlabels (sealed.go).
func putSlot(tx *bolt.Tx, s keyslot.Slot) error {
	s.Label = ""
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketSlots).Put([]byte(s.ID), b)
}

// Unlock opens a key slot with h (a custodian's token key or the escrow key), checks the
// metadata's MAC, the closed-file digest's MAC and, with the data key, every record after the
// newest trusted checkpoint (Open checked the chain before it), and then, in one transaction:
// pins the checkpoint signer (Options.Signer, SetSigner) if it is new, records the co-signed
// floor under the MAC, and folds pending events into the chain (foldTx). It returns
// keyslot.ErrNoSlot when no slot was made for h, and a *VerifyError when the file was changed
// by someone without the data key; the ledger then stays locked. Unlock (hooks.go) calls it,
// then the OnUnlock functions.
func (l *Ledger) unlock(h keyslot.Holder) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	var slots []keyslot.Slot
	var check []byte
	if err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		slots, err = readSlots(l.path, tx)
		check = append([]byte(nil), tx.Bucket(bucketMeta).Get(keyKeyCheck)...)
		return err
	}); err != nil {
		return err
	}
	key, _, err := keyslot.UnwrapAny(slots, h)
	if errors.Is(err, keyslot.ErrUnwrap) {
		return &VerifyError{Path: l.path, Reason: ReasonBadSlot, Detail: err.Error()}
	}
	if err != nil {
		return fmt.Errorf("unlocking ledger %s: %w", l.path, err)
	}
	aead, err := keyslot.NewSM4GCM(key)
	if err != nil {
		return err
	}
	if len(check) < NonceSize {
		return &VerifyError{Path: l.path, Reason: ReasonStructure, Detail: "the data key check value is missing"}
	}
	if pt, err := aead.Open(nil, check[:NonceSize], check[NonceSize:], nil); err != nil || string(pt) != keyCheckText {
		return &VerifyError{Path: l.path, Reason: ReasonBadTag, Detail: "the key slot opened, but the key does not match this ledger (slot replaced?)"}
	}
	mk, tk := subkey(key, metaMACInfo), subkey(key, ticketIndexInfo)
	var mv metaView
	indexed := false
	var trusted *SignedCheckpoint
	var interrupted map[uint64]bool
	var upLabels, upIntents bool
	err = guard(l.path, func() error {
		return l.db.View(func(tx *bolt.Tx) error {
			// From here on the metadata is authenticated: pinned keys, floor mark, state and
			// the open intents are the data key holder's.
			if err := checkMetaMAC(l.path, tx, mk); err != nil {
				return err
			}
			var err error
			if indexed, err = checkTicketIndex(l.path, tx, tk); err != nil {
				return err
			}
			if l.openDigest != nil {
				if _, err := l.openDigest.checkMAC(l.path, key); err != nil {
					return err
				}
			}
			if mv, err = readMeta(l.path, tx); err != nil {
				return err
			}
			if err := mv.checkState(l.path, l.size, l.head); err != nil {
				return err
			}
			// Open trusted a checkpoint by keys it could not authenticate: choose again.
			if trusted, err = trustedCheckpoint(l.path, tx, l.workstation, mv.pinDERs(), mv.legacy, l.size); err != nil {
				return err
			}
			from, prev := uint64(1), [HashSize]byte{}
			if trusted != nil {
				from, prev = trusted.Size+1, trusted.Head
			}
			s := scanner{path: l.path, newAEAD: func() (cipher.AEAD, error) { return keyslot.NewSM4GCM(key) }}
			if _, _, err := s.run(tx, from, prev); err != nil {
				return err
			}
			if _, upLabels, err = readLabels(l.path, tx, aead, slots); err != nil {
				return err
			}
			interrupted, upIntents, err = readOpenIntents(l.path, tx, aead)
			return err
		})
	})
	var fr floorResult
	if err == nil {
		fr, err = l.readFloor(mv) // again, now that the floor mark is authenticated
	}
	if err != nil {
		clear(key)
		return err
	}
	l.key, l.aead, l.macKey, l.ticketKey = key, aead, mk, tk
	l.digestKey, l.pendingKey = subkey(key, digestMACInfo), subkey(key, pendingMACInfo)
	l.verifiedTo, l.pins, l.interrupted = l.size, mv.pins, interrupted
	l.lastCP, l.lastCPTime = 0, time.Time{}
	if trusted != nil {
		l.lastCP, l.lastCPTime = trusted.Size, trusted.Time
	}
	return l.afterUnlock(h, mv, fr, afterWork{buildIndex: !indexed, labels: upLabels, intents: upIntents})
}

// afterWork is what afterUnlock upgrades in a file from before: the used-ticket index
// (tickets.go), sealed labels and the sealed intent index (sealed.go).
type afterWork struct{ buildIndex, labels, intents bool }

// afterUnlock writes what the first keyed transaction of a login has to: the upgrade of a
// format-1 ledger, the used-ticket index of a ledger that has none, the sealed labels and
// intent index of one from before them (up), the checkpoint signer's pin, the floor mark, the
// pending events. Nothing is written when there is nothing to do.
func (l *Ledger) afterUnlock(h keyslot.Holder, mv metaView, fr floorResult, up afterWork) error {
	var signers []crypto.Signer
	for _, s := range []crypto.Signer{l.session, l.opts.Signer} {
		if s != nil && !isPinned(l.pins, s.Public()) {
			if _, err := checkpointKeyDER(s.Public()); err == nil {
				signers = append(signers, s)
			}
		}
	}
	raise := fr.best != nil && (mv.floor == nil || mv.floor.Size < fr.best.Checkpoint.Size)
	pending := 0
	l.db.View(func(tx *bolt.Tx) error { pending = tx.Bucket(bucketPending).Stats().KeyN; return nil })
	l.unreadable = 0
	if mv.v2 && len(signers) == 0 && !raise && pending == 0 && up == (afterWork{}) {
		return nil
	}
	err := l.update(func(tx *bolt.Tx, c *chain) error {
		m := tx.Bucket(bucketMeta)
		if !mv.v2 {
			// Format 1 had no pinned keys: its checkpoints up to here stay unverified (not
			// trusted, not refused); from now on metamac binds state, pins, floor, intents.
			if err := m.Put(keyLegacy, binary.BigEndian.AppendUint64(nil, l.size)); err != nil {
				return err
			}
			c.meta = true
		}
		if up.buildIndex {
			if err := l.buildTicketIndexTx(tx, c); err != nil {
				return err
			}
		}
		if err := l.upgradeTx(tx, c, up.labels, up.intents); err != nil {
			return err
		}
		for _, s := range signers {
			if err := l.pinTx(tx, c, s); err != nil {
				return err
			}
		}
		if raise {
			best := sizeHead{fr.best.Checkpoint.Size, fr.best.Checkpoint.Head}
			if err := m.Put(keyFloor, best.bytes()); err != nil {
				return err
			}
			c.meta = true
		}
		return l.foldTx(tx, c, h)
	})
	if err != nil {
		return fmt.Errorf("ledger %s: after the login (pinning the seal key, folding events written while locked): %w", l.path, err)
	}
	return nil
}

// Lock forgets the data key and the signer given by SetSigner (logout, token removed), then
// calls the OnLock functions (hooks.go).
func (l *Ledger) Lock() {
	defer l.hooks.locked()
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.key)
	clear(l.macKey)
	clear(l.ticketKey)
	l.key, l.aead, l.macKey, l.ticketKey, l.session = nil, nil, nil, nil, nil
}

// Unlocked reports whether the data key is in memory.
func (l *Ledger) Unlocked() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.key != nil
}

// DeriveKey derives a key for another store (e.g. "cache") from the data key, so that
// everything the workstation keeps opens with the same key slots.
func (l *Ledger) DeriveKey(purpose string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.key == nil {
		return nil, ErrLocked
	}
	if strings.HasPrefix(purpose, "ledger") {
		// The ledger's own subkeys ("sealkeeper ledger …": meta MAC, digest MAC, pending MAC).
		return nil, fmt.Errorf("DeriveKey(%q): purposes beginning with \"ledger\" are the ledger's own", purpose)
	}
	return hkdf.Key(sha256.New, l.key, nil, "sealkeeper "+purpose, keyslot.KeySize)
}

// ChangeSlots adds and removes key slots and appends recs, all in one transaction, with a
// slot.added or slot.removed record for each change. Handover adds the new custodian and
// removes the old one. Removals come first, so a key's slot can be removed and added again
// with another label and role (a handover by one-time code passes the seal key itself). The
// ledger always keeps at least one slot.
func (l *Ledger) ChangeSlots(add []Recipient, remove []string, recs ...Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.key == nil {
		return ErrLocked
	}
	err := l.update(func(tx *bolt.Tx, c *chain) error {
		slots, err := readSlots(l.path, tx)
		if err != nil {
			return err
		}
		labels, _, err := readLabels(l.path, tx, l.aead, slots)
		if err != nil {
			return err
		}
		have := map[string]keyslot.Slot{}
		for _, s := range withLabels(slots, labels) {
			have[s.ID] = s
		}
		var log []Record
		for _, id := range remove {
			s, ok := have[id]
			if !ok {
				return fmt.Errorf("no key slot %s to remove", id)
			}
			delete(have, id)
			if err := tx.Bucket(bucketSlots).Delete([]byte(id)); err != nil {
				return err
			}
			log = append(log, Record{Kind: KindSlotRemoved, Slot: id, Custodian: s.Label, Detail: string(s.Role)})
		}
		for _, r := range add {
			s, err := keyslot.Wrap(l.key, r.Public, r.Role, r.Label)
			if err != nil {
				return fmt.Errorf("key slot for %q: %w", r.Label, err)
			}
			if _, dup := have[s.ID]; dup {
				return fmt.Errorf("key %s (%s) already has a slot", s.ID, r.Label)
			}
			have[s.ID], labels[s.ID] = s, s.Label
			if err := putSlot(tx, s); err != nil {
				return err
			}
			log = append(log, Record{Kind: KindSlotAdded, Slot: s.ID, Custodian: s.Label, Detail: string(s.Role)})
		}
		if len(have) == 0 {
			return errors.New("that would remove the last key slot, and nobody could open the ledger again")
		}
		if err := putLabels(tx, l.aead, labels); err != nil { // the removed slots' labels go with them
			return err
		}
		c.meta = true // update rewrites metamac over the new slots
		_, err = l.appendTx(tx, c, append(log, recs...))
		return err
	})
	if err != nil {
		return fmt.Errorf("changing key slots: %w", err)
	}
	return nil
}

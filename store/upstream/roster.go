package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The cached roster names people and says why custody changes (an approval's reason), so
// sync.db keeps it as it keeps a document's listing (docs.go).
//
// Invariants:
//   - Only the roster's asOf is in clear (mRoster: checkAsOf needs it while nobody is logged
//     in). The roster itself (mRosterBody) is encrypted under the document key when someone
//     is logged in, else sealed to the key slots' public keys, and re-encrypted under the
//     document key at the next login (unsealAll); a pull replaces it whole.
//   - Without a ledger (no key slots to encrypt to) it stays in clear, as before; such a
//     workstation keeps no documents either.
//   - Roster needs a login (ErrRosterLocked) once a roster was pulled.

var mRosterBody = []byte("roster.body")

const adRoster = "sealkeeper roster v1\x00"

// ErrRosterLocked: the roster is encrypted and nobody is logged in.
var ErrRosterLocked = errors.New("the custodian roster and handover approvals are kept encrypted: log in with the seal key of a custodian of this workstation to see them")

// Roster returns the cached custodian roster (AsOf zero if never pulled).
func (s *Store) Roster() (Roster, error) {
	var clearPart Roster // asOf; the whole roster where it was written in clear
	var body []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if _, err := getJSON(tx.Bucket(sMeta), mRoster, &clearPart); err != nil {
			return err
		}
		body = append([]byte(nil), tx.Bucket(sMeta).Get(mRosterBody)...)
		return nil
	})
	if err != nil || len(body) == 0 {
		return clearPart, err
	}
	head := Roster{AsOf: clearPart.AsOf}
	key, err := s.docKey()
	if err != nil {
		return head, ErrRosterLocked
	}
	defer clear(key)
	pt, err := s.open(adRoster, body, key)
	if errors.Is(err, errSealed) {
		return head, fmt.Errorf("%w (it arrived while nobody was logged in, sealed to the key slots, and this key does not open it; the next sync brings it again)", ErrRosterLocked)
	}
	if err != nil {
		return head, fmt.Errorf("the cached custodian roster %v; the next sync brings it again", err)
	}
	defer clear(pt)
	var r Roster
	if err := json.Unmarshal(pt, &r); err != nil {
		return head, fmt.Errorf("the cached custodian roster does not parse: %w", err)
	}
	return r, nil
}

// acceptRoster keeps a roster fetched at now unless checkAsOf refuses it.
func (s *Store) acceptRoster(r *Roster, now time.Time) error {
	var sealed []byte
	if s.keys != nil {
		pt, err := json.Marshal(r)
		if err != nil {
			return err
		}
		sealed, err = s.seal(adRoster, pt)
		clear(pt)
		if err != nil {
			return fmt.Errorf("encrypting the custodian roster: %w", err)
		}
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(sMeta)
		var held Roster
		if _, err := getJSON(meta, mRoster, &held); err != nil {
			return err
		}
		if err := checkAsOf("custodian roster", r.AsOf, held.AsOf, now); err != nil {
			return err
		}
		if sealed == nil {
			return setJSON(meta, mRoster, r)
		}
		if err := setJSON(meta, mRoster, Roster{AsOf: r.AsOf}); err != nil {
			return err
		}
		return meta.Put(mRosterBody, sealed)
	})
}

// unsealRoster re-encrypts under the document key a roster sealed while nobody was logged in
// (part of unsealAll, in its transaction).
func unsealRoster(tx *bolt.Tx, reseal func(ad string, v []byte) ([]byte, bool)) error {
	meta := tx.Bucket(sMeta)
	if nv, ok := reseal(adRoster, meta.Get(mRosterBody)); ok {
		return meta.Put(mRosterBody, nv)
	}
	return nil
}

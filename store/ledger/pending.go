package ledger

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
)

// Events while nobody is logged in (key inserted, failed login)
//
// Without a custodian's token nobody holds the data key, yet these events must be written at
// once. Note seals such an event to the public keys of all key slots (keyslot.Seal: a fresh
// content key wrapped for each slot, SM4-GCM) and stores it in the pending bucket, durably;
// no private key is needed. The next Unlock opens each pending event with the unlocking key
// and appends it to the chain (Record.SealedAt keeps when it happened), in one transaction that
// also deletes it from pending. Events the unlocking key cannot open (sealed before its slot
// existed) stay pending for the escrow key. Until folded, pending events are confidential but
// not chained: deleting one leaves no trace in the chain. We chose this over encrypting chain
// records with per-record keys because it keeps every chained record in the one envelope
// form the server verifies, and the window is short (until the next login).
//
// Sealing needs only public keys, and they sit in the file: anyone who can write the data dir
// can seal a pending event. So pending events carry no authority (foldTx):
//   - Note writes, and the fold takes, only LockedKinds (key inserted/removed, login failed,
//     document received, alarm); any other kind is refused at the fold and an alarm says so;
//   - a folded record is rebuilt from the event's descriptive fields only, with Intent empty,
//     SealedAt and Locked set: it never settles a stamp intent (Record.Settles);
//   - where something the data dir does not give away can vouch for an event, it does: after an
//     unlock in this run the ledger keeps subkey(data key, "pending mac") and Note puts an
//     HMAC over the pending seq and the sealed bytes in front ("SKP2"); such an event folds as
//     LockedAuthenticated, one without as LockedClaim, and one with a wrong MAC is refused.
//     (An authenticated event copied back after it was folded folds again: a duplicate with
//     the same sealed_at, visible to the auditor.)

// Note writes one event whether or not anyone is logged in: appended to the chain when the
// ledger is unlocked, otherwise sealed to the key slots' public keys and kept in the pending
// area until the next Unlock (see the comment at the top of this file). Durable on return.
// While locked only LockedKinds may be written; others return ErrNotWhileLocked.
func (l *Ledger) Note(r Record) error {
	l.mu.Lock()
	unlocked := l.aead != nil
	l.mu.Unlock()
	if unlocked {
		_, err := l.Append(r)
		if !errors.Is(err, ErrLocked) {
			return err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if !lockedKind(r.Kind) {
		return fmt.Errorf("ledger %s: %s: %w; log in with a custodian's key, then write it", l.path, r.Kind, ErrNotWhileLocked)
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.SealedAt = r.Time.UTC()
	if r.Workstation == "" {
		r.Workstation = l.workstation
	}
	pt, err := r.encode()
	if err != nil {
		return err
	}
	return l.db.Update(func(tx *bolt.Tx) error {
		slots, err := readSlots(l.path, tx)
		if err != nil {
			return err
		}
		var pubs []crypto.PublicKey
		for _, s := range slots {
			p, err := s.Recipient()
			if err != nil {
				return err
			}
			pubs = append(pubs, p)
		}
		msg, err := keyslot.Seal(pad(pt, MaxCiphertext), []byte(pendingAD), pubs)
		if err != nil {
			return err
		}
		p := tx.Bucket(bucketPending)
		n, err := p.NextSequence()
		if err != nil {
			return err
		}
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], n)
		if l.pendingKey != nil { // someone logged in earlier in this run: vouch for it
			msg = append(append([]byte(pendingMagic), pendingMAC(l.pendingKey, k[:], msg)...), msg...)
		}
		return p.Put(k[:], msg)
	})
}

// pendingMAC is the MAC Note puts in front of an event it seals while locked (see the top of
// this file): over the pending seq and the sealed bytes.
func pendingMAC(pk, seq, sealed []byte) []byte {
	m := hmac.New(sha256.New, pk)
	m.Write([]byte("sealkeeper pending v2"))
	m.Write(seq)
	m.Write(sealed)
	return m.Sum(nil)
}

const pendingMagic = "SKP2"

// lockedRecord is what a pending event may put in the chain: its descriptive fields, with the
// marks of where it came from. Intent, hashes of outputs, placements, handover, settings,
// checkpoint and slot fields are dropped (LockedKinds use none of them).
func lockedRecord(r Record, auth LockedAuth) Record {
	out := Record{Kind: r.Kind, Time: r.Time, Workstation: r.Workstation, Host: r.Host, IPs: r.IPs, Program: r.Program,
		Custodian: r.Custodian, Token: r.Token, SealID: r.SealID, CertSerial: r.CertSerial, DocID: r.DocID,
		DocTitle: r.DocTitle, TicketID: r.TicketID, InputHash: r.InputHash, Reason: r.Reason, Alarm: r.Alarm, Detail: r.Detail,
		SealedAt: r.SealedAt, Locked: auth}
	if out.SealedAt.IsZero() {
		out.SealedAt = time.Now().UTC()
	}
	return out
}

// foldTx appends the pending events h can open to the chain, by the rules at the top of this
// file, and deletes them from pending; refused ones leave an alarm record instead.
func (l *Ledger) foldTx(tx *bolt.Tx, c *chain, h keyslot.Holder) error {
	p := tx.Bucket(bucketPending)
	var recs []Record
	var keys [][]byte
	err := p.ForEach(func(k, v []byte) error {
		refuse := func(why string, pt []byte) {
			said := "(nothing readable)"
			if len(pt) > 512 {
				said = string(pt[:512]) + "…"
			} else if len(pt) > 0 {
				said = string(pt)
			}
			recs = append(recs, Record{Kind: KindAlarm, Alarm: "forged-locked-event",
				Detail: fmt.Sprintf("an event written while the ledger was locked was refused and removed: %s. It said: %s", why, said)})
			keys = append(keys, append([]byte(nil), k...))
		}
		auth, sealed := LockedClaim, v
		if bytes.HasPrefix(v, []byte(pendingMagic)) {
			if len(v) < len(pendingMagic)+sha256.Size {
				refuse("it is cut short", nil)
				return nil
			}
			mac := v[len(pendingMagic) : len(pendingMagic)+sha256.Size]
			sealed = v[len(pendingMagic)+sha256.Size:]
			if !hmac.Equal(mac, pendingMAC(l.pendingKey, k, sealed)) {
				refuse("it claims to be authenticated, but its MAC does not verify (SealKeeper did not write it)", nil)
				return nil
			}
			auth = LockedAuthenticated
		}
		pt, err := keyslot.Open(sealed, []byte(pendingAD), h)
		if err != nil {
			l.unreadable++ // sealed before this key had a slot: it waits for the escrow key
			return nil
		}
		pt = unpad(pt)
		r, err := decodeRecord(0, pt)
		switch {
		case err != nil:
			refuse("it is not a ledger record", pt)
		case !lockedKind(r.Kind):
			refuse(fmt.Sprintf("a %s cannot be written while nobody is logged in", r.Kind), pt)
		default:
			recs = append(recs, lockedRecord(r, auth))
			keys = append(keys, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil || len(recs) == 0 {
		return err
	}
	for _, k := range keys {
		if err := p.Delete(k); err != nil {
			return err
		}
	}
	_, err = l.appendTx(tx, c, recs)
	return err
}

// Pending is how many sealed events wait to be folded into the chain.
func (l *Ledger) Pending() int {
	n := 0
	l.db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucketPending).Stats().KeyN; return nil })
	return n
}

// PendingUnreadable is how many events written while locked the last Unlock could not open
// (sealed before its slot existed); they stay for the escrow key.
func (l *Ledger) PendingUnreadable() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.unreadable
}

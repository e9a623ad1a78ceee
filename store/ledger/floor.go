package ledger

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The co-signed floor
//
// On sync the server co-signs {workstation, size, head} (ECDSA P-256 over SHA-256 of
// Checkpoint.SignedBytes, the pinned server key; store/upstream). That is the one statement about
// this ledger that nobody with only the data dir can make, so it is the floor below which the
// ledger may never shrink. It is kept in two places, the file PATH.cosigned and the meta key
// "cosigned" inside the ledger, and "the ledger was synced up to N" is kept a third time under
// the meta MAC (meta key "floor", see meta.go).
//
// Invariants, checked by checkFloor on every Open and Verify (and again at Unlock):
//   - with the pinned server key (Options.ServerKey, VerifyOptions.ServerKey) every copy present
//     carries the server's valid signature for this workstation; without it the copies are used
//     as they are and Verify says they were not authenticated;
//   - SetCosigned writes the file first and then the copy inside, so the file is never older
//     than the copy inside the ledger: a missing or older file after the first sync is an error
//     (deleted or replaced), never silently rebuilt from the copy inside;
//   - neither copy is older than the floor mark under the MAC (both copies removed);
//   - the ledger has at least the records of the newest copy, and the record at its size is the
//     one the server co-signed (otherwise rollback or fork).
//
// Limit: an older copy of the whole data dir (the ledger and its floor file, or a floor file
// rebuilt from an older ledger's own copy) is consistent in itself. Only the server can tell it
// from the newest, and does: the next push of a shorter or different chain is refused
// (ledger_gap or ledger_fork) and the workstation raises ErrLedgerAlarm.

// verifyCosigned checks the server's signature on a co-signed checkpoint with the pinned key.
func verifyCosigned(c *Cosigned, key *ecdsa.PublicKey) error {
	d := sha256.Sum256(c.Checkpoint.Checkpoint.SignedBytes())
	if !ecdsa.VerifyASN1(key, d[:], c.ServerSignature) {
		return errors.New("the server's signature does not verify with the pinned server key")
	}
	return nil
}

type floorResult struct {
	best       *Cosigned // the newest authentic copy (nil: never synced)
	healInside bool      // the file is newer than the copy inside the ledger (or that is missing)
	note       string    // what could not be checked, for Report.Unchecked
}

// checkFloor checks the invariants above for a ledger of records records (hashAt gives the
// entry hash of a record) and returns the floor.
func checkFloor(path, workstation string, file, inside *Cosigned, mark *sizeHead, key *ecdsa.PublicKey, records uint64, hashAt func(uint64) ([HashSize]byte, bool)) (floorResult, error) {
	var fr floorResult
	bad := func(seq uint64, r Reason, f string, a ...any) (floorResult, error) {
		return fr, &VerifyError{Path: path, Seq: seq, Reason: r, Detail: fmt.Sprintf(f, a...)}
	}
	fileName := cosignedPath(path)
	for _, c := range []struct {
		name string
		c    *Cosigned
	}{{fileName, file}, {"the copy inside the ledger", inside}} {
		if c.c == nil {
			continue
		}
		cp := c.c.Checkpoint
		if key != nil {
			if err := verifyCosigned(c.c, key); err != nil {
				return bad(0, ReasonCosigned, "%s (%d records): %v. It was changed or made by someone else; restore it from a backup, or ask the administrator for the server's last co-signed checkpoint of this workstation", c.name, cp.Size, err)
			}
		}
		if cp.Workstation != workstation {
			return bad(0, ReasonCosigned, "%s was co-signed for workstation %q, this ledger is %q's", c.name, cp.Workstation, workstation)
		}
		if cp.Size > records {
			return bad(records+1, ReasonRollback, "the server co-signed %d records (%s), this file has %d: it is an older copy or records were removed. Restore the newest ledger; do not start a new one", cp.Size, c.name, records)
		}
		if h, ok := hashAt(cp.Size); !ok || h != cp.Head {
			return bad(cp.Size, ReasonFork, "this record differs from the one the server co-signed (%s)", c.name)
		}
		if fr.best == nil || cp.Size > fr.best.Checkpoint.Size {
			fr.best = c.c
		}
	}
	switch {
	case inside != nil && file == nil:
		return bad(0, ReasonCosigned, "%s is missing, but the server co-signed this ledger up to %d records (the copy inside the ledger says so): the file was deleted, or the ledger was put back from another copy. Restore both from the same backup, or have the administrator check this workstation's ledger on the server before going on", fileName, inside.Checkpoint.Size)
	case inside != nil && file.Checkpoint.Size < inside.Checkpoint.Size:
		return bad(0, ReasonCosigned, "%s says %d records, the copy inside the ledger %d: the file was replaced by an older one. Restore both from the same backup, or have the administrator check this workstation's ledger on the server", fileName, file.Checkpoint.Size, inside.Checkpoint.Size)
	}
	if mark != nil {
		if fr.best == nil || fr.best.Checkpoint.Size < mark.Size {
			return bad(0, ReasonCosigned, "the ledger was co-signed by the server up to %d records, but that checkpoint is gone from both %s and the ledger: removed by someone without the data key. Restore both from a backup, or have the administrator check this workstation's ledger on the server", mark.Size, fileName)
		}
		if h, ok := hashAt(mark.Size); !ok || h != mark.Head {
			return bad(mark.Size, ReasonFork, "this record differs from the one the server co-signed (the floor mark)")
		}
	}
	fr.healInside = file != nil && (inside == nil || inside.Checkpoint.Size < file.Checkpoint.Size)
	if fr.best != nil && key == nil {
		fr.note = fmt.Sprintf("the co-signed floor (%d records) was not checked against the server's key (none was given): anyone could have written it", fr.best.Checkpoint.Size)
	}
	return fr, nil
}

func putCosignedInside(tx *bolt.Tx, c *Cosigned) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keyCosigned, b)
}

// readFloor reads both copies and the MAC'd mark and checks them (floor.go invariants).
func (l *Ledger) readFloor(mv metaView) (floorResult, error) {
	file, err := ReadCosigned(l.path)
	if err != nil {
		return floorResult{}, &VerifyError{Path: l.path, Reason: ReasonCosigned, Detail: err.Error()}
	}
	var fr floorResult
	err = l.db.View(func(tx *bolt.Tx) error {
		var err error
		fr, err = checkFloor(l.path, l.workstation, file, mv.cosigned, mv.floor, l.opts.ServerKey, l.size, func(s uint64) ([HashSize]byte, bool) { return entryHashAt(tx, s) })
		return err
	})
	return fr, err
}

// SetCosigned stores the server's co-signature of a checkpoint of this ledger: in the file
// PATH.cosigned first, then inside the ledger, and, when the ledger is unlocked, as the floor
// mark under the MAC (floor.go). The ledger will from then on refuse to open with fewer records
// than cp.Size, or without the file. With Options.ServerKey the signature is checked first.
// Checkpoints older than the stored one are ignored.
func (l *Ledger) SetCosigned(cp SignedCheckpoint, serverSig []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	c := Cosigned{Checkpoint: cp, ServerSignature: serverSig, Stored: time.Now().UTC()}
	if l.opts.ServerKey != nil {
		if err := verifyCosigned(&c, l.opts.ServerKey); err != nil {
			return fmt.Errorf("refusing the co-signed checkpoint of %d records: %w", cp.Size, err)
		}
	}
	if cp.Workstation != l.workstation {
		return fmt.Errorf("refusing a checkpoint co-signed for workstation %q: this ledger is %q's", cp.Workstation, l.workstation)
	}
	if cp.Size > l.size {
		return fmt.Errorf("the server co-signed %d records, this ledger has %d", cp.Size, l.size)
	}
	var h [HashSize]byte
	var ok bool
	var inside *Cosigned
	l.db.View(func(tx *bolt.Tx) error {
		h, ok = entryHashAt(tx, cp.Size)
		mv, err := readMeta(l.path, tx)
		inside = mv.cosigned
		return err
	})
	if !ok || !bytes.Equal(h[:], cp.Head[:]) {
		return &VerifyError{Path: l.path, Seq: cp.Size, Reason: ReasonFork, Detail: "the server co-signed another record at this size"}
	}
	old, err := ReadCosigned(l.path)
	if err != nil {
		return err
	}
	if old == nil || old.Checkpoint.Size < cp.Size {
		// The file first (floor.go): it is then never older than the copy inside.
		if err := writeCosigned(l.path, c); err != nil {
			return err
		}
	} else {
		c = *old
	}
	if inside != nil && inside.Checkpoint.Size >= c.Checkpoint.Size {
		return nil
	}
	if l.macKey == nil {
		err = l.db.Update(func(tx *bolt.Tx) error { return putCosignedInside(tx, &c) })
	} else {
		err = l.update(func(tx *bolt.Tx, ch *chain) error {
			if err := putCosignedInside(tx, &c); err != nil {
				return err
			}
			ch.meta = true
			return tx.Bucket(bucketMeta).Put(keyFloor, sizeHead{c.Checkpoint.Size, c.Checkpoint.Head}.bytes())
		})
	}
	if err != nil {
		return fmt.Errorf("storing the co-signed checkpoint inside the ledger: %w", err)
	}
	return nil
}

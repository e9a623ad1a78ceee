package ledger

import (
	"errors"
	"fmt"
)

// Reason says why verification failed.
type Reason string

const (
	ReasonStructure     Reason = "file structure"       // bbolt consistency check failed, or the file is empty/truncated
	ReasonChanged       Reason = "changed while closed" // bytes differ from the digest written at the last clean close
	ReasonMalformed     Reason = "malformed record"     // the stored bytes are not an envelope, or decrypt to no record
	ReasonWrongSeq      Reason = "wrong seq"            // an envelope is stored under another seq (moved, reordered, replayed)
	ReasonGap           Reason = "gap"                  // a seq is missing
	ReasonBrokenChain   Reason = "broken chain"         // prevHash is not the hash of the record before
	ReasonBadTag        Reason = "bad tag"              // SM4-GCM authentication failed
	ReasonBadSlot       Reason = "bad key slot"         // a key slot is damaged, or slots changed without the data key
	ReasonBadCheckpoint Reason = "bad checkpoint"       // a signed checkpoint does not verify or does not match the records
	ReasonRollback      Reason = "rollback"             // fewer records than a checkpoint or the co-signed size
	ReasonFork          Reason = "fork"                 // the record at the co-signed size has another hash
	ReasonMetaChanged   Reason = "metadata changed"     // the MAC'd metadata (slots, checkpoint keys, floor mark, open intents, size) was changed without the data key
	ReasonCosigned      Reason = "co-signed floor"      // the server's co-signed checkpoint is missing after a sync, older than its copy, or not signed by the pinned server key
)

// VerifyError reports the first thing wrong with a ledger file. Seq is the first bad record, or
// 0 when the problem is not one record (file structure, missing file).
type VerifyError struct {
	Path   string
	Seq    uint64
	Reason Reason
	Detail string
	// MovedTo is where the file was moved aside, when Open did so.
	MovedTo string
}

func (e *VerifyError) Error() string {
	s := fmt.Sprintf("ledger %s: %s", e.Path, e.Reason)
	if e.Seq != 0 {
		s = fmt.Sprintf("ledger %s: record %d: %s", e.Path, e.Seq, e.Reason)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.MovedTo != "" {
		s += fmt.Sprintf("\nThe file was moved aside to %s and nothing was written. Restore the ledger from a backup (the server keeps every synced record), or start a new one with --init; keep the moved file for the auditor.", e.MovedTo)
	}
	return s
}

// Is makes errors.Is(err, ErrCorrupt) true for every verification failure.
func (e *VerifyError) Is(target error) bool { return target == ErrCorrupt }

var (
	// ErrCorrupt matches every *VerifyError.
	ErrCorrupt = errors.New("ledger does not verify")
	// ErrNotFound: there is no ledger file; create one explicitly (sealkeeper ledger --init).
	ErrNotFound = errors.New("no ledger file")
	// ErrExists: Create refuses to write over an existing file.
	ErrExists = errors.New("a ledger file already exists")
	// ErrLocked: the operation needs the data key, and nobody has unlocked the ledger.
	ErrLocked = errors.New("ledger is locked: log in with a token that has a key slot, or use the escrow key")
	// ErrClosed: the ledger was closed.
	ErrClosed = errors.New("ledger is closed")
	// ErrNotWhileLocked: Note was given a kind that only a logged-in custodian may write
	// (everything but LockedKinds).
	ErrNotWhileLocked = errors.New("only key.inserted, key.removed, login.failed and doc.received can be written while nobody is logged in")
)

func structural(path, format string, a ...any) *VerifyError {
	return &VerifyError{Path: path, Reason: ReasonStructure, Detail: fmt.Sprintf(format, a...)}
}

package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// SchemaVersion is the version of the record plaintext this program writes. A reader keeps
// records of a newer version or of a kind it does not know: they are verified, shown and
// exported as they are (Record.Raw), never dropped or rewritten.
const SchemaVersion = 1

// Kind names what happened. The set grows; never rename a kind.
type Kind string

const (
	KindCreated         Kind = "ledger.created"   // first record of a ledger
	KindKeyInserted     Kind = "key.inserted"     // a seal key (token) was plugged in
	KindKeyRemoved      Kind = "key.removed"      // the token was pulled out
	KindLoginOK         Kind = "login.ok"         // custodian logged in (never the PIN)
	KindLoginFailed     Kind = "login.failed"     // wrong PIN, locked token (never the PIN)
	KindPINChanged      Kind = "pin.changed"      // the custodian changed the token PIN
	KindDocReceived     Kind = "doc.received"     // an approved document arrived from the server
	KindStampIntent     Kind = "stamp.intent"     // about to sign; must be followed by done or failed
	KindStampDone       Kind = "stamp.done"       // signed and written; Intent names the intent
	KindStampFailed     Kind = "stamp.failed"     // the signing did not happen; Reason says why
	KindRejected        Kind = "doc.rejected"     // the custodian returned the document (Reason)
	KindHandover        Kind = "handover"         // custody passed From → To
	KindSyncCheckpoint  Kind = "sync.checkpoint"  // the server co-signed Checkpoint
	KindSettingsChanged Kind = "settings.changed" // Setting changed from Old to New
	KindAlarm           Kind = "alarm"            // abnormal situation (Alarm, Detail)
	KindSlotAdded       Kind = "slot.added"       // a key slot was added (Slot, Label)
	KindSlotRemoved     Kind = "slot.removed"     // a key slot was removed (Slot, Label)
	KindAlarmAck        Kind = "alarm.ack"        // the custodian acknowledged the alarm AlarmSeq
	// Printing (docs/rules.md 15, 17): the intent is written before the job goes to the printer
	// and names the stamp.done (Intent) it prints; done or failed answers it (Intent = the
	// print.intent's seq) with the copies the printer reported.
	KindPrintIntent Kind = "print.intent" // Copies asked, Printer, OutputHash, PrintKey
	KindPrintDone   Kind = "print.done"   // the job completed: CopiesDone
	KindPrintFailed Kind = "print.failed" // the job failed or was cancelled (Reason, CopiesDone)
	// KindCopiesAllowed: the server allowed extra copies (加印) of the stamped file OutputHash:
	// Copies more, by the signed allowance TicketID (counted once), Detail its text.
	KindCopiesAllowed Kind = "copies.allowed"
	// Re-stamping (重印): KindSuperseded marks the stamped file OutputHash of DocID replaced by
	// the corrected document Detail (its printed copies in Copies); it is printed no more.
	// KindRecalled records Copies printed copies of it returned (Reason: the custodian's note).
	KindSuperseded Kind = "doc.superseded"
	KindRecalled   Kind = "print.recalled"
	// KindReport: the month's summary table (汇总表, docs/rules.md 12) was made, once per month:
	// Detail is the month (2026-11, local time), Intent the last record it counts (the table is
	// made again, byte for byte, from the records up to it), OutputHash the PDF's SHA-256 and
	// InputHash the CSV's.
	KindReport Kind = "report.made"
)

var knownKinds = map[Kind]bool{
	KindCreated: true, KindKeyInserted: true, KindKeyRemoved: true, KindLoginOK: true,
	KindLoginFailed: true, KindPINChanged: true, KindDocReceived: true, KindStampIntent: true,
	KindStampDone: true, KindStampFailed: true, KindRejected: true, KindHandover: true,
	KindSyncCheckpoint: true, KindSettingsChanged: true, KindAlarm: true, KindSlotAdded: true,
	KindSlotRemoved: true, KindAlarmAck: true, KindPrintIntent: true, KindPrintDone: true, KindPrintFailed: true,
	KindCopiesAllowed: true, KindSuperseded: true, KindRecalled: true, KindReport: true,
}

// Kinds lists the kinds this version writes, in a stable order.
func Kinds() []Kind {
	return []Kind{KindCreated, KindKeyInserted, KindKeyRemoved, KindLoginOK, KindLoginFailed,
		KindPINChanged, KindDocReceived, KindStampIntent, KindStampDone, KindStampFailed,
		KindRejected, KindHandover, KindSyncCheckpoint, KindSettingsChanged, KindAlarm,
		KindSlotAdded, KindSlotRemoved, KindAlarmAck, KindPrintIntent, KindPrintDone, KindPrintFailed, KindCopiesAllowed,
		KindSuperseded, KindRecalled, KindReport}
}

// Placement is where a seal went on a page (PDF points, origin bottom left).
type Placement struct {
	Page int     `json:"page"`
	X    float64 `json:"x"`
	Y    float64 `json:"y"`
	W    float64 `json:"w"`
	H    float64 `json:"h"`
	Kind string  `json:"kind,omitempty"` // "normal", "riding-seam"
}

// CheckpointRef names a ledger state {size, head} inside a record.
type CheckpointRef struct {
	Size uint64 `json:"size"`
	Head string `json:"head"` // hex
}

// Record is the plaintext of one ledger entry. One struct serves every kind; fields a kind does
// not use stay empty and are not written.
type Record struct {
	Seq    uint64    `json:"-"` // from the envelope
	Schema int       `json:"v"`
	Kind   Kind      `json:"kind"`
	Time   time.Time `json:"time"`

	// Where and by whom (docs/rules.md 12).
	Workstation string   `json:"ws,omitempty"`
	Host        string   `json:"host,omitempty"`
	IPs         []string `json:"ips,omitempty"`
	Program     string   `json:"program,omitempty"` // program version
	Custodian   string   `json:"custodian,omitempty"`
	Token       string   `json:"token,omitempty"` // token serial number

	// The seal.
	SealID     string `json:"seal,omitempty"`
	CertSerial string `json:"cert_serial,omitempty"`

	// The document.
	DocID         string      `json:"doc,omitempty"`
	DocTitle      string      `json:"title,omitempty"`
	TicketID      string      `json:"ticket,omitempty"`
	InputHash     string      `json:"in_hash,omitempty"`
	OutputHash    string      `json:"out_hash,omitempty"`
	SignatureHash string      `json:"sig_hash,omitempty"`
	Placements    []Placement `json:"placements,omitempty"`
	Output        string      `json:"output,omitempty"` // stamp.intent: where the stamped file is written
	Copies        int         `json:"copies,omitempty"`
	// Printing: the printer, the copies a finished job reported, and the job's random key
	// for the printout codes (print.intent only; it never leaves the encrypted ledger
	// except to whoever may read the ledger, so nobody else can make a valid code).
	Printer    string `json:"printer,omitempty"`
	CopiesDone int    `json:"copies_done,omitempty"`
	PrintKey   string `json:"print_key,omitempty"`

	Intent uint64 `json:"intent,omitempty"` // stamp.done/failed: seq of the stamp.intent
	Reason string `json:"reason,omitempty"` // stamp.failed, doc.rejected, login.failed

	From string `json:"from,omitempty"` // handover
	To   string `json:"to,omitempty"`

	Setting string `json:"setting,omitempty"` // settings.changed
	Old     string `json:"old,omitempty"`
	New     string `json:"new,omitempty"`

	Alarm    string `json:"alarm,omitempty"`
	Detail   string `json:"detail,omitempty"`
	AlarmSeq uint64 `json:"alarm_seq,omitempty"` // alarm.ack: the alarm's seq

	Checkpoint *CheckpointRef `json:"checkpoint,omitempty"` // sync.checkpoint
	Slot       string         `json:"slot,omitempty"`       // slot.added/removed: slot id

	// SealedAt is set on events written while nobody was logged in: when the event was sealed
	// to the key slots' public keys. It reached the chain at the next unlock.
	SealedAt time.Time `json:"sealed_at,omitzero"`
	// Locked marks a record folded in from an event written while locked, and says what
	// authenticated it (set by the ledger at the fold, whatever the event said of itself).
	Locked LockedAuth `json:"locked,omitempty"`

	// Raw is the plaintext exactly as stored. It keeps fields and kinds that this version does
	// not know; Export writes it unchanged.
	Raw json.RawMessage `json:"-"`
}

// LockedAuth says what authenticated an event written while the ledger was locked.
type LockedAuth string

const (
	// LockedAuthenticated: the event carried a MAC under a key derived from the data key, which
	// this program keeps from an unlock until Close: it was written by this program in the run
	// in which someone had logged in before.
	LockedAuthenticated LockedAuth = "mac"
	// LockedClaim: nothing authenticates the event. Anyone who can write the data dir could
	// have written it (it is sealed to public keys that sit in the file): it is a claim.
	LockedClaim LockedAuth = "claim"
)

// LockedKinds are the only kinds that may be written while the ledger is locked (Note) and
// folded in at the next login: what happens before anyone is logged in. Everything else needs
// the data key, so a forged pending event cannot stamp, settle, hand over or change settings.
// An alarm is among them: wrong PINs and a key pulled out happen while nobody is logged in, and
// a forged one is at worst a false alarm (marked a claim); acknowledging one needs the data key.
var LockedKinds = []Kind{KindKeyInserted, KindKeyRemoved, KindLoginFailed, KindDocReceived, KindAlarm}

func lockedKind(k Kind) bool {
	for _, x := range LockedKinds {
		if k == x {
			return true
		}
	}
	return false
}

// Settles returns the stamp intent a record answers, or 0. Invariant: only a stamp.done or
// stamp.failed written with the data key settles one; a record folded in from an event written
// while locked (SealedAt or Locked set) never does, whatever it says.
func (r *Record) Settles() uint64 {
	if (r.Kind != KindStampDone && r.Kind != KindStampFailed) || !r.SealedAt.IsZero() || r.Locked != "" {
		return 0
	}
	return r.Intent
}

// Known reports whether this version knows the record's kind and schema.
func (r Record) Known() bool {
	return r.Schema <= SchemaVersion && knownKinds[r.Kind]
}

// prepare fills what encode defaults: schema version, time (UTC).
func (r *Record) prepare() error {
	if r.Schema == 0 {
		r.Schema = SchemaVersion
	}
	if r.Kind == "" {
		return fmt.Errorf("ledger record has no kind")
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Time = r.Time.UTC()
	return nil
}

func (r *Record) encode() ([]byte, error) {
	if err := r.prepare(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	r.Raw = b
	return b, nil
}

// recordEncoder encodes records into one reused buffer, for batches whose plaintext is only
// read once (sealed) before the next record: the bytes are json.Marshal's, without its
// per-record copy. r.Raw is not set.
type recordEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// encode returns r's plaintext, valid until the next call.
func (e *recordEncoder) encode(r *Record) ([]byte, error) {
	if err := r.prepare(); err != nil {
		return nil, err
	}
	if e.enc == nil {
		e.enc = json.NewEncoder(&e.buf) // escapes HTML like json.Marshal
	}
	e.buf.Reset()
	if err := e.enc.Encode(r); err != nil {
		return nil, err
	}
	b := e.buf.Bytes()
	return b[:len(b)-1], nil // Encode adds a newline; Marshal does not
}

// decodeRecord decodes a record's plaintext, padded or not (pad.go).
func decodeRecord(seq uint64, pt []byte) (Record, error) {
	pt = unpad(pt)
	var r Record
	if err := json.Unmarshal(pt, &r); err != nil {
		return Record{}, err
	}
	if r.Kind == "" {
		return Record{}, fmt.Errorf("no kind")
	}
	r.Seq = seq
	r.Raw = append(json.RawMessage(nil), pt...)
	return r, nil
}

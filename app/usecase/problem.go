package usecase

import (
	"errors"

	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/cups"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// Kinds of problem the screens put in their own language (key "problem.<kind>"); the error's
// own text, in English, goes beside it as the detail for the administrator.
const (
	ProblemWrongPIN        = "wrong-pin"
	ProblemPINLocked       = "pin-locked"
	ProblemKeyRemoved      = "key-removed"
	ProblemNoKey           = "no-key"
	ProblemNoLedger        = "no-ledger"
	ProblemLedgerLocked    = "ledger-locked"
	ProblemNoServer        = "no-server"
	ProblemOffline         = "offline"
	ProblemServerAnswer    = "server-answer"
	ProblemOutboxFull      = "outbox-full"
	ProblemUnapproved      = "unapproved"
	ProblemPageNotAllowed  = "page-not-allowed"
	ProblemNoPosition      = "no-position"
	ProblemOutsideRegion   = "outside-region"
	ProblemSealTooBig      = "seal-too-big"
	ProblemSealCertificate = "seal-certificate"
	ProblemReasonRequired  = "reason-required"
	ProblemApprovalSpent   = "approval-spent"
	ProblemClockBehind     = "clock-behind"
	ProblemBadDate         = "bad-date"
	ProblemBadPeriod       = "bad-period"
	ProblemExportPath      = "export-path"
	ProblemNoHandover      = "no-handover"
	ProblemNotIdentified   = "not-identified"
	ProblemNotConfirmed    = "not-confirmed"
	ProblemDelegationEnded = "delegation-ended"
	ProblemSealRevoked     = "seal-revoked"
	ProblemSealSuspended   = "seal-suspended"
	ProblemAlarmWaiting    = "alarm-waiting"
	ProblemNoCopiesLeft    = "no-copies-left"
	ProblemNotStamped      = "not-stamped"
	ProblemSuperseded      = "superseded"
	ProblemRecallNeeded    = "recall-needed"
	ProblemNoPrinting      = "no-printing"
)

var problemKinds = []struct {
	err  error
	kind string
}{
	{device.ErrWrongPIN, ProblemWrongPIN},
	{device.ErrPINLocked, ProblemPINLocked},
	{device.ErrKeyRemoved, ProblemKeyRemoved},
	{device.ErrSessionClosed, ProblemKeyRemoved},
	{device.ErrTokenNotFound, ProblemNoKey},
	{ErrNoLedger, ProblemNoLedger},
	{ErrLedgerLocked, ProblemLedgerLocked},
	{ErrNoServer, ProblemNoServer},
	{upstream.ErrOffline, ProblemOffline},
	{upstream.ErrBadResponse, ProblemServerAnswer},
	{upstream.ErrOutboxFull, ProblemOutboxFull},
	{ErrUnapproved, ProblemUnapproved},
	{ErrPageNotAllowed, ProblemPageNotAllowed},
	{ErrNoPosition, ProblemNoPosition},
	{ErrOutsideRegion, ProblemOutsideRegion},
	{ErrSealTooBig, ProblemSealTooBig},
	{ErrSealCertificate, ProblemSealCertificate},
	{ErrReasonRequired, ProblemReasonRequired},
	{ErrApprovalSpent, ProblemApprovalSpent},
	{ErrClockBehind, ProblemClockBehind},
	{ErrBadDate, ProblemBadDate},
	{ErrBadPeriod, ProblemBadPeriod},
	{ErrExportPath, ProblemExportPath},
	{ErrNoHandoverApproval, ProblemNoHandover},
	{ErrNotIdentified, ProblemNotIdentified},
	{ErrInventoryNotConfirmed, ProblemNotConfirmed},
	{ErrDelegationEnded, ProblemDelegationEnded},
	{upstream.ErrSealRevoked, ProblemSealRevoked},
	{upstream.ErrSealSuspended, ProblemSealSuspended},
	{ErrAlarmWaiting, ProblemAlarmWaiting},
	{ErrNoCopiesLeft, ProblemNoCopiesLeft},
	{ErrNotStamped, ProblemNotStamped},
	{ErrSuperseded, ProblemSuperseded},
	{ErrRecallNeeded, ProblemRecallNeeded},
	{cups.ErrNoScheduler, ProblemNoPrinting},
}

// Explain sorts an error from a use case into a kind the screens translate ("" when it is
// none of them) and the detail: the error's text.
func Explain(err error) (kind, detail string) {
	if err == nil {
		return "", ""
	}
	for _, k := range problemKinds {
		if errors.Is(err, k.err) {
			return k.kind, err.Error()
		}
	}
	return "", err.Error()
}

// ProblemKinds lists every kind Explain returns, for the screens' translations to cover.
func ProblemKinds() []string {
	out := make([]string, len(problemKinds))
	for i, k := range problemKinds {
		out[i] = k.kind
	}
	return out
}

// Package upstream is the workstation's link to the seal-management server: the protocol's
// message types (PROTOCOL.md beside this file is the written protocol), the HTTP client, the
// sync loop, the offline policy and the client's bbolt store (cursor, cached approvals, outbox,
// used tickets). The reference server is in store/upstream/hub.
package upstream

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// APIVersion is the path prefix of every endpoint.
const APIVersion = "/v1"

// Headers of the protocol.
const (
	// HeaderWorkstation names the calling workstation. It must equal the client certificate's
	// Common Name; it is never an identity by itself (only a demo or test hub on loopback
	// takes it alone, for a workstation that has no certificate).
	HeaderWorkstation = "X-SealKeeper-Workstation"
	// HeaderRequestID is chosen by the client per request and echoed by the server, so that a
	// response can never be taken for the answer to another request.
	HeaderRequestID = "X-Request-Id"
	// HeaderUploadOffset and HeaderUploadLength drive resumable uploads (PUT /v1/files/{sha256}).
	HeaderUploadOffset = "Upload-Offset"
	HeaderUploadLength = "Upload-Length"
	// HeaderSignature carries the server's signature of a signed answer (the seal list, the
	// roster): base64 of an ECDSA P-256 signature (ASN.1 DER) with the ticket key over
	// SignedAnswerDigest.
	HeaderSignature = "X-SealKeeper-Signature"
)

// SignedAnswerDigest is what the server signs for a signed answer: SHA-256 of
// "SealKeeper signed answer v1" ‖ 0x00 ‖ path ‖ 0x00 ‖ workstation ‖ 0x00 ‖ request id ‖ 0x00 ‖
// body. The request id makes the signature good for one answer to one request, so an old
// signed list cannot be replayed; the body's asOf lets the workstation refuse a list older
// than one it holds.
func SignedAnswerDigest(path, workstation, requestID string, body []byte) []byte {
	h := sha256.New()
	for _, part := range []string{"SealKeeper signed answer v1", path, workstation, requestID} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(body)
	return h.Sum(nil)
}

// Limits both sides enforce.
const (
	MaxJSONBody     = 4 << 20  // any JSON request or response other than a ledger push
	MaxLedgerBody   = 32 << 20 // one ledger push request
	MaxLedgerBatch  = 2000     // records per ledger push
	MaxUploadChunk  = 8 << 20  // bytes per PUT of a stamped file
	MaxDocumentSize = 256 << 20
	MaxPage         = 1000 // documents per page of GET /v1/documents
)

// Hello is GET /v1/hello: who the server is and its ticket key, for enrolment and clock checks.
type Hello struct {
	Server     string    `json:"server"`
	Protocol   int       `json:"protocol"`
	Time       time.Time `json:"time"`
	TicketKey  string    `json:"ticketKey"`  // PEM PUBLIC KEY
	TicketAlg  string    `json:"ticketAlg"`  // "ECDSA-P256-SHA256"
	KeyID      string    `json:"keyId"`      // hex, first 8 bytes of SHA-256(SPKI)
	ClientAuth bool      `json:"clientAuth"` // the server requires client certificates
}

// EnrolRequest is POST /v1/enrol.
type EnrolRequest struct {
	Workstation string `json:"workstation"`
	Code        string `json:"code"` // one-time enrolment code from the server administrator
	Host        string `json:"host"`
	AppVersion  string `json:"appVersion"`
	// CSR is a PKCS#10 certificate signing request (DER) for a key the workstation made, with
	// the workstation name as Common Name (or none). The server answers with a client
	// certificate for that key. Without it the server binds the client certificate the
	// workstation presents over mutual TLS (an outside workstation CA).
	CSR []byte `json:"csr,omitempty"`
}

// EnrolResponse pins the server key: the workstation stores TicketKey and refuses tickets
// signed by any other key from then on.
type EnrolResponse struct {
	Workstation string    `json:"workstation"`
	TicketKey   string    `json:"ticketKey"`
	KeyID       string    `json:"keyId"`
	EnrolledAt  time.Time `json:"enrolledAt"`
	// CertSHA256 is the SHA-256 of the client certificate the server bound to the workstation:
	// from then on it must present exactly this certificate.
	CertSHA256 string `json:"certSha256,omitempty"`
	// Certificate is the client certificate (DER) the server issued for the CSR's key, and
	// CACertificate the workstation CA that signed it; both absent when no CSR was sent.
	Certificate   []byte `json:"certificate,omitempty"`
	CACertificate []byte `json:"caCertificate,omitempty"`
}

// Person names someone in the workflow.
type Person struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Approval is one approver's decision.
type Approval struct {
	Approver Person    `json:"approver"`
	At       time.Time `json:"at"`
	Comment  string    `json:"comment,omitempty"`
	// Signed is true when the approver also signed the PDF itself (the bytes carry a signature).
	Signed bool `json:"signed,omitempty"`
}

// Position is an allowed place for the seal, in PDF points from the page's lower-left corner.
type Position struct {
	Page int     `json:"page"` // 1-based
	X    float64 `json:"x"`
	Y    float64 `json:"y"`
	Kind string  `json:"kind,omitempty"` // "seal" (default) or "seam" (riding-seam seal)
}

// Document is one approved document waiting to be stamped on this workstation.
type Document struct {
	ID         string     `json:"id"`
	Title      string     `json:"title"`
	Department string     `json:"department"`
	Requester  Person     `json:"requester"`
	Approvals  []Approval `json:"approvals"`
	SealID     string     `json:"sealId"`
	// AllowedPages is a copy, for display, of the pages the ticket signs (0: the last page); the
	// workstation enforces the ticket's pages and regions and never reads this. Positions
	// (unsigned) can only narrow where the seal may go; empty means no narrowing.
	AllowedPages []int      `json:"allowedPages,omitempty"`
	Positions    []Position `json:"positions,omitempty"`
	Copies       int        `json:"copies"`
	// Supersedes names the document this corrected one replaces (重印); the ticket signs it.
	Supersedes string    `json:"supersedes,omitempty"`
	Pages      int       `json:"pages"`
	FileName   string    `json:"fileName"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"` // hex, lower case
	SM3        string    `json:"sm3"`    // hex, lower case
	Expires    time.Time `json:"expires"`
	Issued     time.Time `json:"issued"`
	Ticket     string    `json:"ticket"` // see store/ticket
}

// DocumentPage is GET /v1/documents?after=ID&limit=N: documents in ID order after the given one.
type DocumentPage struct {
	Documents []Document `json:"documents"`
	// Next is the ID to pass as after= for the next page; "" when this was the last page.
	Next string    `json:"next,omitempty"`
	AsOf time.Time `json:"asOf"`
}

// Seal statuses.
const (
	SealActive    = "active"
	SealSuspended = "suspended"
	SealRevoked   = "revoked"
)

// SealStatus is one seal on the status list.
type SealStatus struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Status     string    `json:"status"` // active, suspended, revoked
	Reason     string    `json:"reason,omitempty"`
	Since      time.Time `json:"since"`
	CertSHA256 string    `json:"certSha256,omitempty"`
}

// SealList is GET /v1/seals.
type SealList struct {
	AsOf  time.Time    `json:"asOf"`
	Seals []SealStatus `json:"seals"`
}

// Custodian is one person on the roster.
type Custodian struct {
	Person
	Seals []string  `json:"seals"`
	Since time.Time `json:"since"`
	Until time.Time `json:"until,omitzero"`
	// CertSHA256 is the credential a custodian identifies with at a handover: the SHA-256 (hex)
	// of their certificate (DER) on their own key. "" means the roster names no credential,
	// and nobody can take custody as this person.
	CertSHA256 string `json:"certSha256,omitempty"`
}

// Kinds of custody change (Handover.Kind, HandoverRecord.Kind).
const (
	CustodyHandover   = "handover"   // 交接: custody passes for good
	CustodyDelegation = "delegation" // 代管: a delegate keeps the seal until Until
	CustodyReturn     = "return"     // the delegation ended; custody is back (records only)
)

// Handover is an approved change of custody.
type Handover struct {
	ID string `json:"id"`
	// Kind is CustodyHandover ("" reads as one) or CustodyDelegation.
	Kind       string    `json:"kind,omitempty"`
	SealID     string    `json:"sealId"`
	From       Person    `json:"from"`
	To         Person    `json:"to"`
	ApprovedBy Person    `json:"approvedBy"`
	ApprovedAt time.Time `json:"approvedAt"`
	// Expires is when the approval can no longer be carried out.
	Expires time.Time `json:"expires"`
	// Until is when a delegation ends (required for one): the delegate's access ends then.
	Until  time.Time `json:"until,omitzero"`
	Reason string    `json:"reason,omitempty"`
	// CodeSHA256 names a one-time code as the incoming custodian's credential instead of a
	// certificate (HandoverCodeHash of the code the admin was shown once; the server keeps
	// only this). It travels in the signed roster, so a workstation checks the code offline;
	// the seal key itself passes to the incoming custodian under the PIN they set.
	CodeSHA256 string `json:"codeSha256,omitempty"`
	// Done is set by the server when the workstation's handover record arrived.
	Done bool `json:"done,omitempty"`
}

// Roster is GET /v1/custodians.
type Roster struct {
	AsOf       time.Time   `json:"asOf"`
	Custodians []Custodian `json:"custodians"`
	Handovers  []Handover  `json:"handovers"`
}

// Outcome of a document on the workstation.
const (
	OutcomeStamped  = "stamped"
	OutcomeRejected = "rejected"
	// OutcomeFailed: a stamping failed after its intent (key removed, signing error, an
	// interrupted one whose output is missing or does not verify). The approval is used once,
	// so the failure spent it: the server takes the document out of the queue as needing a new
	// approval, and refuses any later result for that ticket.
	OutcomeFailed = "failed"
)

// Result is POST /v1/results: what became of a document. For "stamped", the stamped file must
// already be uploaded (PUT /v1/files/{OutputSHA256}).
type Result struct {
	DocumentID   string    `json:"documentId"`
	TicketID     string    `json:"ticketId"`
	Outcome      string    `json:"outcome"`
	Reason       string    `json:"reason,omitempty"` // required for "rejected" and "failed"
	OutputSHA256 string    `json:"outputSha256,omitempty"`
	OutputSize   int64     `json:"outputSize,omitempty"`
	Custodian    Person    `json:"custodian"`
	At           time.Time `json:"at"`
	LedgerSeq    uint64    `json:"ledgerSeq,omitempty"`
}

// Heartbeat is POST /v1/heartbeat: the workstation's state, for the server's dashboard.
type Heartbeat struct {
	Time          time.Time `json:"time"`
	AppVersion    string    `json:"appVersion,omitempty"`
	Host          string    `json:"host,omitempty"`
	TokenPresent  bool      `json:"tokenPresent"`
	Custodian     string    `json:"custodian,omitempty"`
	LedgerSize    uint64    `json:"ledgerSize"`
	Unsynced      uint64    `json:"unsynced"`
	Outbox        int       `json:"outbox"`
	OfflineStamps int       `json:"offlineStamps"`
	// Alarms are raised but not in the pushed ledger: the workstation's ledger failed its
	// checks (there is none to write them to), or nobody has logged in since (they wait,
	// sealed, for the next login). Sent in every heartbeat until they are in the chain, so the
	// server hears of them first.
	Alarms []HeartbeatAlarm `json:"alarms,omitempty"`
}

// HeartbeatAlarm is one alarm of a heartbeat (the names of docs/rules.md 13).
type HeartbeatAlarm struct {
	Name   string    `json:"name"`
	Time   time.Time `json:"time"`
	Detail string    `json:"detail,omitempty"`
}

// HeartbeatReply tells the workstation the server's time and whether anything changed.
type HeartbeatReply struct {
	Time time.Time `json:"time"`
	// Changed is the server's change counter; the client pulls when it differs from last time.
	Changed uint64 `json:"changed"`
}

// LedgerRecord is one envelope in a push, MarshalBinary bytes in base64 (JSON []byte).
type LedgerRecord struct {
	Seq      uint64 `json:"seq"`
	Envelope []byte `json:"envelope"`
}

// LedgerPush is POST /v1/ledger: consecutive records, ascending seq.
type LedgerPush struct {
	Records []LedgerRecord `json:"records"`
}

// LedgerHead is the server's view of a workstation's ledger (reply to a push, and GET /v1/ledger).
type LedgerHead struct {
	Size       uint64              `json:"size"`
	Head       string              `json:"head"` // hex entry hash of record Size; "" when Size is 0
	Checkpoint *CosignedCheckpoint `json:"checkpoint,omitempty"`
}

// CosignedCheckpoint is the server's signature over ledger.Checkpoint.SignedBytes(): ECDSA P-256
// over SHA-256 of those bytes, DER.
type CosignedCheckpoint struct {
	Workstation string    `json:"workstation"`
	Size        uint64    `json:"size"`
	Head        string    `json:"head"` // hex
	KeyID       string    `json:"keyId"`
	SignedAt    time.Time `json:"signedAt"`
	Signature   []byte    `json:"signature"`
}

// Checkpoint is the ledger form of what was co-signed.
func (c *CosignedCheckpoint) Checkpoint() (ledger.Checkpoint, error) {
	cp := ledger.Checkpoint{Workstation: c.Workstation, Size: c.Size}
	h, err := hex.DecodeString(c.Head)
	if err != nil || len(h) != ledger.HashSize {
		return cp, fmt.Errorf("co-signed checkpoint: head %q is not a %d-byte hex hash", c.Head, ledger.HashSize)
	}
	copy(cp.Head[:], h)
	return cp, nil
}

// Verify checks the server's signature with the pinned key.
func (c *CosignedCheckpoint) Verify(pub *ecdsa.PublicKey) error {
	cp, err := c.Checkpoint()
	if err != nil {
		return err
	}
	d := sha256.Sum256(cp.SignedBytes())
	if !ecdsa.VerifyASN1(pub, d[:], c.Signature) {
		return errors.New("the server's signature on the ledger checkpoint does not verify with the pinned server key")
	}
	return nil
}

// Error codes in ErrorBody.Code.
const (
	CodeBadRequest  = "bad_request"
	CodeUnknownWS   = "unknown_workstation"
	CodeForbidden   = "forbidden"
	CodeNotFound    = "not_found"
	CodeFork        = "ledger_fork"
	CodeGap         = "ledger_gap"
	CodeBadChain    = "ledger_chain"
	CodeTooLarge    = "too_large"
	CodeConflict    = "conflict"
	CodeUploadFirst = "upload_first"
	CodeNotStamped  = "not_stamped"
	CodeOverQuota   = "over_quota"
	CodeInternal    = "internal"
)

// ErrorBody is every non-2xx JSON response.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// ExpectedSeq is set for ledger_gap and ledger_fork: the next seq the server will accept
	// (gap), or the seq whose hash differs (fork).
	ExpectedSeq uint64 `json:"expectedSeq,omitempty"`
	// ServerHash is the entry hash the server holds at ExpectedSeq for ledger_fork.
	ServerHash string `json:"serverHash,omitempty"`
	// Offset is the bytes of an upload already held (409 conflict on a wrong Upload-Offset).
	Offset int64 `json:"offset,omitempty"`
}

// UploadStatus is the reply to PUT and HEAD-like GET /v1/files/{sha256}/status.
type UploadStatus struct {
	SHA256   string `json:"sha256"`
	Received int64  `json:"received"`
	Length   int64  `json:"length"`
	Complete bool   `json:"complete"`
}

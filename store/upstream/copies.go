package upstream

import (
	"context"
	"net/http"
	"time"
)

// Extra copies (加印, RULES.md 15): the workstation asks (POST /v1/copies) for more printed
// copies of a stamped file than its approval allowed; the server's administrator approves; the
// workstation then finds the signed allowance (a ticket.Allowance, "ska1.…") in GET /v1/copies
// and prints within it.

// CopyRequest is POST /v1/copies.
type CopyRequest struct {
	DocumentID   string `json:"documentId"`
	OutputSHA256 string `json:"outputSha256"` // the stamped file, as its result reported it
	Copies       int    `json:"copies"`
	Reason       string `json:"reason"`
	Custodian    Person `json:"custodian"`
}

// Copy request states.
const (
	CopiesPending  = "pending"
	CopiesApproved = "approved"
)

// CopyGrant is a request and what became of it.
type CopyGrant struct {
	ID          string      `json:"id"`
	Workstation string      `json:"workstation"`
	Request     CopyRequest `json:"request"`
	Status      string      `json:"status"`
	RequestedAt time.Time   `json:"requestedAt"`
	DecidedAt   time.Time   `json:"decidedAt,omitzero"`
	ApprovedBy  string      `json:"approvedBy,omitempty"`
	// Allowance is the signed allowance, once approved: the only part the workstation trusts.
	Allowance string `json:"allowance,omitempty"`
}

// RequestCopies asks the server for extra copies.
func (c *Client) RequestCopies(ctx context.Context, r CopyRequest) (CopyGrant, error) {
	var g CopyGrant
	_, _, err := c.do(ctx, http.MethodPost, APIVersion+"/copies", nil, r, MaxJSONBody, &g)
	return g, err
}

// CopyGrants lists this workstation's requests for extra copies, approved ones with their
// allowance.
func (c *Client) CopyGrants(ctx context.Context) ([]CopyGrant, error) {
	var out []CopyGrant
	_, _, err := c.do(ctx, http.MethodGet, APIVersion+"/copies", nil, nil, MaxJSONBody, &out)
	return out, err
}

package hub

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// Extra copies (加印): requests from workstations, approved by the administrator, who signs a
// ticket.Allowance with the ticket key.

var bCopies = []byte("copies")

// maxExtraCopies bounds one request.
const maxExtraCopies = 1000

// requestCopies is POST /v1/copies. The hub takes a request only for a stamping it has the
// result of, with the same stamped file.
func (h *Hub) requestCopies(w http.ResponseWriter, r *http.Request, ws string) error {
	var req upstream.CopyRequest
	if err := readJSON(w, r, upstream.MaxJSONBody, &req); err != nil {
		return err
	}
	if req.Copies < 1 || req.Copies > maxExtraCopies {
		return fail(http.StatusBadRequest, upstream.CodeBadRequest, "ask for 1 to %d extra copies, not %d", maxExtraCopies, req.Copies)
	}
	if strings.TrimSpace(req.Reason) == "" {
		return fail(http.StatusBadRequest, upstream.CodeBadRequest, "a request for extra copies needs a reason")
	}
	g := upstream.CopyGrant{Workstation: ws, Request: req, Status: upstream.CopiesPending, RequestedAt: h.now().UTC()}
	var id [6]byte
	rand.Read(id[:])
	g.ID = "C" + hex.EncodeToString(id[:])
	err := h.db.Update(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bDocs).Get([]byte(req.DocumentID))
		if raw == nil {
			return fail(http.StatusNotFound, upstream.CodeNotFound, "no document %q on this hub", req.DocumentID)
		}
		var rec docRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return err
		}
		if rec.Workstation != ws {
			return fail(http.StatusForbidden, upstream.CodeForbidden, "document %s was sent to workstation %q, not %q", req.DocumentID, rec.Workstation, ws)
		}
		if rec.Result == nil || rec.Result.Outcome != upstream.OutcomeStamped || rec.Result.OutputSHA256 != req.OutputSHA256 {
			return fail(http.StatusConflict, upstream.CodeConflict, "the hub has no stamping of document %s with that file; sync the stamping first", req.DocumentID)
		}
		b, err := tx.CreateBucketIfNotExists(bCopies)
		if err != nil {
			return err
		}
		return putJSON(b, g.ID, g)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

// copyGrants is GET /v1/copies: this workstation's requests.
func (h *Hub) copyGrants(w http.ResponseWriter, r *http.Request, ws string) error {
	all, err := h.CopyRequests()
	return writeOwn(w, all, err, func(g upstream.CopyGrant) bool { return g.Workstation == ws })
}

// writeOwn answers with the items of a list that are the calling workstation's (mine), as a
// JSON array (empty, not null, when none are).
func writeOwn[T any](w http.ResponseWriter, all []T, err error, mine func(T) bool) error {
	if err != nil {
		return err
	}
	out := []T{}
	for _, x := range all {
		if mine(x) {
			out = append(out, x)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// CopyRequests lists every request for extra copies, oldest first.
func (h *Hub) CopyRequests() ([]upstream.CopyGrant, error) {
	var out []upstream.CopyGrant
	err := h.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bCopies) == nil {
			return nil
		}
		var err error
		out, err = listJSON[upstream.CopyGrant](tx, bCopies)
		return err
	})
	sort.Slice(out, func(i, j int) bool { return out[i].RequestedAt.Before(out[j].RequestedAt) })
	return out, err
}

// ApproveCopies approves a pending request: the allowance for the copies asked is signed with
// the ticket key and handed to the workstation at its next GET /v1/copies.
func (h *Hub) ApproveCopies(id, approver string) (upstream.CopyGrant, error) {
	var g upstream.CopyGrant
	if strings.TrimSpace(approver) == "" {
		return g, errors.New("name who approves the extra copies (--approver)")
	}
	err := h.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bCopies)
		var raw []byte
		if b != nil {
			raw = b.Get([]byte(id))
		}
		if raw == nil {
			return fmt.Errorf("no request for extra copies %q on this hub (hub copies lists them)", id)
		}
		if err := json.Unmarshal(raw, &g); err != nil {
			return err
		}
		if g.Status != upstream.CopiesPending {
			return fmt.Errorf("request %s is already %s", id, g.Status)
		}
		sum, err := hex.DecodeString(g.Request.OutputSHA256)
		if err != nil || len(sum) != 32 {
			return fmt.Errorf("request %s names no valid SHA-256", id)
		}
		a := ticket.Allowance{DocumentID: g.Request.DocumentID, Workstation: g.Workstation, Copies: g.Request.Copies, IssuedAt: h.now()}
		copy(a.OutputSHA256[:], sum)
		if g.Allowance, err = ticket.SignAllowance(a, h.key); err != nil {
			return err
		}
		g.Status, g.DecidedAt, g.ApprovedBy = upstream.CopiesApproved, h.now().UTC(), approver
		if err := putJSON(b, g.ID, g); err != nil {
			return err
		}
		return bumpChanged(tx)
	})
	return g, err
}

// copyAdmin adds the admin API's routes for extra copies.
func (h *Hub) copyAdmin(handle func(string, func(*http.Request) (any, error)), decode func(*http.Request, any) error) {
	handle("GET /admin/copies", func(*http.Request) (any, error) { return h.CopyRequests() })
	handle("POST /admin/copies/approve", func(r *http.Request) (any, error) {
		var req struct{ ID, Approver string }
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		return h.ApproveCopies(req.ID, req.Approver)
	})
}

// CopyAdmin is the administrator's side of extra copies, on the database or a running hub.
type CopyAdmin interface {
	CopyRequests() ([]upstream.CopyGrant, error)
	ApproveCopies(id, approver string) (upstream.CopyGrant, error)
}

func (a *adminClient) CopyRequests() ([]upstream.CopyGrant, error) {
	var out []upstream.CopyGrant
	return out, a.call(http.MethodGet, "/admin/copies", nil, &out)
}

func (a *adminClient) ApproveCopies(id, approver string) (upstream.CopyGrant, error) {
	var out upstream.CopyGrant
	return out, a.call(http.MethodPost, "/admin/copies/approve", map[string]string{"ID": id, "Approver": approver}, &out)
}

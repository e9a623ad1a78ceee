package usecase

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// QueueItem is one document in the custodian's queue, as the screens and the command line show
// it.
type QueueItem struct {
	ID, Title, Department string
	Requester             string
	Approvers             []string // names, in approval order
	SealID                string
	Pages, Copies         int
	// Supersedes is the earlier document this corrected one replaces (重印), or "".
	Supersedes      string
	Size            int64
	SHA256          string
	Issued, Expires time.Time
	// ConfirmedAt is when the server last listed it: offline, the age of the approval.
	ConfirmedAt time.Time
	// Ready: its bytes are here and verified; it can be opened for stamping.
	Ready bool
	// Problem says why it cannot be stamped (a failed ticket check, a withdrawn document, the
	// seal revoked or suspended); ProblemKind is its kind for the screens (Explain), or "".
	Problem, ProblemKind string
}

// Queue lists the documents waiting on this workstation, oldest approval first, including
// those that cannot be stamped (with the reason); stamped and returned ones are left out. The
// queue is kept encrypted, so it needs a login (ErrLedgerLocked).
func (d *Desk) Queue() ([]QueueItem, error) {
	if d.cfg.Store == nil {
		return nil, ErrNoServer
	}
	docs, err := d.cfg.Store.Documents()
	if errors.Is(err, upstream.ErrDocumentsLocked) {
		return nil, fmt.Errorf("%w (the queue is kept encrypted)", ErrLedgerLocked)
	}
	if err != nil {
		return nil, err
	}
	// The seal's status is the same for every document: a revoked or suspended seal (on the
	// cached list, so offline too) says so on each.
	sealErr := d.cfg.Store.SealUsable(d.cfg.SealID)
	var out []QueueItem
	for _, c := range docs {
		if c.State == upstream.DocDone {
			continue
		}
		it := QueueItem{ID: c.ID, Title: c.Title, Department: c.Department, Requester: c.Requester.Name,
			SealID: c.SealID, Pages: c.Pages, Copies: c.Copies, Supersedes: c.Supersedes, Size: c.Size, SHA256: c.SHA256,
			Issued: c.Issued, Expires: c.Expires, ConfirmedAt: c.FetchedAt,
			Ready: c.State == upstream.DocPending && c.Have, Problem: c.Problem}
		for _, a := range c.Approvals {
			it.Approvers = append(it.Approvers, a.Approver.Name)
		}
		switch {
		case (it.Ready || c.State == upstream.DocWithdrawn) && d.ticketSpent(c):
			// A failed stamping spent it; the server, told so, no longer lists it.
			it.Ready = false
			it.ProblemKind, it.Problem = Explain(ErrApprovalSpent)
		case c.State == upstream.DocWithdrawn:
			it.Problem = "withdrawn by the server; it cannot be stamped"
		case c.State == upstream.DocPending && !c.Have:
			it.Problem = "its file has not been downloaded yet; connect to the server"
		case it.Ready && sealErr != nil:
			it.Ready = false
			it.ProblemKind, it.Problem = Explain(sealErr)
		}
		out = append(out, it)
	}
	return out, nil
}

// DocumentFile is the cached file of a queue document that may be stamped, to place the seal
// on before stamping: its bytes decrypted in memory, valid until logout.
func (d *Desk) DocumentFile(id string) (string, error) {
	doc, err := d.stampable(id)
	return doc.File, err
}

// Orders of the queue, for the screens' sort choice.
const (
	OrderApproved   = "approved"   // oldest approval first (the server's order)
	OrderDeadline   = "deadline"   // the approval that expires soonest first
	OrderTitle      = "title"      // by title
	OrderDepartment = "department" // by requesting department, then title
)

// FilterQueue keeps the items whose title, id, department, requester, approvers or seal contain
// every word of text (any case), sorted by order; items is not changed.
func FilterQueue(items []QueueItem, text, order string) []QueueItem {
	words := strings.Fields(strings.ToLower(text))
	var out []QueueItem
	for _, it := range items {
		hay := strings.ToLower(strings.Join(append([]string{it.Title, it.ID, it.Department, it.Requester, it.SealID}, it.Approvers...), " "))
		all := true
		for _, w := range words {
			all = all && strings.Contains(hay, w)
		}
		if all {
			out = append(out, it)
		}
	}
	by := map[string]func(a, b QueueItem) int{
		OrderDeadline: func(a, b QueueItem) int { return a.Expires.Compare(b.Expires) },
		OrderTitle:    func(a, b QueueItem) int { return strings.Compare(a.Title, b.Title) },
		OrderDepartment: func(a, b QueueItem) int {
			return cmp.Or(strings.Compare(a.Department, b.Department), strings.Compare(a.Title, b.Title))
		},
	}
	if f, ok := by[order]; ok {
		slices.SortStableFunc(out, f)
	}
	return out
}

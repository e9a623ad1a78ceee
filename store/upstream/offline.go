package upstream

import (
	"crypto"
	"errors"
	"fmt"
	"time"

	"github.com/sealkeeper/sealkeeper/store/ticket"
)

// Policy is the offline stamping policy from the configuration (upstream.max_offline_age and
// upstream.max_offline_stamps).
type Policy struct {
	// MaxAge is how long after the server last confirmed an approval it may be used offline.
	MaxAge time.Duration
	// MaxStamps is how many stamps may be made before the server is reached again.
	MaxStamps int
}

// Refusal is a stamp the workstation will not make; its message is for the custodian.
type Refusal struct {
	msg  string
	kind error // ErrSealRevoked, ErrSealSuspended, or nil
}

func (r *Refusal) Error() string { return r.msg }

// Unwrap lets errors.Is tell a seal's status apart from other refusals.
func (r *Refusal) Unwrap() error { return r.kind }

// The seal statuses that refuse a stamping (RULES.md 11), for errors.Is.
var (
	ErrSealRevoked   = errors.New("the seal is revoked")
	ErrSealSuspended = errors.New("the seal is suspended")
)

func refuse(format string, a ...any) error { return &Refusal{msg: fmt.Sprintf(format, a...)} }

// StampCheck is what is known at the moment of stamping.
type StampCheck struct {
	DocumentID  string
	DocSHA256   [32]byte // hash of the bytes about to be signed
	SealID      string   // the seal on the inserted key
	Workstation string
	ServerKey   crypto.PublicKey // pinned at enrolment
	Online      bool             // Syncer.Status().Online
	Policy      Policy
	Now         time.Time
	// Used is the used-ticket set; the ledger when given, else this store's own.
	Used ticket.UsedSet
}

// CheckStamp decides whether a document may be stamped now: the approval ticket (signature,
// hash, seal, workstation, expiry, not used before), the seal's status on the last pulled list
// (a revoked or suspended seal is refused online and offline), the document still being in the
// queue, and offline the policy's age and count limits. The error says why not.
func (s *Store) CheckStamp(c StampCheck) (*ticket.Ticket, error) {
	if c.Now.IsZero() {
		c.Now = time.Now()
	}
	d, err := s.Document(c.DocumentID)
	if err != nil {
		return nil, refuse("%v", err)
	}
	switch d.State {
	case DocWithdrawn:
		return nil, refuse("the server withdrew %q (last listed %s); it cannot be stamped", d.Title, d.FetchedAt.Local().Format("2006-01-02 15:04"))
	case DocRefused:
		return nil, refuse("%q cannot be stamped: %s", d.Title, d.Problem)
	case DocDone:
		return nil, refuse("%q was already stamped or returned on this workstation", d.Title)
	}
	used := c.Used
	if used == nil {
		used = s
	}
	t, err := ticket.Verify(d.Ticket, c.ServerKey, ticket.Expect{
		DocumentID: d.ID, DocSHA256: c.DocSHA256, SealID: c.SealID, Workstation: c.Workstation, Now: c.Now,
	}, used)
	if err != nil {
		return nil, err
	}
	if err := s.SealUsable(t.SealID); err != nil {
		return nil, err
	}
	if !c.Online {
		if age := c.Now.Sub(d.FetchedAt); age > c.Policy.MaxAge {
			return nil, refuse("working offline: the approval of %q was last confirmed by the server %s (%s ago), more than the %s allowed offline; connect to the server to stamp it",
				d.Title, d.FetchedAt.Local().Format("2006-01-02 15:04"), age.Truncate(time.Minute), c.Policy.MaxAge)
		}
		n, err := s.OfflineStamps()
		if err != nil {
			return nil, err
		}
		if n >= c.Policy.MaxStamps {
			return nil, refuse("working offline: %d stamps were made since the server was last reached, the most allowed offline; connect to the server to stamp more", n)
		}
	}
	return t, nil
}

// SealUsable checks a seal against the last pulled status list.
func (s *Store) SealUsable(id string) error {
	l, err := s.SealList()
	if err != nil {
		return err
	}
	if l.AsOf.IsZero() {
		return refuse("the seal status list was never fetched from the server; connect once before stamping")
	}
	for _, st := range l.Seals {
		if st.ID != id {
			continue
		}
		switch st.Status {
		case SealActive:
			return nil
		case SealRevoked:
			return &Refusal{kind: ErrSealRevoked, msg: fmt.Sprintf("seal %s (%s) was revoked on %s: %s. A revoked seal can never be used again", st.ID, st.Name, st.Since.Local().Format("2006-01-02 15:04"), st.Reason)}
		case SealSuspended:
			return &Refusal{kind: ErrSealSuspended, msg: fmt.Sprintf("seal %s (%s) is suspended since %s: %s. Ask the seal administrator", st.ID, st.Name, st.Since.Local().Format("2006-01-02 15:04"), st.Reason)}
		default:
			return refuse("seal %s has status %q, which this program does not know; not stamping", st.ID, st.Status)
		}
	}
	return refuse("seal %s is not on the server's seal list (as of %s); not stamping", id, l.AsOf.Local().Format("2006-01-02 15:04"))
}

package usecase

import (
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// Custody changes (RULES.md 2): a handover (交接) passes the seal to another custodian for good,
// a delegation (代管) to a delegate until an end date. Both follow one flow, for the window and
// the command line alike:
//
//  1. the outgoing custodian is logged in and the ledger is open with their key slot;
//  2. the server's approval names the incoming person from its roster (pulled with the
//     roster and cached: offline it is usable until it expires and while the roster is no
//     older than the offline policy's age; without one the change is refused, saying why);
//  3. the incoming person identifies with the credential the approval names: their
//     certificate on their own key, whose PIN they enter (Identify), or the one-time code the
//     server issued for the approval (IdentifyByCode; a handover only, not a delegation);
//  4. both confirm the inventory (Inventory: seals, documents, interrupted stampings,
//     unsynced records, the ledger head), by its digest;
//  5. the incoming person sets a new PIN on their key at once (the issued one then fails); by
//     code they have no key of their own: the seal key itself passes, and its PIN changes from
//     the outgoing custodian's (given at IdentifyByCode) to the one the incoming person sets,
//     so the old PIN fails;
//  6. the ledger's key slots change in one transaction with the records: the incoming key's
//     slot is added and, for a handover, the outgoing one's removed (by code the seal key's
//     slot is removed and wrapped again, labelled with the incoming person, who opens it with
//     the new PIN); the handover record,
//     signed by the outgoing seal key and the incoming key, holds both identities, the
//     inventory digest and the time, and goes to the server before anything else.
//
// A delegation ends by itself: from its end date on, Enforce (run before every recorded act
// through DeskConfig.Custody) removes the delegate's slot, records the return, and logs the
// delegate out.

// CustodyConfig wires custody changes to the ledger, the cached roster and the keys.
type CustodyConfig struct {
	Ledger *ledger.Ledger
	// Store holds the roster and approvals pulled from the server, and queues the handover
	// record for it.
	Store *upstream.Store
	// Keys has the outgoing custodian logged in; its modules are where the incoming person's
	// key is looked for.
	Keys *Keys
	// Online tells whether the server answered the last sync round; nil means offline.
	Online func() bool
	// Policy.MaxAge is how old the cached roster may be for its approval to be used offline.
	Policy upstream.Policy
	// Trigger asks the sync loop to run now; may be nil.
	Trigger                   func()
	SealID, Workstation, Host string
	Log                       *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Custody carries out custody changes and ends delegations.
type Custody struct {
	cfg CustodyConfig

	mu      sync.Mutex
	scanned uint64                             // ledger records read for custody changes
	done    map[string]bool                    // approval IDs carried out on this workstation
	used    map[string]bool                    // one-time codes (hashes) the ledger's records name
	active  map[string]upstream.HandoverRecord // delegations not yet returned, by approval ID
}

// NewCustody makes the use case.
func NewCustody(cfg CustodyConfig) *Custody {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Custody{cfg: cfg, done: map[string]bool{}, used: map[string]bool{}, active: map[string]upstream.HandoverRecord{}}
}

// Refusals of custody changes a screen tells apart (errors.Is); the text says what to do.
var (
	// ErrNoHandoverApproval: the server approved no custody change of this seal that can be
	// carried out now.
	ErrNoHandoverApproval = errors.New("no approved handover")
	// ErrNotIdentified: the incoming person's key does not carry the credential the roster names.
	ErrNotIdentified = errors.New("the incoming custodian is not identified")
	// ErrInventoryNotConfirmed: both people must confirm the same inventory first.
	ErrInventoryNotConfirmed = errors.New("the inventory is not confirmed by both")
	// ErrDelegationEnded: the logged-in delegate's delegation is over.
	ErrDelegationEnded = errors.New("the delegation has ended")
)

// HandoverOffer is one approval from the cached roster, with whether it can be carried out
// now and, if not, why.
type HandoverOffer struct {
	Approval upstream.Handover
	From, To upstream.Custodian // as the roster names them
	Problem  string             // "" when it can be carried out now
}

// Kind is the approval's kind, CustodyHandover when the server left it empty.
func (o HandoverOffer) Kind() string {
	if o.Approval.Kind == "" {
		return upstream.CustodyHandover
	}
	return o.Approval.Kind
}

// ByCode tells whether the approval names a one-time code as the incoming person's credential
// (IdentifyByCode) rather than their certificate (Identify).
func (o HandoverOffer) ByCode() bool { return o.Approval.CodeSHA256 != "" }

// Offers lists the cached approvals for this workstation's seal, newest first. The cached
// roster is encrypted, so it needs someone logged in (ErrLedgerLocked).
func (c *Custody) Offers() ([]HandoverOffer, error) {
	if c.cfg.Store == nil {
		return nil, fmt.Errorf("%w: this workstation has no seal-management server, so no handover can be approved", ErrNoHandoverApproval)
	}
	ro, err := c.cfg.Store.Roster()
	if errors.Is(err, upstream.ErrRosterLocked) {
		// The roster names people, so sync.db keeps it encrypted like the documents.
		return nil, fmt.Errorf("%w: %v", ErrLedgerLocked, err)
	}
	if err != nil {
		return nil, err
	}
	if err := c.refresh(); err != nil {
		return nil, err
	}
	people := map[string]upstream.Custodian{}
	for _, p := range ro.Custodians {
		people[p.ID] = p
	}
	now := c.cfg.Now()
	online := c.cfg.Online != nil && c.cfg.Online()
	var out []HandoverOffer
	for _, a := range ro.Handovers {
		if a.SealID != c.cfg.SealID {
			continue
		}
		o := HandoverOffer{Approval: a, From: people[a.From.ID], To: people[a.To.ID]}
		if o.From.ID == "" {
			o.From.Person = a.From
		}
		if o.To.ID == "" {
			o.To.Person = a.To
		}
		c.mu.Lock()
		doneHere, codeUsed := c.done[a.ID], a.CodeSHA256 != "" && c.used[a.CodeSHA256]
		c.mu.Unlock()
		switch {
		case a.Done || doneHere:
			o.Problem = fmt.Sprintf("approval %s was already carried out", a.ID)
		case codeUsed:
			o.Problem = fmt.Sprintf("the one-time code of approval %s was already used at an earlier handover (the ledger records it); the seal administrator issues a new code", a.ID)
		case now.After(a.Expires):
			o.Problem = fmt.Sprintf("approval %s expired on %s; the head of office must approve again", a.ID, a.Expires.Local().Format("2006-01-02 15:04"))
		case a.Kind == upstream.CustodyDelegation && !now.Before(a.Until):
			o.Problem = fmt.Sprintf("the delegation of approval %s ended on %s", a.ID, a.Until.Local().Format("2006-01-02 15:04"))
		case !online && now.Sub(ro.AsOf) > c.cfg.Policy.MaxAge:
			o.Problem = fmt.Sprintf("working offline: approval %s was last confirmed by the server %s (%s ago), more than the %s allowed offline; connect to the server",
				a.ID, ro.AsOf.Local().Format("2006-01-02 15:04"), now.Sub(ro.AsOf).Truncate(time.Minute), c.cfg.Policy.MaxAge)
		case o.To.CertSHA256 == "" && !o.ByCode():
			o.Problem = fmt.Sprintf("the roster names no credential (certificate) for %s, so they cannot identify; ask the seal administrator to register it (sealkeeper hub custodian --cert)", a.To.Name)
		}
		out = append(out, o)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Approval.ApprovedAt.After(out[j].Approval.ApprovedAt) })
	return out, nil
}

// Begin starts carrying out approval id ("" for the only usable one): the outgoing custodian
// must be logged in with the ledger open, and be the person the approval names.
func (c *Custody) Begin(id string) (*HandoverSession, error) {
	offers, err := c.Offers()
	if err != nil {
		return nil, err
	}
	var pick *HandoverOffer
	var problems []string
	for i := range offers {
		o := &offers[i]
		if id != "" && o.Approval.ID != id {
			continue
		}
		if o.Problem != "" {
			problems = append(problems, o.Problem)
			continue
		}
		if pick == nil {
			pick = o
		}
	}
	if pick == nil {
		ro, _ := c.cfg.Store.Roster()
		why := fmt.Sprintf("the server approved no handover of seal %s", c.cfg.SealID)
		if id != "" {
			why = fmt.Sprintf("the server approved no handover %s of seal %s", id, c.cfg.SealID)
		}
		if len(problems) > 0 {
			why = problems[0]
		}
		asOf := "never pulled"
		if !ro.AsOf.IsZero() {
			asOf = "as of " + ro.AsOf.Local().Format("2006-01-02 15:04")
		}
		return nil, fmt.Errorf("%w: %s (roster %s). The head of office approves a handover on the seal-management server; pull it while online", ErrNoHandoverApproval, why, asOf)
	}
	if c.cfg.Ledger == nil {
		return nil, ErrNoLedger
	}
	if !c.cfg.Ledger.Unlocked() {
		return nil, ErrLedgerLocked
	}
	_, cert, err := c.cfg.Keys.signerAnyway()
	if err != nil {
		return nil, fmt.Errorf("the outgoing custodian %s must be logged in with the seal key: %w", pick.From.Name, err)
	}
	switch {
	case pick.From.CertSHA256 != "" && upstream.CertHash(cert.Raw) != pick.From.CertSHA256:
		return nil, fmt.Errorf("the logged-in seal key's certificate (%s) is not the one the roster names for %s, who gives custody in approval %s", cert.Subject.CommonName, pick.From.Name, pick.Approval.ID)
	case pick.From.CertSHA256 == "" && c.cfg.Keys.State().Custodian != pick.From.Name:
		// Without a credential on the roster, the configured custodian's name must be theirs.
		return nil, fmt.Errorf("approval %s hands the seal over from %s, but the custodian logged in here is %q", pick.Approval.ID, pick.From.Name, c.cfg.Keys.State().Custodian)
	}
	if pick.ByCode() && pick.Kind() != upstream.CustodyHandover {
		return nil, fmt.Errorf("approval %s is a %s by one-time code: by code the seal key itself passes, so only a handover can be; the seal administrator registers %s's certificate instead", pick.Approval.ID, pick.Kind(), pick.To.Name)
	}
	return &HandoverSession{c: c, Offer: *pick, fromCert: cert}, nil
}

// InventorySeal is a key on the outgoing custodian's token with its certificate's validity.
type InventorySeal struct {
	Label     string    `json:"label"`
	Subject   string    `json:"subject"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	ValidNow  bool      `json:"validNow"`
}

// InventoryDoc is a document in the queue.
type InventoryDoc struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Cached bool   `json:"cached"` // its file is on this workstation
}

// Inventory is what the two people confirm at a custody change.
type Inventory struct {
	Seals       []InventorySeal `json:"seals"`
	Pending     []InventoryDoc  `json:"pending"`
	Interrupted []Interrupted   `json:"interrupted"`
	Unsynced    uint64          `json:"unsynced"` // ledger records the server does not hold
	Outbox      int             `json:"outbox"`   // results waiting to go up
	LedgerSize  uint64          `json:"ledgerSize"`
	LedgerHead  string          `json:"ledgerHead"`
}

// Digest is the SHA-256 (hex) of the inventory's JSON: what both confirm and the record holds.
func (inv Inventory) Digest() string {
	b, _ := json.Marshal(inv)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// HandoverSession is one custody change being carried out.
type HandoverSession struct {
	Offer HandoverOffer

	c        *Custody
	fromCert *x509.Certificate

	in    *device.Session
	inKey device.SealKey
	inPIN string
	inTok device.TokenInfo
	// byCode: the incoming person gave the approval's one-time code, and sealPIN is the seal
	// key's PIN the outgoing custodian gave to pass it.
	byCode  bool
	sealPIN string
	confirm map[string]string // party → confirmed inventory digest
	done    bool
}

// Parties of a custody change, for Confirm.
const (
	PartyOutgoing = "outgoing"
	PartyIncoming = "incoming"
)

// Identify logs in to the incoming person's key (the token labelled or numbered token, or the
// only token other than the outgoing one) with the PIN it was issued with, and finds on it the
// certificate the roster names as their credential.
func (s *HandoverSession) Identify(token, pin string) (device.CertSummary, error) {
	if s.Offer.ByCode() {
		return device.CertSummary{}, fmt.Errorf("%w: approval %s names a one-time code as %s's credential; enter the code the seal administrator gave", ErrNotIdentified, s.Offer.Approval.ID, s.Offer.To.Name)
	}
	if s.in != nil {
		s.in.Close()
		s.in = nil
	}
	out := s.c.cfg.Keys.State().Token
	var found []device.TokenInfo
	var mods []*device.Module
	for _, m := range s.c.cfg.Keys.cfg.Watch.Modules {
		toks, err := m.Tokens()
		if err != nil {
			return device.CertSummary{}, err
		}
		for _, t := range toks {
			if (token == "" && !sameToken(t, out)) || (token != "" && (t.Label == token || t.Serial == token)) {
				found, mods = append(found, t), append(mods, m)
			}
		}
	}
	switch {
	case len(found) == 0:
		return device.CertSummary{}, fmt.Errorf("%w: plug in %s's own key (no other key is plugged in%s)", ErrNotIdentified, s.Offer.To.Name, named(token))
	case len(found) > 1:
		return device.CertSummary{}, fmt.Errorf("%w: %d keys are plugged in besides the seal key; say which is %s's (label or serial)", ErrNotIdentified, len(found), s.Offer.To.Name)
	}
	if sameToken(found[0], out) {
		return device.CertSummary{}, fmt.Errorf("%w: that is the outgoing custodian's key; %s identifies with their own", ErrNotIdentified, s.Offer.To.Name)
	}
	sess, err := mods[0].Login(found[0], pin)
	if err != nil {
		return device.CertSummary{}, err
	}
	keys, err := sess.Seals()
	if err != nil {
		sess.Close()
		return device.CertSummary{}, err
	}
	for _, k := range keys {
		if k.Cert != nil && upstream.CertHash(k.Cert.Raw) == s.Offer.To.CertSHA256 {
			if err := checkValidity(k.Cert, s.c.cfg.Now()); err != nil {
				sess.Close()
				return device.CertSummary{}, fmt.Errorf("%w: %s's certificate: %v", ErrNotIdentified, s.Offer.To.Name, err)
			}
			s.in, s.inKey, s.inPIN, s.inTok = sess, k, pin, sess.Token()
			return k.Summary(), nil
		}
	}
	sess.Close()
	return device.CertSummary{}, fmt.Errorf("%w: key %q carries no certificate the roster names for %s", ErrNotIdentified, found[0].Name(), s.Offer.To.Name)
}

// IdentifyByCode checks the one-time code the incoming person gives against the approval's
// hash (offline too: the approval came signed with the roster). sealPIN is the seal key's
// PIN now, which the outgoing custodian gives to pass the key; Complete changes it to the
// incoming person's new one, and a wrong sealPIN fails there.
func (s *HandoverSession) IdentifyByCode(code, sealPIN string) error {
	a := s.Offer.Approval
	if !s.Offer.ByCode() {
		return fmt.Errorf("%w: approval %s names no one-time code; %s identifies with their own key", ErrNotIdentified, a.ID, s.Offer.To.Name)
	}
	got := upstream.HandoverCodeHash(code)
	if subtle.ConstantTimeCompare([]byte(got), []byte(a.CodeSHA256)) != 1 {
		s.byCode = false
		s.c.cfg.Log.Warn("wrong handover code", "approval", a.ID)
		return fmt.Errorf("%w: that is not the one-time code of approval %s for %s; check it with the seal administrator (the code is shown once when the handover is approved)", ErrNotIdentified, a.ID, s.Offer.To.Name)
	}
	if sealPIN == "" {
		return fmt.Errorf("%w: %s gives the seal key's PIN to pass the key", ErrNotIdentified, s.Offer.From.Name)
	}
	s.byCode, s.sealPIN = true, sealPIN
	return nil
}

// identified tells whether the incoming person has identified, by key or by code.
func (s *HandoverSession) identified() bool { return s.in != nil || s.byCode }

func named(token string) string {
	if token == "" {
		return ""
	}
	return fmt.Sprintf(" labelled or numbered %q", token)
}

// Inventory is the workstation's state now.
func (s *HandoverSession) Inventory() (Inventory, error) {
	c := s.c
	var inv Inventory
	keys, err := c.cfg.Keys.sealsOnKey()
	if err != nil {
		return inv, err
	}
	now := c.cfg.Now()
	for _, k := range keys {
		if k.Cert == nil {
			continue
		}
		inv.Seals = append(inv.Seals, InventorySeal{Label: k.Label, Subject: k.Cert.Subject.CommonName, Serial: k.Cert.SerialNumber.String(),
			NotBefore: k.Cert.NotBefore.UTC(), NotAfter: k.Cert.NotAfter.UTC(), ValidNow: checkValidity(k.Cert, now) == nil})
	}
	if c.cfg.Store != nil {
		docs, err := c.cfg.Store.Documents()
		if err != nil {
			return inv, err
		}
		for _, d := range docs {
			if d.State == upstream.DocPending {
				inv.Pending = append(inv.Pending, InventoryDoc{ID: d.ID, Title: d.Title, Cached: d.Have})
			}
		}
		pushed, err := c.cfg.Store.Pushed()
		if err != nil {
			return inv, err
		}
		if sz := c.cfg.Ledger.Size(); sz > pushed {
			inv.Unsynced = sz - pushed
		}
		ob, err := c.cfg.Store.Outbox()
		if err != nil {
			return inv, err
		}
		inv.Outbox = len(ob)
	}
	open, err := c.cfg.Ledger.Interrupted()
	if err != nil {
		return inv, err
	}
	for _, r := range open {
		inv.Interrupted = append(inv.Interrupted, Interrupted{Intent: r.Seq, DocID: r.DocID, Title: r.DocTitle, At: r.Time.UTC(), Output: r.Output})
	}
	inv.LedgerSize = c.cfg.Ledger.Size()
	h := c.cfg.Ledger.Head()
	inv.LedgerHead = hex.EncodeToString(h[:])
	return inv, nil
}

// Confirm records that party (PartyOutgoing or PartyIncoming) confirmed the inventory with
// this digest. The incoming person must have identified first.
func (s *HandoverSession) Confirm(party, digest string) error {
	if party != PartyOutgoing && party != PartyIncoming {
		return fmt.Errorf("party %q is not %s or %s", party, PartyOutgoing, PartyIncoming)
	}
	if !s.identified() {
		return fmt.Errorf("%w: %s identifies before confirming", ErrNotIdentified, s.Offer.To.Name)
	}
	inv, err := s.Inventory()
	if err != nil {
		return err
	}
	if inv.Digest() != digest {
		return fmt.Errorf("%w: the inventory changed since it was shown; look at it again", ErrInventoryNotConfirmed)
	}
	if s.confirm == nil {
		s.confirm = map[string]string{}
	}
	s.confirm[party] = digest
	return nil
}

// HandoverDone is a custody change carried out.
type HandoverDone struct {
	Record upstream.HandoverRecord
	Seq    uint64 // the handover record in the ledger
}

// Complete sets the incoming person's new PIN, changes the key slots with the records, queues
// the signed handover record for the server and logs the outgoing custodian out.
func (s *HandoverSession) Complete(newPIN string) (*HandoverDone, error) {
	c := s.c
	if s.done {
		return nil, errors.New("this handover was already completed")
	}
	if !s.identified() {
		return nil, fmt.Errorf("%w: %s identifies first", ErrNotIdentified, s.Offer.To.Name)
	}
	a := s.Offer.Approval
	if now := c.cfg.Now(); now.After(a.Expires) {
		return nil, fmt.Errorf("%w: approval %s expired on %s while it was being carried out; the head of office must approve again", ErrNoHandoverApproval, a.ID, a.Expires.Local().Format("2006-01-02 15:04"))
	}
	inv, err := s.Inventory()
	if err != nil {
		return nil, err
	}
	dg := inv.Digest()
	if s.confirm[PartyOutgoing] != dg || s.confirm[PartyIncoming] != dg {
		return nil, fmt.Errorf("%w: both %s and %s confirm the inventory as it is now", ErrInventoryNotConfirmed, s.Offer.From.Name, s.Offer.To.Name)
	}
	if err := s.setPIN(newPIN); err != nil {
		return nil, err
	}
	now := c.cfg.Now().UTC()
	fromSigner, _, err := c.cfg.Keys.signerAnyway()
	if err != nil {
		return nil, err
	}
	toCert, toSigner, inTok := s.fromCert, fromSigner, c.cfg.Keys.State().Token
	if !s.byCode {
		toCert, inTok = s.inKey.Cert, s.inTok
		if toSigner, err = s.in.Signer(s.inKey); err != nil {
			return nil, err
		}
	}
	rec := upstream.HandoverRecord{HandoverID: a.ID, Kind: s.Offer.Kind(), SealID: a.SealID, Workstation: c.cfg.Workstation,
		From: s.Offer.From.Person, To: s.Offer.To.Person, FromCert: s.fromCert.Raw, ToCert: toCert.Raw, Until: a.Until,
		Inventory: dg, LedgerSize: inv.LedgerSize, LedgerHead: inv.LedgerHead, At: now}
	if s.byCode {
		rec.CodeSHA256 = a.CodeSHA256
	}
	if rec.FromSig, err = upstream.SignHandover(rec, fromSigner); err != nil {
		return nil, fmt.Errorf("the outgoing seal key did not sign the handover record: %w", err)
	}
	if rec.ToSig, err = upstream.SignHandover(rec, toSigner); err != nil {
		return nil, fmt.Errorf("%s's key did not sign the handover record: %w", s.Offer.To.Name, err)
	}
	var remove []string
	if rec.Kind == upstream.CustodyHandover {
		id, err := keyslot.ID(s.fromCert.PublicKey)
		if err != nil {
			return nil, err
		}
		remove = []string{id}
	}
	lr, err := c.ledgerRecord(rec, toCert, inTok.Serial)
	if err != nil {
		return nil, err
	}
	pin := ledger.Record{Kind: ledger.KindPINChanged, Time: now, Workstation: c.cfg.Workstation, Host: c.cfg.Host, Custodian: rec.To.Name, Token: inTok.Serial}
	before := c.cfg.Ledger.Size()
	role := keyslot.RoleCustodian
	if rec.Kind == upstream.CustodyDelegation {
		role = keyslot.RoleDelegate // Enforce looks for these, so a ledger without one is not read
	}
	err = c.cfg.Ledger.ChangeSlots([]ledger.Recipient{{Public: toCert.PublicKey, Role: role, Label: rec.To.Name}}, remove, lr, pin)
	if err != nil {
		return nil, fmt.Errorf("%s's PIN is changed, but the custody change was not recorded: %w; try again", s.Offer.To.Name, err)
	}
	if ages := c.cfg.Keys.cfg.Ages; ages != nil {
		if err := ages.Record(inTok.Serial, now); err != nil {
			c.cfg.Log.Error("recording the PIN change date", "error", err.Error())
		}
	}
	done := &HandoverDone{Record: rec}
	_ = c.cfg.Ledger.Records(before+1, func(r ledger.Record) error {
		if r.Kind == ledger.KindHandover && done.Seq == 0 {
			done.Seq = r.Seq
		}
		return nil
	})
	s.done = true
	if err := c.cfg.Store.EnqueueHandover(rec); err != nil {
		return done, fmt.Errorf("the handover is recorded in the ledger, but not queued for the server: %w", err)
	}
	c.note(rec)
	c.cfg.Log.Info("custody changed", "kind", rec.Kind, "approval", a.ID, "from", rec.From.ID, "to", rec.To.ID)
	s.Close()
	c.cfg.Keys.Logout()
	if !s.byCode {
		// The window's key use case goes on with the incoming key, which is plugged in: the
		// new custodian logs in without re-plugging (by code the seal key stays the same).
		c.cfg.Keys.follow(inTok)
	}
	if c.cfg.Trigger != nil {
		c.cfg.Trigger()
	}
	return done, nil
}

// setPIN sets the incoming person's new PIN: on their own key, or by code on the seal key
// (from the PIN the outgoing custodian gave). From then on the old PIN fails; a retry after a
// later failure goes on with the new one.
func (s *HandoverSession) setPIN(newPIN string) error {
	if s.byCode {
		if s.sealPIN == newPIN {
			return errors.New("the new PIN must differ from the seal key's PIN now")
		}
		if err := s.c.cfg.Keys.changeSealPIN(s.sealPIN, newPIN); err != nil {
			if errors.Is(err, device.ErrWrongPIN) {
				return fmt.Errorf("the seal key's PIN %s gave is wrong, so the key cannot pass to %s: %w", s.Offer.From.Name, s.Offer.To.Name, err)
			}
			return fmt.Errorf("setting %s's new PIN on the seal key: %w", s.Offer.To.Name, err)
		}
		s.sealPIN = newPIN
		return nil
	}
	if s.inPIN == newPIN {
		return errors.New("the new PIN must differ from the one the key was issued with")
	}
	if err := s.in.ChangePIN(s.inPIN, newPIN); err != nil {
		return fmt.Errorf("setting %s's new PIN: %w", s.Offer.To.Name, err)
	}
	s.inPIN = newPIN
	return nil
}

// Close ends the incoming person's key session (the change was completed or abandoned).
func (s *HandoverSession) Close() {
	if s.in != nil {
		s.in.Close()
		s.in = nil
	}
}

// ledgerRecord is the ledger's form of a handover record: kind "handover", the kind of change
// in Reason, the signed record as JSON in Detail.
func (c *Custody) ledgerRecord(rec upstream.HandoverRecord, taker *x509.Certificate, token string) (ledger.Record, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return ledger.Record{}, err
	}
	r := ledger.Record{Kind: ledger.KindHandover, Time: rec.At, Workstation: c.cfg.Workstation, Host: c.cfg.Host, SealID: rec.SealID,
		From: person(rec.From), To: person(rec.To), Reason: rec.Kind, Detail: string(b), Custodian: rec.To.Name, Token: token}
	if taker != nil {
		r.CertSerial = taker.SerialNumber.String()
	}
	return r, nil
}

func person(p upstream.Person) string { return p.Name + " (" + p.ID + ")" }

// note keeps a change this process recorded.
func (c *Custody) note(rec upstream.HandoverRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rec.CodeSHA256 != "" {
		c.used[rec.CodeSHA256] = true
	}
	switch rec.Kind {
	case upstream.CustodyReturn:
		delete(c.active, rec.HandoverID)
	case upstream.CustodyDelegation:
		c.done[rec.HandoverID] = true
		c.active[rec.HandoverID] = rec
	default:
		c.done[rec.HandoverID] = true
	}
}

// refresh reads the custody changes recorded since the last call (the ledger must be open
// with the data key; while it is locked what was read before stands).
func (c *Custody) refresh() error {
	if c.cfg.Ledger == nil || !c.cfg.Ledger.Unlocked() {
		return nil
	}
	c.mu.Lock()
	from := c.scanned + 1
	c.mu.Unlock()
	var got []upstream.HandoverRecord
	var last uint64
	err := c.cfg.Ledger.Records(from, func(r ledger.Record) error {
		last = r.Seq
		if r.Kind != ledger.KindHandover || r.Locked != "" || r.Detail == "" {
			return nil
		}
		var rec upstream.HandoverRecord
		if err := json.Unmarshal([]byte(r.Detail), &rec); err != nil {
			return fmt.Errorf("ledger record %d: the handover record does not parse: %w", r.Seq, err)
		}
		got = append(got, rec)
		return nil
	})
	if err != nil {
		return err
	}
	for _, rec := range got {
		c.note(rec)
	}
	c.mu.Lock()
	if last > c.scanned {
		c.scanned = last
	}
	c.mu.Unlock()
	return nil
}

// Delegations are the delegations in force (not yet returned), as the ledger records them.
func (c *Custody) Delegations() ([]upstream.HandoverRecord, error) {
	if err := c.refresh(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []upstream.HandoverRecord
	for _, r := range c.active {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

// Enforce ends the delegations whose end date has passed: each delegate's key slot is removed
// and the return recorded (and queued for the server) in one transaction, and a logged-in
// delegate is logged out, which returns ErrDelegationEnded. It needs the ledger open to record;
// while it is locked a logged-in delegate is still logged out.
func (c *Custody) Enforce() error {
	if c.cfg.Ledger == nil {
		return nil
	}
	slots, err := c.cfg.Ledger.Slots()
	if err != nil {
		return err
	}
	c.nameCustodian(slots)
	// Only a delegation gives a delegate slot: without one there is nothing to end, and the
	// ledger's records need not be read (they are, once, when there is).
	if !slices.ContainsFunc(slots, func(s keyslot.Slot) bool { return s.Role == keyslot.RoleDelegate }) {
		return nil
	}
	if err := c.refresh(); err != nil {
		return err
	}
	now := c.cfg.Now()
	c.mu.Lock()
	var ended []upstream.HandoverRecord
	for _, r := range c.active {
		if !now.Before(r.Until) {
			ended = append(ended, r)
		}
	}
	c.mu.Unlock()
	var result error
	for _, d := range ended {
		delegate, err := x509.ParseCertificate(d.ToCert)
		if err != nil {
			return fmt.Errorf("the delegation record of %s holds no readable certificate: %w", d.To.Name, err)
		}
		if c.loggedIn(delegate) {
			c.cfg.Log.Info("delegation ended; the delegate is logged out", "approval", d.HandoverID, "delegate", d.To.ID)
			result = fmt.Errorf("%w: %s's delegation (代管) ended on %s; custody is back with %s", ErrDelegationEnded, d.To.Name, d.Until.Local().Format("2006-01-02 15:04"), d.From.Name)
		}
		if c.cfg.Ledger != nil && c.cfg.Ledger.Unlocked() {
			if err := c.recordReturn(d, delegate, now); err != nil {
				return err
			}
		}
		if c.loggedIn(delegate) {
			c.cfg.Keys.Logout()
		}
	}
	return result
}

// nameCustodian names the logged-in person in the records as the key slot a custody change
// gave them does (the configured custodian is only who held the seal first): a delegate's
// slot, or a custodian's whose label is a name on the roster.
func (c *Custody) nameCustodian(slots []keyslot.Slot) {
	if c.cfg.Keys == nil {
		return
	}
	_, cur, err := c.cfg.Keys.signerAnyway()
	if err != nil || cur == nil {
		return
	}
	id, err := keyslot.ID(cur.PublicKey)
	if err != nil {
		return
	}
	i := slices.IndexFunc(slots, func(s keyslot.Slot) bool { return s.ID == id })
	if i < 0 || slots[i].Label == "" {
		return
	}
	name := slots[i].Label
	if slots[i].Role != keyslot.RoleDelegate {
		if c.cfg.Store == nil {
			return
		}
		ro, err := c.cfg.Store.Roster()
		if err != nil || !slices.ContainsFunc(ro.Custodians, func(p upstream.Custodian) bool { return p.Name == name }) {
			return
		}
	}
	c.cfg.Keys.setCustodian(name)
}

func (c *Custody) loggedIn(cert *x509.Certificate) bool {
	if c.cfg.Keys == nil {
		return false
	}
	_, cur, err := c.cfg.Keys.signerAnyway()
	return err == nil && cur != nil && cur.Equal(cert)
}

// recordReturn removes the delegate's slot and records the return, signed by whichever seal
// key is logged in (the return happens by itself, so nobody else signs it).
func (c *Custody) recordReturn(d upstream.HandoverRecord, delegate *x509.Certificate, now time.Time) error {
	slot, err := keyslot.ID(delegate.PublicKey)
	if err != nil {
		return err
	}
	rec := upstream.HandoverRecord{HandoverID: d.HandoverID, Kind: upstream.CustodyReturn, SealID: d.SealID, Workstation: c.cfg.Workstation,
		From: d.To, To: d.From, LedgerSize: c.cfg.Ledger.Size(), At: now.UTC()}
	h := c.cfg.Ledger.Head()
	rec.LedgerHead = hex.EncodeToString(h[:])
	signer, cert, err := c.cfg.Keys.signerAnyway()
	if err == nil {
		rec.FromCert = cert.Raw
		if rec.FromSig, err = upstream.SignHandover(rec, signer); err != nil {
			return fmt.Errorf("signing the return of %s's delegation: %w", d.To.Name, err)
		}
	}
	lr, err := c.ledgerRecord(rec, nil, "")
	if err != nil {
		return err
	}
	lr.Custodian = d.From.Name
	slots, err := c.cfg.Ledger.Slots()
	if err != nil {
		return err
	}
	var remove []string
	for _, s := range slots {
		if s.ID == slot {
			remove = append(remove, slot)
		}
	}
	if err := c.cfg.Ledger.ChangeSlots(nil, remove, lr); err != nil {
		return fmt.Errorf("ending %s's delegation: %w", d.To.Name, err)
	}
	c.note(rec)
	if len(rec.FromSig) > 0 && c.cfg.Store != nil {
		if err := c.cfg.Store.EnqueueHandover(rec); err != nil {
			return err
		}
	}
	if c.cfg.Trigger != nil {
		c.cfg.Trigger()
	}
	return nil
}

// sealsOnKey lists the keys on the logged-in token.
func (k *Keys) sealsOnKey() ([]device.SealKey, error) {
	k.mu.Lock()
	sess := k.sess
	k.mu.Unlock()
	if sess == nil {
		return nil, errors.New("log in with the seal key first")
	}
	return sess.Seals()
}

// signerAnyway is the logged-in seal's signer and certificate even while a PIN change is due:
// records about custody are signed whatever the PIN's age.
func (k *Keys) signerAnyway() (crypto.Signer, *x509.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.sess == nil || k.seal == nil {
		return nil, nil, errors.New("nobody is logged in")
	}
	s, err := k.sess.Signer(*k.seal)
	return s, k.seal.Cert, err
}

// changeSealPIN changes the logged-in seal key's PIN without recording it: a custody change
// records the pin.changed with its own records in one transaction.
func (k *Keys) changeSealPIN(oldPIN, newPIN string) error {
	k.mu.Lock()
	sess := k.sess
	k.mu.Unlock()
	if sess == nil {
		return errors.New("log in with the seal key first")
	}
	return sess.ChangePIN(oldPIN, newPIN)
}

// follow makes tok the key this use case follows, present and not logged in (nobody is): after
// a handover to another key, the incoming custodian logs in to it without re-plugging.
func (k *Keys) follow(tok device.TokenInfo) {
	k.mu.Lock()
	if k.state.Phase == LoggedIn || sameToken(k.state.Token, tok) {
		k.mu.Unlock()
		return
	}
	k.log.Info("following the incoming custodian's key", "token", tok.Label, "serial", tok.Serial)
	k.state = KeyState{Phase: KeyPresent, Token: tok, USBNote: k.state.USBNote}
	k.unlockAndNotify()
}

// setCustodian names the custodian for the records from now on.
func (k *Keys) setCustodian(name string) {
	k.mu.Lock()
	if k.cfg.Custodian == name && (k.state.Phase != LoggedIn || k.state.Custodian == name) {
		k.mu.Unlock()
		return
	}
	k.cfg.Custodian = name
	if k.state.Phase == LoggedIn {
		k.state.Custodian = name
	}
	k.unlockAndNotify()
}

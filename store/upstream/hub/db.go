// Package hub is the reference seal-management server: it serves the protocol in
// store/upstream/PROTOCOL.md from its own bbolt file. Tests and the demo run it on loopback;
// `sealkeeper hub` runs it for real.
package hub

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/tjfoc/gmsm/sm3"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// FileName is the hub's bbolt file inside its data folder.
const FileName = "hub.db"

var (
	bMeta     = []byte("meta")
	bDocs     = []byte("documents")
	bBlobs    = []byte("files")
	bUploads  = []byte("uploads")
	bSeals    = []byte("seals")
	bCust     = []byte("custodians")
	bHand     = []byte("handovers")
	bWS       = []byte("workstations")
	bCodes    = []byte("enrolcodes")
	bLedger   = []byte("ledger")
	bCheck    = []byte("checkpoints")
	bResults  = []byte("results")
	bAccess   = []byte("fileaccess")
	bSealCert = []byte("sealcerts")
	bHandRec  = []byte("handoverrecords")
	kKey      = []byte("ticketkey")
	kAccessV1 = []byte("fileaccess.v1")
	kChanged  = []byte("changed")
	kDocSeq   = []byte("docseq")
	kSize     = []byte("size")
	kHead     = []byte("head")
	allBucket = [][]byte{bMeta, bDocs, bBlobs, bUploads, bSeals, bCust, bHand, bWS, bCodes, bLedger, bCheck, bResults, bAccess, bSealCert, bHandRec}
)

// Document states on the hub.
const (
	StatePending  = "pending"
	StateStamped  = "stamped"
	StateRejected = "rejected"
	StateRevoked  = "withdrawn"
	// StateFailed: the workstation reported a stamping that failed after its intent; the ticket
	// is spent and the document needs a new approval (a new document and ticket).
	StateFailed = "failed"
)

// docRecord is a document as the hub keeps it.
type docRecord struct {
	Doc         upstream.Document `json:"doc"`
	Workstation string            `json:"workstation"`
	State       string            `json:"state"`
	TicketID    string            `json:"ticketId"`
	Result      *upstream.Result  `json:"result,omitempty"`
}

// Workstation is an enrolled workstation, the client certificate bound to it and its last
// heartbeat.
type Workstation struct {
	Name       string    `json:"name"`
	Host       string    `json:"host,omitempty"`
	EnrolledAt time.Time `json:"enrolledAt"`
	// CertSHA256 and KeySHA256 are the SHA-256 of the bound certificate and of its public key
	// (SubjectPublicKeyInfo); the workstation must present exactly this certificate. Both ""
	// only for a workstation enrolled in the demo and test mode without a certificate.
	CertSHA256  string              `json:"certSha256,omitempty"`
	KeySHA256   string              `json:"keySha256,omitempty"`
	CertSerial  string              `json:"certSerial,omitempty"` // hex
	CertExpires time.Time           `json:"certExpires,omitzero"`
	LastSeen    time.Time           `json:"lastSeen,omitzero"`
	Heartbeat   *upstream.Heartbeat `json:"heartbeat,omitempty"`
}

// Options configure a hub.
type Options struct {
	// Name is shown to clients in /v1/hello.
	Name string
	// AutoEnrol is the demo and test mode: a workstation without a certificate is known by the
	// X-SealKeeper-Workstation header alone and enrolled on first contact, without a code. It
	// holds only on loopback: Serve refuses it on any other address, and the handler checks
	// both ends of each connection. A workstation bound to a certificate must present it
	// also in this mode.
	AutoEnrol bool
	// RequireClientCert also refuses TLS handshakes without a client certificate. That suits
	// an outside workstation CA (the listener's tls.Config.ClientCAs, --client-ca), whose
	// certificates enrolment binds; workstations that enrol with a CSR have no certificate
	// yet, so leave it off for them. Without it the hub still answers nothing but hello and
	// enrol to a client that presents no certificate.
	RequireClientCert bool
	// EnrolCodeValidity is how long an enrolment code can be used (default 24 hours).
	EnrolCodeValidity time.Duration
	// CertValidity is how long a workstation certificate issued at enrolment is valid
	// (default 2 years); after that the workstation enrols again with a new code.
	CertValidity time.Duration
	// TicketValidity is how long an approval stays valid by default (7 days).
	TicketValidity time.Duration
	// UploadQuota is how many bytes of uploads that no result names yet (in progress, or
	// complete but not reported) a workstation may hold on the hub (DefaultUploadQuota when 0);
	// MaxUploads how many such files (DefaultMaxUploads). A chunk over either is refused with
	// 413 over_quota. UploadExpiry is how long such an upload is kept after its last chunk
	// (DefaultUploadExpiry).
	UploadQuota  int64
	MaxUploads   int
	UploadExpiry time.Duration
	// MaxConnsPerClient is how many connections one client (remote IP address) may hold open
	// at once (DefaultMaxConnsPerClient when 0); more are closed as they arrive.
	MaxConnsPerClient int
	// TicketSigner and CASigner hold the ticket key and the workstation CA's key outside
	// hub.db, on a PKCS#11 token (ECDSA P-256 keys); nil keeps each key in hub.db, made on
	// first use. See keys.go for which database may be opened with which key.
	TicketSigner crypto.Signer
	CASigner     crypto.Signer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// DefaultMaxConnsPerClient is Options.MaxConnsPerClient when unset.
const DefaultMaxConnsPerClient = 64

// Hub is an open hub database with its HTTP API.
type Hub struct {
	db *bolt.DB
	// key signs tickets, signed answers and co-signatures (keys.go: in hub.db, or on a token).
	key crypto.Signer
	kid string
	// caKey and caCert are the workstation CA that signs client certificates at enrolment.
	caKey  crypto.Signer
	caCert *x509.Certificate
	opt    Options
	path   string
	// mu serialises ledger pushes per hub: bbolt has one writer anyway, and this keeps the
	// co-signing next to the write that it covers.
	mu sync.Mutex
	// checking lets one stamped result at a time be read into memory and verified.
	checking sync.Mutex
}

// Open opens (or creates) the hub database in dir. A second hub on the same folder waits one
// second for the lock and then reports that the hub is already running.
func Open(dir string, opt Options) (*Hub, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("hub data folder: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("hub database %s is in use: is a hub already running on this folder? Stop it, or use its admin endpoint", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening hub database %s: %w", path, err)
	}
	if opt.TicketValidity <= 0 {
		opt.TicketValidity = 7 * 24 * time.Hour
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.EnrolCodeValidity <= 0 {
		opt.EnrolCodeValidity = 24 * time.Hour
	}
	if opt.CertValidity <= 0 {
		opt.CertValidity = 2 * 365 * 24 * time.Hour
	}
	if opt.Name == "" {
		opt.Name = "SealKeeper reference hub"
	}
	if opt.UploadQuota <= 0 {
		opt.UploadQuota = DefaultUploadQuota
	}
	if opt.MaxUploads <= 0 {
		opt.MaxUploads = DefaultMaxUploads
	}
	if opt.MaxConnsPerClient <= 0 {
		opt.MaxConnsPerClient = DefaultMaxConnsPerClient
	}
	if opt.UploadExpiry <= 0 {
		opt.UploadExpiry = DefaultUploadExpiry
	}
	h := &Hub{db: db, opt: opt, path: path}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBucket {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		m := tx.Bucket(bMeta)
		if err := h.loadKey(m); err != nil {
			return err
		}
		if err := h.loadCA(m); err != nil {
			return err
		}
		return migrateAccess(tx)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("hub database %s: %w", path, err)
	}
	id, err := ticket.KeyIDOf(h.key.Public())
	if err != nil {
		db.Close()
		return nil, err
	}
	h.kid = hex.EncodeToString(id[:])
	if err := h.SweepUploads(); err != nil {
		db.Close()
		return nil, fmt.Errorf("hub database %s: removing expired uploads: %w", path, err)
	}
	return h, nil
}

// accessKey is the fileaccess entry that lets ws read the file with this hash.
func accessKey(ws, hash string) []byte { return []byte(ws + "\x00" + hash) }

func grant(tx *bolt.Tx, ws, hash string) error {
	return tx.Bucket(bAccess).Put(accessKey(ws, hash), nil)
}

func mayRead(tx *bolt.Tx, ws, hash string) bool {
	return tx.Bucket(bAccess).Get(accessKey(ws, hash)) != nil
}

// migrateAccess fills the file access index of a hub database made before files were served
// only to their workstation: each document's bytes to the workstation it was approved for, each
// reported stamped file to the workstation that reported it. Uploads in progress were kept by
// hash alone; they are dropped (the workstation's next status request restarts them).
func migrateAccess(tx *bolt.Tx) error {
	m := tx.Bucket(bMeta)
	if m.Get(kAccessV1) != nil {
		return nil
	}
	err := tx.Bucket(bDocs).ForEach(func(_, v []byte) error {
		var r docRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		if err := grant(tx, r.Workstation, r.Doc.SHA256); err != nil {
			return err
		}
		if r.Result != nil && r.Result.OutputSHA256 != "" {
			return grant(tx, r.Workstation, r.Result.OutputSHA256)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var old [][]byte
	_ = tx.Bucket(bUploads).ForEachBucket(func(k []byte) error { old = append(old, append([]byte(nil), k...)); return nil })
	for _, k := range old {
		if err := tx.Bucket(bUploads).DeleteBucket(k); err != nil {
			return err
		}
	}
	return m.Put(kAccessV1, []byte{1})
}

// Close closes the database.
func (h *Hub) Close() error { return h.db.Close() }

// TicketKey is the public key that signs approval tickets and co-signs checkpoints; workstations
// pin it at enrolment.
func (h *Hub) TicketKey() *ecdsa.PublicKey { return h.key.Public().(*ecdsa.PublicKey) }

func (h *Hub) now() time.Time { return h.opt.Now().UTC().Truncate(time.Second) }

func bumpChanged(tx *bolt.Tx) error {
	m := tx.Bucket(bMeta)
	var n uint64
	if v := m.Get(kChanged); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	return m.Put(kChanged, u64(n+1))
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func putJSON(b *bolt.Bucket, k string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(k), raw)
}

// NewDocument is what an administrator supplies to approve a document for stamping.
type NewDocument struct {
	Title       string
	Department  string
	Requester   upstream.Person
	Approvals   []upstream.Approval
	SealID      string
	Workstation string
	// AllowedPages (1-based, or ticket.LastPage) and Regions are signed into the ticket; the
	// listing's allowedPages is a copy for display.
	AllowedPages []int
	Regions      []ticket.Region
	Positions    []upstream.Position
	Copies       int
	Supersedes   string    // the earlier document this corrected one replaces (重印)
	Expires      time.Time // default: now + TicketValidity
	FileName     string
	PDF          []byte
}

// checkLimits refuses page and region limits that name pages the document does not have.
func checkLimits(n NewDocument, pages int) error {
	check := func(p int, what string) error {
		if p != ticket.LastPage && (p < 1 || p > pages) {
			return fmt.Errorf("document %q has %d pages; %s %d does not exist (use \"last\" for the last page)", n.Title, pages, what, p)
		}
		return nil
	}
	for _, p := range n.AllowedPages {
		if err := check(p, "allowed page"); err != nil {
			return err
		}
	}
	for _, r := range n.Regions {
		if err := check(r.Page, "the region's page"); err != nil {
			return err
		}
		if r.W <= 0 || r.H <= 0 || r.X < 0 || r.Y < 0 {
			return fmt.Errorf("document %q: region %v is empty or off the page", n.Title, r)
		}
	}
	return nil
}

// AddDocument stores an approved PDF and issues its approval ticket for one workstation.
func (h *Hub) AddDocument(n NewDocument) (upstream.Document, error) {
	ds, err := h.AddDocuments([]NewDocument{n})
	if err != nil {
		return upstream.Document{}, err
	}
	return ds[0], nil
}

// AddDocuments adds several documents in one transaction: all or none.
func (h *Hub) AddDocuments(ns []NewDocument) ([]upstream.Document, error) {
	now := h.now()
	type prepared struct {
		d   upstream.Document
		s   [32]byte
		s3  [32]byte
		ws  string
		pdf []byte

		regions []ticket.Region
	}
	ps := make([]prepared, len(ns))
	for i, n := range ns {
		if n.Title == "" || n.SealID == "" || n.Workstation == "" {
			return nil, errors.New("a document needs a title, a seal id and a workstation")
		}
		if err := checkName(n.Workstation); err != nil {
			return nil, err
		}
		if len(n.PDF) == 0 || len(n.PDF) > upstream.MaxDocumentSize {
			return nil, fmt.Errorf("document %q: %d bytes; a document must have 1 to %d bytes", n.Title, len(n.PDF), upstream.MaxDocumentSize)
		}
		pages, err := pageCount(n.PDF)
		if err != nil {
			return nil, fmt.Errorf("document %q is not a PDF that can be read: %w", n.Title, err)
		}
		if n.Expires.IsZero() {
			n.Expires = now.Add(h.opt.TicketValidity)
		}
		if !n.Expires.After(now) {
			return nil, fmt.Errorf("document %q: the approval would already have expired (%s)", n.Title, n.Expires.Format(time.RFC3339))
		}
		if n.Copies <= 0 {
			n.Copies = 1
		}
		if err := checkLimits(n, pages); err != nil {
			return nil, err
		}
		p := prepared{ws: n.Workstation, pdf: n.PDF, regions: n.Regions}
		p.s = sha256.Sum256(n.PDF)
		sm := sm3.New()
		sm.Write(n.PDF)
		copy(p.s3[:], sm.Sum(nil))
		p.d = upstream.Document{
			Title: n.Title, Department: n.Department, Requester: n.Requester, Approvals: n.Approvals,
			SealID: n.SealID, AllowedPages: n.AllowedPages, Positions: n.Positions, Copies: n.Copies, Supersedes: n.Supersedes,
			Pages: pages, FileName: n.FileName, Size: int64(len(n.PDF)),
			SHA256: hex.EncodeToString(p.s[:]), SM3: hex.EncodeToString(p.s3[:]),
			Expires: n.Expires.UTC().Truncate(time.Second), Issued: now,
		}
		if p.d.FileName == "" {
			p.d.FileName = p.d.SHA256[:12] + ".pdf"
		}
		ps[i] = p
	}
	out := make([]upstream.Document, len(ps))
	err := h.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		var seq uint64
		if v := m.Get(kDocSeq); len(v) == 8 {
			seq = binary.BigEndian.Uint64(v)
		}
		for i, p := range ps {
			seq++
			d := p.d
			d.ID = fmt.Sprintf("D%08d", seq)
			t, err := ticket.Sign(ticket.Ticket{
				DocumentID: d.ID, DocSHA256: p.s, DocSM3: p.s3, SealID: d.SealID,
				Workstation: p.ws, IssuedAt: now, Expires: d.Expires, Copies: d.Copies, Supersedes: d.Supersedes,
				Pages: d.AllowedPages, Regions: p.regions,
			}, h.key)
			if err != nil {
				return err
			}
			d.Ticket = t
			parsed, err := ticket.Parse(t)
			if err != nil {
				return err
			}
			if tx.Bucket(bBlobs).Get([]byte(d.SHA256)) == nil {
				if err := tx.Bucket(bBlobs).Put([]byte(d.SHA256), p.pdf); err != nil {
					return err
				}
			}
			if err := grant(tx, p.ws, d.SHA256); err != nil {
				return err
			}
			rec := docRecord{Doc: d, Workstation: p.ws, State: StatePending, TicketID: parsed.ID()}
			if err := putJSON(tx.Bucket(bDocs), d.ID, rec); err != nil {
				return err
			}
			out[i] = d
		}
		if err := m.Put(kDocSeq, u64(seq)); err != nil {
			return err
		}
		return bumpChanged(tx)
	})
	return out, err
}

// pageCount reads and validates the PDF as the workstation will (pdfinspect.Open and Validate,
// which turn a library panic on a hostile file into an error).
func pageCount(b []byte) (int, error) {
	doc, err := pdfinspect.Open("the document", bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return 0, err
	}
	if err := doc.Validate(); err != nil {
		return 0, err
	}
	return len(doc.Pages), nil
}

// WithdrawDocument takes a pending document out of the workstation's queue.
func (h *Hub) WithdrawDocument(id string) error {
	return h.updateDoc(id, func(r *docRecord) error {
		if r.State != StatePending {
			return fmt.Errorf("document %s is %s; only a pending document can be withdrawn", id, r.State)
		}
		r.State = StateRevoked
		return nil
	})
}

func (h *Hub) updateDoc(id string, f func(*docRecord) error) error {
	return h.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bDocs)
		raw := b.Get([]byte(id))
		if raw == nil {
			return fmt.Errorf("no document %q on this hub", id)
		}
		var r docRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		if err := f(&r); err != nil {
			return err
		}
		if err := putJSON(b, id, r); err != nil {
			return err
		}
		return bumpChanged(tx)
	})
}

// DocumentInfo is a document with its state on the hub, for the admin listing.
type DocumentInfo struct {
	upstream.Document
	Workstation string           `json:"workstation"`
	State       string           `json:"state"`
	Result      *upstream.Result `json:"result,omitempty"`
}

// Documents lists every document on the hub in ID order.
func (h *Hub) Documents() ([]DocumentInfo, error) {
	var out []DocumentInfo
	err := h.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bDocs).ForEach(func(_, v []byte) error {
			var r docRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, DocumentInfo{Document: r.Doc, Workstation: r.Workstation, State: r.State, Result: r.Result})
			return nil
		})
	})
	return out, err
}

// SetSeal adds a seal or changes its status (active, suspended, revoked). A revoked seal stays
// revoked: docs/rules.md 11 says a cancelled seal can never be used again.
func (h *Hub) SetSeal(s upstream.SealStatus) error {
	switch s.Status {
	case upstream.SealActive, upstream.SealSuspended, upstream.SealRevoked:
	default:
		return fmt.Errorf("seal status %q is not one of active, suspended, revoked", s.Status)
	}
	if s.ID == "" {
		return errors.New("a seal needs an id")
	}
	if s.Status != upstream.SealActive && s.Reason == "" {
		return fmt.Errorf("say why seal %s is %s (a reason is required)", s.ID, s.Status)
	}
	return h.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSeals)
		if raw := b.Get([]byte(s.ID)); raw != nil {
			var old upstream.SealStatus
			if err := json.Unmarshal(raw, &old); err != nil {
				return err
			}
			if old.Status == upstream.SealRevoked && s.Status != upstream.SealRevoked {
				return fmt.Errorf("seal %s was revoked on %s (%s); a revoked seal cannot be reinstated", s.ID, old.Since.Format("2006-01-02"), old.Reason)
			}
			if s.Name == "" {
				s.Name = old.Name
			}
			s.CertSHA256 = old.CertSHA256
		} else {
			s.CertSHA256 = "" // only SetSealCertificate lists a certificate, with its bytes
		}
		if s.Since.IsZero() {
			s.Since = h.now()
		}
		if err := putJSON(b, s.ID, s); err != nil {
			return err
		}
		return bumpChanged(tx)
	})
}

// SetSealCertificate lists the certificate of a seal (DER or PEM; standard X.509, or SM2 for a
// GM seal): the hub then records a stamped result only for a signature made by exactly that
// certificate, and the seal list gives its SHA-256. A renewed certificate replaces the old one.
func (h *Hub) SetSealCertificate(id string, cert []byte) error {
	if block, _ := pem.Decode(cert); block != nil {
		cert = block.Bytes
	}
	if _, err := parseSealCert(cert); err != nil {
		return fmt.Errorf("the certificate for seal %s cannot be read (PEM or DER): %w; give the seal's certificate as its token shows it", id, err)
	}
	return h.db.Update(func(tx *bolt.Tx) error { return putSealCertificate(tx, id, cert) })
}

// putSealCertificate lists der, a certificate parseSealCert reads, as seal id's certificate, on
// the seal list too.
func putSealCertificate(tx *bolt.Tx, id string, der []byte) error {
	b := tx.Bucket(bSeals)
	raw := b.Get([]byte(id))
	if raw == nil {
		return fmt.Errorf("no seal %q on the hub's seal list; add it first (sealkeeper hub seal --id %s --status active)", id, id)
	}
	var s upstream.SealStatus
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	s.CertSHA256 = upstream.CertHash(der)
	if err := putJSON(b, id, s); err != nil {
		return err
	}
	if err := tx.Bucket(bSealCert).Put([]byte(id), der); err != nil {
		return err
	}
	return bumpChanged(tx)
}

// sealCertificate is the certificate listed for a seal, or nil.
func sealCertificate(tx *bolt.Tx, id string) (*sealCert, error) {
	der := tx.Bucket(bSealCert).Get([]byte(id))
	if der == nil {
		return nil, nil
	}
	c, err := parseSealCert(bytes.Clone(der)) // used after the transaction, which owns der
	if err != nil {
		return nil, fmt.Errorf("the hub's copy of the certificate of seal %s is damaged: %w", id, err)
	}
	return c, nil
}

// Seals lists the seal status list.
func (h *Hub) Seals() ([]upstream.SealStatus, error) {
	var out []upstream.SealStatus
	err := h.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bSeals).ForEach(func(_, v []byte) error {
			var s upstream.SealStatus
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
			out = append(out, s)
			return nil
		})
	})
	return out, err
}

// AddCustodian puts a person on the roster (or updates them: fields left empty keep what the
// roster holds, so naming a person in an approval does not erase their credential).
func (h *Hub) AddCustodian(c upstream.Custodian) error {
	if c.ID == "" || c.Name == "" {
		return errors.New("a custodian needs an id and a name")
	}
	if c.CertSHA256 != "" {
		if b, err := hex.DecodeString(c.CertSHA256); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("custodian %s: the credential %q is not the hex SHA-256 of a certificate", c.ID, c.CertSHA256)
		}
	}
	return h.db.Update(func(tx *bolt.Tx) error {
		var old upstream.Custodian
		if raw := tx.Bucket(bCust).Get([]byte(c.ID)); raw != nil {
			if err := json.Unmarshal(raw, &old); err != nil {
				return err
			}
		}
		if c.CertSHA256 == "" {
			c.CertSHA256 = old.CertSHA256
		}
		if c.Seals == nil {
			c.Seals = old.Seals
		}
		if c.Since.IsZero() {
			c.Since = old.Since
		}
		if c.Since.IsZero() {
			c.Since = h.now()
		}
		if err := putJSON(tx.Bucket(bCust), c.ID, c); err != nil {
			return err
		}
		return bumpChanged(tx)
	})
}

// ApproveHandover records the head of office's approval to move a seal's custody.
func (h *Hub) ApproveHandover(ho upstream.Handover) (upstream.Handover, error) {
	if ho.SealID == "" || ho.From.ID == "" || ho.To.ID == "" || ho.ApprovedBy.ID == "" {
		return ho, errors.New("a handover needs the seal, both custodians and the approver")
	}
	if ho.From.ID == ho.To.ID {
		return ho, errors.New("a handover needs two different people")
	}
	now := h.now()
	switch ho.Kind {
	case "", upstream.CustodyHandover:
		ho.Kind = upstream.CustodyHandover
		if !ho.Until.IsZero() {
			return ho, errors.New("a handover is for good and has no end date; approve a delegation (代管) for an absence")
		}
	case upstream.CustodyDelegation:
		if !ho.Until.After(now) {
			return ho, errors.New("a delegation (代管) needs an end date in the future (--until)")
		}
	default:
		return ho, fmt.Errorf("custody change kind %q is not %s or %s", ho.Kind, upstream.CustodyHandover, upstream.CustodyDelegation)
	}
	if ho.CodeSHA256 != "" {
		if b, err := hex.DecodeString(ho.CodeSHA256); err != nil || len(b) != sha256.Size {
			return ho, fmt.Errorf("the one-time code's hash %q is not a hex SHA-256 (upstream.HandoverCodeHash)", ho.CodeSHA256)
		}
		// By code the seal key itself passes under the taker's PIN: at a delegation's end it
		// could not come back by itself, so a delegate identifies with their own key.
		if ho.Kind == upstream.CustodyDelegation {
			return ho, errors.New("a delegation (代管) cannot be carried out by one-time code: register the delegate's certificate (hub custodian --cert)")
		}
	}
	if ho.ApprovedAt.IsZero() {
		ho.ApprovedAt = now
	}
	if ho.Expires.IsZero() {
		ho.Expires = now.Add(h.opt.TicketValidity)
	}
	err := h.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bHand)
		if ho.ID == "" {
			n, _ := b.NextSequence()
			ho.ID = fmt.Sprintf("H%06d", n)
		}
		if err := putJSON(b, ho.ID, ho); err != nil {
			return err
		}
		return bumpChanged(tx)
	})
	return ho, err
}

func listJSON[T any](tx *bolt.Tx, name []byte) ([]T, error) {
	var out []T
	err := tx.Bucket(name).ForEach(func(_, v []byte) error {
		var x T
		if err := json.Unmarshal(v, &x); err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

// Roster is the custodian roster and handover approvals.
func (h *Hub) Roster() (upstream.Roster, error) {
	r := upstream.Roster{AsOf: h.now()}
	err := h.db.View(func(tx *bolt.Tx) error {
		var err error
		if r.Custodians, err = listJSON[upstream.Custodian](tx, bCust); err != nil {
			return err
		}
		r.Handovers, err = listJSON[upstream.Handover](tx, bHand)
		return err
	})
	return r, err
}

// Workstations lists enrolled workstations.
func (h *Hub) Workstations() ([]Workstation, error) {
	var out []Workstation
	err := h.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = listJSON[Workstation](tx, bWS)
		return err
	})
	return out, err
}

// Received summarises what one workstation sent: its ledger and the documents it finished.
type Received struct {
	Workstation string                       `json:"workstation"`
	LedgerSize  uint64                       `json:"ledgerSize"`
	LedgerHead  string                       `json:"ledgerHead,omitempty"`
	Checkpoint  *upstream.CosignedCheckpoint `json:"checkpoint,omitempty"`
	Results     []upstream.Result            `json:"results"`
}

// Received lists what each workstation has sent, sorted by workstation.
func (h *Hub) Received() ([]Received, error) {
	byWS := map[string]*Received{}
	get := func(ws string) *Received {
		r := byWS[ws]
		if r == nil {
			r = &Received{Workstation: ws}
			byWS[ws] = r
		}
		return r
	}
	err := h.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bLedger).ForEachBucket(func(k []byte) error {
			b := tx.Bucket(bLedger).Bucket(k)
			r := get(string(k))
			if v := b.Get(kSize); len(v) == 8 {
				r.LedgerSize = binary.BigEndian.Uint64(v)
			}
			if v := b.Get(kHead); v != nil {
				r.LedgerHead = hex.EncodeToString(v)
			}
			if v := tx.Bucket(bCheck).Get(k); v != nil {
				var c upstream.CosignedCheckpoint
				if json.Unmarshal(v, &c) == nil {
					r.Checkpoint = &c
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bResults).ForEach(func(k, v []byte) error {
			var res struct {
				Workstation string          `json:"workstation"`
				Result      upstream.Result `json:"result"`
			}
			if err := json.Unmarshal(v, &res); err != nil {
				return err
			}
			r := get(res.Workstation)
			r.Results = append(r.Results, res.Result)
			return nil
		})
	})
	out := make([]Received, 0, len(byWS))
	for _, r := range byWS {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Workstation < out[j].Workstation })
	return out, err
}

// Ledger returns every envelope the hub holds for a workstation, in seq order.
func (h *Hub) Ledger(workstation string) ([]ledger.Envelope, error) {
	var out []ledger.Envelope
	err := h.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bLedger).Bucket([]byte(workstation))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return nil // size/head
			}
			var e ledger.Envelope
			if err := e.UnmarshalBinary(v[ledger.HashSize:]); err != nil {
				return fmt.Errorf("record %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// VerifyChain checks a workstation's ledger on the hub: seqs 1..n without gaps, each PrevHash
// the hash of the record before, and the stored head the hash of the last.
func (h *Hub) VerifyChain(workstation string) (size uint64, err error) {
	envs, err := h.Ledger(workstation)
	if err != nil {
		return 0, err
	}
	var prev [ledger.HashSize]byte
	for i, e := range envs {
		if e.Seq != uint64(i+1) {
			return uint64(i), fmt.Errorf("ledger of %s: record %d has seq %d", workstation, i+1, e.Seq)
		}
		if e.PrevHash != prev {
			return uint64(i), fmt.Errorf("ledger of %s: record %d does not link to record %d", workstation, e.Seq, e.Seq-1)
		}
		prev = e.Hash()
	}
	var head []byte
	var n uint64
	_ = h.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bLedger).Bucket([]byte(workstation)); b != nil {
			head = slices.Clone(b.Get(kHead))
			if v := b.Get(kSize); len(v) == 8 {
				n = binary.BigEndian.Uint64(v)
			}
		}
		return nil
	})
	if n != uint64(len(envs)) {
		return n, fmt.Errorf("ledger of %s: size says %d, %d records held", workstation, n, len(envs))
	}
	if len(envs) > 0 && !bytes.Equal(head, prev[:]) {
		return n, fmt.Errorf("ledger of %s: stored head is not the hash of record %d", workstation, n)
	}
	return n, nil
}

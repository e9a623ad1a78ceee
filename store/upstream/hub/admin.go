package hub

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// Admin is what an administrator does to a hub. *Hub does it on an open database; OpenAdmin
// returns the running hub's admin endpoint instead when another process holds the database.
type Admin interface {
	AddDocuments([]NewDocument) ([]upstream.Document, error)
	SetSeal(upstream.SealStatus) error
	SetSealCertificate(id string, cert []byte) error
	AddCustodian(upstream.Custodian) error
	ApproveHandover(upstream.Handover) (upstream.Handover, error)
	HandoverRecords() ([]ReceivedHandover, error)
	EnrolCode(workstation string, valid time.Duration) (EnrolmentCode, error)
	Unenrol(workstation string) error
	Snapshot() (Snapshot, error)
	Close() error
}

// Snapshot is everything on the hub, for listing.
type Snapshot struct {
	TicketKey    string                `json:"ticketKey"` // PEM
	Documents    []DocumentInfo        `json:"documents"`
	Seals        []upstream.SealStatus `json:"seals"`
	Roster       upstream.Roster       `json:"roster"`
	Workstations []Workstation         `json:"workstations"`
	Received     []Received            `json:"received"`
}

// Snapshot lists everything on the hub.
func (h *Hub) Snapshot() (Snapshot, error) {
	var s Snapshot
	var err error
	pem, err := ticket.MarshalPublicKey(h.TicketKey())
	if err != nil {
		return s, err
	}
	s.TicketKey = string(pem)
	if s.Documents, err = h.Documents(); err != nil {
		return s, err
	}
	if s.Seals, err = h.Seals(); err != nil {
		return s, err
	}
	if s.Roster, err = h.Roster(); err != nil {
		return s, err
	}
	if s.Workstations, err = h.Workstations(); err != nil {
		return s, err
	}
	s.Received, err = h.Received()
	return s, err
}

// The admin endpoint of a running hub is a Unix socket in its data folder, DATA/admin.sock.
// The folder must be the hub user's alone (mode 0700): then no other local user can create or
// replace the socket, and a socket left by a hub that crashed is only a file nobody answers
// (admin commands then open the database). Both ends also check, where the system tells
// (SO_PEERCRED on Linux), that the other end runs as the same user. An earlier version
// recorded a loopback TCP port and token in admin.json, which any local user could answer once
// the hub was gone; that file is removed and never read.
const (
	adminSocket   = "admin.sock"
	oldAdminFile  = "admin.json"
	maxAdminBody  = upstream.MaxJSONBody
	maxAdminBatch = upstream.MaxDocumentSize/3*4 + 1<<20 // one document of the largest size, in base64
)

// privateDir checks that dir belongs to this user and that nobody else may enter it.
func privateDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("the hub's data folder: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("the hub's data folder %s has mode %04o: other users could put an admin endpoint there; run chmod 700 %s", dir, fi.Mode().Perm(), dir)
	}
	if uid, ok := ownerOf(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("the hub's data folder %s belongs to user %d, not to this user (%d); run the hub and its admin commands as its owner", dir, uid, os.Getuid())
	}
	return nil
}

// ServeAdmin serves the admin API on DATA/admin.sock (mode 0600, in the 0700 data folder), so
// that admin commands work while the hub runs. It refuses a data folder others may enter, and
// a socket another process still answers. Close the returned server to stop it; that removes
// the socket.
func (h *Hub) ServeAdmin() (*Server, error) {
	dir := filepath.Dir(h.path)
	if err := privateDir(dir); err != nil {
		return nil, err
	}
	os.Remove(filepath.Join(dir, oldAdminFile))
	sock := filepath.Join(dir, adminSocket)
	if fi, err := os.Lstat(sock); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket; remove it", sock)
		}
		if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("another process answers on %s: is a second hub running on this folder?", sock)
		}
		os.Remove(sock) // left by a hub that was killed
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("hub admin endpoint cannot listen on %s: %w", sock, err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{
		URL: "unix:" + sock,
		srv: &http.Server{
			Handler:           h.adminHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       5 * time.Minute,
			WriteTimeout:      5 * time.Minute,
			IdleTimeout:       time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          log.New(io.Discard, "", 0),
		},
		ln:   &sameUserListener{ln},
		done: make(chan struct{}),
	}
	go func() { s.err = s.srv.Serve(s.ln); close(s.done) }()
	return s, nil
}

// sameUserListener closes connections from processes of other users, root excepted (where the
// system says who is calling; the socket's mode 0600 says it too).
type sameUserListener struct{ net.Listener }

func (l *sameUserListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if uid, ok := peerUID(c); ok && uid != os.Getuid() && uid != 0 {
			c.Close()
			continue
		}
		return c, nil
	}
}

func (h *Hub) adminHandler() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, f func(r *http.Request) (any, error)) {
		limit := int64(maxAdminBody)
		if pattern == "POST /admin/documents" {
			limit = maxAdminBatch
		}
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			v, err := f(r)
			if err != nil {
				var ae *apiError
				if !errors.As(err, &ae) {
					err = fail(http.StatusBadRequest, upstream.CodeBadRequest, "%v", err)
				}
				writeErr(w, err)
				return
			}
			writeJSON(w, http.StatusOK, v)
		})
	}
	decode := func(r *http.Request, v any) error {
		if err := json.NewDecoder(r.Body).Decode(v); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return fail(http.StatusRequestEntityTooLarge, upstream.CodeTooLarge, "admin request over its %d-byte limit; add fewer or smaller documents at once", mbe.Limit)
			}
			return fmt.Errorf("admin request is not the expected JSON: %w", err)
		}
		return nil
	}
	h.copyAdmin(handle, decode)
	h.reportAdmin(handle)
	handle("POST /admin/documents", func(r *http.Request) (any, error) {
		var ns []NewDocument
		if err := decode(r, &ns); err != nil {
			return nil, err
		}
		return h.AddDocuments(ns)
	})
	handle("POST /admin/seals", func(r *http.Request) (any, error) {
		var s upstream.SealStatus
		if err := decode(r, &s); err != nil {
			return nil, err
		}
		return s, h.SetSeal(s)
	})
	handle("POST /admin/sealcerts", func(r *http.Request) (any, error) {
		var req struct {
			ID   string
			Cert []byte
		}
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		return map[string]string{"seal": req.ID}, h.SetSealCertificate(req.ID, req.Cert)
	})
	handle("POST /admin/custodians", func(r *http.Request) (any, error) {
		var c upstream.Custodian
		if err := decode(r, &c); err != nil {
			return nil, err
		}
		return c, h.AddCustodian(c)
	})
	handle("POST /admin/handovers", func(r *http.Request) (any, error) {
		var ho upstream.Handover
		if err := decode(r, &ho); err != nil {
			return nil, err
		}
		return h.ApproveHandover(ho)
	})
	handle("GET /admin/handoverrecords", func(r *http.Request) (any, error) { return h.HandoverRecords() })
	handle("POST /admin/enrolcodes", func(r *http.Request) (any, error) {
		var req struct {
			Workstation string
			Valid       time.Duration
		}
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		return h.EnrolCode(req.Workstation, req.Valid)
	})
	handle("POST /admin/unenrol", func(r *http.Request) (any, error) {
		var req struct{ Workstation string }
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		return map[string]string{"unenrolled": req.Workstation}, h.Unenrol(req.Workstation)
	})
	handle("GET /admin/snapshot", func(r *http.Request) (any, error) { return h.Snapshot() })
	return mux
}

// OpenAdmin opens the hub in dir for administration: the running hub's admin socket when one
// answers (see ServeAdmin), else the database itself.
func OpenAdmin(dir string) (Admin, error) {
	sock := filepath.Join(dir, adminSocket)
	if fi, err := os.Lstat(sock); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if err := privateDir(dir); err != nil {
			return nil, err
		}
		if uid, ok := ownerOf(fi); ok && uid != os.Getuid() {
			return nil, fmt.Errorf("the admin socket %s belongs to user %d, not to this user; it is not this hub's", sock, uid)
		}
		dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "unix", sock)
			if err != nil {
				return nil, err
			}
			if uid, ok := peerUID(c); ok && uid != os.Getuid() {
				c.Close()
				return nil, fmt.Errorf("the process on %s runs as user %d, not as this user; it is not this hub", sock, uid)
			}
			return c, nil
		}
		if c, err := dial(context.Background(), "", ""); err == nil {
			c.Close()
			return &adminClient{sock: sock, hc: &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{DialContext: dial}}}, nil
		} else if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		// A socket left by a hub that was killed: nobody answers, the database is free.
	}
	h, err := Open(dir, Options{})
	if err != nil {
		return nil, fmt.Errorf("%w (to administer a running hub, start it with --admin)", err)
	}
	return h, nil
}

// ReadTicketKey reads the hub's ticket key from the database in dir, read-only. It does not ask
// a running hub: this is the key administrators pin, so it comes from the file itself. While a
// hub runs on dir the database is locked and this fails, saying so.
func ReadTicketKey(dir string) (*ecdsa.PublicKey, error) {
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no hub database in %s: %w", dir, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("hub database %s is in use by the running hub; the key is read from the database only (an answer from a running process is not proof): stop the hub and run this again, or compare with the ticket key id the hub printed when it started", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening hub database %s: %w", path, err)
	}
	defer db.Close()
	var key *ecdsa.PublicKey
	err = db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		var der []byte
		if m != nil {
			var err error
			if der, err = recordedPublic(m.Get(kKey), m.Get(kKeyPub)); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		if der == nil {
			return fmt.Errorf("hub database %s holds no ticket key yet; start the hub once", path)
		}
		pub, err := x509.ParsePKIXPublicKey(der)
		if k, ok := pub.(*ecdsa.PublicKey); err == nil && ok {
			key = k
			return nil
		}
		return fmt.Errorf("the hub's ticket key in %s is damaged", path)
	})
	if err != nil {
		return nil, err
	}
	return key, nil
}

type adminClient struct {
	sock string
	hc   *http.Client
}

func (a *adminClient) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, "http://hub"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("the running hub's admin endpoint %s does not answer: %w", a.sock, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var eb upstream.ErrorBody
		if json.Unmarshal(raw, &eb) == nil && eb.Message != "" {
			return errors.New(eb.Message)
		}
		return fmt.Errorf("hub admin endpoint: %s", resp.Status)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (a *adminClient) AddDocuments(ns []NewDocument) ([]upstream.Document, error) {
	var out []upstream.Document
	return out, a.call(http.MethodPost, "/admin/documents", ns, &out)
}

func (a *adminClient) SetSeal(s upstream.SealStatus) error {
	return a.call(http.MethodPost, "/admin/seals", s, nil)
}

func (a *adminClient) SetSealCertificate(id string, cert []byte) error {
	return a.call(http.MethodPost, "/admin/sealcerts", map[string]any{"ID": id, "Cert": cert}, nil)
}

func (a *adminClient) AddCustodian(c upstream.Custodian) error {
	return a.call(http.MethodPost, "/admin/custodians", c, nil)
}

func (a *adminClient) ApproveHandover(ho upstream.Handover) (upstream.Handover, error) {
	var out upstream.Handover
	return out, a.call(http.MethodPost, "/admin/handovers", ho, &out)
}

func (a *adminClient) HandoverRecords() ([]ReceivedHandover, error) {
	var out []ReceivedHandover
	return out, a.call(http.MethodGet, "/admin/handoverrecords", nil, &out)
}

func (a *adminClient) EnrolCode(ws string, valid time.Duration) (EnrolmentCode, error) {
	var out EnrolmentCode
	err := a.call(http.MethodPost, "/admin/enrolcodes", map[string]any{"Workstation": ws, "Valid": valid}, &out)
	return out, err
}

func (a *adminClient) Unenrol(ws string) error {
	return a.call(http.MethodPost, "/admin/unenrol", map[string]string{"Workstation": ws}, nil)
}

func (a *adminClient) Snapshot() (Snapshot, error) {
	var s Snapshot
	return s, a.call(http.MethodGet, "/admin/snapshot", nil, &s)
}

func (a *adminClient) Close() error { return nil }

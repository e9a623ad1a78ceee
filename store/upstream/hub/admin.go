package hub

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealkeeper/sealkeeper/store/atomic"
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

// adminFile tells admin commands where a running hub's admin endpoint is.
const adminFile = "admin.json"

type adminInfo struct {
	URL   string `json:"url"`
	Token string `json:"token"`
	PID   int    `json:"pid"`
}

// maxAdminBody bounds an admin request (a batch of PDFs).
const maxAdminBody = 512 << 20

// ServeAdmin serves the admin API on a loopback address and records its address and a fresh
// bearer token in the data folder (readable by the hub's user only), so that admin commands
// work while the hub runs. Close the returned server to stop it; that removes the record.
func (h *Hub) ServeAdmin(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("hub admin endpoint cannot listen on %s: %w", addr, err)
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("the admin endpoint must listen on a loopback address (127.0.0.1:PORT), not %s", addr)
	}
	var tok [24]byte
	if _, err := rand.Read(tok[:]); err != nil {
		ln.Close()
		return nil, err
	}
	info := adminInfo{URL: "http://" + ln.Addr().String(), Token: hex.EncodeToString(tok[:]), PID: os.Getpid()}
	raw, _ := json.Marshal(info)
	infoPath := filepath.Join(filepath.Dir(h.path), adminFile)
	if err := atomic.WriteFile(infoPath, raw, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{
		URL:     info.URL,
		srv:     &http.Server{Handler: h.adminHandler(info.Token), ReadHeaderTimeout: 10 * time.Second},
		ln:      ln,
		done:    make(chan struct{}),
		onClose: func() { os.Remove(infoPath) },
	}
	go func() { s.err = s.srv.Serve(ln); close(s.done) }()
	return s, nil
}

func (h *Hub) adminHandler(token string) http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, f func(r *http.Request) (any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				writeErr(w, fail(http.StatusUnauthorized, upstream.CodeForbidden, "wrong or missing admin token"))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
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
			return fmt.Errorf("admin request is not the expected JSON: %w", err)
		}
		return nil
	}
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

// OpenAdmin opens the hub in dir for administration: the database itself when no hub runs on
// it, else the running hub's admin endpoint (see ServeAdmin).
func OpenAdmin(dir string) (Admin, error) {
	// A running hub's endpoint first: a stale record (the hub was killed) does not answer.
	var info adminInfo
	if raw, err := os.ReadFile(filepath.Join(dir, adminFile)); err == nil && json.Unmarshal(raw, &info) == nil && strings.HasPrefix(info.URL, "http://") {
		if c, err := net.DialTimeout("tcp", strings.TrimPrefix(info.URL, "http://"), time.Second); err == nil {
			c.Close()
			return &adminClient{info: info, hc: &http.Client{Timeout: 5 * time.Minute}}, nil
		}
	}
	h, err := Open(dir, Options{})
	if err != nil {
		return nil, fmt.Errorf("%w (to administer a running hub, start it with --admin 127.0.0.1:PORT)", err)
	}
	return h, nil
}

type adminClient struct {
	info adminInfo
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
	req, err := http.NewRequestWithContext(context.Background(), method, a.info.URL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.info.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("the running hub's admin endpoint %s does not answer: %w", a.info.URL, err)
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

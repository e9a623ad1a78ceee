// Package cups prints through the system's CUPS scheduler over IPP (RFC 8010/8011): it lists
// the printers, submits a PDF and follows the job until it is completed, cancelled or aborted.
//
// Why IPP and not lp/lpstat: the job's state and the pages it reports come back as typed
// attributes instead of text meant for people, and the same code talks to cupsd on the Unix
// socket or on localhost:631.
package cups

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"strings"
	"time"
)

// Client talks to one CUPS scheduler.
type Client struct {
	// Server is "host:port" or the path of cupsd's Unix socket; "" means $CUPS_SERVER, else
	// /run/cups/cups.sock when it exists, else localhost:631.
	Server string
	// User is the requesting-user-name; "" means the account this program runs as.
	User string
	// Poll is how often Wait asks for the job's state; 0 means 250 ms.
	Poll time.Duration

	http *http.Client
	base string
}

// ErrNoScheduler: nothing answers where CUPS should be.
var ErrNoScheduler = errors.New("the printing system (CUPS) does not answer: start it (cupsd, or 'systemctl start cups') or ask the administrator to install it")

func (c *Client) init() {
	if c.http != nil {
		return
	}
	srv := c.Server
	if srv == "" {
		srv = os.Getenv("CUPS_SERVER")
	}
	if srv == "" {
		if _, err := os.Stat("/run/cups/cups.sock"); err == nil {
			srv = "/run/cups/cups.sock"
		} else {
			srv = "localhost:631"
		}
	}
	// No keep-alive: cupsd closes idle connections, and a POST on a closed one is not retried.
	tr := &http.Transport{DisableCompression: true, DisableKeepAlives: true}
	if strings.HasPrefix(srv, "/") {
		sock := srv
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}
		srv = "localhost"
	}
	c.http, c.base = &http.Client{Transport: tr, Timeout: 2 * time.Minute}, "http://"+srv
	// The job's owner must be a real account: cupsd 2.4 dereferences a null pointer when a
	// job owned by an unknown user name is cancelled.
	if c.User == "" {
		if u, err := user.Current(); err == nil {
			c.User = u.Username
		} else {
			c.User = os.Getenv("USER")
		}
	}
}

// Printer is one CUPS destination.
type Printer struct {
	Name, Info, Location string
	// State is "idle", "processing" or "stopped".
	State     string
	Accepting bool
}

// Printers lists the destinations the scheduler has.
func (c *Client) Printers(ctx context.Context) ([]Printer, error) {
	c.init()
	req := newRequest(opCUPSGetPrinters, c.User, "")
	req.op = append(req.op, attr{tagKeyword, "requested-attributes", []string{"printer-name", "printer-info", "printer-location", "printer-state", "printer-is-accepting-jobs"}})
	resp, err := c.do(ctx, "/", req, nil)
	var r *refused
	if errors.As(err, &r) && r.status == statusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the printers: %w", err)
	}
	var out []Printer
	for _, g := range resp.groups {
		if g.tag != tagPrinterGroup {
			continue
		}
		p := Printer{Name: g.str("printer-name"), Info: g.str("printer-info"), Location: g.str("printer-location"), Accepting: g.boolean("printer-is-accepting-jobs")}
		switch g.integer("printer-state") {
		case 3:
			p.State = "idle"
		case 4:
			p.State = "processing"
		default:
			p.State = "stopped"
		}
		out = append(out, p)
	}
	return out, nil
}

// JobState is where a job stands.
type JobState int

// The job states of RFC 8011 5.3.7.
const (
	JobPending    JobState = 3
	JobHeld       JobState = 4
	JobProcessing JobState = 5
	JobStopped    JobState = 6
	JobCanceled   JobState = 7
	JobAborted    JobState = 8
	JobCompleted  JobState = 9
)

func (s JobState) String() string {
	switch s {
	case JobPending:
		return "pending"
	case JobHeld:
		return "held"
	case JobProcessing:
		return "processing"
	case JobStopped:
		return "stopped"
	case JobCanceled:
		return "canceled"
	case JobAborted:
		return "aborted"
	case JobCompleted:
		return "completed"
	}
	return fmt.Sprintf("state %d", int(s))
}

// Final reports whether the job will not change any more.
func (s JobState) Final() bool { return s >= JobCanceled }

// Job is what the scheduler says of a job.
type Job struct {
	ID      int
	Printer string
	State   JobState
	// Reasons and Message say why (job-state-reasons, job-state-message).
	Reasons []string
	Message string
	// Impressions is job-impressions-completed when the printer reports it, else -1.
	Impressions int
}

// Print submits a PDF to printer as one job of one copy and returns the job's id.
func (c *Client) Print(ctx context.Context, printer, jobName string, pdf []byte) (int, error) {
	c.init()
	req := newRequest(opPrintJob, c.User, c.printerURI(printer))
	req.op = append(req.op, attr{tagName, "job-name", []string{jobName}}, attr{tagMime, "document-format", []string{"application/pdf"}})
	resp, err := c.do(ctx, "/printers/"+url.PathEscape(printer), req, pdf)
	if err != nil {
		return 0, fmt.Errorf("sending the job to printer %q: %w", printer, err)
	}
	for _, g := range resp.groups {
		if g.tag == tagJobGroup {
			if id := g.integer("job-id"); id > 0 {
				return id, nil
			}
		}
	}
	return 0, fmt.Errorf("printer %q accepted the job but gave no job id", printer)
}

// Job asks for one job's state.
func (c *Client) Job(ctx context.Context, printer string, id int) (Job, error) {
	c.init()
	req := newRequest(opGetJobAttributes, c.User, c.printerURI(printer))
	req.op = append(req.op, attr{tagInteger, "job-id", []string{fmt.Sprint(id)}},
		attr{tagKeyword, "requested-attributes", []string{"job-state", "job-state-reasons", "job-state-message", "job-impressions-completed"}})
	resp, err := c.do(ctx, "/jobs", req, nil)
	if err != nil {
		return Job{}, fmt.Errorf("asking for print job %d on %q: %w", id, printer, err)
	}
	j := Job{ID: id, Printer: printer, Impressions: -1}
	for _, g := range resp.groups {
		if g.tag != tagJobGroup {
			continue
		}
		j.State = JobState(g.integer("job-state"))
		j.Reasons, j.Message = g.values["job-state-reasons"], g.str("job-state-message")
		if _, ok := g.values["job-impressions-completed"]; ok {
			j.Impressions = g.integer("job-impressions-completed")
		}
	}
	if j.State == 0 {
		return j, fmt.Errorf("the printing system does not know print job %d on %q", id, printer)
	}
	return j, nil
}

// Wait follows a job until its state is final. When ctx ends first the job is cancelled and
// its state then returned with ctx's error.
func (c *Client) Wait(ctx context.Context, printer string, id int) (Job, error) {
	c.init()
	poll := c.Poll
	if poll == 0 {
		poll = 250 * time.Millisecond
	}
wait:
	for {
		j, err := c.Job(ctx, printer, id)
		switch {
		case err == nil && j.State.Final():
			return j, nil
		case ctx.Err() != nil:
			break wait
		case err != nil:
			return j, err
		}
		select {
		case <-ctx.Done():
			break wait
		case <-time.After(poll):
		}
	}
	// The caller gave up: cancel the job so no copy comes out unrecorded, and report what
	// the scheduler says now.
	bg, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := newRequest(opCancelJob, c.User, c.printerURI(printer))
	req.op = append(req.op, attr{tagInteger, "job-id", []string{fmt.Sprint(id)}})
	_, cerr := c.do(bg, "/jobs/", req, nil)
	j, err := c.Job(bg, printer, id)
	if err != nil {
		j = Job{ID: id, Printer: printer, State: JobStopped, Impressions: -1}
	}
	return j, errors.Join(ctx.Err(), cerr)
}

func (c *Client) printerURI(name string) string {
	return "ipp://localhost/printers/" + url.PathEscape(name)
}

func (c *Client) do(ctx context.Context, path string, r *request, data []byte) (*response, error) {
	body := append(r.encode(), data...)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/ipp")
	res, err := c.http.Do(hr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, fmt.Errorf("%w (%v)", ErrNoScheduler, err)
		}
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the printing system answered HTTP %s", res.Status)
	}
	resp, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("the printing system's answer cannot be read: %w", err)
	}
	if resp.status >= 0x0400 {
		msg := ""
		for _, g := range resp.groups {
			if g.tag == tagOperationGroup {
				msg = g.str("status-message")
			}
		}
		return nil, &refused{status: resp.status, msg: msg}
	}
	return resp, nil
}

// refused is an IPP error status.
type refused struct {
	status int
	msg    string
}

func (e *refused) Error() string {
	return fmt.Sprintf("the printing system refused: %s (IPP status 0x%04x)", e.msg, e.status)
}

// statusNotFound is client-error-not-found: CUPS-Get-Printers answers it when there are none.
const statusNotFound = 0x0406

// IPP operations, group and value tags used here.
const (
	opPrintJob         = 0x0002
	opCancelJob        = 0x0008
	opGetJobAttributes = 0x0009
	opCUPSGetPrinters  = 0x4002

	tagOperationGroup = 0x01
	tagJobGroup       = 0x02
	tagEnd            = 0x03
	tagPrinterGroup   = 0x04

	tagInteger  = 0x21
	tagBoolean  = 0x22
	tagEnum     = 0x23
	tagName     = 0x42
	tagKeyword  = 0x44
	tagURI      = 0x45
	tagCharset  = 0x47
	tagLanguage = 0x48
	tagMime     = 0x49
)

type attr struct {
	tag    byte
	name   string
	values []string
}

type request struct {
	opID int
	op   []attr
}

var reqID uint32

func newRequest(op int, user, printerURI string) *request {
	r := &request{opID: op, op: []attr{
		{tagCharset, "attributes-charset", []string{"utf-8"}},
		{tagLanguage, "attributes-natural-language", []string{"en"}},
	}}
	if printerURI != "" {
		r.op = append(r.op, attr{tagURI, "printer-uri", []string{printerURI}})
	}
	r.op = append(r.op, attr{tagName, "requesting-user-name", []string{user}})
	return r
}

func (r *request) encode() []byte {
	var b bytes.Buffer
	reqID++
	b.Write([]byte{2, 0})
	binary.Write(&b, binary.BigEndian, uint16(r.opID))
	binary.Write(&b, binary.BigEndian, reqID)
	b.WriteByte(tagOperationGroup)
	for _, a := range r.op {
		for i, v := range a.values {
			b.WriteByte(a.tag)
			name := a.name
			if i > 0 {
				name = "" // an additional value of the same attribute
			}
			binary.Write(&b, binary.BigEndian, uint16(len(name)))
			b.WriteString(name)
			if a.tag == tagInteger || a.tag == tagEnum {
				var n int32
				fmt.Sscan(v, &n)
				binary.Write(&b, binary.BigEndian, uint16(4))
				binary.Write(&b, binary.BigEndian, n)
				continue
			}
			binary.Write(&b, binary.BigEndian, uint16(len(v)))
			b.WriteString(v)
		}
	}
	b.WriteByte(tagEnd)
	return b.Bytes()
}

type group struct {
	tag    byte
	values map[string][]string
}

func (g group) str(name string) string {
	if v := g.values[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (g group) integer(name string) int {
	var n int
	fmt.Sscan(g.str(name), &n)
	return n
}

func (g group) boolean(name string) bool { return g.str(name) == "true" }

type response struct {
	status int
	groups []group
}

// decode reads an IPP response: integers, enums and booleans become decimal text and "true"/
// "false"; everything else is kept as its bytes.
func decode(b []byte) (*response, error) {
	if len(b) < 9 {
		return nil, errors.New("shorter than an IPP header")
	}
	resp := &response{status: int(binary.BigEndian.Uint16(b[2:4]))}
	p := 8
	var cur *group
	last := ""
	for p < len(b) {
		tag := b[p]
		p++
		if tag == tagEnd {
			return resp, nil
		}
		if tag < 0x10 { // a new attribute group
			resp.groups = append(resp.groups, group{tag: tag, values: map[string][]string{}})
			cur = &resp.groups[len(resp.groups)-1]
			continue
		}
		if p+2 > len(b) {
			return nil, errors.New("cut short")
		}
		nl := int(binary.BigEndian.Uint16(b[p:]))
		p += 2
		if p+nl+2 > len(b) {
			return nil, errors.New("cut short")
		}
		name := string(b[p : p+nl])
		p += nl
		vl := int(binary.BigEndian.Uint16(b[p:]))
		p += 2
		if p+vl > len(b) {
			return nil, errors.New("cut short")
		}
		v := b[p : p+vl]
		p += vl
		if cur == nil {
			return nil, errors.New("an attribute outside any group")
		}
		if name == "" {
			name = last
		}
		last = name
		var s string
		switch {
		case (tag == tagInteger || tag == tagEnum) && vl == 4:
			s = fmt.Sprint(int32(binary.BigEndian.Uint32(v)))
		case tag == tagBoolean && vl == 1:
			s = fmt.Sprint(v[0] != 0)
		default:
			s = string(v)
		}
		cur.values[name] = append(cur.values[name], s)
	}
	return nil, errors.New("no end-of-attributes tag")
}

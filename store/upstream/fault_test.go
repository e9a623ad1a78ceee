package upstream_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// The faults the proxy injects, in turn, one every other request while enabled.
const (
	fNone         = "none"
	fDropBefore   = "drop mid-request"      // read part of the request, then close
	fDropAfter    = "drop after forwarding" // the hub acted; the answer is lost
	f500Before    = "500 before forwarding" // the hub never saw it
	f500After     = "500 after forwarding"  // the hub acted; the client sees an error
	fTimeout      = "timeout"               // the hub acted; the answer comes too late
	fDuplicate    = "duplicated request"    // the hub gets it twice
	fStale        = "stale answer"          // an earlier answer to the same path
	fStaleRelabel = "stale answer, relabel" // the same, passed off as this request's
)

var faultCycle = []string{fDropBefore, fDropAfter, f500Before, f500After, fTimeout, fDuplicate, fStale, fStaleRelabel}

type captured struct {
	status int
	hdr    http.Header
	body   []byte
}

// faultProxy terminates TLS on loopback and forwards to the hub, misbehaving on purpose.
type faultProxy struct {
	target string
	hc     *http.Client
	srv    *http.Server
	ln     net.Listener
	delay  time.Duration

	mu      sync.Mutex
	enabled bool
	n       int
	counts  map[string]int
	last    map[string]captured
}

func newFaultProxy(t *testing.T, p *pki, target string, delay time.Duration) *faultProxy {
	fp := &faultProxy{
		target: target, delay: delay, counts: map[string]int{}, last: map[string]captured{},
		hc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool}}},
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.server}})
	if err != nil {
		t.Fatal(err)
	}
	fp.ln = ln
	fp.srv = &http.Server{Handler: fp, ReadHeaderTimeout: 5 * time.Second}
	go fp.srv.Serve(ln)
	t.Cleanup(func() { fp.srv.Close() })
	return fp
}

func (fp *faultProxy) URL() string { return "https://" + fp.ln.Addr().String() }

func (fp *faultProxy) setEnabled(on bool) {
	fp.mu.Lock()
	fp.enabled = on
	fp.mu.Unlock()
}

func (fp *faultProxy) next() string {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if !fp.enabled {
		return fNone
	}
	fp.n++
	f := fNone
	if fp.n%2 == 0 {
		f = faultCycle[(fp.n/2)%len(faultCycle)]
	}
	fp.counts[f]++
	return f
}

func (fp *faultProxy) forward(r *http.Request, body []byte) (captured, error) {
	req, _ := http.NewRequestWithContext(context.Background(), r.Method, fp.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := fp.hc.Do(req)
	if err != nil {
		return captured{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return captured{status: resp.StatusCode, hdr: resp.Header.Clone(), body: b}, err
}

func (fp *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := fp.next()
	if f == fDropBefore {
		// Take part of the body, then cut the connection.
		io.ReadFull(r.Body, make([]byte, 10))
		hijackClose(w)
		return
	}
	if f == f500Before {
		http.Error(w, "<html>502 Bad Gateway</html>", http.StatusInternalServerError)
		return
	}
	body, _ := io.ReadAll(r.Body)
	resp, err := fp.forward(r, body)
	if err != nil {
		hijackClose(w) // the hub is down (restart): the client sees a dropped connection
		return
	}
	key := r.Method + " " + r.URL.Path
	fp.mu.Lock()
	prev, hasPrev := fp.last[key]
	fp.last[key] = resp
	fp.mu.Unlock()
	switch f {
	case fDropAfter:
		hijackClose(w)
		return
	case f500After:
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	case fTimeout:
		select {
		case <-time.After(fp.delay):
		case <-r.Context().Done():
		}
	case fDuplicate:
		if again, err := fp.forward(r, body); err == nil {
			resp = again
		}
	case fStale, fStaleRelabel:
		if hasPrev {
			id := r.Header.Get(upstream.HeaderRequestID)
			resp = prev
			if f == fStaleRelabel {
				resp.hdr = resp.hdr.Clone()
				resp.hdr.Set(upstream.HeaderRequestID, id)
			}
		}
	}
	for k, v := range resp.hdr {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.status)
	w.Write(resp.body)
}

func (fp *faultProxy) minCount() int {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	m := -1
	for _, f := range faultCycle {
		if m < 0 || fp.counts[f] < m {
			m = fp.counts[f]
		}
	}
	return m
}

func hijackClose(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// TestFaultsConverge runs the sync loop through a misbehaving proxy while the ledger grows and
// results queue up, restarts the hub in the middle, then lets the faults end: the hub then
// holds exactly the workstation's records and results, none missing, none twice.
func TestFaultsConverge(t *testing.T) {
	p := newPKI(t)
	th := startHub(t, hub.Options{AutoEnrol: true}, p.serverTLS())
	if err := th.H.SetSeal(upstream.SealStatus{ID: "SEAL-1", Status: upstream.SealActive}); err != nil {
		t.Fatal(err)
	}
	var docs []upstream.Document
	for i := range 4 {
		docs = append(docs, addDoc(t, th.H, "文件"+string(rune('甲'+i)), 1+i, "SEAL-1"))
	}
	fp := newFaultProxy(t, p, th.S.URL, 1500*time.Millisecond)
	c := newClient(t, fp.URL(), ws, p.clientTLS(t, ws), th.H.TicketKey(), time.Second)
	st := openStore(t)
	led := &memLedger{}
	led.Append(300)
	sy := upstream.NewSyncer(c, st, upstream.SyncOptions{Ledger: led, Batch: 40, PullEvery: 30 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})

	// First, a clean pull so there is something to stamp.
	if err := sy.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	fp.setEnabled(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sy.Run(ctx) }()

	outDir := t.TempDir()
	deadline := time.Now().Add(40 * time.Second)
	for i := 0; i < 60 && time.Now().Before(deadline); i++ {
		if i >= 12 && fp.minCount() >= 3 {
			break
		}
		led.Append(10 + (i%5)*15)
		if i < len(docs) {
			d := docs[i]
			cd, err := st.Document(d.ID)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(outDir, d.ID+".pdf")
			stampWithEngine(t, cd.File, out) // the hub takes only a signed update of the approved bytes
			tk, err := ticket.Parse(cd.Ticket)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Enqueue(upstream.Result{DocumentID: d.ID, TicketID: tk.ID(), Outcome: upstream.OutcomeStamped, At: time.Now()}, out); err != nil {
				t.Fatal(err)
			}
			sy.Trigger()
		}
		if i == 6 {
			th.restart() // same address and folder: the proxy keeps pointing at it
		}
		time.Sleep(150 * time.Millisecond)
	}
	fp.setEnabled(false)
	// After the faults end the loop must converge by itself.
	for time.Now().Before(deadline) {
		s := sy.Status()
		if s.Online && s.Unsynced == 0 && s.Outbox == 0 && s.LastError == "" && !s.Syncing {
			break
		}
		sy.Trigger()
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	// One more round by hand: nothing left to do, and no error.
	if err := sy.SyncOnce(context.Background()); err != nil {
		t.Fatalf("round after the faults: %v", err)
	}
	s := sy.Status()
	if !s.Online || s.Unsynced != 0 || s.Outbox != 0 {
		t.Fatalf("no convergence after faults: %+v", s)
	}
	sameLedger(t, th.H, ws, led.all())
	rec, err := th.H.Received()
	if err != nil || len(rec) != 1 {
		t.Fatal(rec, err)
	}
	seen := map[string]int{}
	for _, r := range rec[0].Results {
		seen[r.DocumentID]++
	}
	for _, d := range docs {
		if seen[d.ID] != 1 {
			t.Errorf("document %s: hub holds %d results", d.ID, seen[d.ID])
		}
	}
	fp.mu.Lock()
	t.Logf("faults injected: %v; ledger %d records", fp.counts, led.Size())
	for _, f := range faultCycle {
		if fp.counts[f] == 0 {
			t.Errorf("fault %q was never injected", f)
		}
	}
	fp.mu.Unlock()
}

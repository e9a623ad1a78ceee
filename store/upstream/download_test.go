package upstream_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// bigPDF is a sample PDF grown to at least n bytes by comment lines before a repeated
// startxref, which still points at the original cross-reference table.
func bigPDF(t *testing.T, n int) []byte {
	t.Helper()
	pdf := hub.SamplePDF("大文件", "", 1)
	i := bytes.LastIndex(pdf, []byte("startxref"))
	if i < 0 {
		t.Fatal("the sample PDF has no startxref")
	}
	tail := bytes.Clone(pdf[i:])
	var b bytes.Buffer
	b.Grow(n + len(pdf) + 100)
	b.Write(pdf)
	line := "%" + strings.Repeat("0123456789abcdef", 8) + "\n"
	for b.Len() < n {
		b.WriteString(line)
	}
	b.Write(tail)
	return b.Bytes()
}

// TestSlowRangeReadsDoNotCloneTheFile: a 1-byte Range request used to clone the whole file in
// the hub's memory (24 slow reads took it from 1.0 to 1.7 GB). Now the hub reads a file piece
// by piece: 24 clients that each request a large range of a 32 MiB document and read one
// byte, then stall, plus 24 one-byte ranges, allocate far less than one copy of the file in
// the process where the hub runs (measured with runtime.ReadMemStats, printed).
func TestSlowRangeReadsDoNotCloneTheFile(t *testing.T) {
	const size = 32 << 20
	p := newPKI(t)
	th := startHub(t, hub.Options{}, p.serverTLS())
	_, e := enrolled(t, th, p, "WS-A")
	d, err := th.H.AddDocument(hub.NewDocument{Title: "大文件", SealID: "SEAL-1", Workstation: "WS-A", PDF: bigPDF(t, size)})
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := e.TLSCertificate()
	tlsConf := &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{cert}}
	get := func(rng string) *http.Response {
		t.Helper()
		// A transport per client: each slow reader holds its own connection.
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf, DisableCompression: true, DisableKeepAlives: true}, Timeout: time.Minute}
		req, _ := http.NewRequest(http.MethodGet, th.S.URL+"/v1/files/"+d.SHA256, nil)
		req.Header.Set("Range", rng)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusPartialContent {
			t.Fatalf("range %s: status %d", rng, resp.StatusCode)
		}
		return resp
	}
	runtime.GC()
	var before, during, after runtime.MemStats
	runtime.ReadMemStats(&before)

	const slow = 24
	var stalled []*http.Response
	for i := range slow {
		resp := get(fmt.Sprintf("bytes=%d-%d", i, i+upstream.MaxUploadChunk-1))
		var one [1]byte
		if _, err := io.ReadFull(resp.Body, one[:]); err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, resp) // the hub is now blocked writing the rest
	}
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := get(fmt.Sprintf("bytes=%d-%d", i*1000, i*1000))
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if len(b) != 1 {
				t.Errorf("a 1-byte range gave %d bytes", len(b))
			}
		}()
	}
	wg.Wait()
	runtime.GC()
	runtime.ReadMemStats(&during)
	for _, r := range stalled {
		r.Body.Close()
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	held := int64(during.HeapInuse) - int64(before.HeapInuse)
	t.Logf("file %d MiB; %d stalled large-range readers and 24 one-byte ranges: %.1f MiB allocated in all (%.2fx the file), heap in use %+.1f MiB while they stalled",
		size>>20, slow, float64(allocated)/(1<<20), float64(allocated)/size, float64(held)/(1<<20))
	if allocated > 2*size {
		t.Fatalf("the reads allocated %d bytes, over twice the %d-byte file: the hub copies the file per request", allocated, size)
	}
}

// TestConnectionsPerClientAreLimited: one client could open connections without end. Now the
// hub closes a client's connections beyond Options.MaxConnsPerClient as they arrive, before
// any TLS handshake, and takes new ones again once the client closes some.
func TestConnectionsPerClientAreLimited(t *testing.T) {
	const limit = 4
	p := newPKI(t)
	th := startHub(t, hub.Options{MaxConnsPerClient: limit}, p.serverTLS())
	addr := strings.TrimPrefix(th.S.URL, "https://")
	hello := func(c net.Conn) error {
		tc := tls.Client(c, &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1"})
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(tc, "GET /v1/hello HTTP/1.1\r\nHost: hub\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	var held []net.Conn
	for i := range limit {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		if err := hello(c); err != nil {
			t.Fatalf("connection %d of %d: %v", i+1, limit, err)
		}
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := hello(extra); err == nil {
		t.Fatalf("connection %d of a client held to %d was served", limit+1, limit)
	}
	extra.Close()
	held[0].Close()
	// The hub sees the close when it next reads; a new connection is then taken.
	var lastErr error
	for range 50 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		lastErr = hello(c)
		c.Close()
		if lastErr == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("after closing a connection, a new one is still refused: %v", lastErr)
	}
	for _, c := range held[1:] {
		c.Close()
	}
}

// Package render draws PDF pages for the stamping preview and finds keywords in their text
// layer. It runs PDFium compiled to WebAssembly (go-pdfium over wazero): no cgo, no shared
// library to ship, and a crash inside PDFium is a trapped error here, not a dead program.
//
// A Renderer owns the WebAssembly runtime and one or a few PDFium instances. It starts
// lazily on first use (or at Start, to warm it up in the background) and must be closed.
// Compiling PDFium takes seconds; with Options.CacheDir the compiled code is kept on disk
// and a later start takes a fraction of a second.
//
// PDFium sees no file system: documents are handed to it as bytes.
package render

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Options configure a Renderer. The zero value works: one worker, no compilation cache.
type Options struct {
	// CacheDir keeps PDFium's compiled machine code between runs (the app passes a
	// folder in its data directory). Empty: compile in memory on every start (~5 s).
	CacheDir string
	// Workers is the number of PDFium instances, each rendering one page at a time.
	// Documents are spread over them. 0 means 1; a preview rarely needs more than 2.
	Workers int
	// CallTimeout bounds one operation (open, render a page, search a page). A PDFium
	// instance that exceeds it is discarded and the call fails; 0 means 60 s.
	CallTimeout time.Duration
}

// Renderer renders pages and searches text. It is safe for concurrent use.
type Renderer struct {
	opts Options

	mu      sync.Mutex // guards the fields below
	pool    pdfium.Pool
	cache   wazero.CompilationCache
	workers []*worker
	closed  bool
}

// worker is one PDFium instance and the documents opened in it. The instance is
// created on first use and replaced after a crash; documents are then reopened from
// their bytes.
type worker struct {
	mu   sync.Mutex // serialises everything done in this instance
	inst pdfium.Pdfium
	docs map[*Document]docRef
	// load counts documents assigned to this worker, to spread new ones.
	load int
}

// New returns a Renderer that starts on first use. Close it when done.
func New(opts Options) *Renderer {
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 60 * time.Second
	}
	r := &Renderer{opts: opts}
	for range opts.Workers {
		r.workers = append(r.workers, &worker{})
	}
	return r
}

// ErrClosed is returned by calls on a closed Renderer or Document.
var ErrClosed = errors.New("render: renderer or document is closed")

// Start compiles PDFium (or loads it from the cache) and starts the workers' PDFium
// instances if that has not happened yet. Calling it is optional: every other call
// starts what it needs. An app calls it in the background at launch so the first
// preview is quick.
func (r *Renderer) Start() error {
	for _, w := range r.workers {
		w.mu.Lock()
		_, err := r.instance(w)
		w.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *Renderer) startedPool() (pdfium.Pool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if r.pool != nil {
		return r.pool, nil
	}
	rc := wazero.NewRuntimeConfig().
		// The bundled PDFium needs exception handling (setjmp/longjmp); CloseOnContextDone
		// lets a call that runs past CallTimeout be stopped.
		WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
		WithCloseOnContextDone(true)
	var cache wazero.CompilationCache
	if r.opts.CacheDir != "" {
		if err := os.MkdirAll(r.opts.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("render: cannot create the PDFium cache folder: %w", err)
		}
		c, err := wazero.NewCompilationCacheWithDir(r.opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("render: cannot use %s as PDFium cache (check its permissions, or delete it): %w", r.opts.CacheDir, err)
		}
		cache = c
		rc = rc.WithCompilationCache(c)
	}
	pool, err := guard("start PDFium", func() (pdfium.Pool, error) {
		return webassembly.Init(webassembly.Config{
			MinIdle:  0,
			MaxIdle:  r.opts.Workers,
			MaxTotal: r.opts.Workers,
			// No mounts: PDFium cannot read or write any host file.
			FSConfig:      wazero.NewFSConfig(),
			RuntimeConfig: rc,
			Stdout:        io.Discard,
			Stderr:        io.Discard,
			ReuseWorkers:  true,
		})
	})
	if err != nil {
		if cache != nil {
			cache.Close(context.Background())
		}
		return nil, fmt.Errorf("render: cannot start PDFium: %w", err)
	}
	r.pool, r.cache = pool, cache
	return pool, nil
}

// Close stops all PDFium instances and closes every Document opened from r.
func (r *Renderer) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	pool, cache := r.pool, r.cache
	r.pool, r.cache = nil, nil
	r.mu.Unlock()

	for _, w := range r.workers {
		w.mu.Lock()
		if w.inst != nil {
			w.inst.Close()
			w.inst = nil
		}
		for d := range w.docs {
			d.closed = true
		}
		w.docs = nil
		w.mu.Unlock()
	}
	var err error
	if pool != nil {
		_, err = guard("stop PDFium", func() (struct{}, error) { return struct{}{}, pool.Close() })
	}
	if cache != nil {
		cache.Close(context.Background())
	}
	return err
}

// pickWorker assigns a new document to the least loaded worker.
func (r *Renderer) pickWorker() *worker {
	r.mu.Lock()
	defer r.mu.Unlock()
	best := r.workers[0]
	for _, w := range r.workers[1:] {
		if w.load < best.load {
			best = w
		}
	}
	best.load++
	return best
}

func (r *Renderer) release(w *worker) {
	r.mu.Lock()
	w.load--
	r.mu.Unlock()
}

// instance returns the worker's PDFium instance, creating it if needed. w.mu is held.
func (r *Renderer) instance(w *worker) (pdfium.Pdfium, error) {
	if w.inst != nil {
		return w.inst, nil
	}
	pool, err := r.startedPool()
	if err != nil {
		return nil, err
	}
	inst, err := guard("start a PDFium instance", func() (pdfium.Pdfium, error) {
		return pool.GetInstance(r.opts.CallTimeout)
	})
	if err != nil {
		return nil, fmt.Errorf("render: cannot start a PDFium instance: %w", err)
	}
	w.inst, w.docs = inst, map[*Document]docRef{}
	return inst, nil
}

// discard drops a worker's instance after a crash or timeout: its memory may be
// inconsistent. Documents are reopened from their bytes on next use. w.mu is held.
func (w *worker) discard() {
	if w.inst != nil {
		w.inst.Kill()
	}
	w.inst, w.docs = nil, nil
}

// errCrashed marks an error after which the PDFium instance is not trusted again.
var errCrashed = errors.New("PDFium crashed")

// guard runs f, turning a panic into an error wrapping errCrashed.
func guard[T any](what string, f func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: %w: %v", what, errCrashed, p)
		}
	}()
	return f()
}

// isCrash reports whether err means the instance must be discarded: a recovered
// panic, a WebAssembly trap (out-of-bounds access, unreachable, abort) or a stop
// after CallTimeout. Ordinary PDFium failures (bad page, bad file) are not crashes.
func isCrash(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, errCrashed) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "panic occurred") || strings.Contains(s, "wasm error") ||
		strings.Contains(s, "module closed") || strings.Contains(s, "exit_code")
}

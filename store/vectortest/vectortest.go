// Package vectortest drives the byte vectors a format keeps in testdata, in age's style: one
// file per case, good_* accepted and fail_* refused, all of them read by one loop, so that a
// change to the format fails a test instead of passing unnoticed.
//
// A vector file is "key: value" header lines, one blank line, then the body (bytes or text,
// as the format is). SEALKEEPER_WRITE_VECTORS=1 rewrites a directory from the test's writer
// before it is read; do that only for a deliberate format change, which is a protocol change
// (files on disk, the hub, tickets already issued).
package vectortest

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// WriteEnv is the environment variable that rewrites the vectors.
const WriteEnv = "SEALKEEPER_WRITE_VECTORS"

// Vector is one file of a vector directory.
type Vector struct {
	Name   string
	Good   bool // good_*: the format accepts it; fail_*: it refuses it
	Header map[string]string
	Body   []byte
}

// Get is the header value key, failing the test when the vector has none.
func (v Vector) Get(t *testing.T, key string) string {
	t.Helper()
	s, ok := v.Header[key]
	if !ok {
		t.Fatalf("vector %s has no %q header line", v.Name, key)
	}
	return s
}

// Add writes one vector (used by the writer given to Run).
type Add func(name string, header map[string]string, body []byte)

// Run checks every vector in dir with check, each as a subtest. With SEALKEEPER_WRITE_VECTORS=1
// it first deletes the directory's vectors and writes them again with write.
func Run(t *testing.T, dir string, write func(add Add), check func(t *testing.T, v Vector)) {
	t.Helper()
	if os.Getenv(WriteEnv) == "1" {
		rewrite(t, dir, write)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors in %s: %v (%s=1 writes them)", dir, err, WriteEnv)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			head, body, ok := bytes.Cut(b, []byte("\n\n"))
			if !ok {
				t.Fatalf("%s: no blank line after the header", name)
			}
			v := Vector{Name: name, Header: map[string]string{}, Body: body}
			for _, l := range strings.Split(string(head), "\n") {
				k, val, ok := strings.Cut(l, ": ")
				if !ok {
					t.Fatalf("%s: header line %q is not \"key: value\"", name, l)
				}
				v.Header[k] = val
			}
			switch {
			case strings.HasPrefix(name, "good_"):
				v.Good = true
			case strings.HasPrefix(name, "fail_"):
			default:
				t.Fatalf("%s: a vector is named good_* or fail_*", name)
			}
			check(t, v)
		})
	}
}

func rewrite(t *testing.T, dir string, write func(add Add)) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, pat := range []string{"good_*", "fail_*"} {
		old, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(func(name string, header map[string]string, body []byte) {
		if len(header) == 0 {
			t.Fatalf("vector %s: give at least one header line (what it is expected to do)", name)
		}
		keys := make([]string, 0, len(header))
		for k := range header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b bytes.Buffer
		for _, k := range keys {
			if strings.ContainsAny(header[k], "\n") {
				t.Fatalf("vector %s: header %q holds a newline", name, k)
			}
			b.WriteString(k + ": " + header[k] + "\n")
		}
		b.WriteString("\n")
		b.Write(body)
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	})
}

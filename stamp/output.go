package stamp

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// output is a stamped file being written: a temporary file in the output's folder that starts
// as a copy of the input (the kernel copies it, with copy_file_range where the file system has
// it, and flushes it to disk) while the input is read, validated, hashed and signed; commit
// appends the update and renames it into place. Until commit returns, out is untouched.
//
// Invariants: the temporary file is either renamed to out after a successful fsync of its
// whole content, or removed; the copy is of exactly the bytes the input had when it was
// opened (a change to the input while it is stamped is refused at commit).
type output struct {
	out    string
	tmp    *os.File
	in     *os.File // a second handle on the input, used by the copy alone
	st     os.FileInfo
	copied chan error
	done   bool
}

func startOutput(out string, in string, st os.FileInfo) (*output, error) {
	dir := filepath.Dir(out)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("writing %s: %w", out, err)
	}
	src, err := os.Open(in)
	if err != nil {
		return nil, err
	}
	if st2, err := src.Stat(); err != nil || !os.SameFile(st, st2) {
		src.Close()
		return nil, fmt.Errorf("%s changed while it was being stamped; try again", in)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("writing %s: %w", out, err)
	}
	o := &output{out: out, tmp: tmp, in: src, st: st, copied: make(chan error, 1)}
	go func() {
		// io.Copy from a limited *os.File to an *os.File is copy_file_range (or sendfile)
		// on Linux: the bytes do not pass through this process.
		n, err := io.Copy(tmp, io.LimitReader(src, st.Size()))
		if err == nil && n != st.Size() {
			err = fmt.Errorf("%s changed while it was being stamped; try again", in)
		}
		if err == nil {
			err = tmp.Sync() // the large part of the flush happens now, not after signing
		}
		o.copied <- err
	}()
	return o, nil
}

// commit appends the update and moves the file into place (fsync of the file and the folder).
func (o *output) commit(upd []byte) error {
	err := <-o.copied
	o.copied <- err // abort may wait again
	if err != nil {
		return o.fail(err)
	}
	if st2, err := o.in.Stat(); err != nil || st2.Size() != o.st.Size() || !st2.ModTime().Equal(o.st.ModTime()) {
		return o.fail(fmt.Errorf("%s changed while it was being stamped; try again", o.in.Name()))
	}
	if _, err := o.tmp.Write(upd); err != nil {
		return o.fail(err)
	}
	// The file keeps CreateTemp's 0600 (less where the umask says so): a stamped document is
	// for the custodian's account, not for every user of the workstation.
	if err := o.tmp.Sync(); err != nil {
		return o.fail(err)
	}
	if err := o.tmp.Close(); err != nil {
		return o.fail(err)
	}
	if err := os.Rename(o.tmp.Name(), o.out); err != nil {
		return o.fail(err)
	}
	o.done = true
	o.in.Close()
	if d, err := os.Open(filepath.Dir(o.out)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func (o *output) fail(err error) error {
	o.abort()
	return fmt.Errorf("writing %s: %w", o.out, err)
}

// abort removes the temporary file; out is untouched. It is a no-op after commit.
func (o *output) abort() {
	if o.done {
		return
	}
	o.done = true
	err := <-o.copied // the copy must stop using the files first
	o.copied <- err
	o.tmp.Close()
	os.Remove(o.tmp.Name())
	o.in.Close()
}

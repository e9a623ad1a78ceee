//go:build unix

package stamp_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/pades/padestest"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
)

// TestStampedFileNotReadableByOthers (issue 16, Low): the stamped file used to be made 0644
// whatever the umask, so every user of the workstation could read a sealed document. It is now
// created 0600 and only ever narrowed by the umask: with umask 0, which would let a 0644 through,
// it is 0600; with 077 it is 0600 too. Both the in-memory and the streamed path.
func TestStampedFileNotReadableByOthers(t *testing.T) {
	id := padestest.NewIdentity(t, padestest.ECDSA)
	orig := pdftest.PDF(pdftest.Options{Pages: 2})
	for _, large := range []bool{false, true} {
		for _, mask := range []int{0, 0o077} {
			func() {
				if large {
					defer stamp.SetSmallFile(0)()
				}
				old := syscall.Umask(mask)
				defer syscall.Umask(old)
				dir := t.TempDir()
				in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
				if err := os.WriteFile(in, orig, 0o600); err != nil {
					t.Fatal(err)
				}
				if _, err := stamp.SignFile(context.Background(), in, out, false, request(id, centre(t, read(t, orig), 1))); err != nil {
					t.Fatal(err)
				}
				if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
					t.Errorf("large=%v umask %04o: the stamped file has mode %v (%v), want 0600", large, mask, st.Mode().Perm(), err)
				}
			}()
		}
	}
}

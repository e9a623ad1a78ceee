package verify_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"

	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/pades/padestest"
	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
)

// sign seals data once with a real (software) key, certifying or locking as asked.
func sign(t *testing.T, id *padestest.Identity, data []byte, certify, lock bool) ([]byte, error) {
	t.Helper()
	doc, err := pdftest.Inspect("in.pdf", data)
	if err != nil {
		t.Fatal(err)
	}
	size, err := placement.SealSize(42, 300, 300)
	if err != nil {
		t.Fatal(err)
	}
	p := doc.Pages[0].Page
	w, h := p.ViewSize()
	pl, err := placement.AtViewMM(p, w/2/placement.PointsPerMM, h/2/placement.PointsPerMM, size)
	if err != nil {
		t.Fatal(err)
	}
	req := stamp.Request{Placement: pl, Image: pdftest.Seal(300), Signer: id.Signer, Chain: id.Chain, Certify: certify, Lock: lock}
	res, err := stamp.Sign(context.Background(), doc, bytes.NewReader(data), req)
	if err != nil {
		return nil, err
	}
	return append(data[:len(data):len(data)], res.Update...), nil
}

// patch replaces every occurrence of old, which must occur n times, with new of the same
// length, so the file's offsets stay right (the signature no longer matches its bytes).
func patch(t *testing.T, data []byte, old, new string, n int) []byte {
	t.Helper()
	if len(old) != len(new) || bytes.Count(data, []byte(old)) != n {
		t.Fatalf("%q occurs %d times, want %d (or the replacement differs in length)", old, bytes.Count(data, []byte(old)), n)
	}
	return bytes.ReplaceAll(data, []byte(old), []byte(new))
}

// level is the restriction in force after d's one signature field, as pdfinspect reads it.
func level(d *pdfinspect.Document) int {
	for _, f := range d.FormFields() {
		if f.Type == "Sig" {
			return d.Restrictions(f).Level()
		}
	}
	return -1
}

// TestRestrictionsAgree feeds the stamper's reader (pdfinspect, both its on-demand and its
// pdfcpu object model) and the verifier the same certified and locked files, with every /P
// value and one outside 1..3 on each side, and checks they read the same level, the strict
// one for a value the standard does not define; and that the stamper refuses a further seal
// exactly when that level forbids it. A lock's /P 2 or 3 is a level (PDF 2.0), not a lock.
func TestRestrictionsAgree(t *testing.T) {
	id := padestest.NewIdentity(t, padestest.RSA)
	in := pdftest.PDF(pdftest.Options{Form: true})
	certified, err := sign(t, id, in, true, false)
	if err != nil {
		t.Fatal(err)
	}
	locked, err := sign(t, id, in, false, true)
	if err != nil {
		t.Fatal(err)
	}
	const docmdp, fieldmdp = "/TransformParams /P 2 /V /1.2", "/Action /All /P 1"
	type want struct {
		docMDP int
		locked bool
		level  int // what later changes may do (ISO 32000-2: a lock's /P is a level like DocMDP's)
	}
	cases := map[string]struct {
		data []byte
		want want
	}{
		"docmdp_absent": {patch(t, certified, docmdp, "/TransformParams      /V /1.2", 1), want{2, false, 2}},
		"lock_absent":   {patch(t, locked, fieldmdp, "/Action /All     ", 2), want{0, false, 0}},
	}
	for p := 0; p <= 4; p++ {
		// Unknown values (0, 4) read as P=1: no changes, no further seal.
		strict := map[int]int{0: 1, 4: 1}[p]
		if strict == 0 {
			strict = p
		}
		cases[fmt.Sprintf("docmdp_P%d", p)] = struct {
			data []byte
			want want
		}{patch(t, certified, docmdp, fmt.Sprintf("/TransformParams /P %d /V /1.2", p), 1), want{strict, false, strict}}
		// The stamper writes the lock's /P twice: in the field's /Lock and in its signature's
		// FieldMDP reference.
		cases[fmt.Sprintf("lock_P%d", p)] = struct {
			data []byte
			want want
		}{patch(t, locked, fieldmdp, fmt.Sprintf("/Action /All /P %d", p), 2), want{0, strict == 1, strict}}
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rd := bytes.NewReader(tc.data)
			opened, err := pdfinspect.Open(name, rd, rd.Size())
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := pdfinspect.Parse(name, rd, rd.Size())
			if err != nil {
				t.Fatal(err)
			}
			rep, err := verify.Bytes(name, tc.data, verify.Options{Roots: []*x509.Certificate{id.Root}})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Signatures) != 1 {
				t.Fatalf("the verifier finds %d signatures, want 1", len(rep.Signatures))
			}
			vs := rep.Signatures[0]
			got := map[string]want{
				"pdfinspect.Open":  {opened.Certified, opened.Locked, level(opened)},
				"pdfinspect.Parse": {parsed.Certified, parsed.Locked, level(parsed)},
				"verify":           {vs.DocMDP, vs.Locked, vs.Level},
			}
			for who, g := range got {
				if g != tc.want {
					t.Errorf("%s reads DocMDP %d, locked %v, level %d; want DocMDP %d, locked %v, level %d", who, g.docMDP, g.locked, g.level, tc.want.docMDP, tc.want.locked, tc.want.level)
				}
			}
			if s := opened.Signatures; len(s) != 1 || s[0].DocMDP != vs.DocMDP || (s[0].LockP == 1) != vs.Locked {
				t.Errorf("pdfinspect's signature %+v does not match the verifier's (DocMDP %d, locked %v)", s, vs.DocMDP, vs.Locked)
			}
			_, err = sign(t, id, tc.data, false, false)
			if forbids := tc.want.locked || tc.want.docMDP == 1; forbids != errors.Is(err, stamp.ErrLocked) || (!forbids && err != nil) {
				t.Errorf("a further seal: %v (the level forbids it: %v)", err, forbids)
			}
		})
	}
	// The files as the stamper wrote them (P=2 certification, P=1 lock) verify.
	for name, data := range map[string][]byte{"certified": certified, "locked": locked} {
		rep, err := verify.Bytes(name, data, verify.Options{Roots: []*x509.Certificate{id.Root}})
		if err != nil || !rep.Valid {
			t.Errorf("%s as stamped: %+v, %v", name, rep, err)
		}
	}
}

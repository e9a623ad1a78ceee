package gmseal_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
)

var makeVectors = flag.Bool("make-vectors", false, "write the fail_* vectors again from the ofdrw files (bytes flipped)")

// reasons maps the word after fail_ in a vector's name to the failure it must give.
var reasons = map[string]error{
	"malformed":  gmseal.ErrMalformed,
	"signature":  gmseal.ErrSignature,
	"makersig":   gmseal.ErrMakerSignature,
	"makercert":  gmseal.ErrMakerCert,
	"notlisted":  gmseal.ErrSignerNotListed,
	"validity":   gmseal.ErrSealValidity,
	"signercert": gmseal.ErrSignerCert,
}

// check parses and verifies one vector: *.esl is an SESeal (maker's signature and certificate),
// *.ses an SES_Signature (all its checks except the data digest, which the files do not carry).
func check(name string, der []byte) error {
	if strings.HasSuffix(name, ".ses") {
		g, err := gmseal.ParseSignature(der)
		if err != nil {
			return err
		}
		_, err = g.Verify(gmseal.VerifyOptions{})
		return err
	}
	s, err := gmseal.ParseSeal(der)
	if err != nil {
		return err
	}
	_, err = s.VerifyMaker()
	return err
}

// TestVectors drives every testdata file through one loop: good_* must parse and verify,
// fail_<reason>_* must fail with that reason. The ofdrw files are good_* (and UserV5, whose
// maker signature verifies but whose maker certificate had expired when the seal was made);
// the other fail_* are those files with bytes changed (make-vectors).
func TestVectors(t *testing.T) {
	if *makeVectors {
		writeVectors(t)
	}
	files, err := filepath.Glob("testdata/*_*.*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	seen := map[string]int{}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			der, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			err = check(name, der)
			switch kind, rest, _ := strings.Cut(name, "_"); kind {
			case "good":
				seen["good"]++
				if err != nil {
					t.Fatalf("a good vector fails: %v", err)
				}
			case "fail":
				reason, _, _ := strings.Cut(rest, "_")
				want, ok := reasons[reason]
				if !ok {
					t.Fatalf("unknown reason %q in the file name", reason)
				}
				seen[reason]++
				if !errors.Is(err, want) {
					t.Fatalf("got %v, want %v", err, want)
				}
			default:
				t.Fatalf("vector %s is neither good_ nor fail_", name)
			}
		})
	}
	for _, k := range []string{"good", "malformed", "signature", "makersig", "makercert"} {
		if seen[k] == 0 {
			t.Errorf("no %s vector", k)
		}
	}
}

// writeVectors makes the fail_* files from the good ofdrw files by changing bytes.
func writeVectors(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	seal4, seal1, sig4 := read("good_v4_ofdrw.esl"), read("good_v1_ofdrw.esl"), read("good_v4_ofdrw.ses")
	at := func(b []byte, sub []byte) int {
		i := bytes.Index(b, sub)
		if i < 0 {
			t.Fatalf("%q not found", sub)
		}
		return i
	}
	png := []byte("IDAT")
	out := map[string][]byte{}
	flip := func(name string, src []byte, off int) {
		b := bytes.Clone(src)
		b[off] ^= 0x01
		out[name] = b
	}
	replace := func(name string, src []byte, old, new string) {
		if !bytes.Contains(src, []byte(old)) {
			t.Fatalf("%s: %q not found", name, old)
		}
		out[name] = bytes.Replace(src, []byte(old), []byte(new), 1)
	}
	flip("fail_makersig_v4_picture_byte.esl", seal4, at(seal4, png)+200)
	replace("fail_makersig_v4_valid_end_moved.esl", seal4, "20220422020900Z", "20320422020900Z")
	flip("fail_makersig_v4_signature_byte.esl", seal4, len(seal4)-1)
	flip("fail_makersig_v1_picture_byte.esl", seal1, at(seal1, png)+200)
	replace("fail_makersig_v1_valid_end_moved.esl", seal1, "220422021807Z", "320422021807Z")
	flip("fail_makersig_v1_signature_byte.esl", seal1, len(seal1)-1)
	replace("fail_malformed_v4_header_id.esl", seal4, "\x16\x02ES", "\x16\x02EX")
	out["fail_malformed_v4_truncated.esl"] = seal4[:len(seal4)-10]
	out["fail_malformed_v4_trailing_byte.esl"] = append(bytes.Clone(seal4), 0)
	flip("fail_signature_v4_property_byte.ses", sig4, at(sig4, []byte("/Doc_0/Signs"))+3)
	flip("fail_signature_v4_seal_picture_byte.ses", sig4, at(sig4, png)+200)
	flip("fail_signature_v4_value_byte.ses", sig4, len(sig4)-1)
	replace("fail_signature_v4_time_moved.ses", sig4, "20201012111403Z", "20201012111404Z")
	out["fail_malformed_v4_signature_truncated.ses"] = sig4[:len(sig4)/2]
	for name, b := range out {
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

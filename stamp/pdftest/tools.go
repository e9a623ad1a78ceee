package pdftest

import (
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// RequireTool returns the path of an outside program (pdfsig, mutool, qpdf, pdftoppm). A
// missing tool skips the test on a developer machine and fails it in CI (CI=true), so that
// the checks are never silently left out where they count.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI (apt-get install poppler-utils mupdf-tools qpdf libnss3-tools)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// Pdfsig runs poppler's pdfsig on path and returns how many signatures it calls valid, how
// many it lists, and its output.
func Pdfsig(t testing.TB, path string) (valid, total int, out string) {
	t.Helper()
	b, _ := exec.Command(RequireTool(t, "pdfsig"), path).CombinedOutput()
	out = string(b)
	return strings.Count(out, "Signature Validation: Signature is Valid."), len(regexp.MustCompile(`(?m)^Signature #\d+:`).FindAllString(out, -1)), out
}

// MutoolVerify runs `mutool sign -v` and returns the number of signatures it finds with an
// intact digest, the number it lists, and its output.
func MutoolVerify(t testing.TB, path string) (ok, total int, out string) {
	t.Helper()
	b, _ := exec.Command(RequireTool(t, "mutool"), "sign", "-v", path).CombinedOutput()
	out = string(b)
	total = strings.Count(out, "Verifying signature")
	ok = strings.Count(out, "The document is unchanged since signing.") + strings.Count(out, "The signature is valid but there have been edits since signing.")
	return ok, total, out
}

// QpdfCheck runs `qpdf --check` and fails the test if qpdf finds damage or warns.
func QpdfCheck(t testing.TB, path string) {
	t.Helper()
	b, err := exec.Command(RequireTool(t, "qpdf"), "--check", path).CombinedOutput()
	if err != nil || strings.Contains(string(b), "WARNING") || !strings.Contains(string(b), "No syntax or stream encoding errors") {
		t.Errorf("qpdf --check %s: %v\n%s", path, err, b)
	}
}

// OpenSSLCMS checks every signature in the file with `openssl cms -verify` (digest and
// signature, not the chain): an independent CMS implementation, also for RSASSA-PSS, which
// MuPDF 1.21's OpenSSL PKCS7 code cannot verify. It returns how many verified.
func OpenSSLCMS(t testing.TB, path string) int {
	t.Helper()
	tool := RequireTool(t, "openssl")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	re := regexp.MustCompile(`/ByteRange\s*\[\s*0\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)
	dir := t.TempDir()
	for i, m := range re.FindAllSubmatch(data, -1) {
		var a, b, c int
		fmt.Sscan(string(m[1]), &a)
		fmt.Sscan(string(m[2]), &b)
		fmt.Sscan(string(m[3]), &c)
		if b+c > len(data) || a+1 > b-1 {
			continue
		}
		content := append(append([]byte{}, data[:a]...), data[b:b+c]...)
		h := string(data[a+1 : b-1])
		sig, err := hex.DecodeString(h)
		if err != nil {
			continue
		}
		cf, sf := filepath.Join(dir, fmt.Sprint(i, ".bin")), filepath.Join(dir, fmt.Sprint(i, ".der"))
		os.WriteFile(cf, content, 0o600)
		os.WriteFile(sf, sig, 0o600)
		if out, err := exec.Command(tool, "cms", "-verify", "-binary", "-inform", "DER", "-in", sf, "-content", cf, "-noverify", "-out", os.DevNull).CombinedOutput(); err == nil {
			ok++
		} else {
			t.Logf("openssl cms -verify, signature %d: %v\n%s", i+1, err, out)
		}
	}
	return ok
}

// NSSDB makes an NSS database in a temporary folder holding key and cert (with its chain) for
// poppler's pdfsig -add-signature, and returns its folder and the key's nickname. It needs
// openssl, certutil and pk12util (libnss3-tools).
func NSSDB(t testing.TB, key crypto.Signer, chain []*x509.Certificate) (dir, nick string) {
	t.Helper()
	openssl, certutil, pk12util := RequireTool(t, "openssl"), RequireTool(t, "certutil"), RequireTool(t, "pk12util")
	dir = t.TempDir()
	nick = "sealkeeper-test"
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := filepath.Join(dir, "key.pem")
	certPEM := filepath.Join(dir, "cert.pem")
	os.WriteFile(keyPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	var certs []byte
	for _, c := range chain {
		certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	os.WriteFile(certPEM, certs, 0o600)
	p12 := filepath.Join(dir, "key.p12")
	run := func(name string, args ...string) {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run(openssl, "pkcs12", "-export", "-inkey", keyPEM, "-in", certPEM, "-name", nick, "-passout", "pass:test", "-out", p12)
	run(certutil, "-N", "-d", "sql:"+dir, "--empty-password")
	run(pk12util, "-i", p12, "-d", "sql:"+dir, "-W", "test")
	return dir, nick
}

// PdfsigSign signs in into out with poppler's pdfsig (adbe.pkcs7.detached, SHA-256; pdfsig
// 22.12 cannot add ETSI.CAdES.detached signatures).
func PdfsigSign(t testing.TB, nssdir, nick, in, out string) {
	t.Helper()
	if b, err := PdfsigSignCmd(t, nssdir, nick, in, out).CombinedOutput(); err != nil {
		t.Fatalf("pdfsig -add-signature: %v\n%s", err, b)
	}
}

// PdfsigSignCmd is the pdfsig -add-signature command PdfsigSign runs, not started, for a caller
// that sets its environment or times it (the benchmarks).
func PdfsigSignCmd(t testing.TB, nssdir, nick, in, out string) *exec.Cmd {
	t.Helper()
	return exec.Command(RequireTool(t, "pdfsig"), "-add-signature", "-nssdir", "sql:"+nssdir, "-nick", nick, "-digest", "SHA256", in, out)
}

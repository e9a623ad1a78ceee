package ledger_test

import (
	"bufio"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// TestMain doubles the test binary as the child processes the ledger starts or the tests need:
//
//	TESTBINARY ledger check-file PATH        the consistency check (what `sealkeeper ledger check-file` runs)
//	TESTBINARY ledger check-flips PATH OFFSETS FROM   check PATH with each listed byte flipped (flip test)
//	SEALKEEPER_LEDGER_HELPER=append TESTBINARY PATH KEYFILE N   append N records, print each acknowledged seq
func TestMain(m *testing.M) {
	if len(os.Args) >= 3 && os.Args[1] == "ledger" {
		switch os.Args[2] {
		case "check-file":
			os.Exit(ledger.CheckFileMain(os.Args[3:], os.Stdout, os.Stderr))
		case "check-flips":
			os.Exit(checkFlipsMain(os.Args[3:]))
		}
	}
	if os.Getenv("SEALKEEPER_LEDGER_HELPER") == "append" {
		os.Exit(appendHelper(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// appendHelper opens the ledger with the key in KEYFILE and appends N records one at a time,
// printing each seq once Append has returned (acknowledged = durable).
func appendHelper(args []string) int {
	path, keyFile := args[0], args[1]
	n, _ := strconv.Atoi(args[2])
	pemKey, err := os.ReadFile(keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	h, err := keyslot.ParsePrivateKeyPEM(pemKey)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	l, err := ledger.Open(path, ledger.Options{Signer: h.(crypto.Signer), CheckpointEvery: 50})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if err := l.Unlock(h); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; i < n; i++ {
		kind := ledger.KindLoginOK
		if i%3 == 1 {
			kind = ledger.KindStampIntent
		}
		seqs, err := l.Append(ledger.Record{Kind: kind, Custodian: "张三", DocID: fmt.Sprint("doc-", i)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		fmt.Fprintln(w, seqs[0])
		w.Flush()
	}
	if err := l.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	return 0
}

// checkFlipsMain runs the consistency check on copies of PATH with one byte flipped, for the
// offsets listed (one a line) in OFFSETS from line FROM on, printing "offset start" before and
// "offset ok|bad" after each. A crash ends the process; the parent notes it and starts a new
// child after that offset.
func checkFlipsMain(args []string) int {
	orig, err := os.ReadFile(args[0])
	if err != nil {
		return 3
	}
	list, err := os.ReadFile(args[1])
	if err != nil {
		return 3
	}
	from, _ := strconv.Atoi(args[2])
	tmp := filepath.Join(filepath.Dir(args[0]), "flipcheck-"+strconv.Itoa(os.Getpid())+".db")
	defer os.Remove(tmp)
	w := bufio.NewWriter(os.Stdout)
	for i, line := range strings.Fields(string(list)) {
		if i < from {
			continue
		}
		off, _ := strconv.Atoi(line)
		buf := append([]byte(nil), orig...)
		buf[off] ^= 0xff
		if err := os.WriteFile(tmp, buf, 0o600); err != nil {
			return 3
		}
		// Announce first, so a crash is attributed to this offset.
		fmt.Fprintf(w, "%d start\n", i)
		w.Flush()
		res := "ok"
		if ledger.CheckFile(tmp) != nil {
			res = "bad"
		}
		fmt.Fprintf(w, "%d %s\n", i, res)
		w.Flush()
	}
	return 0
}

type keys struct {
	custodian *rsa.PrivateKey  // RSA token key: slot (OAEP) and checkpoint signer
	escrow    *ecdh.PrivateKey // escrow: P-256 ECDH slot
	seal      *ecdsa.PrivateKey
	stranger  *ecdh.PrivateKey
}

var testKeys = func() keys {
	r, _ := rsa.GenerateKey(rand.Reader, 2048)
	e, _ := ecdh.P256().GenerateKey(rand.Reader)
	s, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	x, _ := ecdh.P256().GenerateKey(rand.Reader)
	return keys{r, e, s, x}
}()

func recipients() []ledger.Recipient {
	return []ledger.Recipient{
		{Public: testKeys.custodian.Public(), Role: keyslot.RoleCustodian, Label: "张三"},
		{Public: testKeys.escrow.Public(), Role: keyslot.RoleEscrow, Label: "escrow"},
	}
}

func options() ledger.Options {
	return ledger.Options{Workstation: "ws-test", Signer: testKeys.seal, CheckpointEvery: 5}
}

// newLedger creates a ledger with n records after genesis, closed cleanly.
func newLedger(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ledger.FileName)
	l, err := ledger.Create(path, recipients(), options())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := l.Append(sampleRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func sampleRecord(i int) ledger.Record {
	switch i % 4 {
	case 0:
		return ledger.Record{Kind: ledger.KindLoginOK, Custodian: "张三", Token: "T-0001"}
	case 1:
		return ledger.Record{Kind: ledger.KindDocReceived, DocID: fmt.Sprint("doc-", i), DocTitle: "关于印发会议纪要的通知"}
	case 2:
		return ledger.Record{Kind: ledger.KindStampDone, DocID: fmt.Sprint("doc-", i), SealID: "seal-1", Custodian: "张三", Copies: 1,
			InputHash: "ab12", OutputHash: "cd34", Placements: []ledger.Placement{{Page: 1, X: 400, Y: 100, W: 119, H: 119}}}
	}
	return ledger.Record{Kind: ledger.KindKeyRemoved, Token: "T-0001"}
}

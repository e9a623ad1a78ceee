package upstream_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// noneOnDisk fails for each file under dir that holds one of needles (what `grep -r` would find).
func noneOnDisk(t *testing.T, dir string, needles map[string][]byte) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		for what, needle := range needles {
			if bytes.Contains(b, needle) {
				t.Errorf("%s holds the %s in clear", p, what)
			}
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("walking %s: %d files, %v", dir, n, err)
	}
}

// docDesk is a workstation's data dir: a ledger with an escrow slot and the store encrypted
// under it, synced with a hub on 127.0.0.1 holding one document.
type docDesk struct {
	dir    string
	led    *ledger.Ledger
	escrow *ecdh.PrivateKey
	st     *upstream.Store
	sy     *upstream.Syncer
	c      *upstream.Client
	h      *hub.Hub
	doc    upstream.Document
	pdf    []byte
}

const secretTitle = "机密：二〇二六年度干部任免请示（DOCSTORE-7Q）"

func newDocDesk(t *testing.T, opt hub.Options) *docDesk {
	p := newPKI(t)
	opt.AutoEnrol = true
	th := startHub(t, opt, p.serverTLS())
	if err := th.H.SetSeal(upstream.SealStatus{ID: "SEAL-1", Status: upstream.SealActive}); err != nil {
		t.Fatal(err)
	}
	sealCertOn(t, th.H, "SEAL-1")
	d := &docDesk{dir: t.TempDir(), h: th.H}
	d.doc = addDoc(t, th.H, secretTitle, 2, "SEAL-1")
	var err error
	d.escrow, err = ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d.led, err = ledger.Create(filepath.Join(d.dir, ledger.FileName), []ledger.Recipient{{Public: d.escrow.Public(), Role: keyslot.RoleEscrow, Label: "escrow"}},
		ledger.Options{Workstation: ws})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.led.Close() })
	d.open(t)
	d.c = newClient(t, th.S.URL, ws, p.clientTLS(t, ws), th.H.TicketKey(), 5*time.Second)
	d.sy = upstream.NewSyncer(d.c, d.st, upstream.SyncOptions{Ledger: d.led, Outputs: filepath.Join(d.dir, "stamped")})
	d.pdf = hub.SamplePDF(secretTitle, "", 2) // what addDoc gave the hub
	if sum := sha256.Sum256(d.pdf); hex.EncodeToString(sum[:]) != d.doc.SHA256 {
		t.Fatal("the sample PDF is not the one the hub holds")
	}
	return d
}

func (d *docDesk) open(t *testing.T) {
	t.Helper()
	var err error
	if d.st, err = upstream.OpenStore(filepath.Join(d.dir, "sync.db"), d.led); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.st.Close() })
}

func (d *docDesk) sync(t *testing.T) {
	t.Helper()
	if err := d.sy.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Issue 11, "nothing readable on disk": a document that arrives while nobody is logged in is
// sealed to the key slots; the login opens it (and re-encrypts it under the document key); it
// is stamped from memory; once the server accepted the result, the document leaves the store
// and, at logout, the stamped file too. At no point does any file under the data dir hold the
// title or the document's bytes, and at the end none holds the stamped file's.
func TestDocumentsNeverInClear(t *testing.T) {
	d := newDocDesk(t, hub.Options{})
	mid := d.pdf[len(d.pdf)/2 : len(d.pdf)/2+48]
	needles := map[string][]byte{"title": []byte(secretTitle), "document's bytes": mid, "document's start": d.pdf[:200]}

	d.led.Lock()
	d.sync(t) // arrives locked: sealed to the slots' public keys
	if _, err := d.st.Documents(); !errors.Is(err, upstream.ErrDocumentsLocked) {
		t.Fatalf("the queue read without a login: %v", err)
	}
	if _, err := d.st.Document(d.doc.ID); !errors.Is(err, upstream.ErrDocumentsLocked) {
		t.Fatalf("a document read without a login: %v", err)
	}
	noneOnDisk(t, d.dir, needles)

	if err := d.led.Unlock(d.escrow); err != nil {
		t.Fatal(err)
	}
	docs, err := d.st.Documents()
	if err != nil || len(docs) != 1 || docs[0].Title != secretTitle || !docs[0].Have {
		t.Fatalf("the queue after login: %+v, %v", docs, err)
	}
	cd, err := d.st.Document(d.doc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(cd.File); err != nil || !bytes.Equal(got, d.pdf) {
		t.Fatalf("the document opened after login is not the approved bytes (%v)", err)
	}
	if strings.HasPrefix(cd.File, d.dir) {
		t.Fatalf("the decrypted document is a file in the data dir: %s", cd.File)
	}
	// Re-encrypted under the document key at the login: the ledger's escrow slot is no longer
	// needed to read it, only the data key (a second login with the same key reads it too).
	d.led.Lock()
	if err := d.led.Unlock(d.escrow); err != nil {
		t.Fatal(err)
	}
	if n := d.st.SealedForOthers(); n != 0 {
		t.Fatalf("%d entries stayed sealed after the login", n)
	}
	if cd, err = d.st.Document(d.doc.ID); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(d.dir, "stamped", d.doc.ID+".pdf")
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		t.Fatal(err)
	}
	stamped := stampWithEngine(t, cd.File, out)
	tk := hubTicket(t, cd)
	seq, err := d.led.Append(ledger.Record{Kind: ledger.KindKeyInserted, Token: "T-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.st.Enqueue(upstream.Result{DocumentID: cd.ID, TicketID: tk, Outcome: upstream.OutcomeStamped, At: time.Now(), LedgerSeq: seq[0]}, out); err != nil {
		t.Fatal(err)
	}
	if err := d.st.MarkDone(cd.ID); err != nil {
		t.Fatal(err)
	}
	d.sync(t)
	if _, err := d.st.Document(cd.ID); err == nil || !strings.Contains(err.Error(), "already stamped or returned on this workstation") {
		t.Fatalf("the stamped document is still in the store after its result was accepted: %v", err)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatalf("the stamped file went while its custodian is still logged in: %v", err)
	}
	d.led.Lock()
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the stamped file the server holds is still here after logout: %v", err)
	}
	needles["stamped file's signature"] = stamped[len(stamped)-200:]
	d.sync(t) // a round while locked: the server no longer lists it, nothing comes back
	noneOnDisk(t, d.dir, needles)
}

// hubTicket is the ticket ID of a cached document.
func hubTicket(t *testing.T, cd upstream.CachedDocument) string {
	t.Helper()
	tk, err := ticket.Parse(cd.Ticket)
	if err != nil {
		t.Fatal(err)
	}
	return tk.ID()
}

// A cached document's bytes damaged on disk: opening it says which document and that it is
// downloaded again; its listing stays; the next sync brings the bytes back.
func TestDamagedCachedDocument(t *testing.T) {
	d := newDocDesk(t, hub.Options{})
	d.sync(t)
	if err := d.st.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(d.dir, "sync.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("files"))
		v := append([]byte(nil), b.Get([]byte(d.doc.SHA256))...)
		if len(v) < 100 {
			t.Fatalf("no encrypted bytes for %s in sync.db", d.doc.ID)
		}
		v[len(v)/2] ^= 0x40
		return b.Put([]byte(d.doc.SHA256), v)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	d.open(t)
	d.sy = upstream.NewSyncer(d.c, d.st, upstream.SyncOptions{Ledger: d.led})

	_, err = d.st.Document(d.doc.ID)
	if err == nil || !strings.Contains(err.Error(), secretTitle) || !strings.Contains(err.Error(), d.doc.ID) || !strings.Contains(err.Error(), "downloaded again") {
		t.Fatalf("opening a damaged document: %v", err)
	}
	docs, err := d.st.Documents()
	if err != nil || len(docs) != 1 || docs[0].Title != secretTitle || docs[0].Have {
		t.Fatalf("the queue after the damage: %+v, %v", docs, err)
	}
	d.sync(t)
	cd, err := d.st.Document(d.doc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(cd.File); err != nil || !bytes.Equal(got, d.pdf) {
		t.Fatalf("the document downloaded again is not the approved bytes (%v)", err)
	}
}

// A cached listing damaged on disk: the queue shows the document by its id with the reason,
// and the next sync lists it again.
func TestDamagedCachedListing(t *testing.T) {
	d := newDocDesk(t, hub.Options{})
	d.sync(t)
	if err := d.st.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(d.dir, "sync.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("documents"))
		var head map[string]any
		if err := json.Unmarshal(b.Get([]byte(d.doc.ID)), &head); err != nil {
			return err
		}
		body, err := base64.StdEncoding.DecodeString(head["body"].(string))
		if err != nil || len(body) < 40 {
			t.Fatalf("no encrypted listing for %s in sync.db (%v)", d.doc.ID, err)
		}
		body[len(body)-5] ^= 0x01
		head["body"] = body
		v, err := json.Marshal(head)
		if err != nil {
			return err
		}
		return b.Put([]byte(d.doc.ID), v)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	d.open(t)
	d.sy = upstream.NewSyncer(d.c, d.st, upstream.SyncOptions{Ledger: d.led})
	docs, err := d.st.Documents()
	if err != nil || len(docs) != 1 || docs[0].ID != d.doc.ID || docs[0].State != upstream.DocRefused ||
		!strings.Contains(docs[0].Problem, d.doc.ID) || !strings.Contains(docs[0].Problem, "listed again at the next sync") {
		t.Fatalf("the queue with a damaged listing: %+v, %v", docs, err)
	}
	d.sync(t)
	if docs, err = d.st.Documents(); err != nil || len(docs) != 1 || docs[0].Title != secretTitle || docs[0].State != upstream.DocPending || !docs[0].Have {
		t.Fatalf("the queue after the sync: %+v, %v", docs, err)
	}
}

// An approval that expired: pulled and downloaded while valid, then pulled again (the
// syncer's clock two hours on) after its expiry, it leaves the store; nothing of it is on disk.
func TestExpiredDocumentLeaves(t *testing.T) {
	d := newDocDesk(t, hub.Options{TicketValidity: time.Hour})
	d.sync(t)
	if docs, err := d.st.Documents(); err != nil || len(docs) != 1 || !docs[0].Have {
		t.Fatalf("the approval before it expired: %+v, %v", docs, err)
	}
	later := time.Now().Add(2 * time.Hour)
	d.sy = upstream.NewSyncer(d.c, d.st, upstream.SyncOptions{Ledger: d.led, Now: func() time.Time { return later }})
	d.sync(t)
	if docs, err := d.st.Documents(); err != nil || len(docs) != 0 {
		t.Fatalf("an expired approval is still in the queue: %+v, %v", docs, err)
	}
	if _, err := d.st.Document(d.doc.ID); err == nil || !strings.Contains(err.Error(), "not in this workstation's queue") {
		t.Fatalf("an expired approval can still be opened: %v", err)
	}
	noneOnDisk(t, d.dir, map[string][]byte{"title": []byte(secretTitle), "document's start": d.pdf[:200]})
}

// Issue 11, "nothing readable on disk", for the roster: custodians' names and an approval's
// reason arrive with a sync while nobody is logged in; no file under the data dir holds them;
// Roster needs a login and then shows them (re-encrypted under the document key at the
// login); a later pull while locked leaves nothing in clear either.
func TestRosterNeverInClear(t *testing.T) {
	d := newDocDesk(t, hub.Options{})
	const name, other, reason = "欧阳明远（ROSTER-9Z）", "司马青云（ROSTER-8Y）", "赴省厅挂职三个月（REASON-7X）"
	for _, c := range []upstream.Custodian{{Person: upstream.Person{ID: "c-1", Name: name}}, {Person: upstream.Person{ID: "c-2", Name: other}}} {
		if err := d.h.AddCustodian(c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.h.ApproveHandover(upstream.Handover{Kind: upstream.CustodyDelegation, SealID: "SEAL-1", From: upstream.Person{ID: "c-1", Name: name},
		To: upstream.Person{ID: "c-2", Name: other}, ApprovedBy: upstream.Person{ID: "h-1", Name: "主任"}, Until: time.Now().Add(24 * time.Hour), Reason: reason}); err != nil {
		t.Fatal(err)
	}
	needles := map[string][]byte{"custodian's name": []byte(name), "delegate's name": []byte(other), "delegation's reason": []byte(reason)}

	d.led.Lock()
	d.sync(t)
	if ro, err := d.st.Roster(); !errors.Is(err, upstream.ErrRosterLocked) || ro.AsOf.IsZero() || len(ro.Custodians) != 0 {
		t.Fatalf("the roster read without a login: %d custodians, as of %v, %v", len(ro.Custodians), ro.AsOf, err)
	}
	noneOnDisk(t, d.dir, needles)

	if err := d.led.Unlock(d.escrow); err != nil {
		t.Fatal(err)
	}
	ro, err := d.st.Roster()
	if err != nil || len(ro.Custodians) != 2 || len(ro.Handovers) != 1 || ro.Handovers[0].Reason != reason {
		t.Fatalf("the roster after login: %+v, %v", ro, err)
	}
	d.sync(t) // a pull while logged in: under the document key
	if ro, err := d.st.Roster(); err != nil || len(ro.Custodians) != 2 {
		t.Fatalf("the roster pulled while logged in: %+v, %v", ro, err)
	}
	d.led.Lock()
	d.sync(t)
	noneOnDisk(t, d.dir, needles)
}

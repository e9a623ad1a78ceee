package usecase_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// Issue 11: a document that arrives while nobody is logged in is sealed to the key slots (here
// the SoftHSM token's P-256 key); the workstation restarts with the network cut, the custodian
// logs in (the token's ECDH opens it), sees it in the queue and stamps it offline from the
// encrypted store; once the hub is back and took the result, the document leaves the store.
func TestOfflineStampFromEncryptedStore(t *testing.T) {
	d := newDay(t, nil)
	const title = "关于加密缓存离线用印的请示"
	id := d.add(t, title, 2)
	d.keys.Logout()
	d.syncOnce(t)
	if _, err := d.desk.Queue(); !errors.Is(err, usecase.ErrLedgerLocked) {
		t.Fatalf("the queue while nobody is logged in: %v", err)
	}
	addr := strings.TrimPrefix(d.url, "http://")
	d.cut(t)
	d.stop()
	d.start(t) // offline; logs in with the token
	items, err := d.desk.Queue()
	if err != nil || len(items) != 1 || items[0].Title != title || !items[0].Ready {
		t.Fatalf("the queue after an offline login: %+v, %v", items, err)
	}
	res, err := d.desk.Stamp(context.Background(), d.seal, d.request(t, id, 1))
	if err != nil {
		t.Fatal(err)
	}
	if d.sync.Status().Online {
		t.Fatal("the stamping was not offline")
	}
	rep, err := verify.File(res.Out, verify.Options{})
	if err != nil || !rep.Valid || len(rep.Signatures) != 1 {
		t.Fatalf("the offline stamping does not verify: %+v, %v", rep, err)
	}
	d.serve(t, addr)
	d.syncOnce(t)
	if _, err := d.st.Document(id); err == nil || !strings.Contains(err.Error(), "the server has the result") {
		t.Fatalf("the stamped document is still in the store after the hub took its result: %v", err)
	}
	if items, err := d.desk.Queue(); err != nil || len(items) != 0 {
		t.Fatalf("the queue after the result was synced: %+v, %v", items, err)
	}
}

// Issue 11: a stamping made offline into the workstation's own folder (DATA/stamped) is in
// clear only while the custodian is logged in; at the logout it moves into the client store,
// encrypted, and no file under the data folders holds its bytes. A round while nobody is
// logged in leaves it waiting; after the next login the round sends it, the hub holds the
// bytes the ledger's hash names, and it is read back decrypted in memory until then.
func TestStampedFileEncryptedWhileWaiting(t *testing.T) {
	ctx := context.Background()
	d := newDay(t, nil)
	id := d.add(t, "离线用印后加密保存", 1)
	d.syncOnce(t)
	addr := strings.TrimPrefix(d.url, "http://")
	withOutputs := func() *upstream.Syncer {
		return upstream.NewSyncer(d.cli, d.st, upstream.SyncOptions{Ledger: d.led, Outputs: d.out})
	}
	sync := withOutputs()
	d.cut(t)
	res, err := d.desk.Stamp(ctx, d.seal, d.request(t, id, 1))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(res.Out) != d.out {
		t.Fatalf("the stamping went to %s, not the workstation's folder %s", res.Out, d.out)
	}
	stamped, err := os.ReadFile(res.Out) // in clear while the custodian is logged in
	if err != nil {
		t.Fatal(err)
	}
	tail := stamped[len(stamped)-300:] // the signature's update: in no other file
	d.keys.Logout()
	for _, dir := range []string{d.out, filepath.Dir(d.stPath), filepath.Dir(d.ledPath)} {
		err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err == nil && bytes.Contains(b, tail) {
				t.Errorf("%s holds the stamped file's bytes in clear after the logout", p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.st.StampedFile(res.Out); !errors.Is(err, upstream.ErrStampedLocked) {
		t.Fatalf("reading the stamped file while nobody is logged in: %v", err)
	}

	d.serve(t, addr)
	if err := sync.SyncOnce(ctx); err != nil {
		t.Fatalf("a round while nobody is logged in: %v", err)
	}
	if st := sync.Status(); st.Outbox != 1 {
		t.Fatalf("the stamping does not wait for a login: %+v", st)
	}
	if _, err := d.cli.FetchStamped(ctx, res.OutputSHA256); err == nil {
		t.Fatal("the hub holds the stamped file before anyone logged in again")
	}

	d.stop()
	d.start(t) // another run; logs in
	sync = withOutputs()
	path, err := d.st.StampedFile(res.Out)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, stamped) {
		t.Fatalf("the stamped file read back after the login (%s) is not the one made: %v", path, err)
	}
	if rep, err := verify.File(path, verify.Options{}); err != nil || !rep.Valid {
		t.Fatalf("the stamped file read back does not verify: %+v, %v", rep, err)
	}
	if err := sync.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if st := sync.Status(); st.Outbox != 0 {
		t.Fatalf("after a round with the custodian logged in: %+v", st)
	}
	var done ledger.Record
	d.led.Records(1, func(r ledger.Record) error {
		if r.Kind == ledger.KindStampDone && r.DocID == id {
			done = r
		}
		return nil
	})
	got, err := d.cli.FetchStamped(ctx, res.OutputSHA256)
	if sum := sha256.Sum256(got); err != nil || hex.EncodeToString(sum[:]) != done.OutputHash || !bytes.Equal(got, stamped) {
		t.Fatalf("the hub's copy (%v) does not match the ledger's hash %s", err, done.OutputHash)
	}
	d.keys.Logout()
	if _, err := d.st.StampedFile(res.Out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the stamped file the hub holds is still kept after the logout: %v", err)
	}
}

package usecase_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
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

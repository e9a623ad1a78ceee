package usecase_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// Issue 16, "used once lives only in the plain sync.db": after a stamping, someone with file
// access deletes the ticket's used mark from sync.db with bbolt and puts the document back in
// the queue. Stamping the same ticket again is refused, because the ledger's intent names it,
// and nothing is recorded or written for the attempt.
func TestUsedOnceNotOnlyInSyncDB(t *testing.T) {
	d := newDay(t, nil)
	id := d.add(t, "关于办公用品采购的通知", 1)
	d.syncOnce(t)
	req := d.request(t, id, 1)
	res, err := d.desk.Stamp(context.Background(), d.seal, req)
	if err != nil {
		t.Fatal(err)
	}
	syncDB := d.stPath
	if err := d.st.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(syncDB, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		used := tx.Bucket([]byte("usedtickets"))
		if used.Get([]byte(res.TicketID)) == nil {
			t.Fatalf("sync.db has no used mark for ticket %s", res.TicketID)
		}
		if err := used.Delete([]byte(res.TicketID)); err != nil {
			return err
		}
		docs := tx.Bucket([]byte("documents"))
		var doc map[string]any
		if err := json.Unmarshal(docs.Get([]byte(id)), &doc); err != nil {
			return err
		}
		doc["state"] = upstream.DocPending
		b, _ := json.Marshal(doc)
		return docs.Put([]byte(id), b)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	st, err := upstream.OpenStore(syncDB, d.led)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if used, _ := st.TicketUsed(res.TicketID); used {
		t.Fatal("the used mark is still in sync.db")
	}
	desk := usecase.NewDesk(usecase.DeskConfig{Ledger: d.led, Store: st, ServerKey: d.hub.TicketKey(), SealID: "SEAL-1", OutDir: d.out,
		Workstation: deskWS, Online: func() bool { return true }})
	before := d.kinds(t, id)
	req.Out = filepath.Join(d.out, "again.pdf")
	_, err = desk.Stamp(context.Background(), d.seal, req)
	// Precheck refuses it (the ledger's index knows the ticket), else the ticket check (the
	// index is its used set); were both to pass, the ledger refuses the intent itself.
	var te *ticket.Error
	if (!errors.As(err, &te) || te.Reason != ticket.Reused) && !errors.Is(err, ledger.ErrTicketUsed) && !errors.Is(err, usecase.ErrApprovalSpent) {
		t.Fatalf("the same ticket again, with sync.db's mark gone: %v", err)
	}
	if after := d.kinds(t, id); after[ledger.KindStampIntent] != before[ledger.KindStampIntent] || after[ledger.KindStampIntent] != 1 {
		t.Fatalf("the refused attempt was recorded: %v, before %v", after, before)
	}
	if _, err := os.Stat(req.Out); err == nil {
		t.Fatal("a second stamped file was written")
	}
}

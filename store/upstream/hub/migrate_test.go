package hub

import (
	"encoding/json"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// TestOldDatabaseGetsFileAccess: a hub.db from before files were served per workstation gets
// its access index on open (each document to its workstation, each reported stamped file to
// the workstation that reported it), loses uploads in progress that were kept by hash alone,
// and refuses enrolment codes that had no expiry.
func TestOldDatabaseGetsFileAccess(t *testing.T) {
	dir := t.TempDir()
	h, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := h.AddDocument(NewDocument{Title: "通知", SealID: "S1", Workstation: "WS-A", PDF: SamplePDF("通知", "", 1)})
	if err != nil {
		t.Fatal(err)
	}
	const out = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	err = h.db.Update(func(tx *bolt.Tx) error {
		if err := h.updateDocTx(tx, d.ID, out); err != nil {
			return err
		}
		// The old layout: no index, no marker, an upload bucket keyed by hash, a code without expiry.
		if err := tx.DeleteBucket(bAccess); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bAccess); err != nil {
			return err
		}
		if err := tx.Bucket(bMeta).Delete(kAccessV1); err != nil {
			return err
		}
		if _, err := tx.Bucket(bUploads).CreateBucket([]byte(out)); err != nil {
			return err
		}
		return tx.Bucket(bCodes).Put([]byte("OLDCODE"), []byte("WS-A"))
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if h, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	_ = h.db.View(func(tx *bolt.Tx) error {
		if !mayRead(tx, "WS-A", d.SHA256) || !mayRead(tx, "WS-A", out) || mayRead(tx, "WS-B", d.SHA256) {
			t.Error("the access index was not rebuilt from the documents and results")
		}
		if tx.Bucket(bUploads).Bucket([]byte(out)) != nil {
			t.Error("an upload in progress from the old layout survived")
		}
		if h.useCode(tx, "OLDCODE", "WS-A") == nil {
			t.Error("an enrolment code without expiry was accepted")
		}
		return nil
	})
}

func (h *Hub) updateDocTx(tx *bolt.Tx, id, out string) error {
	b := tx.Bucket(bDocs)
	var r docRecord
	if err := json.Unmarshal(b.Get([]byte(id)), &r); err != nil {
		return err
	}
	r.State, r.Result = StateStamped, &upstream.Result{DocumentID: id, Outcome: upstream.OutcomeStamped, OutputSHA256: out}
	return putJSON(b, id, r)
}

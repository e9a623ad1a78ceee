package main

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/workspace"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// Issue 11, "grep for a document's title and bytes in every file under the data dir finds
// nothing after a sync", on the demo workspace as the programs open it (with the file log):
// the queue arrives while nobody is logged in (sealed to the key slots), is read and stamped
// after the login, the result goes to the demo hub, and after the logout no file under the
// data dir holds a title, the approved bytes or the stamped file's.
func TestDemoDataDirHoldsNothingReadable(t *testing.T) {
	needSoftHSM(t)
	demo := filepath.Join(t.TempDir(), "demo")
	if _, err := workspace.ProvisionDemo(demo, io.Discard); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(demo, config.FileName)) // as the programs read it
	if err != nil {
		t.Fatal(err)
	}
	log, closeLog, err := workspace.OpenLog(cfg.Data())
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	w, err := workspace.Open(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if len(w.Problems) > 0 || w.Link == nil {
		t.Fatalf("opening the demo workspace: %v", w.Problems)
	}
	ctx := context.Background()
	if err := w.Link.Syncer.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// The first demo document, as SeedDemo makes it.
	const title = "关于2026年度办公用品采购的通知"
	pdf := hub.SamplePDF(title, "各部门：现将年度办公用品采购安排通知如下。", 1)
	needles := map[string][]byte{
		"first title": []byte(title), "contract's title": []byte("技术服务合同（示范）"), "certificate's title": []byte("在职证明"),
		"document's bytes": pdf[len(pdf)/2 : len(pdf)/2+48], "document's start": pdf[:256],
	}
	grep := func(when string) {
		t.Helper()
		err := filepath.WalkDir(cfg.Data(), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for what, n := range needles {
				if bytes.Contains(b, n) {
					t.Errorf("%s: %s holds the %s in clear", when, p, what)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	grep("after a sync with nobody logged in")

	pin, err := os.ReadFile(cfg.Resolve(cfg.Demo.PINFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Keys.Find(cfg.Demo.TokenLabel); err != nil {
		t.Fatal(err)
	}
	if err := w.Keys.Login(strings.TrimSpace(string(pin))); err != nil {
		t.Fatal(err)
	}
	items, err := w.Desk.Queue()
	if err != nil || len(items) != 5 {
		t.Fatalf("the queue after login: %d items, %v", len(items), err)
	}
	var id string
	for _, it := range items {
		if it.Title == title {
			id = it.ID
		}
	}
	file, err := w.Desk.DocumentFile(id)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, pdf) {
		t.Fatalf("the decrypted document is not the demo's bytes (%v)", err)
	}
	res, err := w.Desk.StampAt(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	stamped, err := os.ReadFile(res.Out)
	if err != nil {
		t.Fatal(err)
	}
	needles["stamped file's update"] = stamped[len(stamped)-300:]
	if err := w.Link.Syncer.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if st := w.Link.Syncer.Status(); st.Outbox != 0 {
		t.Fatalf("the result did not go: %+v", st)
	}
	w.Keys.Logout()
	if _, err := os.Stat(res.Out); err == nil {
		t.Fatalf("the stamped file the hub accepted is still in %s after logout", res.Out)
	}
	if err := w.Link.Syncer.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	grep("after the stamping was synced and the custodian logged out")
}

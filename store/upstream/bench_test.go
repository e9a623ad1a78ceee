package upstream_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// BenchmarkPushBacklog pushes a 100,000-record backlog to a fresh hub over loopback TLS with
// the sync loop (goal: under 10 s). Run:
//
//	go test -run '^$' -bench 'PushBacklog|PullMetadata' -benchtime 1x ./store/upstream/
func BenchmarkPushBacklog(b *testing.B) {
	const n = 100_000
	led := &memLedger{}
	led.Append(n)
	p := newPKI(b)
	for range b.N {
		b.StopTimer()
		th := startHub(b, hub.Options{AutoEnrol: true}, p.serverTLS())
		c := newClient(b, th.S.URL, ws, p.clientTLS(b, ws), th.H.TicketKey(), time.Minute)
		st := openStore(b)
		sy := upstream.NewSyncer(c, st, upstream.SyncOptions{Ledger: led, Batch: upstream.MaxLedgerBatch})
		b.StartTimer()
		start := time.Now()
		if err := sy.SyncOnce(context.Background()); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		b.StopTimer()
		if s := sy.Status(); s.Unsynced != 0 {
			b.Fatalf("status after push: %+v", s)
		}
		sameLedger(b, th.H, ws, led.all())
		fmt.Printf("push of a %d-record ledger backlog over loopback TLS: %s (goal < 10s)\n", n, took.Round(time.Millisecond))
		b.ReportMetric(took.Seconds(), "s/backlog")
		th.stop()
		b.StartTimer()
	}
}

// BenchmarkPullMetadata lists 1,000 pending documents (metadata and tickets, no bytes) over
// loopback TLS (goal: under 1 s).
func BenchmarkPullMetadata(b *testing.B) {
	const n = 1000
	p := newPKI(b)
	th := startHub(b, hub.Options{AutoEnrol: true}, p.serverTLS())
	pdf := hub.SamplePDF("基准测试文件", "", 2)
	docs := make([]hub.NewDocument, n)
	for i := range docs {
		docs[i] = hub.NewDocument{
			Title: fmt.Sprintf("基准测试文件 %04d", i), Department: "办公室", Requester: upstream.Person{ID: "u1", Name: "陈静"},
			Approvals: []upstream.Approval{{Approver: upstream.Person{ID: "a1", Name: "王主任"}, At: time.Now(), Comment: "同意"}},
			SealID:    "SEAL-1", Workstation: ws, PDF: pdf,
		}
	}
	if _, err := th.H.AddDocuments(docs); err != nil {
		b.Fatal(err)
	}
	c := newClient(b, th.S.URL, ws, p.clientTLS(b, ws), th.H.TicketKey(), time.Minute)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		got, err := c.Documents(context.Background())
		took := time.Since(start)
		if err != nil || len(got) != n {
			b.Fatalf("%d documents, %v", len(got), err)
		}
		fmt.Printf("pull of %d pending documents' metadata over loopback TLS: %s (goal < 1s)\n", n, took.Round(time.Millisecond))
		b.ReportMetric(took.Seconds(), "s/pull")

		// What the sync loop does with it: seal list and roster too, every ticket verified,
		// everything cached in the client store (the bytes, identical here, come down once).
		st := openStore(b)
		sy := upstream.NewSyncer(c, st, upstream.SyncOptions{})
		start = time.Now()
		if err := sy.Pull(context.Background()); err != nil {
			b.Fatal(err)
		}
		took = time.Since(start)
		if docs, _ := st.Documents(); len(docs) != n || !docs[0].Have || docs[0].State != upstream.DocPending {
			b.Fatalf("cached %d documents", len(docs))
		}
		fmt.Printf("full pull of %d documents into the client store (tickets checked): %s\n", n, took.Round(time.Millisecond))
		b.ReportMetric(took.Seconds(), "s/full-pull")
	}
}

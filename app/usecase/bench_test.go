package usecase_test

import (
	"bytes"
	"context"
	"fmt"
	pngenc "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/assets"
	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/pades/padestest"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// demoShapes are the demo hub's sample documents (hub.SeedDemo): pages, title and body.
var demoShapes = []struct {
	pages       int
	title, body string
}{
	{1, "关于2026年度办公用品采购的通知", "各部门：现将年度办公用品采购安排通知如下。"},
	{12, "技术服务合同（示范）", "甲方与乙方经友好协商，订立本合同。"},
	{40, "年度工作总结报告", "本年度主要工作情况汇报如下。"},
	{3, "会议纪要：信息化建设专题会", "会议研究了电子印章系统建设事项。"},
	{1, "在职证明", "兹证明张三同志系我单位在职职工。"},
}

// TestBenchBatch prints the batch figure of issue 10: N documents of the demo kind (default 50,
// the demo's five sample shapes in turn, its 512 px seal) stamped through Desk.StampBatch with
// one login (the P-256 seal key on a SoftHSM2 token, the ledger in a file, the hub on
// loopback), next to N whole-process pdfsig -add-signature runs on the same cached files: with
// the same key on the same token (an NSS database made here with the SoftHSM2 module added),
// and with an RSA-2048 key in an NSS database (as stamp/bench.sh). Rounds (default 3) run the
// three one after the other, each round on fresh documents, and the medians are printed: on a
// shared machine the load then falls on all three alike. Figures only, never asserted. Run by
// scripts/bench-batch.sh (SEALKEEPER_BENCH=1).
func TestBenchBatch(t *testing.T) {
	if os.Getenv("SEALKEEPER_BENCH") == "" {
		t.Skip("set SEALKEEPER_BENCH=1 (or run scripts/bench-batch.sh)")
	}
	n, rounds := 50, 3
	if v, err := strconv.Atoi(os.Getenv("SEALKEEPER_BENCH_DOCS")); err == nil && v > 0 {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("SEALKEEPER_BENCH_RUNS")); err == nil && v > 0 {
		rounds = v
	}
	d := newDay(t, nil)
	// The demo workspace's seal picture, written and read back as the CLI and the window read
	// [seal] image.
	art, err := assets.DemoSeal("示范单位", "电子印章", 512)
	if err != nil {
		t.Fatal(err)
	}
	var png bytes.Buffer
	if err := pngenc.Encode(&png, art); err != nil {
		t.Fatal(err)
	}
	sealPNG := filepath.Join(t.TempDir(), "seal.png")
	if err := os.WriteFile(sealPNG, png.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	img, err := stamp.LoadImage(sealPNG)
	if err != nil {
		t.Fatal(err)
	}

	// pdfsig signs with the same token key: NSS with the SoftHSM2 module, the PIN on the
	// command line, one process per document. SoftHSM 2.6 crashes in C_CloseAllSessions when
	// NSS shuts down at exit, after the output is written: such a run counts when its output
	// is there (every output is checked with pdfsig afterwards, untimed).
	tokNSS := t.TempDir()
	for _, args := range [][]string{
		{"certutil", "-N", "-d", "sql:" + tokNSS, "--empty-password"},
		{"modutil", "-dbdir", "sql:" + tokNSS, "-add", "softhsm2", "-libfile", d.tok.Module, "-force"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	// And as stamp/bench.sh has it: an RSA-2048 key and certificate in NSS's own database.
	id := padestest.NewIdentity(t, padestest.RSA)
	softNSS, softNick := pdftest.NSSDB(t, id.Signer, id.Chain)
	pdfsigArgs := [][]string{
		{"-nssdir", "sql:" + tokNSS, "-nss-pwd", d.tok.UserPIN, "-nick", d.tok.Label + ":EC seal"},
		{"-nssdir", "sql:" + softNSS, "-nick", softNick},
	}
	names := []string{"pdfsig -add-signature per process, same key (NSS+SoftHSM2)", "pdfsig -add-signature per process, RSA-2048 in NSS db"}
	crashed, invalid := 0, make([]int, len(pdfsigArgs))
	pdfsigRun := func(k int, files []string) time.Duration {
		outDir := t.TempDir()
		outs := make([]string, len(files))
		start := time.Now()
		for i, in := range files {
			outs[i] = filepath.Join(outDir, fmt.Sprintf("pdfsig-%d.pdf", i))
			b, err := exec.Command("pdfsig", append(append([]string{"-add-signature"}, pdfsigArgs[k]...), "-digest", "SHA256", in, outs[i])...).CombinedOutput()
			if _, serr := os.Stat(outs[i]); serr != nil {
				t.Fatalf("%s %s: %v, no output\n%s", names[k], in, err, b)
			}
			if err != nil {
				crashed++
			}
		}
		took := time.Since(start)
		for _, out := range outs {
			if valid, total, _ := pdftest.Pdfsig(t, out); valid != 1 || total != 1 {
				invalid[k]++
			}
		}
		return took
	}

	var ours []time.Duration
	theirs := make([][]time.Duration, len(pdfsigArgs))
	for r := range rounds {
		var ids []string
		for i := range n {
			s := demoShapes[i%len(demoShapes)]
			doc, err := d.hub.AddDocument(hub.NewDocument{Title: fmt.Sprintf("%s %d-%d", s.title, r+1, i+1), Department: "办公室", SealID: "SEAL-1",
				Workstation: deskWS, Copies: 1, PDF: hub.SamplePDF(s.title, s.body, s.pages)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, doc.ID)
		}
		d.syncOnce(t)
		reqs := make([]usecase.StampRequest, n)
		files := make([]string, n)
		for i, id := range ids {
			reqs[i] = d.request(t, id, 1)
			reqs[i].Image = img
			files[i], _ = d.desk.DocumentFile(id)
		}
		syncDisks(t)
		start := time.Now()
		items, err := d.desk.StampBatch(context.Background(), d.seal, reqs, nil)
		ours = append(ours, time.Since(start))
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.Err != nil {
				t.Fatalf("%s: %v", it.Request.DocID, it.Err)
			}
		}
		for k := range pdfsigArgs {
			syncDisks(t)
			theirs[k] = append(theirs[k], pdfsigRun(k, files))
		}
	}

	median := func(ds []time.Duration) time.Duration { ds = slices.Clone(ds); slices.Sort(ds); return ds[len(ds)/2] }
	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	m := median(ours)
	fmt.Printf("Batch of %d demo-kind documents (the demo's %d sample shapes in turn, 1-40 pages; its 512 px seal), one login; median of %d rounds\n", n, len(demoShapes), rounds)
	fmt.Printf("%-60s %9s %8s %8s\n", "", "total ms", "docs/s", "ratio")
	fmt.Printf("%-60s %9d %8.1f %8s\n", "sealkeeper Desk.StampBatch, P-256 key on SoftHSM2", m.Milliseconds(), rate(m), "")
	for k, name := range names {
		tm := median(theirs[k])
		fmt.Printf("%-60s %9d %8.1f %7.1fx\n", name, tm.Milliseconds(), rate(tm), rate(m)/rate(tm))
	}
	fmt.Printf("ratio: sealkeeper's docs/s over the row's; goal: at least 10x pdfsig's rate.\n")
	fmt.Printf("rounds, ms: sealkeeper %v; pdfsig same key %v; pdfsig NSS key %v\n", ms(ours), ms(theirs[0]), ms(theirs[1]))
	for k, name := range names {
		if invalid[k] > 0 {
			fmt.Printf("(%s: %d of %d outputs do not verify with pdfsig itself)\n", name, invalid[k], n*rounds)
		}
	}
	if crashed > 0 {
		fmt.Printf("(%d pdfsig runs with the token crashed in SoftHSM's C_CloseAllSessions at exit, after writing their output; timed as they ran)\n", crashed)
	}
}

func ms(ds []time.Duration) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.Milliseconds()
	}
	return out
}

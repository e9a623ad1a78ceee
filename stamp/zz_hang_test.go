package stamp_test

import (
	"fmt"
	"strings"
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/pades/padestest"
	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
)

func TestZZHang(t *testing.T) {
	id := padestest.NewIdentity(t, padestest.ECDSA)
	img := pdftest.Seal(40)
	seeds := [][]byte{pdftest.PDF(pdftest.Options{Pages: 2}), pdftest.PDF(pdftest.Options{XRefStream: true, Form: true})}
	for _, n := range []string{"signed", "signed-stream", "rotated", "scanned"} {
		b, _ := os.ReadFile("testdata/fuzz/FuzzInspectAndStamp/" + n)
		var q string
		fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[1], "[]byte(%q)", &q)
		seeds = append(seeds, []byte(q))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 4000; i++ {
		data := append([]byte{}, seeds[i%len(seeds)]...)
		for k := 0; k < 1+rng.IntN(4); k++ {
			switch rng.IntN(3) {
			case 0:
				data[rng.IntN(len(data))] = byte(rng.IntN(256))
			case 1:
				p := rng.IntN(len(data))
				data = append(data[:p], data[p+1:]...)
			case 2:
				p := rng.IntN(len(data))
				data = append(data[:p], append([]byte{"0123456789 <>[]/R999999999"[rng.IntN(26)]}, data[p:]...)...)
			}
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			doc, err := pdfinspect.Read("fuzz.pdf", bytes.NewReader(data), int64(len(data)))
			if err != nil {
				return
			}
			p := doc.Pages[0].Page
			cx, cy := p.Crop.Center()
			pl, err := placement.AtPoint(p, cx, cy, placement.Size{W: 50, H: 50}, 0)
			if err != nil {
				return
			}
			res, err := stamp.Sign(context.Background(), doc, bytes.NewReader(data), stamp.Request{Placement: pl, Image: img, Signer: id.Signer, Chain: id.Chain})
			if err != nil {
				return
			}
			out := append(data[:len(data):len(data)], res.Update...)
			rep, err := verify.Bytes("x", out, verify.Options{})
			if err != nil || len(rep.Signatures) == 0 || !rep.Signatures[len(rep.Signatures)-1].Intact {
				os.WriteFile("/tmp/pt/broken.pdf", data, 0o644)
				t.Errorf("broken result: %v %+v", err, rep)
			}
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			os.WriteFile("/tmp/pt/hang.pdf", data, 0o644)
			t.Fatalf("hang at %d", i)
		}
	}
}

package hub_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"

	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

func TestSamplePDFValidates(t *testing.T) {
	for _, n := range []int{1, 3, 40} {
		b := hub.SamplePDF("关于2026年度办公用品采购的通知", "各部门：", n)
		if err := api.Validate(bytes.NewReader(b), nil); err != nil {
			t.Fatalf("%d pages: pdfcpu says: %v", n, err)
		}
		got, err := api.PageCount(bytes.NewReader(b), nil)
		if err != nil || got != n {
			t.Fatalf("page count %d, %v; want %d", got, err, n)
		}
		if n == 3 {
			os.WriteFile("/tmp/sk/sample.pdf", b, 0o644)
		}
	}
}

package objread_test

import (
	"bytes"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/sealkeeper/sealkeeper/stamp/objread"
	"github.com/sealkeeper/sealkeeper/stamp/pdftest"
)

// BenchmarkOpenAndWalkPages opens a file and reads every page dictionary through the page
// tree, next to pdfcpu reading the same bytes (which loads every object and stream):
//
//	go test -run XXX -bench OpenAndWalkPages -benchtime 20x ./stamp/objread
func BenchmarkOpenAndWalkPages(b *testing.B) {
	for _, tc := range []struct {
		name string
		o    pdftest.Options
	}{
		{"2000pages", pdftest.Options{Pages: 2000}},
		{"2000pages-xrefstream", pdftest.Options{Pages: 2000, XRefStream: true}},
		{"scanned-105MB", pdftest.Options{Pages: 2000, Scanned: true, ScanBytes: 52000}},
	} {
		data := pdftest.PDF(tc.o)
		b.Run(tc.name+"/objread", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				f, err := objread.Open(bytes.NewReader(data), int64(len(data)))
				if err != nil {
					b.Fatal(err)
				}
				if n := walk(b, f, f.Trailer["Root"]); n != 2000 {
					b.Fatalf("%d pages", n)
				}
			}
		})
		b.Run(tc.name+"/pdfcpu", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := api.ReadContext(bytes.NewReader(data), model.NewDefaultConfiguration()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// walk counts the pages under the catalog root.
func walk(b *testing.B, f *objread.File, root types.Object) int {
	r, err := f.Dereference(root)
	if err != nil {
		b.Fatal(err)
	}
	var count func(o types.Object, depth int) int
	count = func(o types.Object, depth int) int {
		v, err := f.Dereference(o)
		if err != nil || depth > 32 {
			b.Fatal(err)
		}
		d, _ := v.(types.Dict)
		kids, _ := d["Kids"].(types.Array)
		if kids == nil {
			return 1
		}
		n := 0
		for _, k := range kids {
			n += count(k, depth+1)
		}
		return n
	}
	return count(r.(types.Dict)["Pages"], 0)
}

package cff_test

import (
	"testing"

	"golang.org/x/image/font/sfnt"

	"github.com/sealkeeper/sealkeeper/assets"
	"github.com/sealkeeper/sealkeeper/assets/cff"
)

// The embedded fonts are CID-keyed: every glyph gets its own CID, and the CIDs are not simply
// the glyph IDs (a reader that ignored the charset would return those).
func TestEmbeddedFontsCIDs(t *testing.T) {
	for name, raw := range map[string][]byte{"regular": assets.FontRegular, "bold": assets.FontBold} {
		f, err := sfnt.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		table, err := cff.Table(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(table) < 4 || table[0] != 1 {
			t.Fatalf("%s: the table does not start as CFF version 1: % x", name, table[:4])
		}
		cids := cff.CIDs(table, f.NumGlyphs())
		seen, moved := map[uint16]bool{}, 0
		for g, c := range cids {
			if seen[c] {
				t.Fatalf("%s: CID %d given to two glyphs (the second is %d)", name, c, g)
			}
			seen[c] = true
			if int(c) != g {
				moved++
			}
		}
		if cids[0] != 0 || moved == 0 {
			t.Errorf("%s: .notdef has CID %d, %d glyphs have a CID other than their ID", name, cids[0], moved)
		}
	}
}

func TestTableRefusesOtherFonts(t *testing.T) {
	for name, b := range map[string][]byte{"short": []byte("OTTO"), "no CFF": append([]byte{0, 1, 0, 0, 0, 0}, make([]byte, 10)...)} {
		if _, err := cff.Table(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

package assets

import (
	"encoding/json"
	"testing"
)

func TestDemoSealIsARedRingWithClearCorners(t *testing.T) {
	img, err := DemoSeal("示例市人民政府办公室", "电子印章", 400)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 400 || b.Dy() != 400 {
		t.Fatalf("size %v, want 400×400", b)
	}
	at := func(x, y int) (r, g, b, a uint8) {
		o := img.PixOffset(x, y)
		p := img.Pix[o : o+4]
		return p[0], p[1], p[2], p[3]
	}
	if _, _, _, a := at(2, 2); a != 0 {
		t.Errorf("corner alpha %d, want transparent", a)
	}
	// The ring is at 0.92..0.97 of the radius: x = 200 + 0.945*194 on the middle row.
	if r, g, b, a := at(200+183, 200); a != 255 || r != SealRed.R || g != 0 || b != SealRed.B {
		t.Errorf("ring pixel = %d,%d,%d,%d; want opaque seal red", r, g, b, a)
	}
	if _, _, _, a := at(200, 200); a != 255 {
		t.Errorf("star centre alpha %d, want opaque", a)
	}
	// Straight alpha: every painted pixel has the seal's colour, only alpha varies, so edges
	// composite without a dark fringe.
	partial := 0
	for i := 0; i < len(img.Pix); i += 4 {
		if a := img.Pix[i+3]; a != 0 {
			if img.Pix[i] != SealRed.R || img.Pix[i+1] != SealRed.G || img.Pix[i+2] != SealRed.B {
				t.Fatalf("pixel %d has colour %v with alpha %d; want seal red", i/4, img.Pix[i:i+3], a)
			}
			if a != 255 {
				partial++
			}
		}
	}
	if partial == 0 {
		t.Error("no anti-aliased edge pixels: the seal's edges would be jagged")
	}
}

func TestDemoSealRefusesWhatItCannotDraw(t *testing.T) {
	if _, err := DemoSeal("x", "", 10); err == nil {
		t.Error("a 10 px seal was drawn; want an error")
	}
	if _, err := DemoSeal("\U0001F600", "", 128); err == nil {
		t.Error("an emoji was drawn with a font that has none; want an error naming it")
	}
}

func TestTranslationsHaveTheSameKeys(t *testing.T) {
	load := func(name string) map[string]string {
		b, err := Translations.ReadFile("i18n/" + name)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return m
	}
	en, zh := load("en.json"), load("zh-CN.json")
	for k := range en {
		if _, ok := zh[k]; !ok {
			t.Errorf("zh-CN.json lacks %q", k)
		}
	}
	for k := range zh {
		if _, ok := en[k]; !ok {
			t.Errorf("en.json lacks %q", k)
		}
	}
}

func TestFontsCoverChinese(t *testing.T) {
	f, err := bold()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range "印章保管人口令密钥已登录骑缝章" {
		if gi, err := f.GlyphIndex(nil, r); err != nil || gi == 0 {
			t.Errorf("bold font lacks %q", r)
		}
	}
	if len(FontRegular) < 1<<20 {
		t.Errorf("regular font is %d bytes; the GB2312 subset is about 3 MB", len(FontRegular))
	}
}

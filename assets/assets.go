// Package assets carries what the program needs on a bare machine: fonts with Chinese glyphs,
// the icon, the translations, and the drawing of a demo seal.
package assets

import (
	"embed"
	_ "embed"
)

// FontRegular and FontBold are Noto Sans SC (SIL OFL 1.1, see fonts/OFL.txt), subset to ASCII,
// Latin-1, GB2312 and CJK punctuation by fonts/make-subset.py. Embedded because a fresh
// workstation often has no CJK font and Fyne would draw boxes.
var (
	//go:embed fonts/NotoSansSC-Regular.otf
	FontRegular []byte
	//go:embed fonts/NotoSansSC-Bold.otf
	FontBold []byte
)

// Icon is the application icon (PNG, 512×512), also named in FyneApp.toml.
//
//go:embed icon.png
var Icon []byte

// Translations holds one JSON file per language: i18n/en.json, i18n/zh-CN.json.
//
//go:embed i18n/*.json
var Translations embed.FS

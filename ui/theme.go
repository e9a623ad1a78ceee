package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"github.com/sealkeeper/sealkeeper/assets"
)

// sealTheme is Fyne's default theme with fonts that have Chinese glyphs, so a workstation with
// no CJK font of its own still shows Chinese text instead of boxes.
type sealTheme struct{ fyne.Theme }

var (
	fontRegular = fyne.NewStaticResource("NotoSansSC-Regular.otf", assets.FontRegular)
	fontBold    = fyne.NewStaticResource("NotoSansSC-Bold.otf", assets.FontBold)
	// AppIcon is the window and package icon.
	AppIcon = fyne.NewStaticResource("icon.png", assets.Icon)
)

// NewTheme returns the program's theme.
func NewTheme() fyne.Theme { return sealTheme{theme.DefaultTheme()} }

// Color keeps the light variant: the custodian looks at paper documents and a red seal, which
// read best on a light window whatever the desktop's preference.
func (t sealTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, theme.VariantLight)
}

func (t sealTheme) Font(s fyne.TextStyle) fyne.Resource {
	if s.Monospace || s.Symbol {
		return t.Theme.Font(s)
	}
	if s.Bold {
		return fontBold
	}
	return fontRegular
}

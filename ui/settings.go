package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// newSettingsScreen shows the language choice and where configuration and data live.
func newSettingsScreen(u *UI) fyne.CanvasObject {
	t := u.tr
	names := map[string]string{LangAuto: t.T("settings.language.auto"), LangChinese: "中文（简体）", LangEnglish: "English"}
	byName := map[string]string{}
	var opts []string
	for _, l := range []string{LangAuto, LangChinese, LangEnglish} {
		opts = append(opts, names[l])
		byName[names[l]] = l
	}
	current := u.opt.Language
	if _, ok := names[current]; !ok {
		current = LangAuto
	}
	lang := &widget.Select{Options: opts, Selected: names[current]}
	lang.OnChanged = func(s string) {
		if byName[s] == u.opt.Language {
			return
		}
		if err := u.setLanguage(byName[s]); err != nil {
			dialog.ShowError(err, u.win)
		}
	}
	if u.opt.SaveLanguage == nil {
		lang.Disable()
	}
	return widget.NewForm(
		widget.NewFormItem(t.T("settings.language"), lang),
		widget.NewFormItem(t.T("settings.config"), &widget.Label{Text: u.opt.ConfigPath, Wrapping: fyne.TextWrapBreak}),
		widget.NewFormItem(t.T("settings.data"), &widget.Label{Text: u.opt.DataDir, Wrapping: fyne.TextWrapBreak}),
	)
}

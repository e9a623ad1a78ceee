package ui

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/assets"
)

// Languages the program speaks. "auto" follows the system.
const (
	LangAuto    = "auto"
	LangChinese = "zh-CN"
	LangEnglish = "en"
)

// tr translates message keys. A key missing from a language falls back to English, and a key
// missing from English shows itself, so a gap is visible rather than blank.
type tr struct {
	lang     string
	msgs, en map[string]string
}

func loadLang(name string) map[string]string {
	m := map[string]string{}
	if b, err := assets.Translations.ReadFile("i18n/" + name + ".json"); err == nil {
		_ = json.Unmarshal(b, &m) // the files are checked by the assets tests
	}
	return m
}

// systemLanguage reads the POSIX locale variables in their order of precedence.
func systemLanguage() string {
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"} {
		if l := os.Getenv(v); l != "" && l != "C" && l != "POSIX" {
			if strings.HasPrefix(strings.ToLower(l), "zh") {
				return LangChinese
			}
			return LangEnglish
		}
	}
	return LangEnglish
}

func newTr(setting string) *tr {
	lang := setting
	if lang != LangChinese && lang != LangEnglish {
		lang = systemLanguage()
	}
	t := &tr{lang: lang, en: loadLang(LangEnglish)}
	t.msgs = t.en
	if lang != LangEnglish {
		t.msgs = loadLang(lang)
	}
	return t
}

// T returns the message for key, formatted with args when given.
func (t *tr) T(key string, args ...any) string {
	s, ok := t.msgs[key]
	if !ok {
		if s, ok = t.en[key]; !ok {
			s = key
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// explain puts a use case's error in the window's language: the translated kind, then the
// error's own words (English) as the detail an administrator can search for.
func (t *tr) explain(err error) string {
	return t.explainKind(usecase.Explain(err))
}

// explainKind is explain for a kind and detail a use case sorted already (a queue item's).
func (t *tr) explainKind(kind, detail string) string {
	if kind == "" {
		return detail
	}
	msg := t.T("problem." + kind)
	if t.lang == LangEnglish && strings.EqualFold(strings.TrimSuffix(msg, "."), detail) {
		return msg
	}
	return msg + "\n(" + detail + ")"
}

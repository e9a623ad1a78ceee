package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
)

// TestProblemsSpeakTheWindowsLanguage: every kind of problem a use case reports has words in
// both languages, and the Chinese window shows them in Chinese with the English detail beside.
func TestProblemsSpeakTheWindowsLanguage(t *testing.T) {
	zh, en := newTr(LangChinese), newTr(LangEnglish)
	for _, k := range usecase.ProblemKinds() {
		for _, tr := range []*tr{zh, en} {
			if tr.T("problem."+k) == "problem."+k {
				t.Errorf("%s has no words for problem %q", tr.lang, k)
			}
		}
		if zh.T("problem."+k) == en.T("problem."+k) {
			t.Errorf("problem %q is not translated into Chinese", k)
		}
	}
	for _, name := range usecase.AlarmNames() {
		if zh.T("alarm."+name) == "alarm."+name || en.T("alarm."+name) == "alarm."+name || zh.T("alarm."+name) == en.T("alarm."+name) {
			t.Errorf("alarm %q has no words in both languages", name)
		}
	}
	err := fmt.Errorf("%w: 2 tries left", device.ErrWrongPIN)
	if got := zh.explain(err); !strings.HasPrefix(got, "PIN 码错误。") || !strings.Contains(got, "wrong PIN: 2 tries left") {
		t.Errorf("the Chinese window says %q", got)
	}
	if got := en.explain(fmt.Errorf("page 3: %w", usecase.ErrPageNotAllowed)); !strings.HasPrefix(got, "The approval does not allow") {
		t.Errorf("the English window says %q", got)
	}
	// An error of no known kind is shown as it is, never dropped.
	if got := zh.explain(fmt.Errorf("disk full")); got != "disk full" {
		t.Errorf("unknown error shown as %q", got)
	}
}

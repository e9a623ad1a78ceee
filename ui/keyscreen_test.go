package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/device/softhsmtest"
	"github.com/sealkeeper/sealkeeper/store/pinages"
)

// window opens the real window on Fyne's headless driver over a real SoftHSM token and the real
// key use case.
func window(t *testing.T, lang string, policy device.PINPolicy, sync ...SyncService) (*UI, *softhsmtest.Token, *usecase.Keys) {
	t.Helper()
	tok := softhsmtest.New(t)
	u, keys := windowOn(t, tok.Open(t), lang, policy, sync...)
	return u, tok, keys
}

// windowOn opens the window over the tokens of module m.
func windowOn(t *testing.T, m *device.Module, lang string, policy device.PINPolicy, sync ...SyncService) (*UI, *usecase.Keys) {
	t.Helper()
	ages, err := pinages.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keys := usecase.NewKeys(usecase.KeysConfig{
		Watch:     device.WatchConfig{Modules: []*device.Module{m}, Interval: 50 * time.Millisecond, NoUSB: true},
		Policy:    policy,
		Ages:      ages,
		Custodian: "张伟",
	})
	a := test.NewTempApp(t)
	opt := Options{Keys: keys, Demo: true, Language: lang, SaveLanguage: func(string) error { return nil }}
	if len(sync) > 0 {
		opt.Sync = sync[0]
	}
	u := New(a, opt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { keys.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; keys.Close() })
	return u, keys
}

// eventually waits for cond, read on the UI goroutine, to hold.
func eventually(t *testing.T, u *UI, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ok := false
		u.mu.Lock()
		ok = cond()
		u.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("after 10 s: %s", what)
}

func TestKeyScreenInsertWrongPINRightPINRemove(t *testing.T) {
	u, tok, _ := window(t, LangEnglish, device.PINPolicy{})
	if !strings.Contains(u.win.Title(), "SealKeeper") || !strings.Contains(u.win.Title(), "DEMO") {
		t.Errorf("window title %q lacks SealKeeper and DEMO", u.win.Title())
	}
	eventually(t, u, "key screen shows the inserted key", func() bool {
		return u.keys.title.Text == "Seal key found" && u.keys.login.Visible() && !u.keys.login.Disabled()
	})
	eventually(t, u, "the status bar names the key", func() bool { return u.bar.key.Text == "Key: "+tok.Label })

	test.Tap(u.keys.login)
	if u.keys.pin == nil {
		t.Fatal("tapping Log in opened no PIN dialog")
	}
	if got := u.keys.pin.state.Text; got != "Ready" {
		t.Errorf("PIN state before login = %q, want Ready", got)
	}
	p := u.keys.pin
	test.Type(p.entry, "000000")
	test.Tap(p.ok)
	eventually(t, u, "a wrong PIN is reported in the dialog", func() bool {
		return strings.HasPrefix(p.err.Text, "Wrong PIN.") && !p.ok.Disabled()
	})
	if p.entry.Text != "" {
		t.Error("the wrong PIN was left in the field")
	}
	if u.keys.pin == nil || u.keys.last.Phase != usecase.KeyPresent {
		t.Fatal("the dialog closed or the phase moved after a wrong PIN")
	}

	test.Type(p.entry, tok.UserPIN)
	test.Tap(p.ok)
	eventually(t, u, "logged in with the certificate shown", func() bool {
		return u.keys.title.Text == "Logged in: the seal is ready" && u.keys.pin == nil
	})
	var subject string
	for _, it := range u.keys.details.Items {
		if it.Text == "Seal holder" {
			if l, ok := it.Widget.(*widget.Label); ok {
				subject = l.Text
			}
		}
	}
	if !strings.Contains(subject, "CN=") {
		t.Errorf("seal holder shown as %q, want the certificate subject", subject)
	}
	eventually(t, u, "the status bar names the custodian", func() bool { return u.bar.custodian.Text == "Custodian: 张伟" })

	tok.Remove()
	eventually(t, u, "pulling the key locks the screen and clears the status bar", func() bool {
		return u.keys.title.Text == "Insert the seal key" &&
			u.keys.notice.Text == "The seal key was removed: you are logged out." &&
			u.bar.custodian.Text == "Nobody logged in" && u.bar.key.Text == "No seal key"
	})
}

func TestForcedPINChangeDialog(t *testing.T) {
	u, tok, keys := window(t, LangEnglish, device.PINPolicy{ChangeInitial: true})
	eventually(t, u, "key found", func() bool { return u.keys.login.Visible() })
	if err := keys.Login(tok.UserPIN); err != nil {
		t.Fatal(err)
	}
	eventually(t, u, "the forced PIN change dialog opens", func() bool { return u.keys.changePIN != nil })
	c := u.keys.changePIN
	test.Type(c.old, tok.UserPIN)
	test.Type(c.new, "13572468")
	test.Type(c.repeat, "13572460")
	test.Tap(c.ok)
	if c.err.Text != "The two new PINs differ." {
		t.Errorf("mismatch message = %q", c.err.Text)
	}
	c.repeat.SetText("")
	test.Type(c.repeat, "13572468")
	test.Tap(c.ok)
	eventually(t, u, "the PIN is changed and the dialog closes", func() bool {
		return u.keys.changePIN == nil && keys.State().PINChange.Kind == device.NoChange
	})
}

func TestChineseKeyScreen(t *testing.T) {
	u, _, _ := window(t, LangChinese, device.PINPolicy{})
	if !strings.Contains(u.win.Title(), "演示") {
		t.Errorf("Chinese title %q lacks 演示", u.win.Title())
	}
	eventually(t, u, "Chinese key screen", func() bool { return u.keys.title.Text == "已检测到印章密钥" })
	// Switching language rebuilds every screen at once.
	u.mu.Lock()
	err := u.setLanguage(LangEnglish)
	u.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, u, "English after switching", func() bool { return u.keys.title.Text == "Seal key found" })
}

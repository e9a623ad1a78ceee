package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/workspace"
	"github.com/sealkeeper/sealkeeper/device"
)

func init() {
	register(command{
		name:    "token",
		summary: "list the seal keys and certificates the PKCS#11 modules see (token list)",
		run:     runToken,
	})
}

type tokenListModule struct {
	Path         string           `json:"path"`
	Manufacturer string           `json:"manufacturer,omitempty"`
	Error        string           `json:"error,omitempty"`
	Tokens       []tokenListEntry `json:"tokens"`
}

type tokenListEntry struct {
	device.TokenInfo
	FlagWords    []string             `json:"flag_words"`
	PINWords     []string             `json:"pin_words"`
	Certificates []device.CertSummary `json:"certificates"`
	Error        string               `json:"error,omitempty"`
}

func runToken(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "list" {
		return fmt.Errorf("%w: sealkeeper token list [--json] [--config FILE]", errUsage)
	}
	fs, cfgPath := newFlags("token list", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected %q; sealkeeper token list [--json] [--config FILE]", errUsage, fs.Arg(0))
	}
	c, err := workspace.LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	var mods []tokenListModule
	failed := 0
	for _, path := range c.Device.Modules {
		lm := listModule(c, path)
		if lm.Error != "" {
			failed++
		}
		mods = append(mods, lm)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Modules []tokenListModule `json:"modules"`
		}{mods}); err != nil {
			return err
		}
	} else {
		printTokenList(stdout, mods)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d PKCS#11 modules could not be used (see above); check [device] modules in %s", failed, len(mods), c.Path())
	}
	return nil
}

func listModule(c *config.Config, path string) tokenListModule {
	lm := tokenListModule{Path: c.Resolve(path), Tokens: []tokenListEntry{}}
	m, err := workspace.OpenModule(c, path)
	if err != nil {
		lm.Error = err.Error()
		return lm
	}
	defer m.Close()
	lm.Manufacturer = m.Manufacturer()
	toks, err := m.Tokens()
	if err != nil {
		lm.Error = err.Error()
		return lm
	}
	for _, t := range toks {
		e := tokenListEntry{TokenInfo: t, FlagWords: t.Flags.Words(), PINWords: t.PIN.Words(), Certificates: []device.CertSummary{}}
		keys, err := m.Certificates(t)
		if err != nil {
			e.Error = err.Error()
		}
		for _, k := range keys {
			e.Certificates = append(e.Certificates, k.Summary())
		}
		lm.Tokens = append(lm.Tokens, e)
	}
	return lm
}

func printTokenList(w io.Writer, mods []tokenListModule) {
	for i, lm := range mods {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "Module %s", lm.Path)
		if lm.Manufacturer != "" {
			fmt.Fprintf(w, " (%s)", lm.Manufacturer)
		}
		fmt.Fprintln(w)
		if lm.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", lm.Error)
			continue
		}
		if len(lm.Tokens) == 0 {
			fmt.Fprintln(w, "  no seal key plugged in")
		}
		for _, t := range lm.Tokens {
			fmt.Fprintf(w, "  Token %q  serial %s  slot %d\n", t.Label, t.Serial, t.SlotID)
			fmt.Fprintf(w, "    maker:  %s, %s\n", t.Manufacturer, t.Model)
			fmt.Fprintf(w, "    flags:  %s\n", strings.Join(t.FlagWords, ", "))
			fmt.Fprintf(w, "    PIN:    %s\n", strings.Join(t.PINWords, "; "))
			if t.Error != "" {
				fmt.Fprintf(w, "    error:  %s\n", t.Error)
			}
			if len(t.Certificates) == 0 && t.Error == "" {
				fmt.Fprintln(w, "    no certificates visible before login")
			}
			for _, s := range t.Certificates {
				fmt.Fprintf(w, "    seal %q (id %s)\n", s.Label, s.ID)
				if s.Subject == "" {
					fmt.Fprintf(w, "      %s key, no certificate\n", s.KeyAlgorithm)
					continue
				}
				fmt.Fprintf(w, "      subject: %s\n", s.Subject)
				fmt.Fprintf(w, "      issuer:  %s\n", s.Issuer)
				fmt.Fprintf(w, "      serial:  %s\n", s.Serial)
				fmt.Fprintf(w, "      valid:   %s to %s\n", s.NotBefore.UTC().Format("2006-01-02 15:04 MST"), s.NotAfter.UTC().Format("2006-01-02 15:04 MST"))
				fmt.Fprintf(w, "      key:     %s\n", s.KeyAlgorithm)
			}
		}
	}
}

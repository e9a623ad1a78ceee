package main

import (
	"bufio"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/workspace"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/stamp"
	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
	"github.com/sealkeeper/sealkeeper/stamp/render"
)

func init() {
	register(command{
		name:    "stamp",
		summary: "put the seal on a PDF: a digital signature made on the key (stamp --in IN --out OUT)",
		run:     runStamp,
	})
}

const stampUsage = "sealkeeper stamp --in IN.pdf --out OUT.pdf [--page N --at X,Y | --pages LIST | --riding-seam left|right | --keyword TEXT] [--certify] [--lock] [--tsa URL] [--image seal.png] [--size-mm 42] [--module SO] [--token LABEL|SERIAL] [--key-id HEX] [--pin-file FILE] [--force]"

func runStamp(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("stamp", stderr)
	in := fs.String("in", "", "the PDF to stamp (never modified)")
	out := fs.String("out", "", "where to write the stamped PDF")
	force := fs.Bool("force", false, "overwrite OUT if it exists")
	module := fs.String("module", "", "PKCS#11 module (default: the configured modules, in order)")
	token := fs.String("token", "", "token label or serial (default: the only token, or the demo token)")
	keyID := fs.String("key-id", "", "the seal key's CKA_ID in hex (default: [seal] key_id, else the first key with a certificate)")
	pinFile := fs.String("pin-file", "", "read the PIN from this file (default: ask; a demo workspace needs none)")
	page := fs.Int("page", 1, "page for a single seal")
	at := fs.String("at", "", "seal centre X,Y in mm from the page's top-left as displayed (default: lower right, 45 mm from the right edge and 60 mm from the bottom)")
	pages := fs.String("pages", "", "the same seal on these pages: 1,3,5-7 or all")
	seam := fs.String("riding-seam", "", "riding-seam seal (骑缝章) on the left or right edge of --pages (default all); --at's Y is the vertical position")
	keyword := fs.String("keyword", "", "centre the seal on the first occurrence of this text")
	certify := fs.Bool("certify", false, "certify the document (DocMDP P=2): first seal only")
	lock := fs.Bool("lock", false, "lock the document after this seal: no later change is permitted")
	tsa := fs.String("tsa", "", "RFC 3161 timestamp server URL (default: [seal] tsa)")
	image := fs.String("image", "", "seal image, PNG with a transparent background (default: [seal] image)")
	sizeMM := fs.Float64("size-mm", 0, "seal diameter in mm (default: [seal] size_mm, 42)")
	pss := fs.Bool("pss", false, "sign with RSASSA-PSS (RSA keys)")
	reason := fs.String("reason", "", "reason shown by PDF viewers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *out == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: %s", errUsage, stampUsage)
	}
	kinds := 0
	// --pages chooses the pages of a riding seam too.
	for _, set := range []bool{*pages != "" && *seam == "", *seam != "", *keyword != ""} {
		if set {
			kinds++
		}
	}
	if kinds > 1 || (*seam != "" && *seam != "left" && *seam != "right") {
		return fmt.Errorf("%w: choose one of --pages, --riding-seam left|right, --keyword", errUsage)
	}
	c, err := workspace.LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *image == "" {
		*image = c.Resolve(c.Seal.Image)
	}
	if *image == "" {
		return fmt.Errorf("no seal image: pass --image seal.png or set [seal] image in %s", c.Path())
	}
	if *sizeMM == 0 {
		*sizeMM = c.Seal.SizeMM
	}
	if *tsa == "" {
		*tsa = c.Seal.TSA
	}
	if !*force {
		if _, err := os.Stat(*out); err == nil {
			return fmt.Errorf("%s already exists; choose another name or pass --force", *out)
		}
	}
	img, err := stamp.LoadImage(*image)
	if err != nil {
		return err
	}
	size, err := placement.SealSize(*sizeMM, img.Bounds().Dx(), img.Bounds().Dy())
	if err != nil {
		return err
	}
	// Open reads what placing the seal needs (pages, fields); SignFile has pdfcpu validate the
	// whole file, and refuses locked ones, before the key signs.
	doc, err := pdfinspect.OpenFile(*in)
	if err != nil {
		return err
	}
	pl, where, err := stampPlacement(c, doc, *in, size, *page, *at, *pages, *seam, *keyword)
	if err != nil {
		return err
	}

	// Everything about the document is settled: now the key.
	signer, chain, closeKey, err := openSeal(c, *module, *token, *keyID, *pinFile, stderr)
	if err != nil {
		return err
	}
	defer closeKey()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := stamp.SignFile(ctx, *in, *out, *force, stamp.Request{
		Placement: pl, Image: img, Signer: signer, Chain: chain, PSS: *pss,
		TSA: *tsa, Certify: *certify, Lock: *lock, Reason: *reason,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Stamped %s -> %s\n", *in, *out)
	fmt.Fprintf(stdout, "  seal:      %s (%s)\n", chain[0].Subject.CommonName, where)
	fmt.Fprintf(stdout, "  field:     %s, %d widget(s)\n", res.Field, len(pl.Widgets))
	fmt.Fprintf(stdout, "  signed:    SHA-256 %s\n", hex.EncodeToString(res.Digest))
	if *tsa != "" {
		fmt.Fprintf(stdout, "  timestamp: %s\n", *tsa)
	}
	return nil
}

// stampPlacement turns the placement flags into a Placement and a description of it.
func stampPlacement(c *config.Config, doc *pdfinspect.Document, in string, size placement.Size, page int, at, pages, seam, keyword string) (placement.Placement, string, error) {
	pageGeom := func(n int) (placement.Page, error) {
		if n < 1 || n > len(doc.Pages) {
			return placement.Page{}, fmt.Errorf("%s has %d pages; there is no page %d", in, len(doc.Pages), n)
		}
		return doc.Pages[n-1].Page, nil
	}
	x, y, haveAt, err := parseAt(at)
	if err != nil {
		return placement.Placement{}, "", err
	}
	defaultAt := func(p placement.Page) (float64, float64) {
		w, h := p.ViewSize()
		if haveAt {
			return x, y
		}
		return w/placement.PointsPerMM - 45, h/placement.PointsPerMM - 60
	}
	switch {
	case keyword != "":
		hit, err := findKeyword(c, in, keyword)
		if err != nil {
			return placement.Placement{}, "", err
		}
		p, err := pageGeom(hit.Page)
		if err != nil {
			return placement.Placement{}, "", err
		}
		pl, err := placement.AtKeyword(p, placement.Rect{X0: hit.Rect.X0, Y0: hit.Rect.Y0, X1: hit.Rect.X1, Y1: hit.Rect.Y1}, size)
		return pl, fmt.Sprintf("on %q, page %d", keyword, hit.Page), err
	case seam != "":
		list, err := parsePages(pages, len(doc.Pages))
		if err != nil {
			return placement.Placement{}, "", err
		}
		var ps []placement.Page
		for _, n := range list {
			ps = append(ps, doc.Pages[n-1].Page)
		}
		edge := placement.Right
		if seam == "left" {
			edge = placement.Left
		}
		vy := y
		if !haveAt {
			_, h := ps[0].ViewSize()
			vy = h / placement.PointsPerMM / 2
		}
		pl, err := placement.RidingSeamOn(ps, edge, vy, size)
		return pl, fmt.Sprintf("riding seam on the %s edge of %d pages, %.0f mm from the top", seam, len(ps), vy), err
	case pages != "":
		list, err := parsePages(pages, len(doc.Pages))
		if err != nil {
			return placement.Placement{}, "", err
		}
		var pl placement.Placement
		for _, n := range list {
			p := doc.Pages[n-1].Page
			px, py := defaultAt(p)
			one, err := placement.AtViewMM(p, px, py, size)
			if err != nil {
				return placement.Placement{}, "", err
			}
			pl.Widgets = append(pl.Widgets, one.Widgets...)
		}
		pl.Kind = placement.MultiPage
		return pl, fmt.Sprintf("on %d pages", len(list)), nil
	}
	p, err := pageGeom(page)
	if err != nil {
		return placement.Placement{}, "", err
	}
	px, py := defaultAt(p)
	pl, err := placement.AtViewMM(p, px, py, size)
	return pl, fmt.Sprintf("page %d at %.0f,%.0f mm", page, px, py), err
}

func parseAt(s string) (x, y float64, ok bool, err error) {
	if s == "" {
		return 0, 0, false, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) == 2 {
		x, err1 := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
		y, err2 := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
		if err1 == nil && err2 == nil && x >= 0 && y >= 0 {
			return x, y, true, nil
		}
	}
	return 0, 0, false, fmt.Errorf("%w: --at wants X,Y in millimetres from the top-left corner, e.g. --at 150,230", errUsage)
}

// parsePages reads "all" or a list like 1,3,5-7 (empty means all).
func parsePages(s string, n int) ([]int, error) {
	if s == "" || s == "all" {
		out := make([]int, n)
		for i := range out {
			out[i] = i + 1
		}
		return out, nil
	}
	var out []int
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		b := a
		if isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 1 || b < a || b > n {
			return nil, fmt.Errorf("%w: --pages %q: pages are 1 to %d, written like 1,3,5-7 or all", errUsage, s, n)
		}
		for i := a; i <= b; i++ {
			if !seen[i] {
				seen[i] = true
				out = append(out, i)
			}
		}
	}
	return out, nil
}

func findKeyword(c *config.Config, in, keyword string) (render.TextHit, error) {
	opts := render.Options{}
	if d := c.Resolve(c.DataDir); d != "" {
		opts.CacheDir = filepath.Join(d, "pdfium-cache")
	}
	r := render.New(opts)
	defer r.Close()
	d, err := r.OpenFile(in)
	if err != nil {
		return render.TextHit{}, err
	}
	defer d.Close()
	hits, err := d.FindText(keyword)
	if err != nil {
		return render.TextHit{}, err
	}
	if len(hits) == 0 {
		return render.TextHit{}, fmt.Errorf("%s: %q does not occur in the text (a scanned page has no text); place the seal with --page and --at", in, keyword)
	}
	return hits[0], nil
}

// openSeal logs in to the token and returns the seal's signer and certificate chain.
func openSeal(c *config.Config, module, token, keyID, pinFile string, stderr io.Writer) (crypto.Signer, []*x509.Certificate, func(), error) {
	mods := c.Device.Modules
	if module != "" {
		mods = []string{module}
	}
	if token == "" && c.Demo.Enabled {
		token = c.Demo.TokenLabel
	}
	if keyID == "" {
		keyID = c.Seal.KeyID
	}
	var lastErr error = errors.New("no PKCS#11 module is configured")
	for _, path := range mods {
		m, err := device.OpenModule(c.Resolve(path))
		if err != nil {
			lastErr = err
			continue
		}
		toks, err := m.Tokens()
		if err != nil {
			m.Close()
			lastErr = err
			continue
		}
		var match []device.TokenInfo
		for _, t := range toks {
			if token == "" || t.Label == token || t.Serial == token {
				match = append(match, t)
			}
		}
		if len(match) == 0 {
			m.Close()
			lastErr = fmt.Errorf("no matching seal key in %s (plug it in, or check --token)", path)
			continue
		}
		if len(match) > 1 {
			m.Close()
			return nil, nil, nil, fmt.Errorf("%d tokens in %s; choose one with --token LABEL or SERIAL", len(match), path)
		}
		pin, err := readPIN(c, pinFile, match[0], stderr)
		if err != nil {
			m.Close()
			return nil, nil, nil, err
		}
		s, err := m.Login(match[0], pin)
		if err != nil {
			m.Close()
			return nil, nil, nil, err
		}
		closeAll := func() { s.Close(); m.Close() }
		keys, err := s.Seals()
		if err != nil {
			closeAll()
			return nil, nil, nil, err
		}
		for _, k := range keys {
			if k.Cert == nil || (keyID != "" && !strings.EqualFold(hex.EncodeToString(k.ID), keyID)) {
				continue
			}
			signer, err := s.Signer(k)
			if err != nil {
				closeAll()
				return nil, nil, nil, err
			}
			return signer, chainFor(c, k.Cert), closeAll, nil
		}
		closeAll()
		return nil, nil, nil, fmt.Errorf("token %q has no seal key with a certificate%s", match[0].Label, map[bool]string{true: " and id " + keyID}[keyID != ""])
	}
	return nil, nil, nil, lastErr
}

// chainFor adds the configured CA certificates that issued the seal's certificate, so that a
// verifier can build the path.
func chainFor(c *config.Config, leaf *x509.Certificate) []*x509.Certificate {
	chain := []*x509.Certificate{leaf}
	cas := loadAnchors(c)
	for cur := leaf; len(chain) < 8; {
		var next *x509.Certificate
		for _, ca := range cas {
			if cur.CheckSignatureFrom(ca) == nil && !ca.Equal(cur) {
				next = ca
				break
			}
		}
		if next == nil {
			break
		}
		chain = append(chain, next)
		if string(next.RawIssuer) == string(next.RawSubject) {
			break
		}
		cur = next
	}
	return chain
}

func loadAnchors(c *config.Config) []*x509.Certificate {
	var out []*x509.Certificate
	for _, f := range c.Seal.TrustAnchors {
		certs, err := readCerts(c.Resolve(f))
		if err == nil {
			out = append(out, certs...)
		}
	}
	return out
}

func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return out, nil
}

// readPIN takes the PIN from --pin-file, the demo workspace, or the terminal (not echoed).
func readPIN(c *config.Config, pinFile string, tok device.TokenInfo, stderr io.Writer) (string, error) {
	if pinFile != "" {
		b, err := os.ReadFile(pinFile)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	if pin, ok := workspace.DemoPIN(c); ok {
		return pin, nil
	}
	fmt.Fprintf(stderr, "PIN for %q: ", tok.Label)
	if st, err := os.Stdin.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		stty := func(arg string) error {
			cmd := exec.Command("stty", arg)
			cmd.Stdin = os.Stdin
			return cmd.Run()
		}
		if stty("-echo") == nil {
			defer func() { stty("echo"); fmt.Fprintln(stderr) }()
		}
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no PIN given (pass --pin-file FILE when there is no terminal)")
	}
	return strings.TrimSpace(line), nil
}

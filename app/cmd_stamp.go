package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/app/usecase"
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

const stampUsage = "sealkeeper stamp (--doc ID | --batch ID,ID,... | --in IN.pdf --out OUT.pdf) [--out OUT.pdf] [--page N --at X,Y | --pages LIST | --riding-seam left|right | --keyword TEXT] [--certify] [--lock] [--tsa URL] [--image seal.png] [--size-mm 42] [--token LABEL|SERIAL] [--pin-file FILE] [--force]"

func runStamp(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("stamp", stderr)
	docID := fs.String("doc", "", "a document from the queue (sealkeeper queue): stamped under its approval")
	batch := fs.String("batch", "", "several queue documents, comma-separated: one PIN entry, each its own approval and record")
	in := fs.String("in", "", "a local file without an approval ticket (only where the workstation's policy allows it; recorded with an alarm)")
	out := fs.String("out", "", "where to write the stamped PDF (default for queue documents: DATA/stamped/ID.pdf)")
	force := fs.Bool("force", false, "overwrite OUT if it exists")
	token := fs.String("token", "", "token label or serial (default: the only token, or the demo token)")
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
	reason := fs.String("reason", "", "reason shown by PDF viewers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var ids []string
	switch {
	case *batch != "":
		for _, id := range strings.Split(*batch, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
	case *docID != "":
		ids = []string{*docID}
	}
	sources := 0
	for _, set := range []bool{*docID != "", *batch != "", *in != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 || fs.NArg() > 0 || (*in != "" && *out == "") || (*batch != "" && *out != "") {
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
	w, err := openWorkspace(*cfgPath, stderr)
	if err != nil {
		return err
	}
	defer w.Close()
	c := w.Config
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
	img, err := stamp.LoadImage(*image)
	if err != nil {
		return err
	}
	size, err := placement.SealSize(*sizeMM, img.Bounds().Dx(), img.Bounds().Dy())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if len(ids) > 0 {
		pull(ctx, w, stderr)
	}
	// Everything the documents need is known before the key: the placement of each.
	type job struct {
		req   usecase.StampRequest
		where string
	}
	var jobs []job
	place := func(file string) (placement.Placement, string, error) {
		// Open reads what placing the seal needs (pages, fields); SignFile has pdfcpu
		// validate the whole file, and refuses locked ones, before the key signs.
		doc, err := pdfinspect.OpenFile(file)
		if err != nil {
			return placement.Placement{}, "", err
		}
		return stampPlacement(c, doc, file, size, *page, *at, *pages, *seam, *keyword)
	}
	common := usecase.StampRequest{Out: *out, Overwrite: *force, Image: img, Certify: *certify, Lock: *lock, TSA: *tsa, Reason: *reason}
	if *in != "" {
		pl, where, err := place(*in)
		if err != nil {
			return err
		}
		r := common
		r.File, r.Placement = *in, pl
		jobs = append(jobs, job{r, where})
	}
	var seal usecase.Seal
	if len(ids) > 0 {
		// The queue's files are kept encrypted: they open for placing after the login.
		if seal, err = login(w, *token, *pinFile, stderr); err != nil {
			return err
		}
	}
	for _, id := range ids {
		file, err := w.Desk.DocumentFile(id)
		if err != nil {
			return err
		}
		pl, where, err := place(file)
		if err != nil {
			return err
		}
		r := common
		r.DocID, r.Placement = id, pl
		jobs = append(jobs, job{r, where})
	}

	for _, j := range jobs {
		if err := w.Desk.Precheck(j.req); err != nil {
			return err
		}
	}
	if len(ids) == 0 {
		if seal, err = login(w, *token, *pinFile, stderr); err != nil {
			return err
		}
	}
	reqs := make([]usecase.StampRequest, len(jobs))
	for i, j := range jobs {
		reqs[i] = j.req
	}
	// One path for one document and for many: each its own check, intent and done or failed;
	// the results are printed as each document finishes.
	items, err := w.Desk.StampBatch(ctx, seal, reqs, func(p usecase.BatchProgress) {
		if p.Last == nil {
			return
		}
		j, res := jobs[p.Done-1], p.Last.Result
		if p.Last.Err != nil {
			fmt.Fprintf(stderr, "sealkeeper stamp: %v\n", p.Last.Err)
			return
		}
		src := j.req.File
		if j.req.DocID != "" {
			src = "document " + j.req.DocID
		}
		fmt.Fprintf(stdout, "Stamped %s -> %s\n", src, res.Out)
		fmt.Fprintf(stdout, "  seal:      %s (%s)\n", seal.Cert().Subject.CommonName, j.where)
		fmt.Fprintf(stdout, "  field:     %s, %d widget(s)\n", res.Field, len(j.req.Placement.Widgets))
		fmt.Fprintf(stdout, "  output:    SHA-256 %s\n", res.OutputSHA256)
		if res.TicketID != "" {
			fmt.Fprintf(stdout, "  approval:  ticket %s\n", res.TicketID)
		} else {
			fmt.Fprintf(stdout, "  approval:  none (local file; recorded with an alarm)\n")
		}
		fmt.Fprintf(stdout, "  ledger:    intent %d, done %d\n", res.Intent, res.Done)
		if *tsa != "" {
			fmt.Fprintf(stdout, "  timestamp: %s\n", *tsa)
		}
	})
	failed := 0
	for _, it := range items {
		if it.Err != nil {
			failed++
		}
		if errors.Is(it.Err, usecase.ErrBatchCancelled) { // the timeout: not started, so not printed above
			fmt.Fprintf(stderr, "sealkeeper stamp: document %s: %v\n", it.Request.DocID, it.Err)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "sealkeeper stamp: %v\n", err)
	}
	push(ctx, w, stdout, stderr)
	if *out == "" && *batch+*docID != "" && w.Link != nil {
		// Nothing of a document stays readable in the data folder once the command ends.
		if w.Link.Syncer.Status().Outbox == 0 {
			fmt.Fprintf(stdout, "The server holds the stamped file; the copy in %s is removed as this command ends (pass --out FILE to keep one).\n", workspace.StampedDir(c))
		} else {
			fmt.Fprintf(stdout, "The stamped file waits for the server; as this command ends it is kept encrypted in the data folder, and sent at the next sync after a login (pass --out FILE to keep a copy).\n")
		}
	}
	switch {
	case failed == 1 && len(jobs) == 1:
		return exitError{code: 1, err: errors.New("nothing was stamped")}
	case failed > 0:
		return exitError{code: 1, err: fmt.Errorf("%d of %d documents were not stamped (see above)", failed, len(jobs))}
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
		d := usecase.DefaultPlace(w/placement.PointsPerMM, h/placement.PointsPerMM)
		return d.XMM, d.YMM
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

// parsePages reads "all" or a list like 1,3,5-7 (empty means all): the one page-list syntax of
// the command line. n is the document's page count; 0 when it is not known yet (hub add, for
// several files), when "all" is the empty list and no page is too high.
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
		if err != nil || a < 1 || b < a || (n > 0 && b > n) {
			if n <= 0 {
				return nil, fmt.Errorf("%w: --pages %q: write pages like 1,3,5-7 or all", errUsage, s)
			}
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

// readPIN takes the PIN from --pin-file, the demo workspace, or the terminal (never echoed).
func readPIN(c *config.Config, pinFile string, tok device.TokenInfo, stderr io.Writer) (string, error) {
	if pinFile == "" {
		if pin, ok := workspace.DemoPIN(c); ok {
			return pin, nil
		}
	}
	return readSecret(pinFile, "pin-file", fmt.Sprintf("PIN for %q: ", tok.Label), stderr)
}

// readSecret reads a PIN from a file only its owner can read (given by --flagName), else from
// the terminal without echo, after the prompt.
func readSecret(pinFile, flagName, prompt string, stderr io.Writer) (string, error) {
	if pinFile != "" {
		st, err := os.Stat(pinFile)
		if err != nil {
			return "", err
		}
		if st.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("the PIN file %s can be read by other users (mode %v); make it private (chmod 600 %s) or type the PIN", pinFile, st.Mode().Perm(), pinFile)
		}
		b, err := os.ReadFile(pinFile)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", fmt.Errorf("no PIN given: there is no terminal to type it on; pass --%s FILE (mode 0600)", flagName)
	}
	fmt.Fprint(stderr, prompt)
	pin, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("reading the PIN: %w", err)
	}
	return strings.TrimSpace(string(pin)), nil
}

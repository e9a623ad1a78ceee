// Package verify checks every signature in a PDF: that its byte range covers the whole
// revision it signed except its own /Contents, that the digest and the signature are right,
// who signed and whether the certificate chain reaches a trust anchor and was valid at the
// signing time, what changed in the file after it (and whether that was permitted), and what
// the seal looks like (widgets, images, riding-seam slices).
package verify

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	gmx509 "github.com/tjfoc/gmsm/x509"

	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
	"github.com/sealkeeper/sealkeeper/stamp/internal/cms"
	"github.com/sealkeeper/sealkeeper/stamp/pades"
	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
)

// Options configure verification.
type Options struct {
	// Roots are the trust anchors for seal certificates and timestamp authorities.
	Roots []*x509.Certificate
	// GMRoots are the trust anchors for GM seals (SM2 certificates of signers and seal makers).
	GMRoots []*gmx509.Certificate
}

// Report is the result for one file.
type Report struct {
	File       string      `json:"file"`
	Signatures []Signature `json:"signatures"`
	// Valid: every signature is intact and cryptographically valid, and nothing changed after
	// a signature that it does not permit. Trust is reported per signature.
	Valid bool `json:"valid"`
	// Trusted: every signature's chain reaches a trust anchor.
	Trusted bool `json:"trusted"`
}

// Signature is the result for one signature.
type Signature struct {
	Index     int    `json:"index"` // 1-based, in file order
	Field     string `json:"field"`
	SubFilter string `json:"subfilter"`
	// Format is what /Contents holds, told by its contents (never by the SubFilter): FormatCMS,
	// FormatGMCMS or FormatSES.
	Format string `json:"format,omitempty"`
	// Seal is the GM seal a FormatSES signature was made with.
	Seal     *GMSeal `json:"gm_seal,omitempty"`
	Signer   string  `json:"signer"`
	SignerDN string  `json:"signer_dn"`
	Issuer   string  `json:"issuer"`
	Serial   string  `json:"serial"`
	// Time is the signing time: the timestamp's when there is one (TimeSource "timestamp"),
	// else the time the signer claims in /M ("claimed").
	Time        time.Time `json:"time"`
	TimeSource  string    `json:"time_source"`
	Timestamped bool      `json:"timestamped"`
	TSA         string    `json:"tsa,omitempty"`
	ByteRange   [4]int64  `json:"byte_range"`
	// CoversFile: the byte range reaches the end of the file (no later changes).
	CoversFile bool `json:"covers_file"`
	// Intact: the byte range is well-formed (covers its revision except /Contents), and the
	// digest and signature value are correct.
	Intact bool `json:"intact"`
	// CertValid: the signer's certificate was within its validity at the signing time.
	CertValid bool `json:"cert_valid_at_signing"`
	// Trusted: the chain reaches a configured trust anchor (at the signing time).
	Trusted    bool   `json:"trusted"`
	TrustError string `json:"trust_error,omitempty"`
	DocMDP     int    `json:"docmdp,omitempty"`
	Locked     bool   `json:"locked,omitempty"`
	// Level is what this signature allows after it, as DocMDP levels (its certification and
	// its field lock's /P, the stricter; 0: no restriction of its own). Later changes are
	// judged by the strictest level of the signatures before them.
	Level int `json:"level,omitempty"`
	// Changes are what later updates changed; Permitted is false if any was not allowed.
	Changes   []Change `json:"changes,omitempty"`
	Permitted bool     `json:"permitted"`
	Widgets   []Widget `json:"widgets"`
	// RidingSeam: several widgets, one per page, on the page edges, whose slices add up
	// to one whole seal.
	RidingSeam bool `json:"riding_seam"`
	// Valid = Intact && Permitted.
	Valid    bool     `json:"valid"`
	Problems []string `json:"problems,omitempty"`

	revEnd int64
}

// The formats of a signature's /Contents.
const (
	FormatCMS   = "CMS (PAdES / PKCS #7)"
	FormatGMCMS = "GM/T 0010 CMS (SM2/SM3)"
	FormatSES   = "GB/T 38540 seal signature (SM2/SM3)"
)

// GMSeal is the electronic seal (SESeal) inside a GM seal signature.
type GMSeal struct {
	ID         string    `json:"es_id"`
	Name       string    `json:"name"`
	Version    int       `json:"version"`
	ValidStart time.Time `json:"valid_start"`
	ValidEnd   time.Time `json:"valid_end"`
	Maker      string    `json:"maker"`
}

// Change is one object changed or added after a signature.
type Change struct {
	Object    int    `json:"object"`
	What      string `json:"what"`
	Permitted bool   `json:"permitted"`
}

// Widget is one visible part of a signature.
type Widget struct {
	Page int            `json:"page"`
	Rect placement.Rect `json:"rect"`
	// Image is the size in pixels of the seal image in the appearance; zero when there is none.
	ImageW int  `json:"image_w"`
	ImageH int  `json:"image_h"`
	Alpha  bool `json:"alpha"` // the image has a soft mask (transparency)
	// SealWidth is the width of the whole seal as drawn, in points; ShownWidth the part of it
	// this widget shows (less for a riding-seam slice).
	SealWidth  float64 `json:"seal_width"`
	ShownWidth float64 `json:"shown_width"`
	OnEdge     string  `json:"on_edge,omitempty"` // "left" or "right" when it touches that page edge
}

// File verifies the PDF at path.
func File(path string, opts Options) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Bytes(path, data, opts)
}

// Bytes verifies a PDF held in memory; name is used in messages.
func Bytes(name string, data []byte, opts Options) (rep *Report, err error) {
	defer pdfinspect.Guard(name, &err)
	doc, err := pdfinspect.Parse(name, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	v := &verifier{name: name, data: data, doc: doc, ctx: doc.Context(), opts: opts}
	return v.run()
}

type verifier struct {
	name string
	data []byte
	doc  *pdfinspect.Document
	ctx  *model.Context
	opts Options
	// revisions parsed by their end offset
	revs map[int64]*model.Context
}

func (v *verifier) deref(o types.Object) types.Object {
	o, err := v.ctx.Dereference(o)
	if err != nil {
		return nil
	}
	return o
}

func (v *verifier) dict(o types.Object) types.Dict {
	switch d := v.deref(o).(type) {
	case types.Dict:
		return d
	case types.StreamDict:
		return d.Dict
	}
	return nil
}

func (v *verifier) num(o types.Object) (float64, bool) {
	switch n := v.deref(o).(type) {
	case types.Integer:
		return float64(n), true
	case types.Float:
		return float64(n), true
	}
	return 0, false
}

func (v *verifier) text(o types.Object) string {
	var s string
	switch t := v.deref(o).(type) {
	case types.StringLiteral:
		b, err := types.Unescape(t.Value())
		if err != nil {
			return t.Value()
		}
		s = string(b)
	case types.HexLiteral:
		b, err := t.Bytes()
		if err != nil {
			return ""
		}
		s = string(b)
	}
	if strings.HasPrefix(s, "\xfe\xff") {
		if u, err := types.DecodeUTF16String(s); err == nil {
			return u
		}
	}
	return s
}

// sigField is a signed signature field and what its signature restricts.
type sigField struct {
	pdfinspect.FormField
	restrict pdfinspect.Restrictions
}

// fields finds the signed signature fields, each with its widgets (pdfinspect's form walk).
func (v *verifier) fields() []sigField {
	var out []sigField
	for _, f := range v.doc.FormFields() {
		if f.Type == "Sig" && f.Sig != nil {
			out = append(out, sigField{FormField: f, restrict: v.doc.Restrictions(f)})
		}
	}
	return out
}

func (v *verifier) run() (*Report, error) {
	rep := &Report{File: v.name, Valid: true, Trusted: true}
	fs := v.fields()
	for _, f := range fs {
		s := v.check(f)
		rep.Signatures = append(rep.Signatures, s)
	}
	rep.Signatures = append(rep.Signatures, v.unreachable(rep.Signatures)...)
	sort.Slice(rep.Signatures, func(i, j int) bool { return rep.Signatures[i].ByteRange[2] < rep.Signatures[j].ByteRange[2] })
	// Restrictions accumulate: a certification or a lock binds every later update.
	level := 0
	for i := range rep.Signatures {
		s := &rep.Signatures[i]
		s.Index = i + 1
		if s.Level > 0 && (level == 0 || s.Level < level) {
			level = s.Level
		}
		if s.Intact && s.revEnd < int64(len(v.data)) {
			v.changesAfter(s, level)
		} else {
			s.Permitted = s.Intact
		}
		s.Valid = s.Intact && s.Permitted
		if !s.Valid {
			rep.Valid = false
		}
		if !s.Trusted {
			rep.Trusted = false
		}
	}
	if len(rep.Signatures) == 0 {
		// An unsigned file is not a sealed one.
		rep.Valid, rep.Trusted = false, false
	}
	return rep, nil
}

func (s *Signature) problem(format string, args ...any) {
	s.Problems = append(s.Problems, fmt.Sprintf(format, args...))
}

func (v *verifier) check(f sigField) Signature {
	s := Signature{Field: f.Name}
	if n, ok := v.deref(f.Sig["SubFilter"]).(types.Name); ok {
		s.SubFilter = string(n)
	}
	s.DocMDP, s.Locked, s.Level = f.restrict.DocMDP, f.restrict.Locked(), f.restrict.Level()
	s.Widgets = v.widgets(f)
	s.RidingSeam = ridingSeam(s.Widgets)

	br, ok := v.deref(f.Sig["ByteRange"]).(types.Array)
	if !ok || len(br) != 4 {
		s.problem("the signature has no valid /ByteRange")
		return s
	}
	for i := range br {
		n, ok := v.num(br[i])
		if !ok || n < 0 || n != math.Trunc(n) {
			s.problem("the /ByteRange is not four whole numbers")
			return s
		}
		s.ByteRange[i] = int64(n)
	}
	b := s.ByteRange
	size := int64(len(v.data))
	if b[0] != 0 || b[1] <= 0 || b[2] <= b[1]+1 || b[3] < 0 || b[2]+b[3] > size {
		s.problem("the /ByteRange %v does not start at 0 or runs outside the file", b)
		return s
	}
	s.revEnd = b[2] + b[3]
	s.CoversFile = s.revEnd == size
	if v.data[b[1]] != '<' || v.data[b[2]-1] != '>' {
		s.problem("the gap in the /ByteRange is not exactly the /Contents string: bytes outside the signature are unsigned")
		return s
	}
	contents, err := hex.DecodeString(string(bytes.Join(bytes.Fields(v.data[b[1]+1:b[2]-1]), nil)))
	if err != nil {
		s.problem("the /Contents string is not hexadecimal")
		return s
	}
	if c, ok := v.deref(f.Sig["Contents"]).(types.HexLiteral); ok {
		if cb, err := c.Bytes(); err != nil || !bytes.Equal(cb, contents) {
			s.problem("the signature dictionary's /Contents is not the one in the signed gap")
			return s
		}
	}
	if !s.CoversFile && !revisionEnd(v.data[:s.revEnd]) {
		s.problem("the byte range ends at %d, which is not the end of a revision", s.revEnd)
		return s
	}

	// What /Contents holds decides how it is checked, not the SubFilter's name.
	if gmseal.Sniff(contents) == gmseal.KindSignature {
		v.checkSES(&s, contents)
		return s
	}
	if gmseal.IsGMCMS(contents) {
		v.checkGMCMS(&s, f, contents)
		return s
	}
	s.Format = FormatCMS
	if s.SubFilter != "ETSI.CAdES.detached" && s.SubFilter != "adbe.pkcs7.detached" {
		s.problem("signatures of type %s are not supported", s.SubFilter)
		return s
	}
	sd, err := cms.Parse(contents)
	if err != nil {
		s.problem("%v", err)
		return s
	}
	si := sd.Signers[0]
	if si.Hash == 0 {
		s.problem("digest algorithm %v is not supported", si.DigestOID)
		return s
	}
	h := si.Hash.New()
	h.Write(v.data[:b[1]])
	h.Write(v.data[b[2]:s.revEnd])
	cert, err := si.Verify(h.Sum(nil), sd.Certificates)
	if cert != nil {
		s.Signer = cert.Subject.CommonName
		s.SignerDN = cert.Subject.String()
		s.Issuer = cert.Issuer.String()
		s.Serial = cert.SerialNumber.Text(16)
	}
	if err != nil {
		s.problem("%v", err)
		return s
	}
	s.Intact = true

	// Signing time: a verified timestamp, else the claimed /M.
	s.TimeSource = "claimed"
	if m := v.text(f.Sig["M"]); m != "" {
		if t, err := parseDate(m); err == nil {
			s.Time = t
		}
	}
	if tok := cms.Attr(si.Unsigned, cms.OIDTimeStampToken); tok != nil {
		s.Timestamped = true
		info, tsa, err := pades.VerifyTimestamp(tok, si.Signature)
		if err != nil {
			s.Intact = false
			s.problem("timestamp: %v", err)
			return s
		}
		s.Time, s.TimeSource = info.GenTime, "timestamp"
		s.TSA = tsa.Cert.Subject.CommonName
		if _, err := v.chain(tsa.Cert, tsa.Certificates, info.GenTime, x509.ExtKeyUsageTimeStamping); err != nil {
			s.problem("the timestamp authority is not trusted: %v", err)
			s.TrustError = "timestamp authority: " + err.Error()
		}
	}
	if s.Time.IsZero() {
		s.Time = time.Now()
		s.TimeSource = "none (checked at the current time)"
	}
	s.CertValid = !s.Time.Before(cert.NotBefore) && !s.Time.After(cert.NotAfter)
	if !s.CertValid {
		s.problem("the certificate was not valid at the signing time %s (valid %s to %s)", s.Time.Format(time.RFC3339), cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339))
	}
	if _, err := v.chain(cert, sd.Certificates, s.Time, x509.ExtKeyUsageAny); err != nil {
		s.TrustError = err.Error()
	} else if s.TrustError == "" {
		s.Trusted = true
	}
	return s
}

func (v *verifier) chain(cert *x509.Certificate, certs []*x509.Certificate, at time.Time, eku x509.ExtKeyUsage) ([][]*x509.Certificate, error) {
	if len(v.opts.Roots) == 0 {
		return nil, errors.New("no trust anchors are configured")
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range v.opts.Roots {
		roots.AddCert(r)
	}
	for _, c := range certs {
		inter.AddCert(c)
	}
	return cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{eku}})
}

// revisionEnd tells whether b ends like a revision: %%EOF and an optional end of line.
func revisionEnd(b []byte) bool {
	return bytes.HasSuffix(bytes.TrimRight(b, "\r\n \x00"), []byte("%%EOF"))
}

// parseDate reads a PDF date D:YYYYMMDDHHmmSS+HH'mm'.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimPrefix(s, "D:")
	s = strings.ReplaceAll(s, "'", "")
	for _, layout := range []string{"20060102150405-0700", "20060102150405Z0700", "20060102150405Z", "20060102150405"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable date %q", s)
}

func (v *verifier) widgets(f sigField) []Widget {
	pageOf := map[int]pdfinspect.Page{}
	for _, p := range v.doc.Pages {
		pageOf[p.Ref.ObjectNumber.Value()] = p
	}
	var out []Widget
	for _, wd := range f.Widgets {
		w := Widget{}
		if a, ok := v.deref(wd["Rect"]).(types.Array); ok && len(a) == 4 {
			var n [4]float64
			for i := range a {
				n[i], _ = v.num(a[i])
			}
			w.Rect = placement.Rect{X0: min(n[0], n[2]), Y0: min(n[1], n[3]), X1: max(n[0], n[2]), Y1: max(n[1], n[3])}
		}
		var page pdfinspect.Page
		if r, ok := wd["P"].(types.IndirectRef); ok {
			page = pageOf[r.ObjectNumber.Value()]
			w.Page = page.Number
		}
		if w.Page > 0 {
			vr := page.RectToView(w.Rect)
			vw, _ := page.ViewSize()
			if vr.X0 <= 0.5 {
				w.OnEdge = "left"
			} else if vr.X1 >= vw-0.5 {
				w.OnEdge = "right"
			}
			w.ShownWidth = vr.W()
		}
		if ap := v.dict(wd["AP"]); ap != nil {
			v.sealImage(ap["N"], &w)
		}
		out = append(out, w)
	}
	return out
}

// sealImage finds the image drawn by an appearance stream and its drawn width.
func (v *verifier) sealImage(o types.Object, w *Widget) {
	sd, ok := v.deref(o).(types.StreamDict)
	if !ok {
		return
	}
	res := v.dict(sd.Dict["Resources"])
	xo := v.dict(res["XObject"])
	for name, ref := range xo {
		im, ok := v.deref(ref).(types.StreamDict)
		if !ok {
			continue
		}
		if st, _ := v.deref(im.Dict["Subtype"]).(types.Name); st != "Image" {
			continue
		}
		wd, _ := v.num(im.Dict["Width"])
		ht, _ := v.num(im.Dict["Height"])
		w.ImageW, w.ImageH = int(wd), int(ht)
		_, w.Alpha = im.Dict["SMask"]
		if err := sd.Decode(); err == nil {
			w.SealWidth = drawnWidth(sd.Content, name)
		}
		return
	}
}

// drawnWidth reads "a b c d e f cm /Name Do" and returns the image's drawn width.
func drawnWidth(content []byte, name string) float64 {
	f := strings.Fields(string(content))
	for i := range f {
		if f[i] == "/"+name && i+1 < len(f) && f[i+1] == "Do" {
			for j := i - 1; j >= 6; j-- {
				if f[j] == "cm" {
					var a, b float64
					fmt.Sscan(f[j-6], &a)
					fmt.Sscan(f[j-5], &b)
					return math.Hypot(a, b)
				}
			}
		}
	}
	return 0
}

// ridingSeam: one widget per page, at least two, all on a page edge, and the shown slices
// add up to the whole seal.
func ridingSeam(ws []Widget) bool {
	// Whole seals may sit beside the seam in the same signature (a seal on the signature
	// page and a seam across all pages): only the slices must add up.
	var slices []Widget
	for _, w := range ws {
		if w.SealWidth > 0 && w.ShownWidth < w.SealWidth-0.5 {
			slices = append(slices, w)
		}
	}
	if len(slices) < 2 {
		return false
	}
	pages := map[int]bool{}
	sum := 0.0
	for _, w := range slices {
		if w.OnEdge == "" || pages[w.Page] || math.Abs(w.SealWidth-slices[0].SealWidth) > 0.5 {
			return false
		}
		pages[w.Page] = true
		sum += w.ShownWidth
	}
	return math.Abs(sum-slices[0].SealWidth) < 0.5
}

// unreachable finds byte ranges written in the file that no signature field leads to: a
// signature that a later change cut off from the form must still be reported, as failed.
func (v *verifier) unreachable(found []Signature) []Signature {
	known := map[[4]int64]bool{}
	for _, s := range found {
		known[s.ByteRange] = true
	}
	var out []Signature
	re := regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)
	for _, m := range re.FindAllSubmatch(v.data, -1) {
		var br [4]int64
		for i := range br {
			br[i], _ = strconv.ParseInt(string(m[i+1]), 10, 64)
		}
		if known[br] {
			continue
		}
		known[br] = true
		s := Signature{Field: "(not reachable from the form)", ByteRange: br}
		s.problem("a signature with byte range %v is in the file but the document's form no longer leads to it: the file was changed after signing", br)
		out = append(out, s)
	}
	return out
}

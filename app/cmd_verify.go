package main

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	gmx509 "github.com/tjfoc/gmsm/x509"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/app/workspace"
	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
	"github.com/sealkeeper/sealkeeper/stamp/verify"
)

func init() {
	register(command{
		name:    "verify",
		summary: "check every seal (signature) in a PDF (verify FILE [--json] [--require-trust]), or a printout's code (verify --printout CODE)",
		run:     runVerify,
	})
}

const verifyUsage = "sealkeeper verify FILE.pdf [--json] [--require-trust] [--trust CA.pem] [--config FILE]\n       sealkeeper verify --printout CODE [--token T] [--pin-file F] [--config FILE]"

// runVerify exits 0 only when every signature is intact and cryptographically valid (and,
// with --require-trust, chains to a trust anchor); 1 otherwise.
func runVerify(args []string, stdout, stderr io.Writer) error {
	if code, rest, ok := printoutArg(args); ok {
		return runVerifyPrintout(code, rest, stdout, stderr)
	}
	fs, cfgPath := newFlags("verify", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	requireTrust := fs.Bool("require-trust", false, "fail unless every signature chains to a trust anchor")
	var extra []string
	fs.Func("trust", "PEM file of a trusted CA (repeatable; added to [seal] trust_anchors)", func(s string) error {
		extra = append(extra, s)
		return nil
	})
	// Accept the file before or after the flags.
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 || file == "" {
		return fmt.Errorf("%w: %s", errUsage, verifyUsage)
	}
	var roots []*x509.Certificate
	var gmRoots []*gmx509.Certificate
	if c, err := workspace.LoadConfig(*cfgPath); err == nil {
		if roots, err = workspace.TrustAnchors(c); err != nil {
			return err
		}
		gmRoots = workspace.GMTrustAnchors(c)
	} else if *cfgPath != "" {
		return err
	}
	for _, f := range extra {
		certs, err := usecase.ReadCertificates(f)
		if err != nil {
			// An SM2 CA (GM seals) is not readable by crypto/x509.
			b, rerr := os.ReadFile(f)
			gm, gerr := gmseal.ParseCertificatesPEM(b)
			if rerr != nil || gerr != nil {
				return err
			}
			gmRoots = append(gmRoots, gm...)
			continue
		}
		roots = append(roots, certs...)
	}
	rep, err := verify.File(file, verify.Options{Roots: roots, GMRoots: gmRoots})
	if err != nil {
		return exitError{code: 1, err: err}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(stdout, rep)
	}
	switch {
	case len(rep.Signatures) == 0:
		return exitError{code: 1, err: fmt.Errorf("%s has no signatures: it is not sealed", file)}
	case !rep.Valid:
		var bad []string
		for _, s := range rep.Signatures {
			if !s.Valid {
				bad = append(bad, fmt.Sprintf("#%d %s", s.Index, s.Field))
			}
		}
		return exitError{code: 1, err: fmt.Errorf("%s: signature %s is NOT valid", file, strings.Join(bad, ", "))}
	case *requireTrust && !rep.Trusted:
		return exitError{code: 1, err: errors.New(file + ": a signature does not chain to a trust anchor (see above)")}
	}
	return nil
}

func printReport(w io.Writer, rep *verify.Report) {
	fmt.Fprintf(w, "%s: %d signature(s)\n", rep.File, len(rep.Signatures))
	for _, s := range rep.Signatures {
		state := "VALID"
		if !s.Valid {
			state = "NOT VALID"
		}
		fmt.Fprintf(w, "\n#%d %s: %s\n", s.Index, s.Field, state)
		if s.Signer != "" {
			fmt.Fprintf(w, "  signer:     %s\n", s.SignerDN)
			fmt.Fprintf(w, "  issuer:     %s (serial %s)\n", s.Issuer, s.Serial)
		}
		if !s.Time.IsZero() {
			fmt.Fprintf(w, "  time:       %s (%s)\n", s.Time.Local().Format("2006-01-02 15:04:05 MST"), s.TimeSource)
		}
		if s.Timestamped {
			fmt.Fprintf(w, "  timestamp:  by %s\n", s.TSA)
		}
		fmt.Fprintf(w, "  type:       %s%s\n", s.SubFilter, yesNo(s.Format != "", ", holding a "+s.Format, ""))
		if g := s.Seal; g != nil {
			fmt.Fprintf(w, "  GM seal:    %s\n", usecase.GMSealSummary(g))
		}
		fmt.Fprintf(w, "  integrity:  %s\n", yesNo(s.Intact, "digest and signature correct; byte range covers the signed revision except /Contents", "FAILED"))
		fmt.Fprintf(w, "  covers:     %s\n", yesNo(s.CoversFile, "the whole file", fmt.Sprintf("an earlier revision (bytes 0-%d); later changes below", s.ByteRange[2]+s.ByteRange[3])))
		if s.Signer != "" {
			fmt.Fprintf(w, "  cert valid: %s\n", yesNo(s.CertValid, "at the signing time", "NO, not at the signing time"))
			fmt.Fprintf(w, "  trusted:    %s\n", yesNo(s.Trusted, "chains to a trust anchor", "no: "+s.TrustError))
		}
		if s.DocMDP > 0 {
			fmt.Fprintf(w, "  certifies:  the document (DocMDP P=%d)\n", s.DocMDP)
		}
		if s.Locked {
			fmt.Fprintln(w, "  locks:      the document (no later changes permitted)")
		}
		for _, c := range s.Changes {
			fmt.Fprintf(w, "  change:     %s%s\n", c.What, yesNo(c.Permitted, "", "  <- NOT PERMITTED"))
		}
		kind := "seal"
		if s.RidingSeam {
			kind = "riding-seam seal"
		}
		if len(s.Widgets) > 0 {
			fmt.Fprintf(w, "  appearance: %s, %d widget(s)\n", kind, len(s.Widgets))
		}
		for i, wd := range s.Widgets {
			if i == 8 && len(s.Widgets) > 10 {
				fmt.Fprintf(w, "    ... %d more\n", len(s.Widgets)-i)
				break
			}
			img := "no image"
			if wd.ImageW > 0 {
				img = fmt.Sprintf("image %dx%d px%s", wd.ImageW, wd.ImageH, yesNo(wd.Alpha, " with transparency", ""))
			}
			fmt.Fprintf(w, "    page %d at [%.0f %.0f %.0f %.0f], %s%s\n", wd.Page, wd.Rect.X0, wd.Rect.Y0, wd.Rect.X1, wd.Rect.Y1, img, yesNo(wd.OnEdge != "", ", on the "+wd.OnEdge+" edge", ""))
		}
		for _, p := range s.Problems {
			fmt.Fprintf(w, "  problem:    %s\n", p)
		}
	}
	fmt.Fprintf(w, "\nResult: %s\n", yesNo(rep.Valid && len(rep.Signatures) > 0, "every signature is intact and valid", "NOT all signatures are valid"))
}

func yesNo(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

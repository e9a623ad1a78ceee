package main

import (
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tjfoc/gmsm/sm3"
	gmx509 "github.com/tjfoc/gmsm/x509"

	"github.com/sealkeeper/sealkeeper/stamp/gmseal"
)

func init() {
	register(command{
		name:    "seal",
		summary: "show and check a GM electronic seal or seal signature (seal inspect FILE [--data FILE] [--trust CA.pem])",
		run:     runSeal,
	})
}

const sealUsage = "sealkeeper seal inspect FILE [--data SIGNED-FILE] [--trust SM2-CA.pem]"

// runSeal: `seal inspect` prints an SESeal or an SES_Signature and checks its signatures; it
// exits 0 only when they verify.
func runSeal(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "inspect" {
		return fmt.Errorf("%w: %s", errUsage, sealUsage)
	}
	fs, _ := newFlags("seal inspect", stderr)
	data := fs.String("data", "", "the signed data, to check a seal signature's digest (SM3)")
	var trust []string
	fs.Func("trust", "PEM file of a trusted SM2 CA (repeatable)", func(s string) error {
		trust = append(trust, s)
		return nil
	})
	args = args[1:]
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
		return fmt.Errorf("%w: %s", errUsage, sealUsage)
	}
	der, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if b, _ := pem.Decode(der); b != nil {
		der = b.Bytes
	}
	var roots []*gmx509.Certificate
	for _, f := range trust {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		certs, err := gmseal.ParseCertificatesPEM(b)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		roots = append(roots, certs...)
	}
	fail := func(err error) error {
		fmt.Fprintf(stdout, "\nResult: NOT valid: %v\n", err)
		err = fmt.Errorf("%w (the file was changed after it was signed, or is damaged: ask its sender for a fresh copy)", err)
		return exitError{code: 1, err: fmt.Errorf("%s: %w", file, err)}
	}
	switch gmseal.Sniff(der) {
	case gmseal.KindSeal:
		s, err := gmseal.ParseSeal(der)
		if err != nil {
			return exitError{code: 1, err: fmt.Errorf("%s: %w", file, err)}
		}
		fmt.Fprintf(stdout, "%s: electronic seal (SESeal), %s\n", file, sealStandard(s.Version))
		printSeal(stdout, s)
		maker, err := s.VerifyMaker()
		if maker != nil {
			printCert(stdout, "maker", maker)
		}
		if err != nil {
			return fail(err)
		}
		fmt.Fprintln(stdout, "  maker sig:   valid (SM2 with SM3)")
		printTrust(stdout, maker, roots, s.Created)
		fmt.Fprintf(stdout, "\nResult: the seal maker's signature is valid\n")
		return nil
	case gmseal.KindSignature:
		g, err := gmseal.ParseSignature(der)
		if err != nil {
			return exitError{code: 1, err: fmt.Errorf("%s: %w", file, err)}
		}
		fmt.Fprintf(stdout, "%s: seal signature (SES_Signature), version %d\n", file, g.Version)
		fmt.Fprintf(stdout, "  signed at:   %s\n", g.Time.Local().Format("2006-01-02 15:04:05 MST"))
		fmt.Fprintf(stdout, "  property:    %s\n", g.PropertyInfo)
		fmt.Fprintf(stdout, "  data SM3:    %s\n", hex.EncodeToString(g.DataHash))
		if len(g.TimeStamp) > 0 {
			fmt.Fprintf(stdout, "  timestamp:   %d bytes (not checked)\n", len(g.TimeStamp))
		}
		fmt.Fprintf(stdout, "seal: %s\n", sealStandard(g.Seal.Version))
		printSeal(stdout, g.Seal)
		var opts gmseal.VerifyOptions
		opts.Roots = roots
		if *data != "" {
			b, err := os.ReadFile(*data)
			if err != nil {
				return err
			}
			opts.Digest = sm3.Sm3Sum(b)
		}
		res, err := g.Verify(opts)
		if res.Signer != nil {
			printCert(stdout, "signer", res.Signer)
		}
		if res.Maker != nil {
			printCert(stdout, "maker", res.Maker)
		}
		if err != nil {
			return fail(err)
		}
		fmt.Fprintln(stdout, "  signature:   valid (SM2 with SM3 over TBS_Sign); the seal lists the signer; the maker's signature is valid; seal and certificate valid at the signing time")
		fmt.Fprintf(stdout, "  data:        %s\n", yesNo(res.DigestChecked, "the digest is that of "+*data, "not checked (give --data FILE)"))
		if len(roots) > 0 {
			fmt.Fprintf(stdout, "  trusted:     %s\n", yesNo(res.Trusted, "both certificates chain to a trust anchor", "no: "+res.TrustError))
		}
		fmt.Fprintf(stdout, "\nResult: the seal signature is valid\n")
		return nil
	}
	return exitError{code: 1, err: fmt.Errorf("%s is neither a GM seal (SESeal) nor a seal signature (SES_Signature)", file)}
}

func sealStandard(v int) string {
	switch v {
	case 1:
		return "version 1 (GM/T 0031-2014)"
	case 4:
		return "version 4 (GB/T 38540-2020)"
	}
	return fmt.Sprintf("version %d", v)
}

func printSeal(w io.Writer, s *gmseal.Seal) {
	fmt.Fprintf(w, "  header:      %s, version %d, vendor %s\n", s.HeaderID, s.Version, s.Vid)
	fmt.Fprintf(w, "  esID:        %s\n", s.ID)
	fmt.Fprintf(w, "  name:        %s (type %d)\n", s.Name, s.Type)
	fmt.Fprintf(w, "  validity:    %s to %s (made %s)\n", day(s.ValidStart), day(s.ValidEnd), day(s.Created))
	fmt.Fprintf(w, "  picture:     %s, %d bytes, %d x %d mm\n", s.Picture.Format(), len(s.Picture.Data), s.Picture.WidthMM, s.Picture.HeightMM)
	for _, c := range s.SignerCerts {
		if cert, err := gmx509.ParseCertificate(c); err == nil {
			printCert(w, "signer cert", cert)
		} else {
			fmt.Fprintf(w, "  signer cert: unreadable (%v)\n", err)
		}
	}
	for _, d := range s.CertDigests {
		fmt.Fprintf(w, "  signer cert: %s digest %s\n", d.Type, hex.EncodeToString(d.Value))
	}
	for _, e := range s.Extensions {
		fmt.Fprintf(w, "  extension:   %v, %d bytes%s\n", e.ID, len(e.Value), yesNo(e.Critical, ", critical", ""))
	}
}

func printCert(w io.Writer, role string, c *gmx509.Certificate) {
	fmt.Fprintf(w, "  %-12s %s (issuer %s, serial %s, valid %s to %s)\n", role+":", c.Subject.CommonName, c.Issuer.CommonName, c.SerialNumber.Text(16), day(c.NotBefore), day(c.NotAfter))
}

func printTrust(w io.Writer, c *gmx509.Certificate, roots []*gmx509.Certificate, at time.Time) {
	if len(roots) == 0 {
		return
	}
	err := gmseal.Chain(c, roots, at)
	fmt.Fprintf(w, "  trusted:     %s\n", yesNo(err == nil, "the maker's certificate chains to a trust anchor", fmt.Sprintf("no: %v", err)))
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

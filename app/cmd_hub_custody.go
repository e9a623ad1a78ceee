package main

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// parseLocalTime reads a date or a date and time in local time.
func parseLocalTime(s, flagName string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: --%s %q: write 2026-12-31 or 2026-12-31T18:00", errUsage, flagName, s)
}

// hubCustodian puts a person on the roster, with the certificate they identify with at a
// handover.
func hubCustodian(args []string, stdout, stderr io.Writer) error {
	fs, data := hubFlags("custodian", stderr)
	id := fs.String("id", "", "the person's id")
	name := fs.String("name", "", "the person's name")
	certFile := fs.String("cert", "", "their certificate (PEM or DER) on their own key: the credential they identify with at a handover")
	var seals listFlag
	fs.Var(&seals, "seal", "a seal they keep (repeat for several)")
	if err := parseHub(fs, data, args); err != nil {
		return err
	}
	if *id == "" || *name == "" {
		return fmt.Errorf("%w: give --id and --name", errUsage)
	}
	c := upstream.Custodian{Person: upstream.Person{ID: *id, Name: *name}, Seals: seals}
	if *certFile != "" {
		b, err := os.ReadFile(*certFile)
		if err != nil {
			return err
		}
		if blk, _ := pem.Decode(b); blk != nil {
			b = blk.Bytes
		}
		c.CertSHA256 = upstream.CertHash(b)
	}
	h, err := hub.OpenAdmin(*data)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.AddCustodian(c); err != nil {
		return err
	}
	cred := "no credential yet (add one with --cert before a handover to them)"
	if c.CertSHA256 != "" {
		cred = "identifies with certificate " + c.CertSHA256[:12]
	}
	fmt.Fprintf(stdout, "custodian %s (%s) on the roster; %s\n", c.Name, c.ID, cred)
	return nil
}

// hubHandovers lists the approvals and the handover records the workstations sent.
func hubHandovers(args []string, stdout, stderr io.Writer) error {
	fs, data := hubFlags("handovers", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseHub(fs, data, args); err != nil {
		return err
	}
	h, err := hub.OpenAdmin(*data)
	if err != nil {
		return err
	}
	defer h.Close()
	snap, err := h.Snapshot()
	if err != nil {
		return err
	}
	recs, err := h.HandoverRecords()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Roster   upstream.Roster        `json:"roster"`
			Received []hub.ReceivedHandover `json:"received"`
		}{snap.Roster, recs})
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APPROVAL\tKIND\tSEAL\tFROM\tTO\tAPPROVED BY\tUNTIL\tSTATE")
	for _, ho := range snap.Roster.Handovers {
		kind, until, state := ho.Kind, "-", "approved, valid until "+ho.Expires.Local().Format("2006-01-02 15:04")
		if kind == "" {
			kind = upstream.CustodyHandover
		}
		if !ho.Until.IsZero() {
			until = ho.Until.Local().Format("2006-01-02 15:04")
		}
		if ho.Done {
			state = "done"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ho.ID, kind, ho.SealID, ho.From.Name, ho.To.Name, ho.ApprovedBy.Name, until, state)
	}
	fmt.Fprintln(tw, "\nRECEIVED\tKIND\tWORKSTATION\tFROM\tTO\tAT\tINVENTORY\tLEDGER")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d records\n", r.HandoverID, r.Kind, r.Workstation, r.From.Name, r.To.Name, r.At.Local().Format("2006-01-02 15:04"), short(r.Inventory), r.LedgerSize)
	}
	if len(recs) == 0 {
		fmt.Fprintln(tw, "none received")
	}
	return tw.Flush()
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "-"
	}
	return h
}

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

func init() {
	register(command{name: "handover", summary: "hand the seal to another custodian (交接) or a delegate (代管), with the server's approval", run: runHandover})
}

const handoverUsage = `sealkeeper handover: custody of the seal changes (RULES.md 2).

  sealkeeper handover [--config F] [--token T] [--pin-file F]   the approvals cached from the server, and delegations in force (after a login: they are kept encrypted)
  sealkeeper handover --approval ID --to-token LABEL [--token T] [--pin-file F] [--to-pin-file F] [--new-pin-file F] [--yes]
  sealkeeper handover --approval ID --code [--code-file F] [--token T] [--pin-file F] [--new-pin-file F] [--yes]

The outgoing custodian logs in with the seal key (--token, --pin-file); the incoming person
plugs in their own key (--to-token, label or serial) and enters the PIN it was issued with
(--to-pin-file); both confirm the inventory shown (typing yes each, or --yes when both are at
the desk); the incoming person sets a new PIN at once (--new-pin-file, else typed twice).

When the approval names a one-time code (hub handover --code), the incoming person has no key
of their own: they give the code (--code-file, else typed), and the seal key itself passes to
them under the new PIN they set; the outgoing custodian's PIN then fails.`

func runHandover(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("handover", stderr)
	approval := fs.String("approval", "", "the server's approval to carry out (sealkeeper handover lists them)")
	token := fs.String("token", "", "the outgoing custodian's seal key (label or serial)")
	pinFile := fs.String("pin-file", "", "the outgoing custodian's PIN, in a file only they can read")
	toToken := fs.String("to-token", "", "the incoming person's own key (label or serial)")
	toPINFile := fs.String("to-pin-file", "", "the PIN the incoming person's key was issued with, in a file")
	newPINFile := fs.String("new-pin-file", "", "the incoming person's new PIN, in a file")
	byCode := fs.Bool("code", false, "the incoming person identifies with the one-time code the server issued for the approval")
	codeFile := fs.String("code-file", "", "the one-time code, in a file only they can read (else typed)")
	yes := fs.Bool("yes", false, "both people confirm the inventory shown (they sit at the desk together)")
	fs.Usage = func() { fmt.Fprintln(stderr, handoverUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected %q\n\n%s", errUsage, fs.Arg(0), handoverUsage)
	}
	w, err := openWorkspace(*cfgPath, stderr)
	if err != nil {
		return err
	}
	defer w.Close()
	ctx := context.Background()
	pull(ctx, w, stderr)
	if *approval == "" {
		// The cached roster is encrypted in sync.db: the custodian logs in to read it.
		if _, err := login(w, *token, *pinFile, stderr); err != nil {
			return err
		}
		return listCustody(w.Custody, stdout)
	}
	*byCode = *byCode || *codeFile != ""
	if *toToken == "" && !*byCode {
		return fmt.Errorf("%w: --to-token is required: the incoming person's own key (or --code, when the approval names a one-time code)\n\n%s", errUsage, handoverUsage)
	}
	_, sealPIN, err := loginPIN(w, *token, *pinFile, stderr)
	if err != nil {
		return err
	}
	s, err := w.Custody.Begin(*approval)
	if err != nil {
		return err
	}
	defer s.Close()
	o := s.Offer
	var who string
	switch {
	case o.ByCode():
		code, err := readSecret(*codeFile, "code-file", fmt.Sprintf("%s, the one-time code of approval %s: ", o.To.Name, o.Approval.ID), stderr)
		if err != nil {
			return err
		}
		if err := s.IdentifyByCode(code, sealPIN); err != nil {
			return err
		}
		who = "the one-time code of the approval; the seal key passes to them"
	case *byCode:
		return fmt.Errorf("%w: approval %s names no one-time code; %s identifies with their own key (--to-token)", usecase.ErrNotIdentified, o.Approval.ID, o.To.Name)
	default:
		toPIN, err := readSecret(*toPINFile, "to-pin-file", fmt.Sprintf("%s, the PIN your key %q was issued with: ", o.To.Name, *toToken), stderr)
		if err != nil {
			return err
		}
		sum, err := s.Identify(*toToken, toPIN)
		if err != nil {
			return err
		}
		who = "the certificate " + sum.String()
	}
	fmt.Fprintf(stdout, "%s %s: seal %s from %s to %s, approved by %s on %s", kindWord(o.Kind()), o.Approval.ID, o.Approval.SealID, o.From.Name, o.To.Name,
		o.Approval.ApprovedBy.Name, o.Approval.ApprovedAt.Local().Format("2006-01-02 15:04"))
	if !o.Approval.Until.IsZero() {
		fmt.Fprintf(stdout, ", until %s", o.Approval.Until.Local().Format("2006-01-02 15:04"))
	}
	fmt.Fprintf(stdout, "\n%s identified by %s\n\n", o.To.Name, who)
	inv, err := s.Inventory()
	if err != nil {
		return err
	}
	printInventory(stdout, inv)
	in := bufio.NewReader(os.Stdin)
	for _, p := range []struct{ party, name string }{{usecase.PartyOutgoing, o.From.Name}, {usecase.PartyIncoming, o.To.Name}} {
		if !*yes {
			fmt.Fprintf(stdout, "%s, do you confirm this inventory? Type yes: ", p.name)
			line, _ := in.ReadString('\n')
			if strings.TrimSpace(strings.ToLower(line)) != "yes" {
				return fmt.Errorf("%w: %s did not confirm; nothing changed", usecase.ErrInventoryNotConfirmed, p.name)
			}
		}
		if err := s.Confirm(p.party, inv.Digest()); err != nil {
			return err
		}
	}
	newPIN, err := readNewPIN(*newPINFile, o.To.Name, stderr)
	if err != nil {
		return err
	}
	done, err := s.Complete(newPIN)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s carried out: %s keeps seal %s; ledger record %d; inventory %s.\n", kindWord(o.Kind()), o.Approval.ID, o.To.Name, o.Approval.SealID, done.Seq, done.Record.Inventory[:16])
	if o.ByCode() {
		fmt.Fprintf(stdout, "The seal key has %s's new PIN; %s's PIN no longer works.\n", o.To.Name, o.From.Name)
	} else {
		fmt.Fprintf(stdout, "%s's key has the new PIN; its old PIN no longer works.\n", o.To.Name)
	}
	push(ctx, w, stdout, stderr)
	return nil
}

func kindWord(kind string) string {
	if kind == upstream.CustodyDelegation {
		return "Delegation (代管)"
	}
	return "Handover (交接)"
}

// readNewPIN reads the new PIN from a file, or typed twice.
func readNewPIN(file, name string, stderr io.Writer) (string, error) {
	pin, err := readSecret(file, "new-pin-file", name+", your new PIN: ", stderr)
	if err != nil || file != "" {
		return pin, err
	}
	again, err := readSecret("", "new-pin-file", "The new PIN again: ", stderr)
	if err != nil {
		return "", err
	}
	if again != pin {
		return "", fmt.Errorf("the two new PINs differ; nothing changed")
	}
	return pin, nil
}

func printInventory(w io.Writer, inv usecase.Inventory) {
	fmt.Fprintln(w, "Inventory (交接清单):")
	for _, s := range inv.Seals {
		valid := "valid now"
		if !s.ValidNow {
			valid = "NOT valid now"
		}
		fmt.Fprintf(w, "  seal key %q: %s, serial %s, %s to %s, %s\n", s.Label, s.Subject, s.Serial, s.NotBefore.Local().Format("2006-01-02"), s.NotAfter.Local().Format("2006-01-02"), valid)
	}
	fmt.Fprintf(w, "  documents waiting: %d\n", len(inv.Pending))
	for _, d := range inv.Pending {
		cached := "not downloaded"
		if d.Cached {
			cached = "on this workstation"
		}
		fmt.Fprintf(w, "    %s  %s (%s)\n", d.ID, d.Title, cached)
	}
	fmt.Fprintf(w, "  interrupted stampings: %d\n", len(inv.Interrupted))
	for _, it := range inv.Interrupted {
		fmt.Fprintf(w, "    %s  %s (since %s)\n", it.DocID, it.Title, it.At.Local().Format("2006-01-02 15:04"))
	}
	fmt.Fprintf(w, "  not yet sent to the server: %d ledger record(s), %d result(s)\n", inv.Unsynced, inv.Outbox)
	fmt.Fprintf(w, "  ledger: %d records, head %s\n", inv.LedgerSize, inv.LedgerHead[:16])
	fmt.Fprintf(w, "  inventory digest: %s\n\n", inv.Digest())
}

// listCustody prints the cached approvals and the delegations in force.
func listCustody(c *usecase.Custody, stdout io.Writer) error {
	offers, err := c.Offers()
	if err != nil {
		return err
	}
	if len(offers) == 0 {
		fmt.Fprintln(stdout, "No handover approved for this seal (the roster cached from the server names none).")
	}
	for _, o := range offers {
		state := "ready"
		if o.Problem != "" {
			state = o.Problem
		}
		until := ""
		if !o.Approval.Until.IsZero() {
			until = " until " + o.Approval.Until.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(stdout, "%s  %s  %s → %s%s, approved by %s: %s\n", o.Approval.ID, o.Kind(), o.From.Name, o.To.Name, until, o.Approval.ApprovedBy.Name, state)
	}
	ds, err := c.Delegations()
	if err != nil {
		return err
	}
	for _, d := range ds {
		fmt.Fprintf(stdout, "In force: %s keeps the seal for %s until %s (approval %s)\n", d.To.Name, d.From.Name, d.Until.Local().Format("2006-01-02 15:04"), d.HandoverID)
	}
	return nil
}

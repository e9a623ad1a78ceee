package main

import (
	"fmt"
	"io"

	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// hubCopies lists the requests for extra copies (加印) or approves one.
func hubCopies(args []string, stdout, stderr io.Writer) error {
	fs, data := hubFlags("copies", stderr)
	approve := fs.String("approve", "", "approve this request (its id from the list)")
	approver := fs.String("approver", "", "who approves (with --approve)")
	if err := parseHub(fs, data, args); err != nil {
		return err
	}
	ca, closeHub, err := openAdminAs[hub.CopyAdmin](*data, "extra copies")
	if err != nil {
		return err
	}
	defer closeHub()
	if *approve != "" {
		g, err := ca.ApproveCopies(*approve, *approver)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "request %s approved: %d extra copies of %s for %s; the workstation takes the allowance at its next print\n", g.ID, g.Request.Copies, g.Request.DocumentID, g.Workstation)
		return nil
	}
	gs, err := ca.CopyRequests()
	if err != nil {
		return err
	}
	if len(gs) == 0 {
		fmt.Fprintln(stdout, "no requests for extra copies")
	}
	for _, g := range gs {
		fmt.Fprintf(stdout, "%s  %-9s %s  %s  %d copies  by %s: %s\n", g.ID, g.Status, g.Workstation, g.Request.DocumentID, g.Request.Copies, g.Request.Custodian.Name, g.Request.Reason)
	}
	return nil
}

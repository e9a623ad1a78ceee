package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

func init() {
	register(command{name: "queue", summary: "the approved documents waiting to be stamped here", run: runQueue})
}

func runQueue(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("queue", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	token := fs.String("token", "", "token label or serial (default: the only token, or the demo token)")
	pinFile := fs.String("pin-file", "", "read the PIN from this file (default: ask; a demo workspace needs none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: sealkeeper queue [--json] [--token T] [--pin-file F] [--config FILE]", errUsage)
	}
	w, err := openWorkspace(*cfgPath, stderr)
	if err != nil {
		return err
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pull(ctx, w, stderr)
	// The queue is kept encrypted under the ledger's key slots: reading it takes a login.
	if _, err := login(w, *token, *pinFile, stderr); err != nil {
		return err
	}
	items, err := w.Desk.Queue()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if items == nil {
			return enc.Encode([]any{})
		}
		return enc.Encode(items)
	}
	if len(items) == 0 {
		fmt.Fprintln(stdout, "No documents are waiting to be stamped.")
		return nil
	}
	for _, it := range items {
		state := "ready"
		if !it.Ready {
			state = "cannot be stamped: " + it.Problem
		}
		fmt.Fprintf(stdout, "%s  %s  (%s, %d pages, %d copies, seal %s)\n", it.ID, it.Title, it.Department, it.Pages, it.Copies, it.SealID)
		fmt.Fprintf(stdout, "    requested by %s, approved by %s; expires %s; %s\n", it.Requester, strings.Join(it.Approvers, ", "),
			it.Expires.Local().Format("2006-01-02 15:04"), state)
	}
	return nil
}

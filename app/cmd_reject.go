package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sealkeeper/sealkeeper/app/usecase"
)

func init() {
	register(command{name: "reject", summary: "return a queue document with a reason instead of stamping it (退签)", run: runReject})
}

func runReject(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("reject", stderr)
	docID := fs.String("doc", "", "the queue document to return")
	reason := fs.String("reason", "", "why it is returned (required; the requester sees it)")
	token := fs.String("token", "", "token label or serial (default: the only token, or the demo token)")
	pinFile := fs.String("pin-file", "", "read the PIN from this file (default: ask; a demo workspace needs none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *docID == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: sealkeeper reject --doc ID --reason TEXT", errUsage)
	}
	if strings.TrimSpace(*reason) == "" {
		return usecase.ErrReasonRequired
	}
	w, err := openWorkspace(*cfgPath, stderr)
	if err != nil {
		return err
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pull(ctx, w, stderr)
	// Returning a document is the custodian's act: it needs the key and its PIN like stamping.
	seal, err := login(w, *token, *pinFile, stderr)
	if err != nil {
		return err
	}
	seq, err := w.Desk.Reject(*docID, *reason, seal.Custodian)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Returned document %s (ledger record %d): %s\n", *docID, seq, *reason)
	push(ctx, w, stdout, stderr)
	return nil
}

package main

import (
	"context"
	"fmt"
	"io"

	"github.com/sealkeeper/sealkeeper/app/usecase"
	"github.com/sealkeeper/sealkeeper/app/workspace"
)

// openWorkspace opens the workstation for a command that records what it does (stamp, reject,
// queue): the same parts the window opens, logging to the workstation's log file. What went
// wrong without making it unusable is printed.
func openWorkspace(cfgPath string, stderr io.Writer) (*workspace.Workspace, error) {
	cfg, err := workspace.LoadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	log, closeLog, err := workspace.OpenLog(cfg.Data())
	if err != nil {
		return nil, err
	}
	log = log.With("from", "cli")
	w, err := workspace.Open(cfg, log)
	if err != nil {
		closeLog()
		return nil, err
	}
	w.OnClose(closeLog)
	for _, p := range w.Problems {
		fmt.Fprintf(stderr, "sealkeeper: %v\n", p)
	}
	return w, nil
}

// login finds the seal key, asks for its PIN (the demo's is known) and logs in, recorded in the
// ledger like a login from the window (ok, or failed with why).
func login(w *workspace.Workspace, token, pinFile string, stderr io.Writer) (usecase.Seal, error) {
	seal, _, err := loginPIN(w, token, pinFile, stderr)
	return seal, err
}

// loginPIN is login that also returns the PIN it logged in with, for a handover by one-time
// code, where the seal key's PIN changes to the incoming custodian's.
func loginPIN(w *workspace.Workspace, token, pinFile string, stderr io.Writer) (usecase.Seal, string, error) {
	if token == "" && w.Config.Demo.Enabled {
		token = w.Config.Demo.TokenLabel
	}
	if err := w.Keys.Find(token); err != nil {
		return usecase.Seal{}, "", err
	}
	st := w.Keys.State()
	pin, err := readPIN(w.Config, pinFile, st.Token, stderr)
	if err != nil {
		return usecase.Seal{}, "", err
	}
	if err := w.Keys.Login(pin); err != nil {
		return usecase.Seal{}, "", err
	}
	// A delegation past its end date ends now: its delegate is logged out again.
	if err := w.Custody.Enforce(); err != nil {
		return usecase.Seal{}, "", err
	}
	st = w.Keys.State()
	if pc := st.PINChange; pc.Kind != 0 {
		return usecase.Seal{}, "", fmt.Errorf("the key's PIN must be changed before it may stamp (%s); change it in the window", pc)
	} else if pc.Soon {
		fmt.Fprintf(stderr, "sealkeeper: the key's PIN must be changed by %s; change it in the window\n", pc.Due.Local().Format("2006-01-02"))
	}
	if st.Seal != nil && st.Seal.ExpiresSoon {
		fmt.Fprintf(stderr, "sealkeeper: the seal's certificate expires on %s; have it renewed before then\n", st.Seal.NotAfter.Local().Format("2006-01-02"))
	}
	seal, err := w.Keys.Seal()
	if err != nil {
		return seal, "", err
	}
	// Stampings a crash cut short are settled before anything new is done.
	if w.Ledger != nil && w.Ledger.Unlocked() {
		done, err := w.Desk.Reconcile(seal)
		for _, it := range done {
			if it.Signed {
				fmt.Fprintf(stderr, "sealkeeper: an interrupted stamping of %q (%s) had finished: recorded as done (ledger record %d)\n", it.Title, it.At.Local().Format("2006-01-02 15:04"), it.Recorded)
			} else {
				fmt.Fprintf(stderr, "sealkeeper: an interrupted stamping of %q (%s) did not happen: %s (ledger record %d)\n", it.Title, it.At.Local().Format("2006-01-02 15:04"), it.Problem, it.Recorded)
			}
		}
		if err != nil {
			return seal, "", err
		}
	}
	return seal, pin, nil
}

// pull fetches the queue from the server once; offline, the cached queue is used and the
// command says so.
func pull(ctx context.Context, w *workspace.Workspace, stderr io.Writer) {
	if w.Link == nil {
		return
	}
	if err := w.Link.Syncer.SyncOnce(ctx); err != nil {
		fmt.Fprintf(stderr, "sealkeeper: working offline (%v); using the documents cached here\n", err)
	}
}

// push sends what was recorded (ledger records, results, stamped files) to the server now;
// offline it stays queued for the next sync, from the window or the next command.
func push(ctx context.Context, w *workspace.Workspace, stdout, stderr io.Writer) {
	if w.Link == nil {
		return
	}
	if err := w.Link.Syncer.SyncOnce(ctx); err != nil {
		fmt.Fprintf(stderr, "sealkeeper: not sent to the server yet (%v); it goes with the next sync\n", err)
		return
	}
	s := w.Link.Syncer.Status()
	if s.Unsynced == 0 && s.Outbox == 0 {
		fmt.Fprintln(stdout, "Sent to the server.")
		return
	}
	fmt.Fprintf(stdout, "Synced with the server; still waiting to go up: %d ledger record(s), %d result(s).\n", s.Unsynced, s.Outbox)
	// A result the server refused stays queued with its reason: show it.
	if items, err := w.Link.Store.Outbox(); err == nil {
		for _, it := range items {
			if it.LastErr != "" {
				fmt.Fprintf(stderr, "sealkeeper: the server refused the result for document %s (%d attempts): %s\n", it.Result.DocumentID, it.Attempts, it.LastErr)
			}
		}
	}
}

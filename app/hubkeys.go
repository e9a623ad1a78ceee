package main

import (
	"bytes"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/store/ticket"
)

// The hub's keys on a PKCS#11 token: the ticket key and the workstation CA's key, ECDSA P-256
// pairs made on the token by 'hub keys --make' and found again by these IDs.
var (
	hubTicketKeyID = []byte("sealkeeper-hub-ticket")
	hubCAKeyID     = []byte("sealkeeper-hub-ca")
)

// hubTokenFlags are the flags that name the token holding the hub's keys.
type hubTokenFlags struct{ module, token, pinFile *string }

func addHubTokenFlags(fs *flag.FlagSet) hubTokenFlags {
	return hubTokenFlags{
		module:  fs.String("key-module", "", "PKCS#11 module of the token holding the hub's keys (made there by 'hub keys --make'); without it the keys are in hub.db"),
		token:   fs.String("key-token", "", "with --key-module: the token's label"),
		pinFile: fs.String("key-pin-file", "", "with --key-module: file holding the token's user PIN (mode 0600); without it the PIN is asked for"),
	}
}

func (f hubTokenFlags) given() bool { return *f.module != "" }

// hubToken is a logged-in session on the token holding the hub's keys.
type hubToken struct {
	m    *device.Module
	sess *device.Session
}

// open logs in to the named token.
func (f hubTokenFlags) open(stderr io.Writer) (*hubToken, error) {
	if *f.token == "" {
		return nil, fmt.Errorf("%w: --key-module needs --key-token LABEL (see 'sealkeeper token list')", errUsage)
	}
	m, err := device.OpenModule(*f.module)
	if err != nil {
		return nil, err
	}
	toks, err := m.Tokens()
	if err != nil {
		m.Close()
		return nil, err
	}
	for _, tok := range toks {
		if tok.Label != *f.token {
			continue
		}
		pin, err := readPIN(nil, *f.pinFile, tok, stderr)
		if err != nil {
			m.Close()
			return nil, err
		}
		sess, err := m.Login(tok, pin)
		if err != nil {
			m.Close()
			return nil, err
		}
		return &hubToken{m: m, sess: sess}, nil
	}
	m.Close()
	return nil, fmt.Errorf("no token labelled %q in %s (see 'sealkeeper token list')", *f.token, *f.module)
}

func (t *hubToken) Close() {
	t.sess.Close()
	t.m.Close()
}

// signers finds the hub's two keys on the token.
func (t *hubToken) signers() (ticketKey, caKey crypto.Signer, err error) {
	keys, err := t.sess.Seals()
	if err != nil {
		return nil, nil, err
	}
	find := func(id []byte) (crypto.Signer, error) {
		for _, k := range keys {
			if bytes.Equal(k.ID, id) {
				return t.sess.Signer(k)
			}
		}
		return nil, fmt.Errorf("token %q has no key with ID %q; make the hub's keys on it with 'sealkeeper hub keys --make'", t.sess.Token().Label, id)
	}
	if ticketKey, err = find(hubTicketKeyID); err != nil {
		return nil, nil, err
	}
	if caKey, err = find(hubCAKeyID); err != nil {
		return nil, nil, err
	}
	return ticketKey, caKey, nil
}

// hubKeys makes the hub's keys on a token ('hub keys --make'), or shows that they are there.
func hubKeys(args []string, stdout, stderr io.Writer) error {
	fs, _ := newFlags("hub keys", stderr)
	tf := addHubTokenFlags(fs)
	mk := fs.Bool("make", false, "make the two keys (ticket key, workstation CA key) on the token; refused if they are there")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !tf.given() {
		return fmt.Errorf("%w: --key-module and --key-token name the token for the hub's keys", errUsage)
	}
	t, err := tf.open(stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	if *mk {
		if _, _, err := t.signers(); err == nil {
			return errors.New("the token already holds the hub's keys; a new ticket key would cut off every workstation that pinned the old one")
		}
		for _, id := range [][]byte{hubTicketKeyID, hubCAKeyID} {
			if _, err := t.sess.GenerateKeyPair("p256", string(id), id); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "made the hub's ticket key and workstation CA key on token %q; start a new hub with --key-module %s --key-token %s\n", t.sess.Token().Label, *tf.module, *tf.token)
	}
	tk, _, err := t.signers()
	if err != nil {
		return err
	}
	pem, err := ticket.MarshalPublicKey(tk.Public())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ticket key on token %q (workstations pin it as upstream.server_key):\n%s", t.sess.Token().Label, pem)
	return nil
}

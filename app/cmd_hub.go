package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/sealkeeper/sealkeeper/app/workspace"
	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

func init() {
	register(command{name: "hub", summary: "run the reference seal-management server, or administer it", run: runHub})
}

const hubUsage = `sealkeeper hub: the reference seal-management server.

  sealkeeper hub [serve] --listen ADDR --data DIR --tls-cert F --tls-key F [--client-ca F] [--admin]
                         [--key-module M --key-token LABEL --key-pin-file F]
  sealkeeper hub demo     --data DIR --workstation NAME [--listen 127.0.0.1:PORT]
  sealkeeper hub add      --data DIR --workstation NAME --seal ID [--title T] [...] FILE.pdf...
  sealkeeper hub seal     --data DIR --id ID [--status active|suspended|revoked] [--reason TEXT] [--name NAME] [--cert FILE]
  sealkeeper hub custodian --data DIR --id ID --name NAME [--cert FILE] [--seal ID]  (the roster; --cert: their credential)
  sealkeeper hub handover --data DIR --seal ID --from ID:NAME --to ID:NAME --approver ID:NAME [--reason TEXT] [--until TIME] [--code]
                          (--until makes it a delegation (代管) ending then: 2026-12-31 or 2026-12-31T18:00)
  sealkeeper hub handovers --data DIR [--json]              (approvals, and the handover records workstations sent)
  sealkeeper hub enrol    --data DIR --workstation NAME [--valid 24h]  (prints a one-time enrolment code)
  sealkeeper hub unenrol  --data DIR --workstation NAME     (its certificate is no longer accepted)
  sealkeeper hub list     --data DIR [--json]               (documents, seals, workstations, what was received)
  sealkeeper hub key      --data DIR                        (prints the ticket key to pin as upstream.server_key, from the database)
  sealkeeper hub keys     --key-module M --key-token LABEL [--key-pin-file F] [--make]
                                                            (the hub's keys on a PKCS#11 token, not in hub.db)
  sealkeeper hub copies   --data DIR [--approve ID --approver NAME]  (requests for extra copies, 加印; approve one)
  sealkeeper hub reports  --data DIR [--get WORKSTATION/2026-11 --out DIR]
                                                            (the monthly tables the workstations sent, 汇总表; download one)

On the workstation:
  sealkeeper hub join     --config FILE --code CODE         (enrols this workstation with upstream.url)

Workstations enrol with a one-time code: the workstation makes a key, the hub signs its client
certificate, and from then on the hub knows the workstation only by that certificate (mutual
TLS). The admin commands open the hub's database directly, or, while a hub started with
--admin runs on the folder, go through its admin socket DATA/admin.sock (this user only).
'hub key' always reads the database: stop the hub first. The ticket key and the workstation CA
key are kept in hub.db unless the hub is started with --key-module and --key-token, which hold
them on a PKCS#11 token ('hub keys --make' makes them there). A hub made with its keys on a
token does not open without it, and never with other keys.
Run 'sealkeeper hub COMMAND -h' for each command's flags.`

func runHub(args []string, stdout, stderr io.Writer) error {
	sub := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "serve":
		return hubServe(args, stdout, stderr, false)
	case "demo":
		return hubServe(args, stdout, stderr, true)
	case "add":
		return hubAdd(args, stdout, stderr)
	case "seal":
		return hubSeal(args, stdout, stderr)
	case "handover":
		return hubHandover(args, stdout, stderr)
	case "handovers":
		return hubHandovers(args, stdout, stderr)
	case "custodian":
		return hubCustodian(args, stdout, stderr)
	case "enrol", "enroll":
		return hubEnrol(args, stdout, stderr)
	case "unenrol", "unenroll":
		return hubUnenrol(args, stdout, stderr)
	case "join":
		return hubJoin(args, stdout, stderr)
	case "list":
		return hubList(args, stdout, stderr)
	case "key":
		return hubKey(args, stdout, stderr)
	case "keys":
		return hubKeys(args, stdout, stderr)
	case "copies":
		return hubCopies(args, stdout, stderr)
	case "reports":
		return hubReports(args, stdout, stderr)
	case "help":
		fmt.Fprintln(stdout, hubUsage)
		return nil
	}
	return fmt.Errorf("%w: unknown hub command %q\n\n%s", errUsage, sub, hubUsage)
}

func hubFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs, _ := newFlags("hub "+name, stderr)
	data := fs.String("data", "", "the hub's data folder (holds "+hub.FileName+")")
	return fs, data
}

func parseHub(fs *flag.FlagSet, data *string, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		return fmt.Errorf("%w: --data DIR is required (the hub's data folder)", errUsage)
	}
	return nil
}

func hubServe(args []string, stdout, stderr io.Writer, demo bool) error {
	name := "serve"
	if demo {
		name = "demo"
	}
	fs, data := hubFlags(name, stderr)
	listen := fs.String("listen", "", "address to listen on, e.g. :8443 or 127.0.0.1:8443")
	cert := fs.String("tls-cert", "", "PEM certificate chain of the hub (required unless listening on loopback)")
	key := fs.String("tls-key", "", "PEM private key of the hub")
	clientCA := fs.String("client-ca", "", "PEM CA of workstation certificates made outside the hub; enrolment binds the one a workstation presents (the hub's own CA is always trusted)")
	requireCert := fs.Bool("require-client-cert", false, "with --client-ca: refuse TLS handshakes without a client certificate (workstations then cannot enrol with a CSR)")
	autoEnrol := fs.Bool("auto-enrol", false, "demo and tests on 127.0.0.1 only: know workstations by their name header, enrol them without a code")
	ws := fs.String("workstation", "", "demo: the workstation the sample documents are approved for")
	admin := fs.Bool("admin", false, "also serve the admin API on the Unix socket DATA/admin.sock (the data folder must be mode 0700), so admin commands work while the hub runs")
	tf := addHubTokenFlags(fs)
	if err := parseHub(fs, data, args); err != nil {
		return err
	}
	if demo {
		if *listen == "" {
			*listen = "127.0.0.1:0"
		}
		if *ws == "" {
			return fmt.Errorf("%w: --workstation NAME is required: the demo documents are approved for one workstation", errUsage)
		}
		*autoEnrol = true
	} else if *listen == "" {
		return fmt.Errorf("%w: --listen ADDR is required", errUsage)
	}
	var tlsConf *tls.Config
	if *cert != "" || *key != "" {
		kp, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			return fmt.Errorf("loading the hub's TLS certificate: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{kp}}
	}
	if *clientCA != "" {
		if tlsConf == nil {
			return fmt.Errorf("%w: --client-ca needs --tls-cert and --tls-key (client certificates are part of TLS)", errUsage)
		}
		pem, err := os.ReadFile(*clientCA)
		if err != nil {
			return fmt.Errorf("reading the client CA: %w", err)
		}
		tlsConf.ClientCAs = x509.NewCertPool()
		if !tlsConf.ClientCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("the client CA file %s holds no PEM certificate", *clientCA)
		}
	}
	if *requireCert && *clientCA == "" {
		return fmt.Errorf("%w: --require-client-cert needs --client-ca", errUsage)
	}
	opt := hub.Options{AutoEnrol: *autoEnrol, RequireClientCert: *requireCert}
	if tf.given() {
		t, err := tf.open(stderr)
		if err != nil {
			return err
		}
		defer t.Close()
		if opt.TicketSigner, opt.CASigner, err = t.signers(); err != nil {
			return err
		}
	}
	h, err := hub.Open(*data, opt)
	if err != nil {
		return err
	}
	defer h.Close()
	if demo {
		if err := h.SeedDemo(*ws); err != nil {
			return fmt.Errorf("seeding the demo hub: %w", err)
		}
	}
	srv, err := h.Serve(*listen, tlsConf)
	if err != nil {
		return err
	}
	kid, _ := ticket.KeyIDOf(h.TicketKey())
	fmt.Fprintf(stdout, "hub listening on %s (data %s, ticket key %x)\n", srv.URL, filepath.Join(*data, hub.FileName), kid)
	if tlsConf == nil {
		fmt.Fprintln(stdout, "warning: plain HTTP on loopback, for the demo and tests only; give --tls-cert and --tls-key for real use")
	}
	if *autoEnrol {
		fmt.Fprintln(stdout, "warning: auto-enrol: workstations are known by their name header alone, for the demo and tests only")
	} else {
		fmt.Fprintln(stdout, "workstations enrol with a one-time code (sealkeeper hub enrol) and then identify by their client certificate")
	}
	if *clientCA != "" {
		fmt.Fprintln(stdout, "client certificates issued by", *clientCA, "can be bound at enrolment")
	}
	if *admin {
		as, err := h.ServeAdmin()
		if err != nil {
			srv.Close()
			return err
		}
		defer as.Close()
		fmt.Fprintf(stdout, "admin API on %s (this user only)\n", as.URL)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case s := <-sig:
		fmt.Fprintf(stdout, "hub stopping (%v)\n", s)
		return srv.Close()
	case err := <-done:
		return err
	}
}

// person parses ID:NAME.
func person(s, flagName string) (upstream.Person, error) {
	id, name, ok := strings.Cut(s, ":")
	if !ok || id == "" || name == "" {
		return upstream.Person{}, fmt.Errorf("%w: --%s %q must be ID:NAME, e.g. c-002:李伟", errUsage, flagName, s)
	}
	return upstream.Person{ID: id, Name: name}, nil
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// approvedPages reads --pages of hub add: parsePages's forms, and "last" (ticket.LastPage) for
// the document's last page.
func approvedPages(s string) ([]int, error) {
	var rest []string
	last := false
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "last" {
			last = true
		} else if part != "" {
			rest = append(rest, part)
		}
	}
	out, err := parsePages(strings.Join(rest, ","), 0)
	if err != nil {
		return nil, err
	}
	if last {
		out = append(out, ticket.LastPage)
	}
	return out, nil
}

// parseRegion reads --region PAGE:X,Y,W,H (mm).
func parseRegion(s string) (ticket.Region, error) {
	bad := fmt.Errorf("%w: --region %q: write PAGE:X,Y,W,H in mm from the page's top left, e.g. last:120,200,60,45", errUsage, s)
	page, rect, ok := strings.Cut(s, ":")
	var r ticket.Region
	if !ok {
		return r, bad
	}
	if page = strings.TrimSpace(page); page != "last" {
		n, err := strconv.Atoi(page)
		if err != nil || n < 1 {
			return r, bad
		}
		r.Page = n
	}
	var v []float64
	for _, f := range strings.Split(rect, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || x < 0 {
			return r, bad
		}
		v = append(v, x)
	}
	if len(v) != 4 || v[2] <= 0 || v[3] <= 0 {
		return r, bad
	}
	r.X, r.Y, r.W, r.H = v[0], v[1], v[2], v[3]
	return r, nil
}

func hubAdd(args []string, stdout, stderr io.Writer) error {
	fs, data := hubFlags("add", stderr)
	ws := fs.String("workstation", "", "the workstation that is to stamp the documents")
	seal := fs.String("seal", "", "the seal id to stamp with")
	title := fs.String("title", "", "document title (default: the file name without .pdf)")
	dept := fs.String("department", "", "requesting department")
	req := fs.String("requester", "", "requester as ID:NAME")
	var approvers listFlag
	fs.Var(&approvers, "approver", "approver as ID:NAME (repeat for each, in order)")
	copies := fs.Int("copies", 1, "number of printed copies approved")
	supersedes := fs.String("supersedes", "", "the earlier document this corrected one replaces (重印)")
	expires := fs.Duration("expires", 7*24*time.Hour, "how long the approval stays valid")
	pages := fs.String("pages", "", "pages the seal may go on: 1,3,5-7, last, or all (default: all); signed into the ticket")
	var regions listFlag
	fs.Var(&regions, "region", "where on a page the seal's centre may go, as PAGE:X,Y,W,H in mm from the page's top left as displayed (PAGE a number or last; repeat for each); signed into the ticket")
	if err := parseHub(fs, data, args); err != nil {
		return err
	}
	if *ws == "" || *seal == "" || fs.NArg() == 0 {
		return fmt.Errorf("%w: give --workstation, --seal and at least one PDF file", errUsage)
	}
	var n hub.NewDocument
	n.Workstation, n.SealID, n.Department, n.Copies, n.Supersedes = *ws, *seal, *dept, *copies, *supersedes
	n.Expires = time.Now().Add(*expires)
	if *req != "" {
		p, err := person(*req, "requester")
		if err != nil {
			return err
		}
		n.Requester = p
	}
	for _, a := range approvers {
		p, err := person(a, "approver")
		if err != nil {
			return err
		}
		n.Approvals = append(n.Approvals, upstream.Approval{Approver: p, At: time.Now(), Comment: "同意"})
	}
	var err error
	if n.AllowedPages, err = approvedPages(*pages); err != nil {
		return err
	}
	for _, r := range regions {
		reg, err := parseRegion(r)
		if err != nil {
			return err
		}
		n.Regions = append(n.Regions, reg)
	}
	var docs []hub.NewDocument
	for _, f := range fs.Args() {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		d := n
		d.PDF, d.FileName, d.Title = b, filepath.Base(f), *title
		if d.Title == "" {
			d.Title = strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		}
		docs = append(docs, d)
	}
	h, err := hub.OpenAdmin(*data)
	if err != nil {
		return err
	}
	defer h.Close()
	added, err := h.AddDocuments(docs)
	if err != nil {
		return err
	}
	for _, d := range added {
		fmt.Fprintf(stdout, "%s  %s  (%d pages, seal %s, for %s, expires %s)\n", d.ID, d.Title, d.Pages, d.SealID, *ws, d.Expires.Local().Format("2006-01-02 15:04"))
	}
	return nil
}

func hubSeal(args []string, stdout, stderr io.Writer) error {
	fs, data := hubFlags("seal", stderr)
	id := fs.String("id", "", "seal id")
	status := fs.String("status", "", "active, suspended or revoked")
	reason := fs.String("reason", "", "why (required for suspended and revoked)")
	name := fs.String("name", "", "the seal's name, e.g. 某某单位公章")
	certFile := fs.String("cert", "", "the seal's certificate (PEM or DER): the hub records a stamping only when signed by it")
	if err := parseHub(fs, data, args); err != nil {
		return err
	}
	if *status == "" && *certFile == "" {
		return fmt.Errorf("%w: give --status, --cert or both", errUsage)
	}
	var cert []byte
	if *certFile != "" {
		var err error
		if cert, err = os.ReadFile(*certFile); err != nil {
			return fmt.Errorf("reading the seal certificate: %w", err)
		}
	}
	h, err := hub.OpenAdmin(*data)
	if err != nil {
		return err
	}
	defer h.Close()
	if *status != "" {
		if err := h.SetSeal(upstream.SealStatus{ID: *id, Name: *name, Status: *status, Reason: *reason}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "seal %s is now %s\n", *id, *status)
	}
	if cert != nil {
		if err := h.SetSealCertificate(*id, cert); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "seal %s: stampings are recorded only when signed by the certificate in %s\n", *id, *certFile)
	}
	return nil
}

func hubHandover(args []string, stdout, stderr io.Writer) error {
	fs, data := hubFlags("handover", stderr)
	seal := fs.String("seal", "", "seal id")
	from := fs.String("from", "", "current custodian as ID:NAME")
	to := fs.String("to", "", "new custodian as ID:NAME")
	appr := fs.String("approver", "", "approving head of office as ID:NAME")
	reason := fs.String("reason", "", "why custody changes")
	valid := fs.Duration("valid", 7*24*time.Hour, "how long the approval stays valid")
	until := fs.String("until", "", "make it a delegation (代管) that ends at this time (2026-12-31 or 2026-12-31T18:00, local time)")
	code := fs.Bool("code", false, "the incoming custodian identifies with a one-time code instead of a certificate: it is printed once, alone on standard output, and the hub keeps only its hash")
	if err := parseHub(fs, data, args); err != nil {
		return err
	}
	var ho upstream.Handover
	var err error
	var oneTime string
	if *code {
		if oneTime, ho.CodeSHA256, err = upstream.NewHandoverCode(); err != nil {
			return err
		}
	}
	if *until != "" {
		if ho.Until, err = parseLocalTime(*until, "until"); err != nil {
			return err
		}
		ho.Kind = upstream.CustodyDelegation
	}
	if ho.From, err = person(*from, "from"); err != nil {
		return err
	}
	if ho.To, err = person(*to, "to"); err != nil {
		return err
	}
	if ho.ApprovedBy, err = person(*appr, "approver"); err != nil {
		return err
	}
	ho.SealID, ho.Reason, ho.Expires = *seal, *reason, time.Now().Add(*valid)
	h, err := hub.OpenAdmin(*data)
	if err != nil {
		return err
	}
	defer h.Close()
	for _, c := range []upstream.Person{ho.From, ho.To} {
		if err := h.AddCustodian(upstream.Custodian{Person: c}); err != nil {
			return err
		}
	}
	if ho, err = h.ApproveHandover(ho); err != nil {
		return err
	}
	if ho.Kind == upstream.CustodyDelegation {
		fmt.Fprintf(stdout, "delegation %s approved: seal %s kept by %s for %s until %s; to be carried out by %s\n", ho.ID, ho.SealID, ho.To.Name, ho.From.Name, ho.Until.Local().Format("2006-01-02 15:04"), ho.Expires.Local().Format("2006-01-02 15:04"))
		return nil
	}
	if oneTime != "" {
		// The code alone on stdout (for a script to hand on), what it is on stderr; it is not
		// stored anywhere, so this is the only time it is shown.
		fmt.Fprintf(stderr, "handover %s approved: seal %s from %s to %s, valid until %s. One-time code for %s (shown only now; give it to them in person):\n",
			ho.ID, ho.SealID, ho.From.Name, ho.To.Name, ho.Expires.Local().Format("2006-01-02 15:04"), ho.To.Name)
		fmt.Fprintln(stdout, oneTime)
		return nil
	}
	fmt.Fprintf(stdout, "handover %s approved: seal %s from %s to %s, valid until %s\n", ho.ID, ho.SealID, ho.From.Name, ho.To.Name, ho.Expires.Local().Format("2006-01-02 15:04"))
	return nil
}

func hubEnrol(args []string, stdout, stderr io.Writer) error {
	fs, data := hubFlags("enrol", stderr)
	ws := fs.String("workstation", "", "workstation name (the Common Name of its client certificate)")
	valid := fs.Duration("valid", 24*time.Hour, "how long the code can be used (at most 30 days)")
	if err := parseHub(fs, data, args); err != nil {
		return err
	}
	h, err := hub.OpenAdmin(*data)
	if err != nil {
		return err
	}
	defer h.Close()
	code, err := h.EnrolCode(*ws, *valid)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "enrolment code for %s (use once): %s\nvalid until %s; on the workstation: sealkeeper hub join --code %s\n", *ws, code.Code, code.Expires.Local().Format("2006-01-02 15:04"), code.Code)
	return nil
}

func hubUnenrol(args []string, stdout, stderr io.Writer) error {
	fs, data := hubFlags("unenrol", stderr)
	ws := fs.String("workstation", "", "workstation name")
	if err := parseHub(fs, data, args); err != nil {
		return err
	}
	if *ws == "" {
		return fmt.Errorf("%w: --workstation NAME is required", errUsage)
	}
	h, err := hub.OpenAdmin(*data)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.Unenrol(*ws); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "workstation %s un-enrolled: its certificate and enrolment codes are no longer accepted; what it sent stays on the hub\n", *ws)
	return nil
}

// hubJoin runs on the workstation: it enrols it with the configured hub.
func hubJoin(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("hub join", stderr)
	code := fs.String("code", "", "the one-time enrolment code from the hub's administrator")
	host := fs.String("host", "", "this machine's host name, shown on the hub (default: the system's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *code == "" {
		return fmt.Errorf("%w: --code CODE is required (sealkeeper hub enrol prints one on the hub)", errUsage)
	}
	cfg, err := workspace.LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *host == "" {
		*host, _ = os.Hostname()
	}
	e, files, err := workspace.Enrol(cfg, *code, *host)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "workstation %s enrolled with %s\n", cfg.Workstation, cfg.Upstream.URL)
	fmt.Fprintf(stdout, "server key pinned in %s (key id %s)\n", files.ServerKey, e.KeyID)
	if e.Certificate != nil {
		fmt.Fprintf(stdout, "client certificate %s (key %s), valid until %s\n", files.Cert, files.Key, e.Certificate.NotAfter.Local().Format("2006-01-02"))
	}
	return nil
}

func hubKey(args []string, stdout, stderr io.Writer) error {
	fs, data := hubFlags("key", stderr)
	if err := parseHub(fs, data, args); err != nil {
		return err
	}
	key, err := hub.ReadTicketKey(*data)
	if err != nil {
		return err
	}
	pem, err := ticket.MarshalPublicKey(key)
	if err != nil {
		return err
	}
	_, err = stdout.Write(pem)
	return err
}

func hubList(args []string, stdout, stderr io.Writer) error {
	fs, data := hubFlags("list", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseHub(fs, data, args); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(*data, hub.FileName)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no hub database in %s", *data)
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
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(snap)
	}
	docs, seals, wss, rec, roster := snap.Documents, snap.Seals, snap.Workstations, snap.Received, snap.Roster
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DOCUMENT\tSTATE\tWORKSTATION\tSEAL\tPAGES\tTITLE")
	for _, d := range docs {
		state, title := d.State, d.Title
		if d.State == hub.StateFailed && d.Result != nil {
			state, title = "failed: approval spent, needs a new approval", title+" (the stamping failed: "+d.Result.Reason+")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", d.ID, state, d.Workstation, d.SealID, d.Pages, title)
	}
	fmt.Fprintln(tw, "\nSEAL\tSTATUS\tSINCE\tNAME\tREASON\tCERTIFICATE")
	for _, s := range seals {
		cert := "none listed"
		if s.CertSHA256 != "" {
			cert = s.CertSHA256[:12]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Status, s.Since.Local().Format("2006-01-02"), s.Name, s.Reason, cert)
	}
	fmt.Fprintln(tw, "\nHANDOVER\tSEAL\tFROM\tTO\tAPPROVED BY\tUNTIL")
	for _, ho := range roster.Handovers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ho.ID, ho.SealID, ho.From.Name, ho.To.Name, ho.ApprovedBy.Name, ho.Expires.Local().Format("2006-01-02"))
	}
	fmt.Fprintln(tw, "\nWORKSTATION\tLAST SEEN\tCERTIFICATE\tLEDGER\tCO-SIGNED\tRESULTS")
	enrolled := map[string]hub.Workstation{}
	for _, w := range wss {
		enrolled[w.Name] = w
	}
	names := map[string]bool{}
	for _, r := range rec {
		names[r.Workstation] = true
		cs := "-"
		if r.Checkpoint != nil {
			cs = fmt.Sprintf("%d at %s", r.Checkpoint.Size, r.Checkpoint.SignedAt.Local().Format("2006-01-02 15:04"))
		}
		w, ok := enrolled[r.Workstation]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d records\t%s\t%d\n", r.Workstation, lastSeen(w.LastSeen), certState(w, ok), r.LedgerSize, cs, len(r.Results))
	}
	for _, w := range wss {
		if !names[w.Name] {
			fmt.Fprintf(tw, "%s\t%s\t%s\t0 records\t-\t0\n", w.Name, lastSeen(w.LastSeen), certState(w, true))
		}
	}
	// Alarms the workstations could not put in their ledgers yet (a ledger that failed its
	// checks, or nobody logged in since), as their last heartbeat listed them.
	header := false
	for _, w := range wss {
		if w.Heartbeat == nil {
			continue
		}
		for _, a := range w.Heartbeat.Alarms {
			if !header {
				fmt.Fprintln(tw, "\nALARM (NOT IN THE LEDGER)\tWORKSTATION\tTIME\tDETAIL")
				header = true
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, w.Name, a.Time.Local().Format("2006-01-02 15:04:05"), strings.ReplaceAll(a.Detail, "\n", " "))
		}
	}
	return tw.Flush()
}

func certState(w hub.Workstation, enrolled bool) string {
	switch {
	case !enrolled:
		return "not enrolled"
	case w.CertSHA256 == "":
		return "none (demo)"
	case w.CertExpires.IsZero():
		return "bound"
	}
	return "until " + w.CertExpires.Local().Format("2006-01-02")
}

func lastSeen(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

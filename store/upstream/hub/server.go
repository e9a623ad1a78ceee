package hub

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	gmx509 "github.com/tjfoc/gmsm/x509"
	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/stamp/verify"
	"github.com/sealkeeper/sealkeeper/store/ledger"
	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// apiError is an error with its HTTP status and protocol body.
type apiError struct {
	status int
	body   upstream.ErrorBody
}

func (e *apiError) Error() string { return e.body.Message }

func fail(status int, code, format string, a ...any) *apiError {
	return &apiError{status: status, body: upstream.ErrorBody{Code: code, Message: fmt.Sprintf(format, a...)}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		log.Printf("hub: %v", err)
		ae = fail(http.StatusInternalServerError, upstream.CodeInternal, "the hub could not complete the request: %v", err)
	}
	writeJSON(w, ae.status, ae.body)
}

func readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body := http.MaxBytesReader(w, r.Body, limit)
	if err := json.NewDecoder(body).Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fail(http.StatusRequestEntityTooLarge, upstream.CodeTooLarge, "request body is over the %d-byte limit", limit)
		}
		return fail(http.StatusBadRequest, upstream.CodeBadRequest, "request body is not the expected JSON: %v", err)
	}
	return nil
}

// Handler is the protocol's HTTP handler.
func (h *Hub) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/hello", h.hello)
	mux.HandleFunc("POST /v1/enrol", h.enrol)
	auth := func(f func(w http.ResponseWriter, r *http.Request, ws string) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			ws, err := h.identify(r)
			if err == nil {
				err = f(w, r, ws)
			}
			if err != nil {
				writeErr(w, err)
			}
		}
	}
	mux.Handle("POST /v1/heartbeat", auth(h.heartbeat))
	mux.Handle("GET /v1/documents", auth(h.documents))
	mux.Handle("GET /v1/files/{sha256}", auth(h.download))
	mux.Handle("GET /v1/files/{sha256}/status", auth(h.uploadStatus))
	mux.Handle("PUT /v1/files/{sha256}", auth(h.upload))
	mux.Handle("POST /v1/results", auth(h.result))
	mux.Handle("GET /v1/seals", auth(h.seals))
	mux.Handle("GET /v1/custodians", auth(h.roster))
	mux.Handle("POST /v1/handovers", auth(h.handoverRecord))
	mux.Handle("GET /v1/ledger", auth(h.ledgerHead))
	mux.Handle("POST /v1/ledger", auth(h.ledgerPush))
	mux.Handle("POST /v1/copies", auth(h.requestCopies))
	mux.Handle("GET /v1/copies", auth(h.copyGrants))
	mux.Handle("PUT /v1/reports/{period}", auth(h.putReport))
	mux.Handle("GET /v1/reports", auth(h.reportList))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(upstream.HeaderRequestID); id != "" && len(id) <= 64 {
			w.Header().Set(upstream.HeaderRequestID, id)
		}
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
}

func (h *Hub) helloBody() upstream.Hello {
	pem, _ := ticket.MarshalPublicKey(h.TicketKey())
	return upstream.Hello{
		Server: h.opt.Name, Protocol: 1, Time: time.Now().UTC(), TicketKey: string(pem),
		TicketAlg: ticket.ECDSAP256.String(), KeyID: h.kid, ClientAuth: !h.opt.AutoEnrol || h.opt.RequireClientCert,
	}
}

func (h *Hub) hello(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.helloBody())
}

func (h *Hub) heartbeat(w http.ResponseWriter, r *http.Request, ws string) error {
	var hb upstream.Heartbeat
	if err := readJSON(w, r, upstream.MaxJSONBody, &hb); err != nil {
		return err
	}
	var changed uint64
	err := h.db.Update(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bMeta).Get(kChanged); len(v) == 8 {
			changed = binary.BigEndian.Uint64(v)
		}
		b := tx.Bucket(bWS)
		var rec Workstation
		raw := b.Get([]byte(ws))
		if raw == nil {
			return nil // un-enrolled since identify: nothing to record
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			return err
		}
		rec.LastSeen, rec.Heartbeat = time.Now().UTC(), &hb
		return putJSON(b, ws, rec)
	})
	if err != nil {
		return err
	}
	// The hub's clock (Options.Now), which the workstation holds its own against.
	writeJSON(w, http.StatusOK, upstream.HeartbeatReply{Time: h.opt.Now().UTC(), Changed: changed})
	return nil
}

func (h *Hub) documents(w http.ResponseWriter, r *http.Request, ws string) error {
	after := r.URL.Query().Get("after")
	limit := upstream.MaxPage
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fail(http.StatusBadRequest, upstream.CodeBadRequest, "limit %q is not a positive number", s)
		}
		limit = min(n, upstream.MaxPage)
	}
	now := time.Now()
	page := upstream.DocumentPage{Documents: []upstream.Document{}, AsOf: h.opt.Now().UTC()}
	err := h.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bDocs).Cursor()
		k, v := c.First()
		if after != "" {
			k, v = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = c.Next()
			}
		}
		for ; k != nil; k, v = c.Next() {
			var rec docRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			if rec.Workstation != ws || rec.State != StatePending || !now.Before(rec.Doc.Expires) {
				continue
			}
			if len(page.Documents) == limit {
				page.Next = page.Documents[len(page.Documents)-1].ID
				break
			}
			page.Documents = append(page.Documents, rec.Doc)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return h.writeSigned(w, r, ws, "/v1/documents", page)
}

func hashParam(r *http.Request) (string, error) {
	s := r.PathValue("sha256")
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 || strings.ToLower(s) != s {
		return "", fail(http.StatusBadRequest, upstream.CodeBadRequest, "%q is not a lower-case hex SHA-256", s)
	}
	return s, nil
}

// download serves a file by hash, only to a workstation it belongs to: the one the document
// was approved for, or the one that uploaded these bytes itself. To any other the file does not
// exist. http.ServeContent answers Range requests, which is how a client resumes an
// interrupted transfer; it reads through a fileReader, piece by piece, so neither a large file
// nor many slow clients make the hub hold whole files in memory.
func (h *Hub) download(w http.ResponseWriter, r *http.Request, ws string) error {
	hash, err := hashParam(r)
	if err != nil {
		return err
	}
	size := h.fileSize(ws, hash)
	if size == 0 {
		return fail(http.StatusNotFound, upstream.CodeNotFound, "no file with SHA-256 %s for workstation %q on this hub", hash, ws)
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("ETag", `"`+hash+`"`)
	http.ServeContent(w, r, "", time.Time{}, io.NewSectionReader(&fileReader{h: h, ws: ws, hash: hash, size: size}, 0, size))
	return nil
}

// uploadState is the upload of hash as workstation ws sees it: complete when ws may read the
// file (its own complete upload, or its document's bytes), else what ws itself sent so far.
// Bytes another workstation uploaded do not count: a workstation gets a file only by sending
// every byte of it.
func (h *Hub) uploadState(tx *bolt.Tx, ws, hash string) upstream.UploadStatus {
	st := upstream.UploadStatus{SHA256: hash}
	if f, ok := openFile(tx, ws, hash); ok {
		st.Received, st.Length, st.Complete = f.size, f.size, true
		return st
	}
	if b := uploadBucket(tx, ws, hash); b != nil {
		st.Received = int64(getU64(b, kRecv))
		st.Length = int64(getU64(b, kLen))
	}
	return st
}

func (h *Hub) uploadStatus(w http.ResponseWriter, r *http.Request, ws string) error {
	hash, err := hashParam(r)
	if err != nil {
		return err
	}
	var st upstream.UploadStatus
	_ = h.db.View(func(tx *bolt.Tx) error { st = h.uploadState(tx, ws, hash); return nil })
	writeJSON(w, http.StatusOK, st)
	return nil
}

func uploadBucket(tx *bolt.Tx, ws, hash string) *bolt.Bucket {
	if b := tx.Bucket(bUploads).Bucket([]byte(ws)); b != nil {
		return b.Bucket([]byte(hash))
	}
	return nil
}

// upload takes one chunk of a stamped file at Upload-Offset into the workstation's own upload
// of that hash (see files.go), within its quota. When the last chunk arrives the whole is
// checked against the hash in the path; the chunks stay where they are and become the file.
func (h *Hub) upload(w http.ResponseWriter, r *http.Request, ws string) error {
	hash, err := hashParam(r)
	if err != nil {
		return err
	}
	off, err1 := strconv.ParseInt(r.Header.Get(upstream.HeaderUploadOffset), 10, 64)
	total, err2 := strconv.ParseInt(r.Header.Get(upstream.HeaderUploadLength), 10, 64)
	if err1 != nil || err2 != nil || off < 0 || total <= 0 || total > upstream.MaxDocumentSize || off > total {
		return fail(http.StatusBadRequest, upstream.CodeBadRequest, "%s and %s headers must give the offset and a total of 1 to %d bytes", upstream.HeaderUploadOffset, upstream.HeaderUploadLength, upstream.MaxDocumentSize)
	}
	chunk, err := io.ReadAll(http.MaxBytesReader(w, r.Body, upstream.MaxUploadChunk))
	if err != nil {
		return fail(http.StatusRequestEntityTooLarge, upstream.CodeTooLarge, "upload chunk unreadable or over %d bytes: %v", upstream.MaxUploadChunk, err)
	}
	if off+int64(len(chunk)) > total {
		return fail(http.StatusBadRequest, upstream.CodeBadRequest, "chunk runs past the declared length %d", total)
	}
	if err := h.sweep([]string{ws}); err != nil {
		return err
	}
	now := h.opt.Now()
	var st upstream.UploadStatus
	err = h.db.Update(func(tx *bolt.Tx) error {
		st = h.uploadState(tx, ws, hash)
		if st.Complete {
			return nil
		}
		if st.Length != 0 && st.Length != total {
			return fail(http.StatusConflict, upstream.CodeConflict, "upload of %s was started with length %d, not %d", hash, st.Length, total)
		}
		if off != st.Received {
			e := fail(http.StatusConflict, upstream.CodeConflict, "upload of %s: the hub holds %d bytes, the chunk starts at %d; resume from %d", hash, st.Received, off, st.Received)
			e.body.Offset = st.Received
			return e
		}
		if err := h.checkQuota(tx, ws, hash, st.Received, int64(len(chunk)), now); err != nil {
			return err
		}
		wb, err := tx.Bucket(bUploads).CreateBucketIfNotExists([]byte(ws))
		if err != nil {
			return err
		}
		ub, err := wb.CreateBucketIfNotExists([]byte(hash))
		if err != nil {
			return err
		}
		for i := 0; i < len(chunk); i += storePiece {
			if err := ub.Put(u64(uint64(off)+uint64(i)), chunk[i:min(len(chunk), i+storePiece)]); err != nil {
				return err
			}
		}
		st.Received, st.Length = off+int64(len(chunk)), total
		for _, kv := range []struct {
			k []byte
			v uint64
		}{{kRecv, uint64(st.Received)}, {kLen, uint64(total)}, {kAt, uint64(now.Unix())}} {
			if err := ub.Put(kv.k, u64(kv.v)); err != nil {
				return err
			}
		}
		if st.Received < total {
			return nil
		}
		if sum, ok := hashChunks(ub, total); !ok || sum != hash {
			st = upstream.UploadStatus{SHA256: hash}
			return errBadUpload
		}
		st.Complete = true
		return ub.Put(kDone, []byte{1})
	})
	if errors.Is(err, errBadUpload) {
		// The transaction rolled back; remove the bad upload for good.
		_ = h.db.Update(func(tx *bolt.Tx) error {
			if wb := tx.Bucket(bUploads).Bucket([]byte(ws)); wb != nil {
				return wb.DeleteBucket([]byte(hash))
			}
			return nil
		})
		return fail(http.StatusUnprocessableEntity, upstream.CodeBadRequest, "the uploaded bytes do not have SHA-256 %s; the upload was discarded, send the file again", hash)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (h *Hub) result(w http.ResponseWriter, r *http.Request, ws string) error {
	var res upstream.Result
	if err := readJSON(w, r, upstream.MaxJSONBody, &res); err != nil {
		return err
	}
	switch res.Outcome {
	case upstream.OutcomeStamped:
		if res.OutputSHA256 == "" {
			return fail(http.StatusBadRequest, upstream.CodeBadRequest, "a stamped result needs the stamped file's SHA-256")
		}
	case upstream.OutcomeRejected, upstream.OutcomeFailed:
		if strings.TrimSpace(res.Reason) == "" {
			return fail(http.StatusBadRequest, upstream.CodeBadRequest, "a %s result needs a reason", res.Outcome)
		}
		res.OutputSHA256, res.OutputSize = "", 0 // nothing was stamped
	default:
		return fail(http.StatusBadRequest, upstream.CodeBadRequest, "outcome %q is not stamped, rejected or failed", res.Outcome)
	}
	if res.Outcome == upstream.OutcomeStamped {
		if err := h.checkStampedResult(ws, res); err != nil {
			return err
		}
	}
	err := h.db.Update(func(tx *bolt.Tx) error {
		rec, done, err := resultDoc(tx, ws, res)
		if err != nil || done {
			return err
		}
		if res.Outcome == upstream.OutcomeStamped {
			if _, ok := openFile(tx, ws, res.OutputSHA256); !ok {
				return fail(http.StatusConflict, upstream.CodeUploadFirst, "upload the stamped file %s before reporting the result", res.OutputSHA256)
			}
			if err := markReferenced(tx, ws, res.OutputSHA256); err != nil {
				return err
			}
		}
		rec.Result = &res
		rec.State = map[string]string{upstream.OutcomeStamped: StateStamped, upstream.OutcomeRejected: StateRejected, upstream.OutcomeFailed: StateFailed}[res.Outcome]
		if err := putJSON(tx.Bucket(bDocs), rec.Doc.ID, rec); err != nil {
			return err
		}
		if err := putJSON(tx.Bucket(bResults), rec.Doc.ID, map[string]any{"workstation": ws, "result": res}); err != nil {
			return err
		}
		return bumpChanged(tx)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// resultDoc finds the document a result is about and checks that ws may report it; done is
// true when the same result was recorded before.
func resultDoc(tx *bolt.Tx, ws string, res upstream.Result) (rec docRecord, done bool, err error) {
	raw := tx.Bucket(bDocs).Get([]byte(res.DocumentID))
	if raw == nil {
		return rec, false, fail(http.StatusNotFound, upstream.CodeNotFound, "no document %q on this hub", res.DocumentID)
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return rec, false, err
	}
	if rec.Workstation != ws {
		return rec, false, fail(http.StatusForbidden, upstream.CodeForbidden, "document %s was sent to workstation %q, not %q", res.DocumentID, rec.Workstation, ws)
	}
	if res.TicketID != rec.TicketID {
		return rec, false, fail(http.StatusConflict, upstream.CodeConflict, "the result names ticket %s; document %s was approved with ticket %s", res.TicketID, res.DocumentID, rec.TicketID)
	}
	if rec.Result != nil {
		if rec.Result.Outcome == res.Outcome && rec.Result.OutputSHA256 == res.OutputSHA256 {
			return rec, true, nil // the same result again: already recorded
		}
		if rec.Result.Outcome == upstream.OutcomeFailed {
			return rec, false, fail(http.StatusConflict, upstream.CodeConflict, "ticket %s of document %s was spent by a stamping that failed (%s); it needs a new approval", rec.TicketID, res.DocumentID, rec.Result.Reason)
		}
		return rec, false, fail(http.StatusConflict, upstream.CodeConflict, "document %s was already reported %s", res.DocumentID, rec.Result.Outcome)
	}
	return rec, false, nil
}

// checkStampedResult checks the file a "stamped" result names: uploaded by this workstation,
// and a stamping of the approved document (see checkStamped). The check reads the file into
// memory (the PDF reader needs it whole), outside any transaction, one result at a time so
// that concurrent results cannot multiply that memory.
func (h *Hub) checkStampedResult(ws string, res upstream.Result) error {
	var (
		docHash, sealID string
		sealCerts       []*sealCert
	)
	err := h.db.View(func(tx *bolt.Tx) error {
		rec, done, err := resultDoc(tx, ws, res)
		if err != nil || done {
			return err
		}
		f, ok := openFile(tx, ws, res.OutputSHA256)
		if !ok {
			return fail(http.StatusConflict, upstream.CodeUploadFirst, "upload the stamped file %s before reporting the result", res.OutputSHA256)
		}
		if res.OutputSize != 0 && res.OutputSize != f.size {
			return fail(http.StatusBadRequest, upstream.CodeBadRequest, "the result gives %d bytes; the stamped file %s has %d", res.OutputSize, res.OutputSHA256, f.size)
		}
		docHash, sealID = rec.Doc.SHA256, rec.Doc.SealID
		sealCerts, err = stampingCertificates(tx, sealID)
		return err
	})
	if err != nil || docHash == "" {
		return err
	}
	if len(sealCerts) == 0 && !h.opt.AutoEnrol {
		return fail(http.StatusUnprocessableEntity, upstream.CodeNotStamped, "document %s: the hub's seal list gives no certificate for seal %s, so it cannot tell who signed; the administrator lists it with sealkeeper hub seal --id %s --cert FILE, then the workstation's next sync reports the result again", res.DocumentID, sealID, sealID)
	}
	h.checking.Lock()
	defer h.checking.Unlock()
	out, err := h.fileBytes(ws, res.OutputSHA256)
	if err != nil {
		return err
	}
	if out == nil {
		return fail(http.StatusConflict, upstream.CodeUploadFirst, "upload the stamped file %s before reporting the result", res.OutputSHA256)
	}
	var n int
	err = h.db.View(func(tx *bolt.Tx) error {
		a := tx.Bucket(bBlobs).Get([]byte(docHash))
		if a == nil {
			return fmt.Errorf("the hub's copy of document %s (%s) is missing", res.DocumentID, docHash)
		}
		n = len(a)
		if err := prefixCheck(a, out); err != nil {
			return fail(http.StatusUnprocessableEntity, upstream.CodeNotStamped, "document %s: %v", res.DocumentID, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := checkStampedBy(n, out, sealID, sealCerts); err != nil {
		return fail(http.StatusUnprocessableEntity, upstream.CodeNotStamped, "document %s: %v", res.DocumentID, err)
	}
	return nil
}

func prefixCheck(approved, out []byte) error {
	if len(out) <= len(approved) || !bytes.Equal(out[:len(approved)], approved) {
		return fmt.Errorf("the file reported as stamped does not begin with the approved %d bytes followed by an update; it is not a stamping of the approved document", len(approved))
	}
	return nil
}

// checkStamped checks that out, which begins with the approved document's n bytes, adds a
// signed update: a signature dictionary (/ByteRange) in the added bytes, and a signature whose
// value lies in them, that covers the whole file, verifies (stamp/verify) and is made by the
// seal's certificate. That last part, for PAdES (CMS) and GM/T 0010 CMS signatures: with the
// seal's certificate as the only trust anchor the signature must be trusted, and name that
// certificate's issuer and serial number; a certificate that merely copies those names has
// another key and does not chain to the anchor, and one issued by the seal's key would need
// that key. For a GB/T 38540 seal signature, whose trust also needs the seal maker's
// certificate, the signer's certificate it carries (the one its signature was checked with)
// must be the seal's, byte for byte. sealCert is nil only for a demo or test hub with no
// certificate listed, where any valid signature is taken.
func checkStamped(n int, out []byte, sealID string, sealCert *sealCert) error {
	if !bytes.Contains(out[n:], []byte("/ByteRange")) {
		return errors.New("the bytes added to the approved document hold no signature (/ByteRange); it was not stamped")
	}
	var opt verify.Options
	if sealCert != nil && sealCert.gm != nil {
		opt.GMRoots = []*gmx509.Certificate{sealCert.gm}
	} else if sealCert != nil {
		opt.Roots = []*x509.Certificate{sealCert.std}
	}
	rep, err := verify.Bytes("the stamped file", out, opt)
	if err != nil {
		return fmt.Errorf("the stamped file cannot be read as a signed PDF: %v", err)
	}
	var problems []string
	for _, s := range rep.Signatures {
		if s.ByteRange[1] < int64(n) {
			continue // a signature the approved document already had
		}
		if !s.Intact || !s.CoversFile {
			problems = append(problems, s.Problems...)
			continue
		}
		if sealCert == nil {
			return nil
		}
		subject, issuer, serial := sealCert.names()
		if s.Format == verify.FormatSES {
			der, err := sesSignerCert(out[s.ByteRange[1]:s.ByteRange[2]])
			if err == nil && sealCert.is(der) {
				return nil
			}
		} else if s.Trusted && s.Issuer == issuer && s.Serial == serial {
			return nil
		}
		return fmt.Errorf("the stamped file is signed by %q (issuer %q, serial %s), not by the certificate of seal %s on the hub's seal list (%q, issuer %q, serial %s)",
			s.SignerDN, s.Issuer, s.Serial, sealID, subject, issuer, serial)
	}
	if len(problems) == 0 {
		problems = []string{"no signature covering the whole file"}
	}
	return fmt.Errorf("the update added to the approved document holds no valid signature over the whole file: %s", strings.Join(problems, "; "))
}

func (h *Hub) seals(w http.ResponseWriter, r *http.Request, ws string) error {
	s, err := h.Seals()
	if err != nil {
		return err
	}
	if s == nil {
		s = []upstream.SealStatus{}
	}
	return h.writeSigned(w, r, ws, "/v1/seals", upstream.SealList{AsOf: h.opt.Now().UTC(), Seals: s})
}

func (h *Hub) roster(w http.ResponseWriter, r *http.Request, ws string) error {
	ro, err := h.Roster()
	if err != nil {
		return err
	}
	ro.AsOf = h.opt.Now().UTC()
	return h.writeSigned(w, r, ws, "/v1/custodians", ro)
}

// writeSigned answers with v as JSON and the ticket key's signature of exactly those bytes,
// for the protocol path, workstation and request id (upstream.SignedAnswerDigest).
func (h *Hub) writeSigned(w http.ResponseWriter, r *http.Request, ws, path string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sig, err := h.key.Sign(rand.Reader, upstream.SignedAnswerDigest(path, ws, r.Header.Get(upstream.HeaderRequestID), body), crypto.SHA256)
	if err != nil {
		return err
	}
	w.Header().Set(upstream.HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(body)
	return err
}

func (h *Hub) head(tx *bolt.Tx, ws string) upstream.LedgerHead {
	var lh upstream.LedgerHead
	if b := tx.Bucket(bLedger).Bucket([]byte(ws)); b != nil {
		if v := b.Get(kSize); len(v) == 8 {
			lh.Size = binary.BigEndian.Uint64(v)
		}
		if v := b.Get(kHead); v != nil {
			lh.Head = hex.EncodeToString(v)
		}
	}
	if v := tx.Bucket(bCheck).Get([]byte(ws)); v != nil {
		var c upstream.CosignedCheckpoint
		if json.Unmarshal(v, &c) == nil {
			lh.Checkpoint = &c
		}
	}
	return lh
}

func (h *Hub) ledgerHead(w http.ResponseWriter, r *http.Request, ws string) error {
	var lh upstream.LedgerHead
	_ = h.db.View(func(tx *bolt.Tx) error { lh = h.head(tx, ws); return nil })
	writeJSON(w, http.StatusOK, lh)
	return nil
}

// ledgerPush appends records idempotently by (workstation, seq, entryHash) and co-signs the new
// head. A batch is all or nothing.
func (h *Hub) ledgerPush(w http.ResponseWriter, r *http.Request, ws string) error {
	var p upstream.LedgerPush
	if err := readJSON(w, r, upstream.MaxLedgerBody, &p); err != nil {
		return err
	}
	if len(p.Records) > upstream.MaxLedgerBatch {
		return fail(http.StatusRequestEntityTooLarge, upstream.CodeTooLarge, "%d records in one push; send at most %d", len(p.Records), upstream.MaxLedgerBatch)
	}
	type item struct {
		env  ledger.Envelope
		raw  []byte
		hash [ledger.HashSize]byte
	}
	items := make([]item, len(p.Records))
	for i, rec := range p.Records {
		if err := items[i].env.UnmarshalBinary(rec.Envelope); err != nil {
			return fail(http.StatusBadRequest, upstream.CodeBadRequest, "record %d: %v", rec.Seq, err)
		}
		if items[i].env.Seq != rec.Seq || rec.Seq == 0 {
			return fail(http.StatusBadRequest, upstream.CodeBadRequest, "record labelled seq %d holds an envelope with seq %d", rec.Seq, items[i].env.Seq)
		}
		items[i].raw = rec.Envelope
		items[i].hash = items[i].env.Hash()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var lh upstream.LedgerHead
	err := h.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bLedger).CreateBucketIfNotExists([]byte(ws))
		if err != nil {
			return err
		}
		var size uint64
		var head [ledger.HashSize]byte
		if v := b.Get(kSize); len(v) == 8 {
			size = binary.BigEndian.Uint64(v)
		}
		copy(head[:], b.Get(kHead))
		grew := false
		for _, it := range items {
			seq := it.env.Seq
			switch {
			case seq <= size:
				held := b.Get(u64(seq))
				if len(held) < ledger.HashSize {
					return fmt.Errorf("the hub's copy of record %d of %q is missing or damaged", seq, ws)
				}
				if !bytes.Equal(held[:ledger.HashSize], it.hash[:]) {
					e := fail(http.StatusConflict, upstream.CodeFork, "ledger fork: the hub holds a different record %d for workstation %q; this is an alarm, the ledger was rewritten or another machine uses this name", seq, ws)
					e.body.ExpectedSeq, e.body.ServerHash = seq, hex.EncodeToString(held[:ledger.HashSize])
					return e
				}
			case seq > size+1:
				e := fail(http.StatusConflict, upstream.CodeGap, "ledger gap: the hub holds records 1 to %d; send record %d next, not %d", size, size+1, seq)
				e.body.ExpectedSeq = size + 1
				return e
			default:
				if it.env.PrevHash != head {
					e := fail(http.StatusConflict, upstream.CodeBadChain, "ledger chain broken: record %d does not link to record %d that the hub holds; this is an alarm", seq, size)
					e.body.ExpectedSeq = seq
					return e
				}
				val := make([]byte, 0, ledger.HashSize+len(it.raw))
				val = append(append(val, it.hash[:]...), it.raw...)
				if err := b.Put(u64(seq), val); err != nil {
					return err
				}
				size, head, grew = seq, it.hash, true
			}
		}
		if grew {
			if err := b.Put(kSize, u64(size)); err != nil {
				return err
			}
			if err := b.Put(kHead, head[:]); err != nil {
				return err
			}
		}
		lh = h.head(tx, ws)
		if size > 0 && (lh.Checkpoint == nil || lh.Checkpoint.Size != size) {
			cp, err := h.cosign(ledger.Checkpoint{Workstation: ws, Size: size, Head: head})
			if err != nil {
				return err
			}
			if err := putJSON(tx.Bucket(bCheck), ws, cp); err != nil {
				return err
			}
			lh.Checkpoint = cp
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, lh)
	return nil
}

func (h *Hub) cosign(cp ledger.Checkpoint) (*upstream.CosignedCheckpoint, error) {
	d := sha256.Sum256(cp.SignedBytes())
	sig, err := h.key.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return &upstream.CosignedCheckpoint{
		Workstation: cp.Workstation, Size: cp.Size, Head: hex.EncodeToString(cp.Head[:]),
		KeyID: h.kid, SignedAt: time.Now().UTC(), Signature: sig,
	}, nil
}

// Server is a running hub listener.
type Server struct {
	URL  string
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
	err  error
	// onClose runs after the server stopped (the admin endpoint removes its record).
	onClose func()
}

// Serve runs the hub's API on addr. With tlsConf nil the hub speaks plain HTTP, which Serve
// allows only on a loopback address and only in the demo and test mode (Options.AutoEnrol):
// otherwise the hub knows workstations by their client certificates, which need TLS. Give a
// tls.Config with the hub's certificate; Serve adds the hub's workstation CA to ClientCAs
// (keeping any outside CA given there) and asks for client certificates, requiring one in the
// handshake with Options.RequireClientCert. The demo and test mode is refused off loopback.
func (h *Hub) Serve(addr string, tlsConf *tls.Config) (*Server, error) {
	if tlsConf == nil && !loopbackHost(addr) {
		return nil, fmt.Errorf("hub on %s without TLS: plain HTTP is only for loopback addresses; give --tls-cert and --tls-key", addr)
	}
	if h.opt.AutoEnrol && !loopbackHost(addr) {
		return nil, fmt.Errorf("hub on %s: auto-enrol (workstations known by a header alone) is a demo and test mode for a loopback address (127.0.0.1) only; enrol workstations with codes instead", addr)
	}
	if tlsConf == nil && !h.opt.AutoEnrol {
		return nil, fmt.Errorf("hub on %s without TLS: the hub knows workstations by their client certificates, which need TLS; give --tls-cert and --tls-key (plain HTTP only for a loopback demo or test hub with auto-enrol)", addr)
	}
	if h.opt.RequireClientCert && (tlsConf == nil || tlsConf.ClientCAs == nil) {
		return nil, errors.New("the hub is to require client certificates in the TLS handshake but has no outside client CA; give --client-ca, or leave the requirement to enrolment (the hub's own CA)")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("hub cannot listen on %s: %w", addr, err)
	}
	if !loopback(ln.Addr()) && (tlsConf == nil || h.opt.AutoEnrol) {
		ln.Close() // a name such as localhost that did not resolve to loopback
		return nil, fmt.Errorf("hub on %s (%s): plain HTTP and auto-enrol are for loopback addresses only", addr, ln.Addr())
	}
	ln = &limitListener{Listener: ln, max: h.opt.MaxConnsPerClient, open: map[string]int{}}
	scheme := "https"
	if tlsConf == nil {
		scheme = "http"
	} else {
		tlsConf = tlsConf.Clone()
		tlsConf.MinVersion = max(tlsConf.MinVersion, tls.VersionTLS12)
		pool := x509.NewCertPool()
		if tlsConf.ClientCAs != nil {
			pool = tlsConf.ClientCAs.Clone()
		}
		pool.AddCert(h.caCert)
		tlsConf.ClientCAs = pool
		tlsConf.ClientAuth = tls.VerifyClientCertIfGiven
		if h.opt.RequireClientCert {
			tlsConf.ClientAuth = tls.RequireAndVerifyClientCert
		}
		if tlsConf.Time == nil {
			tlsConf.Time = h.opt.Now // certificates are issued and checked on the hub's clock
		}
		ln = tls.NewListener(ln, tlsConf)
	}
	s := &Server{
		URL: scheme + "://" + ln.Addr().String(),
		srv: &http.Server{
			Handler:           h.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       2 * time.Minute,
			WriteTimeout:      5 * time.Minute,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          log.New(io.Discard, "", 0),
		},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() { s.err = s.srv.Serve(ln); close(s.done) }()
	go h.sweepEvery(time.Hour, s.done)
	return s, nil
}

// sweepEvery removes expired uploads every period until done is closed.
func (h *Hub) sweepEvery(period time.Duration, done <-chan struct{}) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if err := h.SweepUploads(); err != nil {
				log.Printf("hub: removing expired uploads: %v", err)
			}
		}
	}
}

// limitListener holds each client (remote IP address) to max open connections, counted from
// accept to close, before any TLS handshake: a client that opens more has the new ones closed at
// once, so that one client cannot take every file descriptor and goroutine of the hub.
type limitListener struct {
	net.Listener
	max  int
	mu   sync.Mutex
	open map[string]int
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := c.RemoteAddr().String()
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ip = ta.IP.String()
		}
		l.mu.Lock()
		if l.open[ip] >= l.max {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.open[ip]++
		l.mu.Unlock()
		return &countedConn{Conn: c, release: func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[ip]--; l.open[ip] <= 0 {
				delete(l.open, ip)
			}
		}}, nil
	}
}

type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the listener and waits up to five seconds for requests in flight.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	<-s.done
	if s.onClose != nil {
		s.onClose()
	}
	return err
}

// Wait blocks until the server stops.
func (s *Server) Wait() error {
	<-s.done
	if errors.Is(s.err, http.ErrServerClosed) {
		return nil
	}
	return s.err
}

package hub

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// ReceivedHandover is a handover record as the hub keeps it: what the workstation sent and
// when it arrived.
type ReceivedHandover struct {
	upstream.HandoverRecord
	ReceivedAt time.Time `json:"receivedAt"`
}

// handoverKey names a record: one per workstation, approval and kind, so a record sent twice
// (a lost answer) is taken once.
func handoverKey(r upstream.HandoverRecord) string {
	return r.Workstation + "\x00" + r.HandoverID + "\x00" + r.Kind
}

// handoverRecord is POST /v1/handovers. The hub takes a record only for an approval it gave,
// between the people it named, signed by both: the giver's certificate must be the seal's
// listed one or the giver's roster credential, the taker's must be the taker's roster
// credential. Then the approval is done, and after a handover (not a delegation) the taker's
// certificate becomes the seal's listed one, since the hub takes stampings only from that.
func (h *Hub) handoverRecord(w http.ResponseWriter, r *http.Request, ws string) error {
	var rec upstream.HandoverRecord
	if err := readJSON(w, r, upstream.MaxJSONBody, &rec); err != nil {
		return err
	}
	if rec.Workstation != ws {
		return fail(http.StatusForbidden, upstream.CodeForbidden, "workstation %s sent a handover record of workstation %q", ws, rec.Workstation)
	}
	for _, c := range [][]byte{rec.FromCert, rec.ToCert} {
		if isSM2Cert(c) {
			return fail(http.StatusUnprocessableEntity, upstream.CodeBadRequest, "the handover record of seal %s is signed with an SM2 certificate; handover records are checked with RSA or P-256 certificates only (SM2 personal certificates and GM seal keys are not supported for handovers yet): the custodians sign with an RSA or P-256 personal certificate, or the administrator records the handover on the hub by hand", rec.SealID)
		}
	}
	from, to, err := rec.Verify()
	if err != nil {
		return fail(http.StatusUnprocessableEntity, upstream.CodeBadRequest, "%v", err)
	}
	err = h.db.Update(func(tx *bolt.Tx) error {
		recs := tx.Bucket(bHandRec)
		key := handoverKey(rec)
		if recs.Get([]byte(key)) != nil {
			return nil
		}
		var ho upstream.Handover
		raw := tx.Bucket(bHand).Get([]byte(rec.HandoverID))
		if raw == nil {
			return fail(http.StatusNotFound, upstream.CodeNotFound, "the hub approved no handover %q", rec.HandoverID)
		}
		if err := json.Unmarshal(raw, &ho); err != nil {
			return err
		}
		kind := ho.Kind
		if kind == "" {
			kind = upstream.CustodyHandover
		}
		giver, taker := ho.From, ho.To
		if rec.Kind == upstream.CustodyReturn {
			if kind != upstream.CustodyDelegation {
				return fail(http.StatusUnprocessableEntity, upstream.CodeBadRequest, "handover %s is not a delegation, so nothing returns", ho.ID)
			}
			giver, taker = ho.To, ho.From
		} else if rec.Kind != kind {
			return fail(http.StatusUnprocessableEntity, upstream.CodeBadRequest, "handover %s was approved as a %s, not a %s", ho.ID, kind, rec.Kind)
		}
		if rec.Kind == upstream.CustodyReturn {
			// Signed by whoever held the seal when the delegation ended: one of its two people.
			var dl ReceivedHandover
			raw := recs.Get([]byte(rec.Workstation + "\x00" + rec.HandoverID + "\x00" + upstream.CustodyDelegation))
			if raw == nil || json.Unmarshal(raw, &dl) != nil {
				return fail(http.StatusConflict, upstream.CodeConflict, "the return of delegation %s came before the delegation's own record", ho.ID)
			}
			if !bytes.Equal(rec.FromCert, dl.FromCert) && !bytes.Equal(rec.FromCert, dl.ToCert) {
				return fail(http.StatusForbidden, upstream.CodeForbidden, "the return of delegation %s is signed by neither of its people", ho.ID)
			}
		}
		if rec.SealID != ho.SealID || rec.From.ID != giver.ID || rec.To.ID != taker.ID {
			return fail(http.StatusUnprocessableEntity, upstream.CodeBadRequest, "the record names seal %s from %s to %s; approval %s is for seal %s from %s to %s",
				rec.SealID, rec.From.ID, rec.To.ID, ho.ID, ho.SealID, giver.ID, taker.ID)
		}
		if rec.Kind != upstream.CustodyReturn {
			listed, err := sealCertificate(tx, ho.SealID)
			if err != nil {
				return err
			}
			fromRoster, toRoster := custodianCert(tx, giver.ID), custodianCert(tx, taker.ID)
			switch {
			case ho.CodeSHA256 != "":
				// By code: the workstation checked the code against the signed approval; the
				// record names it and the seal key passed, so it signed twice.
				if rec.CodeSHA256 != ho.CodeSHA256 || !bytes.Equal(rec.ToCert, rec.FromCert) {
					return fail(http.StatusForbidden, upstream.CodeForbidden, "handover %s names a one-time code as %s's credential; the record does not carry it with the seal key passed", ho.ID, taker.Name)
				}
			case rec.CodeSHA256 != "":
				return fail(http.StatusForbidden, upstream.CodeForbidden, "handover %s names no one-time code; %s identifies with their certificate", ho.ID, taker.Name)
			case to == nil || toRoster == "" || upstream.CertHash(to.Raw) != toRoster:
				return fail(http.StatusForbidden, upstream.CodeForbidden, "%s signed with a certificate the roster does not name as their credential", taker.Name)
			}
			fromOK := (listed != nil && listed.is(from.Raw)) || (fromRoster != "" && upstream.CertHash(from.Raw) == fromRoster) || (listed == nil && fromRoster == "" && h.opt.AutoEnrol)
			if !fromOK {
				return fail(http.StatusForbidden, upstream.CodeForbidden, "%s signed with neither the seal's listed certificate nor their roster credential", giver.Name)
			}
			ho.Done = true
			if err := putJSON(tx.Bucket(bHand), ho.ID, ho); err != nil {
				return err
			}
			if kind == upstream.CustodyHandover && listed != nil && listed.is(from.Raw) {
				if err := putSealCertificate(tx, ho.SealID, to.Raw); err != nil {
					return err
				}
			}
		}
		if err := putJSON(recs, key, ReceivedHandover{HandoverRecord: rec, ReceivedAt: h.now()}); err != nil {
			return err
		}
		return bumpChanged(tx)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"received": rec.HandoverID})
	return nil
}

// custodianCert is the roster credential of a person, "" when none.
func custodianCert(tx *bolt.Tx, id string) string {
	var c upstream.Custodian
	if raw := tx.Bucket(bCust).Get([]byte(id)); raw == nil || json.Unmarshal(raw, &c) != nil {
		return ""
	}
	return c.CertSHA256
}

// HandoverRecords lists the handover records workstations sent, in the order of their keys
// (workstation, approval, kind).
func (h *Hub) HandoverRecords() ([]ReceivedHandover, error) {
	var out []ReceivedHandover
	err := h.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = listJSON[ReceivedHandover](tx, bHandRec)
		return err
	})
	return out, err
}

// stampingCertificates are the certificates whose stampings of seal id the hub takes: the
// listed one first, then, from the custody records it took, each delegate's while the
// delegation is not returned, and each earlier custodian's, for stampings made before their
// handover that reach the hub after it.
func stampingCertificates(tx *bolt.Tx, id string) ([]*sealCert, error) {
	listed, err := sealCertificate(tx, id)
	if err != nil {
		return nil, err
	}
	var out []*sealCert
	if listed != nil {
		out = append(out, listed)
	}
	recs, err := listJSON[ReceivedHandover](tx, bHandRec)
	if err != nil {
		return nil, err
	}
	returned := map[string]bool{}
	for _, r := range recs {
		if r.Kind == upstream.CustodyReturn {
			returned[r.Workstation+"\x00"+r.HandoverID] = true
		}
	}
	add := func(der []byte) {
		c, err := parseSealCert(der)
		if err != nil {
			return // Verify parsed it when the record arrived
		}
		for _, o := range out {
			if o.is(c.raw()) {
				return
			}
		}
		out = append(out, c)
	}
	for _, r := range recs {
		switch {
		case r.SealID != id:
		case r.Kind == upstream.CustodyHandover:
			add(r.FromCert)
		case r.Kind == upstream.CustodyDelegation && !returned[r.Workstation+"\x00"+r.HandoverID]:
			add(r.ToCert)
		}
	}
	return out, nil
}

// checkStampedBy is checkStamped with any of certs as the signer (none: any valid signature,
// for a demo or test hub). The first certificate's refusal is the one reported.
func checkStampedBy(n int, out []byte, sealID string, certs []*sealCert) error {
	if len(certs) == 0 {
		return checkStamped(n, out, sealID, nil)
	}
	var first error
	for _, c := range certs {
		err := checkStamped(n, out, sealID, c)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

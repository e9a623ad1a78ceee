package ticket_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/ticket"
	"github.com/sealkeeper/sealkeeper/store/vectortest"
)

// testdata/ticket (store/vectortest's layout): an approval ticket's text as the server issues it.
// good_*: the header gives every field and the payload in hex; Parse reads exactly those, and
// Verify accepts it under the vector key for a workstation that expects them.
// fail_*: "expect: REASON"; Verify refuses it with that Reason.
// The signatures are ECDSA, randomised: rewriting the vectors changes their bytes even without
// a format change, but never what they say.
const ticketVectors = "testdata/ticket"

func vectorKey(seed byte) *ecdsa.PrivateKey {
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		panic(err)
	}
	return k
}

var vectorReasons = map[string]ticket.Reason{"Malformed": ticket.Malformed, "WrongKey": ticket.WrongKey}

func TestTicketVectors(t *testing.T) {
	pub := &vectorKey(1).PublicKey
	vectortest.Run(t, ticketVectors, writeTicketVectors, func(t *testing.T, v vectortest.Vector) {
		text := string(v.Body)
		if !v.Good {
			want, ok := vectorReasons[v.Get(t, "expect")]
			if !ok {
				t.Fatalf("unknown reason %q", v.Get(t, "expect"))
			}
			_, err := ticket.Verify(text, pub, ticket.Expect{}, usedSet{})
			if got := ticket.ReasonOf(err); got != want {
				t.Fatalf("refused with reason %d (%v), want %s", got, err, v.Get(t, "expect"))
			}
			return
		}
		tk, err := ticket.Parse(text)
		if err != nil {
			t.Fatalf("Parse refused a good ticket: %v", err)
		}
		p64, _, _ := strings.Cut(strings.TrimPrefix(text, "skt1."), ".")
		payload, _ := base64.RawURLEncoding.DecodeString(p64)
		unix := func(s string) time.Time {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatalf("vector time %q: %v", s, err)
			}
			return time.Unix(n, 0).UTC()
		}
		for _, f := range []struct{ name, got string }{
			{"payload", hex.EncodeToString(payload)},
			{"alg", tk.Alg.String()},
			{"keyid", hex.EncodeToString(tk.KeyID[:])},
			{"document", tk.DocumentID},
			{"sha256", hex.EncodeToString(tk.DocSHA256[:])},
			{"sm3", hex.EncodeToString(tk.DocSM3[:])},
			{"seal", tk.SealID},
			{"workstation", tk.Workstation},
			{"issued", strconv.FormatInt(tk.IssuedAt.Unix(), 10)},
			{"expires", strconv.FormatInt(tk.Expires.Unix(), 10)},
			{"id", tk.ID()},
			{"copies", strconv.Itoa(tk.Copies)},
			{"supersedes", tk.Supersedes},
			{"pages", fmt.Sprint(tk.Pages)},
			{"regions", fmt.Sprint(tk.Regions)},
		} {
			if want := v.Get(t, f.name); f.got != want {
				t.Errorf("%s: read %q, the vector says %q", f.name, f.got, want)
			}
		}
		want := ticket.Expect{DocumentID: tk.DocumentID, SealID: v.Get(t, "seal"), Workstation: v.Get(t, "workstation"), Now: unix(v.Get(t, "issued"))}
		hex.Decode(want.DocSHA256[:], []byte(v.Get(t, "sha256")))
		if _, err := ticket.Verify(text, pub, want, usedSet{}); err != nil {
			t.Fatalf("Verify refused a good ticket: %v", err)
		}
	})
}

func writeTicketVectors(add vectortest.Add) {
	key := vectorKey(1)
	var sha, sm3 [32]byte
	var nonce [16]byte
	for i := range sha {
		sha[i], sm3[i] = byte(0x10+i), byte(0x80+i)
	}
	for i := range nonce {
		nonce[i] = byte(0xe0 + i)
	}
	issued := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	sign := func(tk ticket.Ticket, k *ecdsa.PrivateKey) string {
		s, err := ticket.Sign(tk, k)
		if err != nil {
			panic(err)
		}
		return s
	}
	signV := func(tk ticket.Ticket, v byte) string {
		s, err := ticket.SignVersion(tk, key, v)
		if err != nil {
			panic(err)
		}
		return s
	}
	full := ticket.Ticket{DocumentID: "OA-2026-0042", DocSHA256: sha, DocSM3: sm3, SealID: "财务专用章", Workstation: "WS-01",
		IssuedAt: issued, Expires: issued.Add(24 * time.Hour), Nonce: nonce, Copies: 3, Supersedes: "OA-2026-0041",
		Pages: []int{2, ticket.LastPage}, Regions: []ticket.Region{{Page: ticket.LastPage, X: 120, Y: 200.5, W: 60, H: 45.5}, {Page: 2, X: 0.1, Y: 0, W: 6553.5, H: 1}}}
	short := ticket.Ticket{DocSHA256: sha, Workstation: "w", IssuedAt: issued, Expires: issued.Add(time.Second), Nonce: nonce}
	short.Nonce[0] = 1
	// v1 and v2 as servers before the limits wrote them: still read, with no limits (and v1 no
	// copies, nothing superseded).
	good := map[string]string{"good_v3_full": sign(full, key), "good_empty_fields": sign(short, key),
		"good_v2": signV(full, 2), "good_v1": signV(full, 1)}
	for name, s := range good {
		p, _ := ticket.Parse(s)
		p64, _, _ := strings.Cut(strings.TrimPrefix(s, "skt1."), ".")
		payload, _ := base64.RawURLEncoding.DecodeString(p64)
		add(name, map[string]string{
			"payload": hex.EncodeToString(payload), "alg": p.Alg.String(), "keyid": hex.EncodeToString(p.KeyID[:]),
			"document": p.DocumentID, "sha256": hex.EncodeToString(p.DocSHA256[:]), "sm3": hex.EncodeToString(p.DocSM3[:]),
			"seal": p.SealID, "workstation": p.Workstation, "issued": strconv.FormatInt(p.IssuedAt.Unix(), 10),
			"expires": strconv.FormatInt(p.Expires.Unix(), 10), "id": p.ID(),
			"copies": strconv.Itoa(p.Copies), "supersedes": p.Supersedes, "pages": fmt.Sprint(p.Pages), "regions": fmt.Sprint(p.Regions),
		}, []byte(s))
	}
	enc := base64.RawURLEncoding
	parts := func(s string) (p64, s64 string, payload, sig []byte) {
		p64, s64, _ = strings.Cut(strings.TrimPrefix(s, "skt1."), ".")
		payload, _ = enc.DecodeString(p64)
		sig, _ = enc.DecodeString(s64)
		return
	}
	// The fields of version 1, edited in a version 1 ticket; the limits in a version 3 one.
	s := signV(full, 1)
	p64, s64, payload, sig := parts(s)
	// withPayload keeps the good signature over another payload.
	withPayload := func(f func(p []byte) []byte) string {
		return "skt1." + enc.EncodeToString(f(append([]byte(nil), payload...))) + "." + s64
	}
	s3 := sign(full, key)
	_, s3sig, payload3, _ := parts(s3)
	_, _, payload2, _ := parts(signV(full, 2))
	with3 := func(f func(p []byte) []byte) string {
		return "skt1." + enc.EncodeToString(f(append([]byte(nil), payload3...))) + "." + s3sig
	}
	// Version 3 appends to version 2: u8 pages ‖ u16 each ‖ u8 regions ‖ (u16 page, x, y, w, h) each.
	lim := len(payload2)
	page0 := lim + 1 + 1               // low byte of the first page
	region0 := lim + 1 + 2*2 + 1       // the first region
	regionW := region0 + 2 + 2 + 2 + 1 // low byte of its width
	at := func(i int, b byte) func([]byte) []byte {
		return func(p []byte) []byte { p[i] = b; return p }
	}
	// The payload: version, alg, keyid[8], then length-prefixed document, seal, workstation.
	docEnd := 2 + 8 + 1 + len(full.DocumentID) - 1
	// "AA" is one zero byte in base64url; "AB" sets a bit it leaves unused, which Strict refuses.
	padBits := "skt1." + p64 + ".AB"
	fail := map[string]struct{ reason, text string }{
		"fail_no_prefix":           {"Malformed", strings.TrimPrefix(s, "skt1.")},
		"fail_one_part":            {"Malformed", "skt1." + p64},
		"fail_not_base64":          {"Malformed", "skt1." + p64 + "!." + s64},
		"fail_padding_bits":        {"Malformed", padBits},
		"fail_too_long":            {"Malformed", s + strings.Repeat("A", ticket.MaxLen)},
		"fail_version_2":           {"Malformed", withPayload(at(0, 2))},
		"fail_truncated":           {"Malformed", withPayload(func(p []byte) []byte { return p[:len(p)-1] })},
		"fail_trailing_byte":       {"Malformed", withPayload(func(p []byte) []byte { return append(p, 0) })},
		"fail_field_overruns":      {"Malformed", withPayload(at(2+8, 0xff))},
		"fail_hash_changed":        {"WrongKey", withPayload(at(len(payload)-16-8-8-32-32, payload[len(payload)-16-8-8-32-32]^1))},
		"fail_document_changed":    {"WrongKey", withPayload(at(docEnd, payload[docEnd]^1))},
		"fail_alg_sm2":             {"WrongKey", withPayload(at(1, 2))},
		"fail_keyid_changed":       {"WrongKey", withPayload(at(2, payload[2]^1))},
		"fail_signature_cut":       {"WrongKey", "skt1." + p64 + "." + enc.EncodeToString(sig[:len(sig)-1])},
		"fail_signed_by_other_key": {"WrongKey", sign(full, vectorKey(2))},
		// Limits edited after signing (a listing or a proxy widening them) break the signature.
		"fail_pages_widened":      {"WrongKey", with3(at(page0, 3))},
		"fail_region_widened":     {"WrongKey", with3(at(regionW, payload3[regionW]+100))},
		"fail_region_moved":       {"WrongKey", with3(at(region0+3, payload3[region0+3]^1))},
		"fail_limits_stripped_v2": {"WrongKey", with3(func(p []byte) []byte { p[0] = 2; return p[:lim] })},
		"fail_limits_emptied":     {"WrongKey", with3(func(p []byte) []byte { return append(p[:lim], 0, 0) })},
		"fail_version_4":          {"Malformed", with3(at(0, 4))},
		"fail_limits_cut":         {"Malformed", with3(func(p []byte) []byte { return p[:len(p)-1] })},
		"fail_pages_overrun":      {"Malformed", with3(at(lim, 0xff))},
		"fail_region_empty":       {"Malformed", with3(func(p []byte) []byte { p[regionW-1], p[regionW] = 0, 0; return p })},
	}
	for name, f := range fail {
		add(name, map[string]string{"expect": f.reason}, []byte(f.text))
	}
}

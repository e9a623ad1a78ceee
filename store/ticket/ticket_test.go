package ticket_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/ticket"
)

type usedSet map[string]bool

func (u usedSet) TicketUsed(id string) (bool, error) { return u[id], nil }

func TestSignVerify(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	doc := sha256.Sum256([]byte("approved bytes"))
	now := time.Now()
	s, err := ticket.Sign(ticket.Ticket{DocumentID: "D1", DocSHA256: doc, SealID: "S1", Workstation: "WS1", IssuedAt: now, Expires: now.Add(time.Hour)}, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) > 400 {
		t.Errorf("ticket is %d characters; meant to be compact", len(s))
	}
	want := ticket.Expect{DocumentID: "D1", DocSHA256: doc, SealID: "S1", Workstation: "WS1", Now: now}
	used := usedSet{}
	tk, err := ticket.Verify(s, &key.PublicKey, want, used)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := ticket.MarshalPublicKey(&key.PublicKey)
	if pub, err := ticket.ParsePublicKey(pem); err != nil || !pub.(*ecdsa.PublicKey).Equal(&key.PublicKey) {
		t.Fatalf("PEM round trip: %v", err)
	}

	// Every field is covered by the signature: flip one byte anywhere and it fails.
	p64 := strings.Split(s, ".")[1]
	for i := range len(p64) {
		b := []byte(s)
		j := len("skt1.") + i
		if b[j] == 'A' {
			b[j] = 'B'
		} else {
			b[j] = 'A'
		}
		if _, err := ticket.Verify(string(b), &key.PublicKey, want, used); err == nil {
			t.Fatalf("changed payload character %d still verifies", i)
		}
	}

	forged, _ := ticket.Sign(ticket.Ticket{DocumentID: "D1", DocSHA256: doc, SealID: "S1", Workstation: "WS1", IssuedAt: now, Expires: now.Add(time.Hour)}, other)
	cases := []struct {
		name string
		s    string
		want ticket.Expect
		r    ticket.Reason
	}{
		{"garbage", "hello", want, ticket.Malformed},
		{"too long", "skt1." + strings.Repeat("A", 5000) + ".x", want, ticket.Malformed},
		{"wrong key", forged, want, ticket.WrongKey},
		{"expired", s, ticket.Expect{DocumentID: "D1", DocSHA256: doc, SealID: "S1", Workstation: "WS1", Now: now.Add(2 * time.Hour)}, ticket.Expired},
		{"future", s, ticket.Expect{DocumentID: "D1", DocSHA256: doc, SealID: "S1", Workstation: "WS1", Now: now.Add(-time.Hour)}, ticket.NotYetValid},
		{"other doc", s, ticket.Expect{DocumentID: "D2", DocSHA256: doc, SealID: "S1", Workstation: "WS1", Now: now}, ticket.WrongDocument},
	}
	for _, c := range cases {
		_, err := ticket.Verify(c.s, &key.PublicKey, c.want, used)
		if ticket.ReasonOf(err) != c.r {
			t.Errorf("%s: %v (reason %d, want %d)", c.name, err, ticket.ReasonOf(err), c.r)
		}
	}
	used[tk.ID()] = true
	if _, err := ticket.Verify(s, &key.PublicKey, want, used); ticket.ReasonOf(err) != ticket.Reused {
		t.Errorf("reused: %v", err)
	}
	if _, err := ticket.Verify(s, &key.PublicKey, want, nil); ticket.ReasonOf(err) != ticket.NoUsedSet {
		t.Errorf("no used set: %v", err)
	}
}

// TestSignRefusesBadLimits: limits a workstation could not enforce are refused when signing,
// naming the region or page.
func TestSignRefusesBadLimits(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	base := ticket.Ticket{DocumentID: "D1", Workstation: "WS1", IssuedAt: now, Expires: now.Add(time.Hour)}
	for name, c := range map[string]struct {
		pages   []int
		regions []ticket.Region
		want    string
	}{
		"empty region":    {regions: []ticket.Region{{Page: 1, X: 10, Y: 10, W: 0, H: 5}}, want: "page 1: x 10.0-10.0 mm, y 10.0-15.0 mm is empty"},
		"negative corner": {regions: []ticket.Region{{Page: 1, X: -1, Y: 10, W: 5, H: 5}}, want: "coordinates are 0 to 6553.5 mm"},
		"too far":         {regions: []ticket.Region{{Page: 1, X: 7000, Y: 10, W: 5, H: 5}}, want: "coordinates are 0 to 6553.5 mm"},
		"negative page":   {pages: []int{-2}, want: "ticket page -2"},
	} {
		tk := base
		tk.Pages, tk.Regions = c.pages, c.regions
		if _, err := ticket.Sign(tk, key); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

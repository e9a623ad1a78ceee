package ticket_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/store/ticket"
)

// TestAllowanceSignedByThePinnedKeyOnly: an allowance verifies with the key that signed it and
// for its workstation; another key, another workstation, a changed byte or a ticket's text is
// refused.
func TestAllowanceSignedByThePinnedKeyOnly(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	a := ticket.Allowance{DocumentID: "D00000001", Workstation: "WS-1", Copies: 2, IssuedAt: time.Now()}
	a.OutputSHA256[0] = 0xab
	s, err := ticket.SignAllowance(a, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ticket.VerifyAllowance(s, &key.PublicKey, "WS-1")
	if err != nil || got.Copies != 2 || got.DocumentID != "D00000001" || got.OutputSHA256 != a.OutputSHA256 || len(got.ID()) != 32 {
		t.Fatalf("%+v, %v", got, err)
	}
	if _, err := ticket.VerifyAllowance(s, &other.PublicKey, "WS-1"); ticket.ReasonOf(err) != ticket.WrongKey {
		t.Errorf("another key: %v", err)
	}
	if _, err := ticket.VerifyAllowance(s, &key.PublicKey, "WS-2"); ticket.ReasonOf(err) != ticket.OtherWorkstation {
		t.Errorf("another workstation: %v", err)
	}
	i := len("ska1.") + 20
	flipped := s[:i] + map[bool]string{true: "B", false: "A"}[s[i] == 'A'] + s[i+1:]
	if _, err := ticket.VerifyAllowance(flipped, &key.PublicKey, "WS-1"); err == nil {
		t.Error("a changed allowance verified")
	}
	tk, _ := ticket.Sign(ticket.Ticket{DocumentID: "D00000001", Workstation: "WS-1", Expires: time.Now().Add(time.Hour)}, key)
	if _, err := ticket.VerifyAllowance(tk, &key.PublicKey, "WS-1"); err == nil || !strings.Contains(err.Error(), "not a valid copy allowance") {
		t.Errorf("a ticket taken as an allowance: %v", err)
	}
}

// TestTicketCarriesCopies: the copies approved are part of the signed ticket (version 2).
func TestTicketCarriesCopies(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := ticket.Sign(ticket.Ticket{DocumentID: "D1", Workstation: "WS-1", Copies: 3, IssuedAt: time.Now(), Expires: time.Now().Add(time.Hour)}, key)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := ticket.Verify(s, &key.PublicKey, ticket.Expect{Workstation: "WS-1"}, noneUsed{})
	if err != nil || tk.Copies != 3 {
		t.Fatalf("%+v, %v", tk, err)
	}
	if _, err := ticket.Sign(ticket.Ticket{DocumentID: "D1", Copies: 70000}, key); err == nil {
		t.Error("a ticket of 70000 copies was signed")
	}
}

type noneUsed struct{}

func (noneUsed) TicketUsed(string) (bool, error) { return false, nil }

package workspace

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sealkeeper/sealkeeper/app/config"
	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/store/atomic"
	"github.com/sealkeeper/sealkeeper/store/upstream"
	"github.com/sealkeeper/sealkeeper/store/upstream/hub"
)

// DemoSecondKey is the second person's key of a demo workspace, for trying a handover or a
// delegation: 李伟 (c-002, whom the demo hub's approval names) gets a token of his own.
const (
	DemoSecondLabel  = "SealKeeper Demo 2"
	DemoSecondPerson = "c-002"
	DemoSecondName   = "李伟"
	demoSecondPIN    = "demo-pin-2"
)

// ProvisionDemoSecondKey makes the second person's token in the demo workspace of c (label
// DemoSecondLabel, its PIN in dir/demo-pin-2), with a P-256 key under the seal's key id and
// label, so the window and the commands pick it as the seal once he has custody, and a
// certificate for him from the demo CA; the demo hub's roster then names that certificate as
// his credential. Call it before the process opens the SoftHSM module for anything else.
func ProvisionDemoSecondKey(c *config.Config, out io.Writer) error {
	if !c.Demo.Enabled {
		return errors.New("this is not a demo workspace; a real custodian's key comes from the seal-making institution")
	}
	if c.Seal.GMMode != "" {
		return errors.New("the demo's second key is a SoftHSM key; a GM demo (demo provision --gm) has none yet: try the handover on the SoftHSM demo")
	}
	dir := filepath.Dir(c.Path())
	keyID, err := hex.DecodeString(c.Seal.KeyID)
	if err != nil || len(keyID) == 0 {
		return fmt.Errorf("the demo configuration %s has no seal key_id", c.Path())
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return fmt.Errorf("the demo CA: %w", err)
	}
	caKeyPEM, err := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		return fmt.Errorf("the demo CA's key: %w", err)
	}
	cb, _ := pem.Decode(caPEM)
	kb, _ := pem.Decode(caKeyPEM)
	if cb == nil || kb == nil {
		return errors.New("the demo CA files are not PEM")
	}
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return err
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return err
	}
	ecKey, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return errors.New("the demo CA's key is not an ECDSA key")
	}
	m, err := device.OpenModule(config.SoftHSMModule)
	if err != nil {
		return err
	}
	defer m.Close()
	toks, err := m.Tokens()
	if err != nil {
		return err
	}
	for _, t := range toks {
		if t.Label == DemoSecondLabel {
			return fmt.Errorf("%w: the demo's second key %q is already there", ErrDemoExists, DemoSecondLabel)
		}
	}
	userPIN, err := randomDigits(8)
	if err != nil {
		return err
	}
	soPIN, err := randomDigits(16)
	if err != nil {
		return err
	}
	pub, tok, err := device.Provision(m, device.ProvisionOptions{Label: DemoSecondLabel, SOPIN: soPIN, UserPIN: userPIN,
		KeyType: "p256", KeyLabel: demoKeyLabel, KeyID: keyID})
	if err != nil {
		return err
	}
	cert, err := demoCert(DemoSecondName+" (SealKeeper Demo)", pub, ca, ecKey)
	if err != nil {
		return err
	}
	s, err := m.Login(tok, userPIN)
	if err != nil {
		return err
	}
	err = s.StoreCertificate(keyID, demoKeyLabel, cert)
	s.Close()
	if err != nil {
		return err
	}
	pinFile := filepath.Join(dir, demoSecondPIN)
	if err := atomic.WriteFile(pinFile, []byte(userPIN+"\n"), 0o600); err != nil {
		return err
	}
	a, err := hub.OpenAdmin(c.Demo.HubData)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.AddCustodian(upstream.Custodian{Person: upstream.Person{ID: DemoSecondPerson, Name: DemoSecondName}, CertSHA256: upstream.CertHash(cert.Raw)}); err != nil {
		return err
	}
	fmt.Fprintf(out, "Second key:      %s (serial %s) for %s (%s), certificate %q\n", tok.Label, tok.Serial, DemoSecondName, DemoSecondPerson, cert.Subject.CommonName)
	fmt.Fprintf(out, "Its PIN:         %s (also in %s; demo tokens only)\n", userPIN, pinFile)
	return nil
}

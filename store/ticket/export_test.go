package ticket

import "crypto"

// SignVersion signs a ticket in an older version's encoding, for the vectors that show those
// versions are still read.
func SignVersion(t Ticket, key crypto.Signer, v byte) (string, error) { return signAs(t, key, v) }

package ledger

import "bytes"

// Padding: every encrypted plaintext the ledger writes has one of a few sizes
//
// Without the data key the ciphertext's length is still visible (in the file and to the
// server, which stores the envelopes), and record kinds differ in length: a stamp.intent with
// its document title, hashes and placements is two or three times an alarm. So appendTx and
// Note pad the JSON plaintext with spaces, inside the AEAD, to paddedSize (the sealed metadata
// has its own, smaller steps: sealed.go): at least 1 KiB (every record kind this program writes fits, long titles and
// paths included), then powers of two up to 4 KiB, then whole 4 KiB steps.
//
// Invariants:
//   - padding is ASCII spaces after the JSON value, which JSON ignores: a reader of any
//     version decodes a padded record, and this one decodes the unpadded records of files
//     written before padding (format 2 and older) without knowing which it has. decodeRecord
//     trims the spaces, so Record.Raw is the JSON as encoded, padded or not.
//   - padding never takes a record over MaxCiphertext: a plaintext too close to it is padded
//     only up to the limit (sizes that large say nothing about the kind anyway).

// padMin is the smallest padded plaintext; padStep the step above 4 KiB.
const (
	padMin  = 1 << 10
	padStep = 4 << 10
)

// paddedSize is the size a plaintext of n bytes is padded to (invariants above).
func paddedSize(n int) int {
	if n >= padStep {
		return (n + padStep - 1) / padStep * padStep
	}
	p := padMin
	for p < n {
		p <<= 1
	}
	return p
}

// pad appends spaces to pt up to paddedSize(len(pt)), or up to limit bytes if that is less.
// It may write into pt's spare capacity.
func pad(pt []byte, limit int) []byte {
	n := min(paddedSize(len(pt)), limit)
	if n <= len(pt) {
		return pt
	}
	return append(pt, spaces[:n-len(pt)]...)
}

// spaces is the padding: never more than padStep-1 bytes are added.
var spaces = bytes.Repeat([]byte{' '}, padStep)

// unpad removes the padding pad added (trailing spaces after a JSON value).
func unpad(pt []byte) []byte { return bytes.TrimRight(pt, " ") }

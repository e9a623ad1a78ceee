//go:build !linux

package ledger

import bolt "go.etcd.io/bbolt"

// releaseMapped is a no-op here; see release_linux.go.
func releaseMapped(*bolt.Tx) {}

package ledger

import bolt "go.etcd.io/bbolt"

// DropTicketIndex makes an unlocked ledger look like one written before the used-ticket index
// existed: no tickets bucket, no mark, and the meta MAC as that version computed it.
func (l *Ledger) DropTicketIndex() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketTickets); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Delete(keyTickets); err != nil {
			return err
		}
		return putMetaMAC(l.path, tx, l.macKey, sizeHead{l.size, l.head})
	})
}

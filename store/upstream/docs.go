package upstream

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/keyslot"
	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// The workstation's one document store: the approved documents, their listing (title,
// department, requester, approvals, ticket) and their bytes, in sync.db, encrypted.
//
// Invariants:
//   - Nothing of a document but its id, state, SHA-256, size, expiry and when it was last
//     listed is written in clear (docHead). Its listing (docBody) and its bytes (bucket files,
//     by SHA-256) are written only encrypted, never to a file of their own: "SKD1" ‖ nonce ‖
//     SM4-GCM under DeriveKey("documents") of the ledger's data key when someone is logged in,
//     else "SKS1" ‖ keyslot.Seal to the public keys of the ledger's key slots (as the ledger's
//     pending events are). The associated data names the entry (adMeta, adFile), so an entry
//     cannot be moved to another document.
//   - At each Unlock (ledger.OnUnlock) every sealed entry the unlocking key opens is
//     re-encrypted under the document key; those it cannot open stay sealed for the others.
//   - Decrypted bytes live only in memory (memFile), one per SHA-256, until Lock
//     (ledger.OnLock), eviction or Close.
//   - An entry that does not decrypt is dropped (bytes) or skipped (listing) with an error that
//     names it: everything in this store can be fetched from the server again, and the next
//     sync does so. The ledger and the outbox are never touched by that.
//   - A document leaves (its listing and bytes are deleted, its head stays as a tombstone so a
//     late listing does not bring a finished document back) once it is done (stamped or
//     rejected) and its result was accepted upstream (no outbox item names it), or expired
//     before the last complete listing (evict). A withdrawn one loses its bytes at once.
//   - A stamped file in SyncOptions.Outputs is in clear on disk only while a custodian is
//     logged in (to verify, print or open it). At each Lock, at Close and when the syncer is
//     made while nobody is logged in (sealOutputs), one whose result still waits in the outbox
//     is moved into bucket outputs (by its path, encrypted as the documents are, adOutput) and
//     the clear file deleted; StampedFile gives it back, decrypted into memory, to the upload
//     and to printing after a login. One whose result the server accepted is deleted, file and
//     entry, while nobody is logged in, else at the next Lock or Close (spendOutput). A copy the
//     custodian asked for elsewhere (StampRequest.Out) is theirs and never touched.

// DocumentKeys is where the document store's encryption comes from: the ledger
// (*ledger.Ledger satisfies it), so documents open with the same key slots as the ledger.
type DocumentKeys interface {
	// DeriveKey returns ledger.ErrLocked while nobody is logged in.
	DeriveKey(purpose string) ([]byte, error)
	Slots() ([]keyslot.Slot, error)
	OnUnlock(func(keyslot.Holder))
	OnLock(func())
}

const (
	headVersion = 2
	keyedMagic  = "SKD1"
	sealedMagic = "SKS1"
	docPurpose  = "documents" // ledger.DeriveKey purpose
	adMeta      = "sealkeeper document v1\x00meta\x00"
	adFile      = "sealkeeper document v1\x00file\x00"
	adOutput    = "sealkeeper document v1\x00output\x00"
)

var (
	sFiles   = []byte("files")
	sSpent   = []byte("spentoutputs") // path → "": stamped files to delete at the next Lock
	sOutputs = []byte("outputs")      // path → the encrypted stamped file, while its result waits
)

// ErrStampedLocked: a stamped file waiting to go to the server is kept encrypted and nobody is
// logged in to decrypt it.
var ErrStampedLocked = errors.New("the stamped file is kept encrypted while nobody is logged in: log in with the seal key of a custodian of this workstation, and it is sent (or printed)")

// ErrDocumentsLocked: the queue is encrypted and nobody is logged in.
var ErrDocumentsLocked = errors.New("the approved documents are kept encrypted: log in with the seal key of a custodian of this workstation to see or stamp them")

// docHead is a document's entry in the documents bucket: what the sync loop needs while nobody
// is logged in, and the encrypted rest.
type docHead struct {
	V         int       `json:"v"`
	State     string    `json:"state"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	Expires   time.Time `json:"expires,omitzero"`
	FetchedAt time.Time `json:"fetchedAt"`
	Have      bool      `json:"have,omitempty"` // its bytes are in the files bucket
	Body      []byte    `json:"body,omitempty"` // the encrypted docBody; nil once evicted
}

// docBody is the encrypted part of a document's entry.
type docBody struct {
	Document Document `json:"document"`
	Problem  string   `json:"problem,omitempty"`
}

func (s *Store) docKey() ([]byte, error) {
	if s.keys == nil {
		return nil, ledger.ErrLocked
	}
	return s.keys.DeriveKey(docPurpose)
}

// seal encrypts pt for the entry ad names: under the document key when unlocked, else to the
// key slots' public keys.
func (s *Store) seal(ad string, pt []byte) ([]byte, error) {
	if s.keys == nil {
		return nil, errors.New("no ledger: documents cannot be kept on this workstation without one to encrypt them with (sealkeeper ledger --init)")
	}
	key, err := s.docKey()
	if err == nil {
		defer clear(key)
		aead, err := keyslot.NewSM4GCM(key)
		if err != nil {
			return nil, err
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(pt)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		return append([]byte(keyedMagic), aead.Seal(nonce, nonce, pt, []byte(ad))...), nil
	}
	if !errors.Is(err, ledger.ErrLocked) {
		return nil, err
	}
	slots, err := s.keys.Slots()
	if err != nil {
		return nil, err
	}
	var pubs []crypto.PublicKey
	for _, sl := range slots {
		p, err := sl.Recipient()
		if err != nil {
			return nil, err
		}
		pubs = append(pubs, p)
	}
	msg, err := keyslot.Seal(pt, []byte(ad), pubs)
	if err != nil {
		return nil, err
	}
	return append([]byte(sealedMagic), msg...), nil
}

var (
	errSealed  = errors.New("sealed to the key slots while nobody was logged in, and not opened by this custodian's key")
	errDamaged = errors.New("does not decrypt (damaged, moved, or written with another key)")
)

// open decrypts what seal made under the document key.
func (s *Store) open(ad string, v []byte, key []byte) ([]byte, error) {
	switch {
	case len(v) >= len(sealedMagic) && string(v[:len(sealedMagic)]) == sealedMagic:
		return nil, errSealed
	case len(v) < len(keyedMagic) || string(v[:len(keyedMagic)]) != keyedMagic:
		return nil, errDamaged
	}
	aead, err := keyslot.NewSM4GCM(key)
	if err != nil {
		return nil, err
	}
	v = v[len(keyedMagic):]
	if len(v) < aead.NonceSize() {
		return nil, errDamaged
	}
	pt, err := aead.Open(nil, v[:aead.NonceSize()], v[aead.NonceSize():], []byte(ad))
	if err != nil {
		return nil, errDamaged
	}
	return pt, nil
}

// unsealAll re-encrypts under the document key every entry h opens that was sealed while
// nobody was logged in (the OnUnlock hook).
func (s *Store) unsealAll(h keyslot.Holder) {
	key, err := s.docKey()
	if err != nil {
		return
	}
	defer clear(key)
	left := 0
	_ = s.db.Update(func(tx *bolt.Tx) error {
		reseal := func(ad string, v []byte) ([]byte, bool) {
			if len(v) < len(sealedMagic) || string(v[:len(sealedMagic)]) != sealedMagic {
				return nil, false
			}
			pt, err := keyslot.Open(v[len(sealedMagic):], []byte(ad), h)
			if err != nil {
				left++
				return nil, false
			}
			nv, err := s.seal(ad, pt)
			clear(pt)
			return nv, err == nil
		}
		docs := tx.Bucket(sDocs)
		var heads = map[string]docHead{}
		_ = docs.ForEach(func(k, v []byte) error {
			var hd docHead
			if json.Unmarshal(v, &hd) == nil && hd.V == headVersion {
				if nb, ok := reseal(adMeta+string(k), hd.Body); ok {
					hd.Body = nb
					heads[string(k)] = hd
				}
			}
			return nil
		})
		for id, hd := range heads {
			if err := setJSON(docs, []byte(id), hd); err != nil {
				return err
			}
		}
		// Documents' bytes and stamped files waiting to go up: keyed by what their AD names.
		for _, bk := range []struct {
			name []byte
			ad   string
		}{{sFiles, adFile}, {sOutputs, adOutput}} {
			b := tx.Bucket(bk.name)
			nv := map[string][]byte{}
			_ = b.ForEach(func(k, v []byte) error {
				if n, ok := reseal(bk.ad+string(k), v); ok {
					nv[string(k)] = n
				}
				return nil
			})
			for k, v := range nv {
				if err := b.Put([]byte(k), v); err != nil {
					return err
				}
			}
		}
		return unsealRoster(tx, reseal)
	})
	s.mu.Lock()
	s.sealedLeft = left
	s.mu.Unlock()
}

// SealedForOthers is how many entries the last login could not open: they arrived while
// nobody was logged in and are sealed to key slots this custodian does not hold (the escrow
// key or another custodian's opens them).
func (s *Store) SealedForOthers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sealedLeft
}

// locked is the OnLock hook: the decrypted documents are closed and the stamped files whose
// results the server accepted are deleted.
func (s *Store) locked() {
	s.forgetAll()
	_ = s.removeSpent()
	_ = s.sealOutputs()
}

// setOutputs names the folder of the workstation's own stamped files (SyncOptions.Outputs)
// and, while nobody is logged in, encrypts what a run that ended without Close left there.
func (s *Store) setOutputs(dir string) {
	if dir == "" {
		return
	}
	s.mu.Lock()
	s.outputs = filepath.Clean(dir)
	s.mu.Unlock()
	if key, err := s.docKey(); err == nil {
		clear(key)
		return
	}
	_ = s.sealOutputs()
}

// sealOutputs moves each stamped file of the outputs folder whose result waits in the outbox
// into bucket outputs, encrypted (to the key slots while nobody is logged in), and deletes the
// clear file once the entry is durable.
func (s *Store) sealOutputs() error {
	s.mu.Lock()
	dir := s.outputs
	s.mu.Unlock()
	if dir == "" || s.keys == nil {
		return nil
	}
	items, err := s.Outbox()
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.File == "" || filepath.Dir(it.File) != dir {
			continue
		}
		b, err := os.ReadFile(it.File)
		if errors.Is(err, os.ErrNotExist) {
			continue // in the store already
		}
		if err != nil {
			return fmt.Errorf("keeping the stamped file %s encrypted: %w", it.File, err)
		}
		v, err := s.seal(adOutput+it.File, b)
		clear(b)
		if err == nil {
			err = s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(sOutputs).Put([]byte(it.File), v) })
		}
		if err == nil {
			err = os.Remove(it.File)
		}
		if err != nil {
			return fmt.Errorf("keeping the stamped file %s encrypted: %w", it.File, err)
		}
	}
	return nil
}

// StampedFile is the path to read the workstation's stamped file path from: the file itself
// while it is in clear, else its bytes from bucket outputs decrypted into memory (until the
// next Lock). ErrStampedLocked while nobody is logged in; an error matching os.ErrNotExist
// when the store has no such file (the server holds it: Client.FetchStamped).
func (s *Store) StampedFile(path string) (string, error) {
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	name := "output\x00" + path
	s.mu.Lock()
	f := s.plain[name]
	s.mu.Unlock()
	if f != nil {
		return f.Name(), nil
	}
	var v []byte
	if err := s.db.View(func(tx *bolt.Tx) error {
		v = append([]byte(nil), tx.Bucket(sOutputs).Get([]byte(path))...)
		return nil
	}); err != nil {
		return "", err
	}
	if len(v) == 0 {
		return "", fmt.Errorf("the stamped file %s is not on this workstation: %w", path, os.ErrNotExist)
	}
	key, err := s.docKey()
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, ErrStampedLocked)
	}
	defer clear(key)
	pt, err := s.open(adOutput+path, v, key)
	if err != nil {
		return "", fmt.Errorf("the encrypted copy of the stamped file %s %w; the ledger records its hash, and the stamping must be made again if no other copy exists", path, err)
	}
	defer clear(pt)
	f, err = memFile(filepath.Base(path), pt)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.plain[name]; old != nil {
		f.Close()
		return old.Name(), nil
	}
	if s.plain == nil {
		s.plain = map[string]*os.File{}
	}
	s.plain[name] = f
	return f.Name(), nil
}

// spendOutput records that the server accepted the stamped file at path (see
// SyncOptions.Outputs) and deletes it unless someone is logged in.
func (s *Store) spendOutput(path string) error {
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(sSpent).Put([]byte(path), nil) }); err != nil {
		return err
	}
	if key, err := s.docKey(); err == nil {
		clear(key)
		return nil
	}
	return s.removeSpent()
}

func (s *Store) removeSpent() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(sSpent)
		var done [][]byte
		outs := tx.Bucket(sOutputs)
		err := b.ForEach(func(k, _ []byte) error {
			if err := os.Remove(string(k)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("deleting the stamped file %s, which the server holds: %w", k, err)
			}
			if err := outs.Delete(k); err != nil {
				return err
			}
			done = append(done, append([]byte(nil), k...))
			return nil
		})
		for _, k := range done {
			if err == nil {
				err = b.Delete(k)
			}
		}
		return err
	})
}

// forgetAll closes every decrypted document (the OnLock hook, Close).
func (s *Store) forgetAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, f := range s.plain {
		f.Close()
		delete(s.plain, k)
	}
}

// forget closes the decrypted bytes of shas (eviction, damage).
func (s *Store) forget(shas ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range shas {
		if f := s.plain[k]; f != nil {
			f.Close()
			delete(s.plain, k)
		}
	}
}

func readHead(b *bolt.Bucket, id []byte) (docHead, bool, error) {
	var hd docHead
	ok, err := getJSON(b, id, &hd)
	if err == nil && ok && hd.V != headVersion {
		ok = false // written by an older version, in clear: dropped at OpenStore
	}
	return hd, ok, err
}

// meta decrypts one document's listing.
func (s *Store) meta(id string, hd docHead, key []byte) (CachedDocument, error) {
	c := CachedDocument{State: hd.State, FetchedAt: hd.FetchedAt, Have: hd.Have}
	c.ID = id
	pt, err := s.open(adMeta+id, hd.Body, key)
	if err != nil {
		return c, fmt.Errorf("the cached listing of document %s %w; it is listed again at the next sync with the server", id, err)
	}
	defer clear(pt)
	var b docBody
	if err := json.Unmarshal(pt, &b); err != nil {
		return c, fmt.Errorf("the cached listing of document %s is damaged (%v); it is listed again at the next sync with the server", id, err)
	}
	c.Document, c.Problem = b.Document, b.Problem
	return c, nil
}

// Documents lists the cached documents, oldest approval first: the queue the custodian sees,
// also while offline, with when each was last confirmed by the server. It needs a login
// (ErrDocumentsLocked). A listing that does not decrypt is shown by its id with the reason as
// its Problem; one still sealed for another custodian is left out (SealedForOthers).
func (s *Store) Documents() ([]CachedDocument, error) {
	key, err := s.docKey()
	if err != nil {
		return nil, ErrDocumentsLocked
	}
	defer clear(key)
	var out []CachedDocument
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(sDocs).ForEach(func(k, _ []byte) error {
			hd, ok, err := readHead(tx.Bucket(sDocs), k)
			if err != nil || !ok || hd.Body == nil {
				return err
			}
			c, err := s.meta(string(k), hd, key)
			if errors.Is(err, errSealed) {
				return nil
			}
			if err != nil {
				c.State, c.Problem = DocRefused, err.Error()
			}
			out = append(out, c)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Issued.Before(out[j].Issued) })
	return out, err
}

// Document returns one cached document with its listing; when its bytes are here, File names
// them decrypted in memory (valid until Lock). Bytes that do not decrypt or do not match the
// approved SHA-256 are dropped, and the error names the document and says they are downloaded
// again at the next sync.
func (s *Store) Document(id string) (CachedDocument, error) {
	c, err := s.document(id)
	if err != nil || !c.Have {
		return c, err
	}
	f, err := s.plainFile(c)
	if err != nil {
		return c, err
	}
	c.File = f
	return c, nil
}

func (s *Store) document(id string) (CachedDocument, error) {
	key, err := s.docKey()
	if err != nil {
		return CachedDocument{}, ErrDocumentsLocked
	}
	defer clear(key)
	var c CachedDocument
	err = s.db.View(func(tx *bolt.Tx) error {
		hd, ok, err := readHead(tx.Bucket(sDocs), []byte(id))
		switch {
		case err != nil:
		case ok && hd.Body == nil && hd.State == DocDone:
			err = fmt.Errorf("document %s was already stamped or returned on this workstation, and the server has the result; stamping it again needs a new approval (重印流程)", id)
		case !ok || hd.Body == nil:
			err = fmt.Errorf("document %s is not in this workstation's queue; pull from the server", id)
		}
		if err != nil {
			return err
		}
		c, err = s.meta(id, hd, key)
		return err
	})
	return c, err
}

func (s *Store) plainFile(c CachedDocument) (string, error) {
	s.mu.Lock()
	f := s.plain[c.SHA256]
	s.mu.Unlock()
	if f != nil {
		return f.Name(), nil
	}
	key, err := s.docKey()
	if err != nil {
		return "", ErrDocumentsLocked
	}
	defer clear(key)
	var v []byte
	s.db.View(func(tx *bolt.Tx) error {
		v = append([]byte(nil), tx.Bucket(sFiles).Get([]byte(c.SHA256))...)
		return nil
	})
	pt, err := s.open(adFile+c.SHA256, v, key)
	if err == nil {
		if sum := sha256.Sum256(pt); hex.EncodeToString(sum[:]) != c.SHA256 {
			err = errDamaged
		}
	}
	if err != nil {
		if !errors.Is(err, errSealed) {
			_ = s.dropFile(c.SHA256)
		}
		return "", fmt.Errorf("the cached copy of %q (document %s) %w; it was set aside and is downloaded again at the next sync: connect to the server, then open it again", c.Title, c.ID, err)
	}
	defer clear(pt)
	f, err = memFile(c.ID, pt)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.plain[c.SHA256]; old != nil {
		f.Close()
		return old.Name(), nil
	}
	if s.plain == nil {
		s.plain = map[string]*os.File{}
	}
	s.plain[c.SHA256] = f
	return f.Name(), nil
}

// dropFile deletes the bytes of sha, so that the documents with them are downloaded again.
func (s *Store) dropFile(sha string) error {
	s.forget(sha)
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(sFiles).Delete([]byte(sha)); err != nil {
			return err
		}
		return s.setHave(tx, sha, false)
	})
}

// setHave marks every document with the bytes sha as having them or not.
func (s *Store) setHave(tx *bolt.Tx, sha string, have bool) error {
	b := tx.Bucket(sDocs)
	ch := map[string]docHead{}
	err := b.ForEach(func(k, _ []byte) error {
		hd, ok, err := readHead(b, k)
		if err == nil && ok && hd.SHA256 == sha && hd.Have != have && (hd.Body != nil || !have) {
			hd.Have = have
			ch[string(k)] = hd
		}
		return err
	})
	for k, hd := range ch {
		if err == nil {
			err = setJSON(b, []byte(k), hd)
		}
	}
	return err
}

// missingFiles are the pending documents whose bytes are not here yet, by SHA-256.
func (s *Store) missingFiles() (map[string]int64, error) {
	out := map[string]int64{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(sDocs)
		return b.ForEach(func(k, _ []byte) error {
			hd, ok, err := readHead(b, k)
			if err == nil && ok && hd.State == DocPending && !hd.Have && hd.Body != nil {
				out[hd.SHA256] = hd.Size
			}
			return err
		})
	})
	return out, err
}

// haveFile tells whether the bytes of sha are stored (and marks their documents if so).
func (s *Store) haveFile(sha string) (bool, error) {
	var have bool
	err := s.db.Update(func(tx *bolt.Tx) error {
		if have = tx.Bucket(sFiles).Get([]byte(sha)) != nil; have {
			return s.setHave(tx, sha, true)
		}
		return nil
	})
	return have, err
}

// putFile stores downloaded bytes (their SHA-256 already checked) encrypted, and marks the
// documents that have them.
func (s *Store) putFile(sha string, b []byte) error {
	v, err := s.seal(adFile+sha, b)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(sFiles).Put([]byte(sha), v); err != nil {
			return err
		}
		return s.setHave(tx, sha, true)
	})
}

// pendingCount is how many documents wait to be stamped (no login needed).
func (s *Store) pendingCount() int {
	n := 0
	s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(sDocs)
		return b.ForEach(func(k, _ []byte) error {
			if hd, ok, _ := readHead(b, k); ok && hd.State == DocPending && hd.Body != nil {
				n++
			}
			return nil
		})
	})
	return n
}

// evict deletes the listing and bytes of every document that is settled and synced (see the
// invariants at the top of this file) and returns their ids.
func (s *Store) evict(now time.Time) ([]string, error) {
	lastPull, err := s.LastPull()
	if err != nil {
		return nil, err
	}
	var gone, shas []string
	err = s.db.Update(func(tx *bolt.Tx) error {
		waiting := map[string]bool{} // documents whose result is still in the outbox
		if err := tx.Bucket(sOutbox).ForEach(func(_, v []byte) error {
			var it OutboxItem
			if err := json.Unmarshal(v, &it); err != nil {
				return err
			}
			waiting[it.Result.DocumentID] = true
			return nil
		}); err != nil {
			return err
		}
		b := tx.Bucket(sDocs)
		live := map[string]bool{} // SHA-256s a remaining document still needs
		heads, withdrawn := map[string]docHead{}, map[string]docHead{}
		if err := b.ForEach(func(k, _ []byte) error {
			hd, ok, err := readHead(b, k)
			if err != nil || !ok || hd.Body == nil {
				return err
			}
			expired := !hd.Expires.IsZero() && hd.Expires.Before(now) && hd.Expires.Before(lastPull)
			switch {
			case (hd.State == DocDone && !waiting[string(k)]) || (expired && hd.State != DocDone):
				heads[string(k)] = hd
			case hd.State == DocWithdrawn:
				// It cannot be stamped: its bytes go, its listing stays (encrypted) so the
				// queue can say why, until it expires.
				withdrawn[string(k)] = hd
			default:
				live[hd.SHA256] = true
			}
			return nil
		}); err != nil {
			return err
		}
		drop := func(sha string) error {
			if live[sha] {
				return nil
			}
			shas = append(shas, sha)
			return tx.Bucket(sFiles).Delete([]byte(sha))
		}
		for id, hd := range withdrawn {
			if !hd.Have {
				continue
			}
			hd.Have = false
			if err := drop(hd.SHA256); err != nil {
				return err
			}
			if err := setJSON(b, []byte(id), hd); err != nil {
				return err
			}
		}
		for id, hd := range heads {
			if err := drop(hd.SHA256); err != nil {
				return err
			}
			hd.Body, hd.Have = nil, false
			if err := setJSON(b, []byte(id), hd); err != nil {
				return err
			}
			gone = append(gone, id)
		}
		return nil
	})
	if err == nil {
		s.forget(shas...)
	}
	sort.Strings(gone)
	return gone, err
}

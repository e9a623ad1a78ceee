package hub

// Files on the hub. A document's bytes, added by the administrator, are one value in the files
// bucket under their SHA-256, readable by the workstation the document was approved for (the
// fileaccess index). A file a workstation uploads is kept under (workstation, SHA-256) in the
// uploads bucket, as the chunks it was sent in: uploads/WS/HASH holds
//
//	"len"   u64 the declared length      "recv" u64 the bytes received
//	"at"    u64 Unix time of the last chunk
//	"done"  present once every byte came and the SHA-256 matched
//	"ref"   present once a recorded result names the file
//	u64(offset) → the bytes from that offset (a chunk as sent, in pieces of storePiece)
//
// Nothing is shared between workstations. An upload no result names (in progress, or complete
// but never reported) counts against its workstation's quota (Options.UploadQuota bytes,
// Options.MaxUploads files) and is deleted when nothing was written to it for
// Options.UploadExpiry. A file a result names stays: it is the record of a stamping.
//
// Files are read in pieces of at most readPiece bytes, each in its own short read transaction
// (fileReader), so a download never holds a whole file in memory, and a slow client never
// holds a transaction open (which would stop the database from growing its mapping).

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sealkeeper/sealkeeper/store/upstream"
)

var (
	kLen  = []byte("len")
	kRecv = []byte("recv")
	kAt   = []byte("at")
	kDone = []byte("done")
	kRef  = []byte("ref")
)

const (
	// DefaultUploadQuota is Options.UploadQuota when unset: room for a few full-size stamped
	// files waiting for their results.
	DefaultUploadQuota = 1 << 30
	// DefaultMaxUploads is Options.MaxUploads when unset.
	DefaultMaxUploads = 64
	// DefaultUploadExpiry is Options.UploadExpiry when unset.
	DefaultUploadExpiry = 7 * 24 * time.Hour
	// readPiece bounds what one read transaction copies out of a file.
	readPiece = 64 << 10
	// storePiece is the largest value an upload is stored in: small enough that the space of
	// deleted uploads is reused by new ones (bbolt needs contiguous free pages for a value).
	storePiece = 256 << 10
)

// storedFile is a file as one read transaction sees it: either a whole value (a document's
// bytes) or the chunks of a complete upload. Its slices are valid only inside that transaction.
type storedFile struct {
	size   int64
	whole  []byte
	chunks *bolt.Bucket
}

// openFile finds the file with this hash that ws may read: its own complete upload, else a
// file of the files bucket the access index grants it. ok is false when there is none.
func openFile(tx *bolt.Tx, ws, hash string) (f storedFile, ok bool) {
	if ub := uploadBucket(tx, ws, hash); ub != nil && ub.Get(kDone) != nil {
		return storedFile{size: int64(getU64(ub, kLen)), chunks: ub}, true
	}
	if mayRead(tx, ws, hash) {
		if v := tx.Bucket(bBlobs).Get([]byte(hash)); v != nil {
			return storedFile{size: int64(len(v)), whole: v}, true
		}
	}
	return f, false
}

// readAt copies the bytes at off into p and returns how many it copied (fewer only at the end).
func (f storedFile) readAt(p []byte, off int64) int {
	if off >= f.size {
		return 0
	}
	if f.whole != nil {
		return copy(p, f.whole[off:])
	}
	n := 0
	c := f.chunks.Cursor()
	// The chunk holding off is the last chunk key <= off.
	k, v := c.Seek(u64(uint64(off)))
	if k == nil || len(k) != 8 || int64(binary.BigEndian.Uint64(k)) > off {
		k, v = c.Prev()
	}
	for ; k != nil && n < len(p); k, v = c.Next() {
		if len(k) != 8 {
			continue
		}
		start := int64(binary.BigEndian.Uint64(k))
		pos := off + int64(n)
		if pos < start || pos >= start+int64(len(v)) {
			break // a hole cannot be in a complete upload; stop rather than return wrong bytes
		}
		n += copy(p[n:], v[pos-start:])
	}
	return n
}

// fileReader reads a file of ws piece by piece, each piece in its own read transaction. A file
// deleted meanwhile (an expired upload) ends the read with an error.
type fileReader struct {
	h        *Hub
	ws, hash string
	size     int64
}

func (r *fileReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	total := 0
	for total < len(p) && off < r.size {
		piece := p[total:min(len(p), total+readPiece)]
		var n int
		err := r.h.db.View(func(tx *bolt.Tx) error {
			f, ok := openFile(tx, r.ws, r.hash)
			if !ok || f.size != r.size {
				return fmt.Errorf("file %s of workstation %q is no longer on the hub", r.hash, r.ws)
			}
			n = f.readAt(piece, off)
			return nil
		})
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, io.ErrUnexpectedEOF
		}
		total += n
		off += int64(n)
	}
	if total < len(p) {
		return total, io.EOF
	}
	return total, nil
}

// fileSize is the size of ws's file with this hash, 0 when it has none.
func (h *Hub) fileSize(ws, hash string) int64 {
	var size int64
	_ = h.db.View(func(tx *bolt.Tx) error {
		if f, ok := openFile(tx, ws, hash); ok {
			size = f.size
		}
		return nil
	})
	return size
}

// fileBytes reads a whole file of ws into memory (for the stamped-result check, whose PDF
// reader needs it), or nil when ws has no such file.
func (h *Hub) fileBytes(ws, hash string) ([]byte, error) {
	size := h.fileSize(ws, hash)
	if size == 0 {
		return nil, nil
	}
	b := make([]byte, size)
	if _, err := (&fileReader{h: h, ws: ws, hash: hash, size: size}).ReadAt(b, 0); err != nil {
		return nil, err
	}
	return b, nil
}

func getU64(b *bolt.Bucket, k []byte) uint64 {
	if v := b.Get(k); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// hashChunks is the SHA-256 of a complete upload's chunks, which must follow one another
// from offset 0 to the declared length.
func hashChunks(ub *bolt.Bucket, total int64) (string, bool) {
	h := sha256.New()
	var next int64
	c := ub.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			continue
		}
		if int64(binary.BigEndian.Uint64(k)) != next {
			return "", false
		}
		h.Write(v)
		next += int64(len(v))
	}
	if next != total {
		return "", false
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// pendingUploads sums what ws holds in uploads no result names and that have not expired
// (nothing written for Options.UploadExpiry), leaving out except (the upload being written),
// and lists the expired ones.
func (h *Hub) pendingUploads(tx *bolt.Tx, ws, except string, now time.Time) (bytes int64, files int, expired [][]byte) {
	wb := tx.Bucket(bUploads).Bucket([]byte(ws))
	if wb == nil {
		return 0, 0, nil
	}
	_ = wb.ForEachBucket(func(k []byte) error {
		ub := wb.Bucket(k)
		if ub.Get(kRef) != nil {
			return nil
		}
		if at := time.Unix(int64(getU64(ub, kAt)), 0); now.Sub(at) >= h.opt.UploadExpiry {
			expired = append(expired, append([]byte(nil), k...))
			return nil
		}
		if string(k) != except {
			bytes += int64(getU64(ub, kRecv))
			files++
		}
		return nil
	})
	return bytes, files, expired
}

// sweep deletes the expired uploads of the given workstations (all when wss is nil). It writes
// only when there is something to delete, in a transaction of its own, so that the next write
// can reuse the space.
func (h *Hub) sweep(wss []string) error {
	now := h.opt.Now()
	todo := map[string][][]byte{}
	_ = h.db.View(func(tx *bolt.Tx) error {
		if wss == nil {
			_ = tx.Bucket(bUploads).ForEachBucket(func(k []byte) error { wss = append(wss, string(k)); return nil })
		}
		for _, ws := range wss {
			if _, _, exp := h.pendingUploads(tx, ws, "", now); len(exp) > 0 {
				todo[ws] = exp
			}
		}
		return nil
	})
	if len(todo) == 0 {
		return nil
	}
	return h.db.Update(func(tx *bolt.Tx) error {
		for ws, exp := range todo {
			wb := tx.Bucket(bUploads).Bucket([]byte(ws))
			for _, k := range exp {
				// Checked again: a chunk may have arrived since the look.
				if ub := wb.Bucket(k); ub != nil && ub.Get(kRef) == nil && now.Sub(time.Unix(int64(getU64(ub, kAt)), 0)) >= h.opt.UploadExpiry {
					if err := wb.DeleteBucket(k); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

// SweepUploads deletes, for every workstation, the uploads no result names that were not
// written for Options.UploadExpiry. Open runs it, Serve every hour, and each upload for its
// own workstation.
func (h *Hub) SweepUploads() error { return h.sweep(nil) }

// checkQuota refuses a chunk that would take ws over its quota of unreported uploads.
func (h *Hub) checkQuota(tx *bolt.Tx, ws, hash string, held, chunk int64, now time.Time) error {
	bytes, files, _ := h.pendingUploads(tx, ws, hash, now)
	if held == 0 && files >= h.opt.MaxUploads {
		return fail(http.StatusRequestEntityTooLarge, upstream.CodeOverQuota, "workstation %q has %d uploads on the hub that no result names yet, the most it may have; report their results (or wait %s for them to expire) before uploading more", ws, files, h.opt.UploadExpiry)
	}
	if bytes+held+chunk > h.opt.UploadQuota {
		return fail(http.StatusRequestEntityTooLarge, upstream.CodeOverQuota, "workstation %q would hold %d bytes of uploads that no result names yet, over its quota of %d bytes; report their results (or wait %s for them to expire) before uploading more", ws, bytes+held+chunk, h.opt.UploadQuota, h.opt.UploadExpiry)
	}
	return nil
}

// markReferenced keeps ws's upload of hash for good: a recorded result names it.
func markReferenced(tx *bolt.Tx, ws, hash string) error {
	if ub := uploadBucket(tx, ws, hash); ub != nil {
		return ub.Put(kRef, []byte{1})
	}
	return nil // a document's bytes or a file stored before uploads were kept per workstation
}

var errBadUpload = errors.New("bad upload")

package ledger

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// The layout check: nothing bbolt can reach lies outside the file
//
// bbolt reads its pages straight out of a memory map with unchecked pointer arithmetic: a page
// id becomes id*pageSize from the start of the map, and a key or value is the element's address
// plus the pos and sizes stored in it. tx.Check verifies the tree (page types, reachability,
// key order) but not these numbers, so one changed byte in an element header makes a value slice
// point past its page, past the map, into whatever memory follows it: a wild read that no check
// after the fact can undo (seen under the race detector as a bbolt value in Go's heap).
//
// Invariant, kept by checkLayout before any process maps the file: for the meta page that bbolt
// will use, every page reachable from it (the root bucket's tree, every sub-bucket's
// tree, the freelist) and every element, key, value and inline bucket on those pages lies inside
// the file and inside the span of the page (or inline value) that holds it; every page is of the
// type its parent says, carries its own id, and is reached once. checkLayout reads the file with
// read(2) into bounded Go slices, so it cannot itself read outside the file, whatever the bytes
// say. CheckFile runs it first, in the child, then bbolt's own tx.Check for the logic.

const (
	pageHeaderSize = 16 // id u64, flags u16, count u16, overflow u32
	elementSize    = 16 // leaf: flags u32, pos u32, ksize u32, vsize u32; branch: pos u32, ksize u32, pgid u64
	bucketHeader   = 16 // root pgid u64, sequence u64
	metaChecksumAt = 56 // the checksum covers the meta's first 56 bytes

	flagBranch   = 0x01
	flagLeaf     = 0x02
	flagMeta     = 0x04
	flagFreelist = 0x10
	flagBucket   = 0x01 // on a leaf element: the value is a sub-bucket

	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	noFreelist     = ^uint64(0)
	maxPageSize    = 1 << 24
	maxInlineDepth = 64
)

// layoutError names the page (and element) where the file stops making sense.
type layoutError struct {
	page uint64
	msg  string
}

func (e *layoutError) Error() string { return fmt.Sprintf("page %d: %s", e.page, e.msg) }

type layout struct {
	f        io.ReaderAt
	size     int64 // file size in bytes
	pageSize uint64
	hwm      uint64 // the meta's high-water mark (page count)
	seen     map[uint64]bool
	buf      []byte
}

type boltMeta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	hwm      uint64
	txid     uint64
}

// parseMeta reads a meta page's body (after the page header); ok is false unless bbolt would
// accept it (magic, version, checksum).
func parseMeta(b []byte) (m boltMeta, ok bool) {
	if len(b) < metaChecksumAt+8 {
		return m, false
	}
	le := binary.LittleEndian
	h := fnv.New64a()
	h.Write(b[:metaChecksumAt])
	if le.Uint32(b[0:]) != boltMagic || le.Uint32(b[4:]) != boltVersion || le.Uint64(b[metaChecksumAt:]) != h.Sum64() {
		return m, false
	}
	return boltMeta{pageSize: le.Uint32(b[8:]), root: le.Uint64(b[16:]), freelist: le.Uint64(b[32:]), hwm: le.Uint64(b[40:]), txid: le.Uint64(b[48:])}, true
}

// checkLayout checks the invariant above for the bbolt file at path.
func checkLayout(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return checkLayoutOf(f, st.Size())
}

func checkLayoutOf(f io.ReaderAt, size int64) error {
	l := &layout{f: f, size: size}
	// The page size, chosen as bbolt chooses it: from meta 0 when that is valid, otherwise from
	// a valid meta 1 found at one of the page sizes bbolt tries, otherwise the OS page size.
	var first [pageHeaderSize + metaChecksumAt + 8]byte
	if _, err := f.ReadAt(first[:], 0); err != nil {
		return &layoutError{0, "the file is too short for a bbolt header"}
	}
	if m, ok := parseMeta(first[pageHeaderSize:]); ok {
		l.pageSize = uint64(m.pageSize)
	} else {
		for i := 0; i <= 14 && l.pageSize == 0; i++ {
			off := int64(1024) << i
			if off >= size {
				break
			}
			var b [len(first)]byte
			if _, err := f.ReadAt(b[:], off); err == nil {
				if m, ok := parseMeta(b[pageHeaderSize:]); ok {
					l.pageSize = uint64(m.pageSize)
				}
			}
		}
		if l.pageSize == 0 {
			l.pageSize = uint64(os.Getpagesize())
		}
	}
	if l.pageSize < 1024 || l.pageSize > maxPageSize || l.pageSize&(l.pageSize-1) != 0 {
		return &layoutError{0, fmt.Sprintf("page size %d is not one bbolt writes", l.pageSize)}
	}
	if uint64(size) < 2*l.pageSize {
		return &layoutError{0, fmt.Sprintf("the file (%d bytes) is shorter than its two meta pages", size)}
	}
	// The meta bbolt uses: the valid one with the higher transaction id (meta 0 on a tie). The
	// other may describe a tree whose pages later transactions have reused; bbolt never reads
	// it while this one is valid, and overwrites it with the next commit.
	var use *boltMeta
	var useID uint64
	for id := uint64(0); id < 2; id++ {
		b, err := l.read(id, 1)
		if err != nil {
			return err
		}
		m, ok := parseMeta(b[pageHeaderSize:])
		if !ok || use != nil && m.txid <= use.txid {
			continue
		}
		if uint64(m.pageSize) != l.pageSize {
			return &layoutError{id, fmt.Sprintf("the meta page says page size %d, the file uses %d", m.pageSize, l.pageSize)}
		}
		use, useID = &m, id
	}
	if use == nil {
		return &layoutError{0, "neither meta page is valid"}
	}
	l.hwm, l.seen = use.hwm, map[uint64]bool{0: true, 1: true}
	if err := l.tree(use.root, 0); err != nil {
		return fmt.Errorf("%w (tree of meta page %d, transaction %d)", err, useID, use.txid)
	}
	if use.freelist != noFreelist {
		if err := l.freelist(use.freelist); err != nil {
			return fmt.Errorf("%w (freelist of meta page %d, transaction %d)", err, useID, use.txid)
		}
	}
	return nil
}

// read returns the bytes of page id and its overflow pages (n pages in all when the header is
// not yet known), after checking they lie inside the file.
func (l *layout) read(id uint64, n uint64) ([]byte, error) {
	if id >= l.hwm && id > 1 {
		return nil, &layoutError{id, fmt.Sprintf("page id beyond the high-water mark %d", l.hwm)}
	}
	end := (id + n) * l.pageSize
	if id+n < id || end/l.pageSize != id+n || end > uint64(l.size) {
		return nil, &layoutError{id, fmt.Sprintf("%d page(s) from here run past the end of the file (%d bytes)", n, l.size)}
	}
	sz := int(n * l.pageSize)
	if cap(l.buf) < sz {
		l.buf = make([]byte, sz)
	}
	b := l.buf[:sz]
	if _, err := l.f.ReadAt(b, int64(id*l.pageSize)); err != nil {
		return nil, fmt.Errorf("page %d: reading: %w", id, err)
	}
	return b, nil
}

// page reads page id with its overflow and checks its header: its own id, the wanted type,
// reached for the first time.
func (l *layout) page(id uint64, want uint16) ([]byte, error) {
	if id < 2 {
		return nil, &layoutError{id, "a tree or freelist reference points at a meta page"}
	}
	if l.seen[id] {
		return nil, &layoutError{id, "reached twice (a cycle, or two parents)"}
	}
	b, err := l.read(id, 1)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	if got := le.Uint64(b); got != id {
		return nil, &layoutError{id, fmt.Sprintf("the page header says page %d", got)}
	}
	// Exactly one type flag, and one the parent allows.
	if flags := le.Uint16(b[8:]); flags&want == 0 || flags&(flags-1) != 0 {
		return nil, &layoutError{id, fmt.Sprintf("page type %#x where %#x was expected", flags, want)}
	}
	if overflow := uint64(le.Uint32(b[12:])); overflow > 0 {
		if b, err = l.read(id, 1+overflow); err != nil {
			return nil, err
		}
		for i := id + 1; i <= id+overflow; i++ {
			if l.seen[i] {
				return nil, &layoutError{i, "reached twice (inside another page's overflow)"}
			}
			l.seen[i] = true
		}
	}
	l.seen[id] = true
	return b, nil
}

// tree checks the B+tree rooted at page id (a bucket's root) and every bucket below it.
func (l *layout) tree(id uint64, depth int) error {
	b, err := l.page(id, flagBranch|flagLeaf)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	flags, count := le.Uint16(b[8:]), int(le.Uint16(b[10:]))
	if flags == flagBranch {
		children, err := branchChildren(id, b, count)
		if err != nil {
			return err
		}
		for _, c := range children {
			if err := l.tree(c, depth); err != nil {
				return err
			}
		}
		return nil
	}
	buckets, err := leafBuckets(id, b, count)
	if err != nil {
		return err
	}
	return l.buckets(id, buckets, depth)
}

// buckets checks the bucket values found on a leaf (page id, or an inline page in it).
func (l *layout) buckets(id uint64, values [][]byte, depth int) error {
	for _, v := range values {
		if len(v) < bucketHeader {
			return &layoutError{id, fmt.Sprintf("a sub-bucket's value is %d bytes, shorter than a bucket header", len(v))}
		}
		root := binary.LittleEndian.Uint64(v)
		if root != 0 {
			if err := l.tree(root, depth); err != nil {
				return err
			}
			continue
		}
		// An inline bucket: a leaf page inside the value, bounded by the value.
		if depth >= maxInlineDepth {
			return &layoutError{id, "inline buckets nested too deep"}
		}
		p := v[bucketHeader:]
		if len(p) < pageHeaderSize {
			return &layoutError{id, "an inline bucket's value has no room for its page header"}
		}
		if flags := binary.LittleEndian.Uint16(p[8:]); flags != flagLeaf {
			return &layoutError{id, fmt.Sprintf("an inline bucket's page has type %#x, not a leaf", flags)}
		}
		inner, err := leafBuckets(id, p, int(binary.LittleEndian.Uint16(p[10:])))
		if err != nil {
			return err
		}
		if err := l.buckets(id, inner, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// elementTable checks that count elements and their data fit in b (a page with its overflow,
// or an inline page) and returns the offset where element data may begin.
func elementTable(id uint64, b []byte, count int, kind string) (int, error) {
	end := pageHeaderSize + count*elementSize
	if end > len(b) {
		return 0, &layoutError{id, fmt.Sprintf("%d %s elements do not fit in %d bytes", count, kind, len(b))}
	}
	return end, nil
}

// dataSpan checks that the element at offset elem points at data inside b, after the element
// table.
func dataSpan(id uint64, b []byte, i, elem, tableEnd int, pos uint32, n uint64) error {
	start := uint64(elem) + uint64(pos)
	if start < uint64(tableEnd) || start+n > uint64(len(b)) {
		return &layoutError{id, fmt.Sprintf("element %d points at bytes %d-%d, outside its page's %d bytes", i, start, start+n, len(b))}
	}
	return nil
}

func branchChildren(id uint64, b []byte, count int) ([]uint64, error) {
	if count == 0 {
		return nil, &layoutError{id, "a branch page with no elements"}
	}
	tableEnd, err := elementTable(id, b, count, "branch")
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	children := make([]uint64, count)
	for i := range count {
		e := pageHeaderSize + i*elementSize
		if err := dataSpan(id, b, i, e, tableEnd, le.Uint32(b[e:]), uint64(le.Uint32(b[e+4:]))); err != nil {
			return nil, err
		}
		children[i] = le.Uint64(b[e+8:])
	}
	return children, nil
}

// leafBuckets checks a leaf's elements and returns copies of the values that are sub-buckets.
func leafBuckets(id uint64, b []byte, count int) ([][]byte, error) {
	tableEnd, err := elementTable(id, b, count, "leaf")
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	var buckets [][]byte
	for i := range count {
		e := pageHeaderSize + i*elementSize
		flags, pos, ksize, vsize := le.Uint32(b[e:]), le.Uint32(b[e+4:]), le.Uint32(b[e+8:]), le.Uint32(b[e+12:])
		if flags&^flagBucket != 0 {
			return nil, &layoutError{id, fmt.Sprintf("element %d has unknown flags %#x", i, flags)}
		}
		if err := dataSpan(id, b, i, e, tableEnd, pos, uint64(ksize)+uint64(vsize)); err != nil {
			return nil, err
		}
		if flags&flagBucket != 0 {
			v := b[e+int(pos)+int(ksize) : e+int(pos)+int(ksize)+int(vsize)]
			buckets = append(buckets, append([]byte(nil), v...))
		}
	}
	return buckets, nil
}

// freelist checks the freelist page: its ids fit in it and name pages below the high-water mark.
func (l *layout) freelist(id uint64) error {
	b, err := l.page(id, flagFreelist)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	start, count := pageHeaderSize, uint64(le.Uint16(b[10:]))
	if count == 0xFFFF {
		if len(b) < pageHeaderSize+8 {
			return &layoutError{id, "freelist count missing"}
		}
		count, start = le.Uint64(b[pageHeaderSize:]), pageHeaderSize+8
	}
	if count > uint64(len(b)-start)/8 {
		return &layoutError{id, fmt.Sprintf("%d free page ids do not fit in the freelist page", count)}
	}
	for i := range int(count) {
		if free := le.Uint64(b[start+8*i:]); free < 2 || free >= l.hwm {
			return &layoutError{id, fmt.Sprintf("free page id %d outside 2..%d", free, l.hwm)}
		}
	}
	return nil
}

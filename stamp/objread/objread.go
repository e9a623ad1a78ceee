// Package objread reads a PDF's cross-reference data and objects on demand: the signing path
// needs the trailer, the catalog, the page tree and the form, not the megabytes of images a
// scanned file carries, so nothing else is read. Objects are parsed by this package's own strict
// parser (parse.go) into pdfcpu's types, so code written against pdfcpu's model works with them.
//
// The reader is strict: it follows the cross-reference data as written and never searches the
// file for objects. A file it cannot follow is refused by the caller, which is the right answer
// for stamping: an update appended to such a file could not be followed by other strict readers
// either.
package objread

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Limits on what an untrusted file can make the reader do.
const (
	maxSections     = 1000     // cross-reference sections in a /Prev chain
	maxEntries      = 10 << 20 // cross-reference entries over all sections
	maxObjStmBytes  = 64 << 20 // a decoded object or cross-reference stream
	maxObjStmN      = 1 << 20  // objects in one object stream
	maxObjectBytes  = 16 << 20 // the text of one object (its dictionary, not its stream)
	maxRefHops      = 32       // references to references
	firstObjectRead = 512      // bytes read for an object at first; doubled until it parses
)

// ErrNotPDF is returned when the file does not start like a PDF.
var ErrNotPDF = errors.New("the file is not a PDF (no %PDF- header)")

// Entry is where the cross-reference data says an object is.
type Entry struct {
	Offset int64 // in the file (InStream false); the object stream's number (InStream true)
	Gen    int   // generation (InStream false); index in the object stream (InStream true)
	// InStream: the object is stored in an object stream.
	InStream bool
}

// File is an opened PDF. Objects are read when first asked for and cached. A File is for one
// goroutine at a time.
type File struct {
	Trailer       types.Dict // the newest trailer (for an xref stream: its dictionary)
	Size          int        // the newest trailer's /Size
	MaxObjNr      int        // the highest object number any cross-reference section lists
	StartXRef     int64      // offset of the newest cross-reference section (the last startxref)
	XRefStream    bool       // the newest section is an xref stream
	HeaderVersion string     // "1.7" from %PDF-1.7

	r       io.ReaderAt
	size    int64
	entries map[int]Entry // in use; free and absent numbers are not here
	freed   map[int]bool  // numbers a newer section frees
	// tableFreed: numbers the table being read frees; its hybrid /XRefStm may still define
	// them (writers mark objects in object streams free in the table for old readers).
	tableFreed map[int]bool
	cache      map[int]types.Object
	stms       map[int]*objStream
	loading    map[int]bool // objects being read (a stream's /Length that refers back to it)
	scratch    []byte       // reused for reading objects' text (the parser copies what it keeps)
}

type objStream struct {
	data    []byte
	offsets []int // per index: offset of the object's text in data
	nums    []int
}

// Open reads the cross-reference data of the PDF in r (size bytes): the last startxref, every
// section its /Prev chain leads to, and hybrid files' /XRefStm streams.
func Open(r io.ReaderAt, size int64) (f *File, err error) {
	defer recoverError(&err)
	f = &File{r: r, size: size, entries: map[int]Entry{}, freed: map[int]bool{}, tableFreed: map[int]bool{}, cache: map[int]types.Object{}, stms: map[int]*objStream{}, loading: map[int]bool{}}
	head := make([]byte, min(1024, size))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return nil, err
	}
	i := bytes.Index(head, []byte("%PDF-"))
	if i < 0 {
		return nil, ErrNotPDF
	}
	v := head[i+5:]
	if n := bytes.IndexAny(v, " \t\r\n%"); n >= 0 {
		v = v[:n]
	}
	f.HeaderVersion = string(v)
	if f.StartXRef, err = f.startXRef(); err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	off, total := f.StartXRef, 0
	for n := 0; ; n++ {
		if n >= maxSections {
			return nil, fmt.Errorf("more than %d cross-reference sections", maxSections)
		}
		if seen[off] {
			return nil, fmt.Errorf("the /Prev chain loops back to offset %d", off)
		}
		seen[off] = true
		trailer, isStream, count, err := f.section(off)
		if err != nil {
			return nil, err
		}
		if total += count; total > maxEntries {
			return nil, fmt.Errorf("more than %d cross-reference entries", maxEntries)
		}
		if n == 0 {
			f.Trailer, f.XRefStream = trailer, isStream
			sz, ok := trailer["Size"].(types.Integer)
			if !ok || sz < 0 {
				return nil, fmt.Errorf("the trailer at %d has no /Size", off)
			}
			f.Size = int(sz)
		}
		prev, ok := trailer["Prev"]
		if !ok {
			break
		}
		p, ok := prev.(types.Integer)
		if !ok {
			if fl, isFloat := prev.(types.Float); isFloat && fl == types.Float(int64(fl)) {
				p, ok = types.Integer(int64(fl)), true
			}
		}
		if !ok || int64(p) < 0 || int64(p) >= size {
			return nil, fmt.Errorf("the trailer at %d has a /Prev outside the file", off)
		}
		off = int64(p)
	}
	if _, ok := f.Trailer["Root"].(types.IndirectRef); !ok {
		return nil, errors.New("the trailer has no /Root")
	}
	return f, nil
}

// Entries returns the objects in use, by number, as the cross-reference data lists them.
func (f *File) Entries() map[int]Entry {
	out := make(map[int]Entry, len(f.entries))
	for n, e := range f.entries {
		out[n] = e
	}
	return out
}

// Numbers returns the numbers of the objects in use, ascending.
func (f *File) Numbers() []int {
	out := make([]int, 0, len(f.entries))
	for n := range f.entries {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// Dereference follows an indirect reference (and references to references, up to a bound) and
// returns the object; any other object is returned as it is. A reference to a free or absent
// object gives (nil, nil), as in pdfcpu's model. A stream is returned as types.StreamDict with
// its dictionary, offset and length, without its bytes.
func (f *File) Dereference(o types.Object) (out types.Object, err error) {
	defer recoverError(&err)
	for hops := 0; ; hops++ {
		r, ok := o.(types.IndirectRef)
		if !ok {
			return o, nil
		}
		if hops >= maxRefHops {
			return nil, fmt.Errorf("object %d: references to references do not end", r.ObjectNumber)
		}
		if o, err = f.object(r.ObjectNumber.Value()); err != nil {
			return nil, err
		}
	}
}

// Object returns object number n (nil, nil when free or absent).
func (f *File) Object(n int) (o types.Object, err error) {
	defer recoverError(&err)
	return f.object(n)
}

// StreamBytes returns a stream object's bytes as stored (not decoded).
func (f *File) StreamBytes(sd types.StreamDict) (b []byte, err error) {
	defer recoverError(&err)
	if sd.StreamLength == nil {
		return nil, errors.New("a stream without a length")
	}
	n, off := *sd.StreamLength, sd.StreamOffset
	if n < 0 || off < 0 || off > f.size || n > f.size-off {
		return nil, fmt.Errorf("a stream of %d bytes at %d runs past the end of the file", n, off)
	}
	b = make([]byte, n)
	if _, err := f.r.ReadAt(b, off); err != nil && !(err == io.EOF && n == 0) {
		return nil, err
	}
	return b, nil
}

// Load returns sd with its bytes (Raw) and pdfcpu's filter pipeline set, so that pdfcpu can
// decode it (sd.Decode).
func (f *File) Load(sd types.StreamDict) (out types.StreamDict, err error) {
	defer recoverError(&err)
	if sd.Raw, err = f.StreamBytes(sd); err != nil {
		return sd, err
	}
	if sd.FilterPipeline, err = f.pipeline(sd.Dict); err != nil {
		return sd, err
	}
	return sd, nil
}

func recoverError(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("the PDF reader failed on this file: %v", r)
	}
}

// startXRef finds the last startxref in the last 4 KB.
func (f *File) startXRef() (int64, error) {
	n := min(4096, f.size)
	tail := make([]byte, n)
	if _, err := f.r.ReadAt(tail, f.size-n); err != nil && err != io.EOF {
		return 0, err
	}
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return 0, errors.New("no startxref at the end of the file: it is truncated or damaged")
	}
	fields := bytes.Fields(tail[i+len("startxref"):])
	if len(fields) == 0 {
		return 0, errors.New("startxref without an offset")
	}
	off, err := strconv.ParseInt(string(fields[0]), 10, 64)
	if err != nil || off <= 0 || off >= f.size {
		return 0, fmt.Errorf("startxref %q points outside the file", fields[0])
	}
	return off, nil
}

// read returns up to n bytes at off (fewer at the end of the file) in a new slice.
func (f *File) read(off int64, n int) ([]byte, error) {
	return f.readInto(nil, off, n)
}

// readInto is read into buf's storage when it is large enough.
func (f *File) readInto(buf []byte, off int64, n int) ([]byte, error) {
	if off < 0 || off >= f.size {
		return nil, fmt.Errorf("offset %d is outside the file", off)
	}
	n = int(min(int64(n), f.size-off))
	b := buf[:0]
	if cap(b) < n {
		b = make([]byte, n)
	}
	b = b[:n]
	k, err := f.r.ReadAt(b, off)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return b[:k], nil
}

// set records an entry unless a newer section already said something about the object.
func (f *File) set(n int, e Entry, free bool) {
	if n < 0 {
		return
	}
	f.MaxObjNr = max(f.MaxObjNr, n)
	if f.freed[n] && f.tableFreed[n] && !free {
		delete(f.freed, n)
	}
	if _, ok := f.entries[n]; ok || f.freed[n] {
		return
	}
	if free {
		f.freed[n] = true
		return
	}
	f.entries[n] = e
}

// section reads one cross-reference section (a table and its trailer, or a stream) at off and
// returns its trailer and how many entries it had.
func (f *File) section(off int64) (types.Dict, bool, int, error) {
	b, err := f.read(off, 64)
	if err != nil {
		return nil, false, 0, fmt.Errorf("cross-reference section at %d: %w", off, err)
	}
	if bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n\f\x00"), []byte("xref")) {
		return f.table(off)
	}
	d, count, err := f.xrefStream(off)
	if err != nil {
		return nil, false, 0, fmt.Errorf("cross-reference stream at %d: %w", off, err)
	}
	return d, true, count, nil
}

// table reads a classic cross-reference table at off, its trailer, and a hybrid file's
// /XRefStm (whose entries come after the table's).
func (f *File) table(off int64) (types.Dict, bool, int, error) {
	bad := func(format string, a ...any) (types.Dict, bool, int, error) {
		return nil, false, 0, fmt.Errorf("cross-reference table at %d: %s", off, fmt.Sprintf(format, a...))
	}
	n := 1 << 16
	var b []byte
	var tr int
	for {
		var err error
		if b, err = f.read(off, n); err != nil {
			return bad("%v", err)
		}
		if tr = bytes.Index(b, []byte("trailer")); tr >= 0 {
			if end := bytes.Index(b[tr:], []byte("startxref")); end >= 0 || int64(len(b)) < int64(n) {
				break
			}
		}
		if int64(len(b)) < int64(n) || n >= maxObjectBytes*4 {
			return bad("no trailer after it")
		}
		n *= 2
	}
	p := bytes.Index(b, []byte("xref")) + 4
	count := 0
	for p < tr {
		p = skipSpace(b, p)
		if p >= tr {
			break
		}
		first, q, ok := readInt(b, p)
		if !ok {
			return bad("a subsection header does not parse")
		}
		p = skipSpace(b, q)
		num, q, ok := readInt(b, p)
		if !ok || num < 0 || first < 0 {
			return bad("a subsection header does not parse")
		}
		p = q
		if count += int(num); count > maxEntries {
			return bad("too many entries")
		}
		for i := int64(0); i < num; i++ {
			p = skipSpace(b, p)
			o, q, ok1 := readInt(b, p)
			p = skipSpace(b, q)
			g, q, ok2 := readInt(b, p)
			p = skipSpace(b, q)
			if !ok1 || !ok2 || p >= tr || (b[p] != 'n' && b[p] != 'f') {
				return bad("entry %d of the subsection at object %d does not parse", i, first)
			}
			kind := b[p]
			p++
			objNr := int(first + i)
			if kind == 'n' && o == 0 { // an in-use entry at offset 0 is how some writers say free
				kind = 'f'
			}
			if kind == 'n' && (o < 0 || o >= f.size) {
				return bad("object %d is said to be at %d, outside the file", objNr, o)
			}
			if kind == 'f' && !f.freed[objNr] {
				if _, ok := f.entries[objNr]; !ok {
					f.tableFreed[objNr] = true
				}
			}
			f.set(objNr, Entry{Offset: o, Gen: int(g)}, kind == 'f')
		}
	}
	o, _, err := parseValue(b, tr+len("trailer"), off+int64(len(b)) >= f.size)
	if err != nil {
		return bad("its trailer does not parse: %v", err)
	}
	d, ok := o.(types.Dict)
	if !ok {
		return bad("its trailer is not a dictionary")
	}
	defer clear(f.tableFreed)
	if x, ok := d["XRefStm"].(types.Integer); ok {
		if int64(x) <= 0 || int64(x) >= f.size {
			return bad("/XRefStm points outside the file")
		}
		_, k, err := f.xrefStream(int64(x))
		if err != nil {
			return bad("its /XRefStm at %d: %v", x, err)
		}
		count += k
	}
	return d, false, count, nil
}

// xrefStream reads a cross-reference stream at off.
func (f *File) xrefStream(off int64) (types.Dict, int, error) {
	_, o, err := f.parseAt(off, -1)
	if err != nil {
		return nil, 0, err
	}
	sd, ok := o.(types.StreamDict)
	if !ok || sd.Dict["Type"] != types.Name("XRef") {
		return nil, 0, errors.New("not a cross-reference stream (/Type /XRef)")
	}
	data, err := f.decode(sd)
	if err != nil {
		return nil, 0, err
	}
	wa, ok := sd.Dict["W"].(types.Array)
	if !ok || len(wa) != 3 {
		return nil, 0, errors.New("its /W is not three numbers")
	}
	var w [3]int
	for i := range wa {
		v, ok := wa[i].(types.Integer)
		if !ok || v < 0 || v > 8 {
			return nil, 0, errors.New("its /W has a width that is not 0 to 8 bytes")
		}
		w[i] = int(v)
	}
	width := w[0] + w[1] + w[2]
	if width == 0 {
		return nil, 0, errors.New("its /W is all zeros")
	}
	size, ok := sd.Dict["Size"].(types.Integer)
	if !ok || size < 0 || size > maxEntries {
		return nil, 0, errors.New("its /Size is missing or out of range")
	}
	index := types.Array{types.Integer(0), size}
	if ia, ok := sd.Dict["Index"].(types.Array); ok {
		index = ia
	}
	if len(index)%2 != 0 {
		return nil, 0, errors.New("its /Index is not pairs of numbers")
	}
	field := func(b []byte, def int64) int64 {
		if len(b) == 0 {
			return def
		}
		var v int64
		for _, c := range b {
			v = v<<8 | int64(c)
		}
		return v
	}
	p, count := 0, 0
	for i := 0; i < len(index); i += 2 {
		first, ok1 := index[i].(types.Integer)
		num, ok2 := index[i+1].(types.Integer)
		if !ok1 || !ok2 || first < 0 || num < 0 {
			return nil, 0, errors.New("its /Index is not pairs of numbers")
		}
		if count += int(num); count > maxEntries {
			return nil, 0, errors.New("too many entries")
		}
		for k := 0; k < int(num); k++ {
			if p+width > len(data) {
				return nil, 0, errors.New("its data ends before its /Index does")
			}
			e := data[p : p+width]
			p += width
			typ := field(e[:w[0]], 1)
			a := field(e[w[0]:w[0]+w[1]], 0)
			c := field(e[w[0]+w[1]:], 0)
			objNr := int(first) + k
			switch typ {
			case 0:
				f.set(objNr, Entry{}, true)
			case 1:
				if a <= 0 || a >= f.size {
					return nil, 0, fmt.Errorf("object %d is said to be at %d, outside the file", objNr, a)
				}
				f.set(objNr, Entry{Offset: a, Gen: int(c)}, false)
			case 2:
				f.set(objNr, Entry{Offset: a, Gen: int(c), InStream: true}, false)
			default:
				f.MaxObjNr = max(f.MaxObjNr, objNr) // reserved types are treated as null
			}
		}
	}
	d := sd.Dict.Clone().(types.Dict)
	return d, count, nil
}

// decode returns a stream's decoded bytes (object and cross-reference streams).
func (f *File) decode(sd types.StreamDict) ([]byte, error) {
	raw, err := f.StreamBytes(sd)
	if err != nil {
		return nil, err
	}
	sd.Raw = raw
	if sd.FilterPipeline, err = f.pipeline(sd.Dict); err != nil {
		return nil, err
	}
	if err := sd.DecodeWithLimit(maxObjStmBytes); err != nil {
		return nil, err
	}
	if len(sd.Content) > maxObjStmBytes {
		return nil, fmt.Errorf("it decodes to more than %d bytes", maxObjStmBytes)
	}
	return sd.Content, nil
}

// pipeline builds pdfcpu's filter pipeline from /Filter and /DecodeParms.
func (f *File) pipeline(d types.Dict) ([]types.PDFFilter, error) {
	fo, err := f.Dereference(d["Filter"])
	if err != nil || fo == nil {
		return nil, err
	}
	po, err := f.Dereference(d["DecodeParms"])
	if err != nil {
		return nil, err
	}
	var names, parms types.Array
	switch v := fo.(type) {
	case types.Name:
		names, parms = types.Array{v}, types.Array{po}
	case types.Array:
		names = v
		if pa, ok := po.(types.Array); ok {
			parms = pa
		}
	default:
		return nil, errors.New("its /Filter is neither a name nor an array")
	}
	var out []types.PDFFilter
	for i, n := range names {
		name, ok := n.(types.Name)
		if !ok {
			return nil, errors.New("its /Filter has an entry that is not a name")
		}
		var pd types.Dict
		if i < len(parms) {
			p, err := f.Dereference(parms[i])
			if err != nil {
				return nil, err
			}
			pd, _ = p.(types.Dict)
		}
		out = append(out, types.PDFFilter{Name: string(name), DecodeParms: pd})
	}
	return out, nil
}

func (f *File) object(n int) (types.Object, error) {
	if o, ok := f.cache[n]; ok {
		return o, nil
	}
	e, ok := f.entries[n]
	if !ok {
		return nil, nil
	}
	if f.loading[n] {
		return nil, fmt.Errorf("object %d refers to itself while it is read", n)
	}
	f.loading[n] = true
	defer delete(f.loading, n)
	var o types.Object
	var err error
	if e.InStream {
		o, err = f.fromStream(n, int(e.Offset), e.Gen)
	} else {
		var got int
		got, o, err = f.parseAt(e.Offset, n)
		if err == nil && got != n {
			err = fmt.Errorf("object %d: the cross-reference offset %d leads to object %d", n, e.Offset, got)
		}
	}
	if err != nil {
		return nil, err
	}
	f.cache[n] = o
	return o, nil
}

// parseAt parses the indirect object at off ("n g obj ... endobj"; want, when not -1, is the
// number it must have) and returns its number and value.
func (f *File) parseAt(off int64, want int) (int, types.Object, error) {
	for n := firstObjectRead; ; n *= 2 {
		b, err := f.readInto(f.scratch, off, n)
		f.scratch = b
		if err != nil {
			return 0, nil, fmt.Errorf("the object at %d: %w", off, err)
		}
		eof := off+int64(len(b)) >= f.size
		num, o, err := f.parseObject(b, off, want, eof)
		if !errors.Is(err, errTruncated) || eof || n >= maxObjectBytes {
			return num, o, err
		}
	}
}

var errHeader = errors.New("the cross-reference offset does not point at an 'obj' header")

func (f *File) parseObject(b []byte, off int64, want int, eof bool) (int, types.Object, error) {
	p := skipSpace(b, 0)
	num, p, ok1 := readInt(b, p)
	p = skipSpace(b, p)
	gen, p, ok2 := readInt(b, p)
	p = skipSpace(b, p)
	if !ok1 || !ok2 || gen < 0 || !bytes.HasPrefix(b[p:], []byte("obj")) {
		if want < 0 {
			return 0, nil, fmt.Errorf("at %d: %w", off, errHeader)
		}
		return 0, nil, fmt.Errorf("object %d at %d: %w", want, off, errHeader)
	}
	if want >= 0 && int(num) != want {
		return 0, nil, fmt.Errorf("object %d: the cross-reference offset %d leads to object %d", want, off, num)
	}
	p += 3
	o, rest, err := parseValue(b, p, eof)
	if err != nil {
		return 0, nil, fmt.Errorf("object %d at %d does not parse: %w", num, off, err)
	}
	q := skipSpace(b, rest)
	switch {
	case bytes.HasPrefix(b[q:], []byte("endobj")):
		return int(num), o, nil
	case bytes.HasPrefix(b[q:], []byte("stream")):
		d, ok := o.(types.Dict)
		if !ok {
			return 0, nil, fmt.Errorf("object %d at %d: 'stream' after something that is not a dictionary", num, off)
		}
		q += len("stream")
		if q < len(b) && b[q] == '\r' {
			q++
		}
		if q < len(b) && b[q] == '\n' {
			q++
		}
		if q >= len(b) && !eof {
			return 0, nil, errTruncated
		}
		length, lengthNr, err := f.streamLength(d, int(num))
		if err != nil {
			return 0, nil, fmt.Errorf("object %d at %d: %v", num, off, err)
		}
		start := off + int64(q)
		if length < 0 || start > f.size || length > f.size-start {
			return 0, nil, fmt.Errorf("object %d at %d: its stream of %d bytes runs past the end of the file", num, off, length)
		}
		sd := types.NewStreamDict(d, start, &length, lengthNr, nil)
		return int(num), sd, nil
	case q+len("endobj") > len(b) && !eof:
		return 0, nil, errTruncated
	}
	return 0, nil, fmt.Errorf("object %d at %d: no 'endobj' after its value", num, off)
}

func (f *File) streamLength(d types.Dict, num int) (int64, *int, error) {
	switch v := d["Length"].(type) {
	case types.Integer:
		return int64(v), nil, nil
	case types.IndirectRef:
		n := v.ObjectNumber.Value()
		if n == num {
			return 0, nil, errors.New("its /Length refers to itself")
		}
		o, err := f.object(n)
		if err != nil {
			return 0, nil, fmt.Errorf("its /Length: %w", err)
		}
		if l, ok := o.(types.Integer); ok {
			return int64(l), &n, nil
		}
	}
	return 0, nil, errors.New("its stream has no /Length")
}

// fromStream returns object n, stored at index i of object stream s.
func (f *File) fromStream(n, s, i int) (types.Object, error) {
	st, err := f.objStream(s)
	if err != nil {
		return nil, fmt.Errorf("object %d (in object stream %d): %w", n, s, err)
	}
	if i < 0 || i >= len(st.offsets) || st.nums[i] != n {
		return nil, fmt.Errorf("object %d: object stream %d does not hold it at index %d", n, s, i)
	}
	o, _, err := parseValue(st.data, st.offsets[i], true)
	if err != nil {
		return nil, fmt.Errorf("object %d (in object stream %d) does not parse: %v", n, s, err)
	}
	if _, isRef := o.(types.IndirectRef); isRef {
		return nil, fmt.Errorf("object %d (in object stream %d) is a bare reference", n, s)
	}
	return o, nil
}

func (f *File) objStream(s int) (*objStream, error) {
	if st, ok := f.stms[s]; ok {
		return st, nil
	}
	e, ok := f.entries[s]
	if !ok || e.InStream {
		return nil, errors.New("the object stream is not in the file")
	}
	o, err := f.object(s)
	if err != nil {
		return nil, err
	}
	sd, ok := o.(types.StreamDict)
	if !ok || sd.Dict["Type"] != types.Name("ObjStm") {
		return nil, errors.New("not an object stream (/Type /ObjStm)")
	}
	nObj, ok1 := sd.Dict["N"].(types.Integer)
	first, ok2 := sd.Dict["First"].(types.Integer)
	if !ok1 || !ok2 || nObj < 0 || nObj > maxObjStmN || first < 0 {
		return nil, errors.New("its /N or /First is missing or out of range")
	}
	data, err := f.decode(sd)
	if err != nil {
		return nil, err
	}
	if int(first) > len(data) {
		return nil, errors.New("its /First is past its data")
	}
	st := &objStream{data: data, offsets: make([]int, nObj), nums: make([]int, nObj)}
	p := 0
	for k := 0; k < int(nObj); k++ {
		p = skipSpace(data, p)
		num, q, ok1 := readInt(data, p)
		q = skipSpace(data, q)
		o, q, ok2 := readInt(data, q)
		if !ok1 || !ok2 || q > int(first) || o < 0 || int(first)+int(o) > len(data) {
			return nil, fmt.Errorf("its header entry %d does not parse", k)
		}
		st.nums[k], st.offsets[k], p = int(num), int(first)+int(o), q
	}
	f.stms[s] = st
	return st, nil
}

func skipSpace(b []byte, p int) int {
	for p < len(b) {
		switch b[p] {
		case ' ', '\t', '\r', '\n', '\f', 0:
			p++
		case '%': // a comment runs to the end of the line
			for p < len(b) && b[p] != '\r' && b[p] != '\n' {
				p++
			}
		default:
			return p
		}
	}
	return p
}

// readInt reads an unsigned decimal integer at p.
func readInt(b []byte, p int) (int64, int, bool) {
	start := p
	var v int64
	for p < len(b) && b[p] >= '0' && b[p] <= '9' {
		if p-start >= 18 {
			return 0, p, false
		}
		v = v*10 + int64(b[p]-'0')
		p++
	}
	return v, p, p > start
}

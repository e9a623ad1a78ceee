package objread

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// The object parser: PDF's object syntax (ISO 32000 7.3) into pdfcpu's types, with pdfcpu's
// conventions (names with #xx decoded, string literals kept as written between their
// parentheses, hex strings upper-cased without white space), so that what it returns serialises
// back as pdfcpu would write it. pdfcpu's own string parser costs about ten times as much per
// page dictionary, which is the whole cost of opening a 2000-page file.

const maxDepth = 64 // nesting of arrays and dictionaries

// errTruncated: the buffer ended inside the value; the caller reads more and tries again.
var errTruncated = errors.New("the object is cut off")

type parser struct {
	b     []byte
	p     int
	depth int
	eof   bool // b ends where the data ends (else a token at its end may go on)
}

// parseValue parses one value at b[p:] and returns it with the position after it. eof tells
// that nothing follows b.
func parseValue(b []byte, p int, eof bool) (types.Object, int, error) {
	ps := parser{b: b, p: p, eof: eof}
	o, err := ps.value()
	return o, ps.p, err
}

// cut is the error for a buffer that ends inside a value.
func (ps *parser) cut() error {
	if ps.eof {
		return errors.New("the data ends inside a value")
	}
	return errTruncated
}

// token reads a regular token (up to white space or a delimiter). One that reaches the end of
// the buffer is complete only at the end of the data.
func (ps *parser) token() ([]byte, error) {
	start := ps.p
	for ps.p < len(ps.b) && !isSpace(ps.b[ps.p]) && !isDelim(ps.b[ps.p]) {
		ps.p++
	}
	if ps.p >= len(ps.b) && !ps.eof {
		return nil, errTruncated
	}
	return ps.b[start:ps.p], nil
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '\f', 0:
		return true
	}
	return false
}

func (ps *parser) value() (types.Object, error) {
	ps.p = skipSpace(ps.b, ps.p)
	if ps.p >= len(ps.b) {
		return nil, ps.cut()
	}
	switch c := ps.b[ps.p]; {
	case c == '/':
		return ps.name()
	case c == '(':
		return ps.literal()
	case c == '<':
		if ps.p+1 < len(ps.b) && ps.b[ps.p+1] == '<' {
			return ps.dict()
		}
		return ps.hex()
	case c == '[':
		return ps.array()
	case c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9'):
		return ps.number()
	default:
		t, err := ps.token()
		if err != nil {
			return nil, err
		}
		switch w := string(t); w {
		case "true":
			return types.Boolean(true), nil
		case "false":
			return types.Boolean(false), nil
		case "null":
			return nil, nil
		default:
			return nil, fmt.Errorf("unexpected %q", w)
		}
	}
}

func (ps *parser) name() (types.Object, error) {
	ps.p++ // '/'
	t, err := ps.token()
	if err != nil {
		return nil, err
	}
	s := string(t)
	if bytes.IndexByte(t, '#') >= 0 {
		d, err := types.DecodeName(s)
		if err != nil {
			return nil, fmt.Errorf("the name /%s has a bad #xx escape", s)
		}
		s = d
	}
	return types.Name(s), nil
}

// literal keeps the string as written between its outer parentheses (escapes included).
func (ps *parser) literal() (types.Object, error) {
	start, level := ps.p+1, 0
	for ; ps.p < len(ps.b); ps.p++ {
		switch ps.b[ps.p] {
		case '\\':
			ps.p++
		case '(':
			level++
		case ')':
			if level--; level == 0 {
				s := string(ps.b[start:ps.p])
				ps.p++
				return types.StringLiteral(s), nil
			}
		}
	}
	return nil, ps.cut()
}

func (ps *parser) hex() (types.Object, error) {
	ps.p++ // '<'
	var h []byte
	for ; ps.p < len(ps.b); ps.p++ {
		c := ps.b[ps.p]
		switch {
		case c == '>':
			ps.p++
			if len(h)%2 == 1 {
				h = append(h, '0')
			}
			return types.HexLiteral(h), nil
		case isSpace(c):
		case c >= '0' && c <= '9', c >= 'A' && c <= 'F':
			h = append(h, c)
		case c >= 'a' && c <= 'f':
			h = append(h, c-'a'+'A')
		default:
			return nil, fmt.Errorf("a hex string holds %q", c)
		}
	}
	return nil, ps.cut()
}

func (ps *parser) enter() error {
	if ps.depth++; ps.depth > maxDepth {
		return fmt.Errorf("arrays and dictionaries nested deeper than %d", maxDepth)
	}
	return nil
}

func (ps *parser) array() (types.Object, error) {
	if err := ps.enter(); err != nil {
		return nil, err
	}
	defer func() { ps.depth-- }()
	ps.p++ // '['
	a := types.Array{}
	for {
		ps.p = skipSpace(ps.b, ps.p)
		if ps.p >= len(ps.b) {
			return nil, ps.cut()
		}
		if ps.b[ps.p] == ']' {
			ps.p++
			return a, nil
		}
		o, err := ps.value()
		if err != nil {
			return nil, err
		}
		a = append(a, o)
	}
}

func (ps *parser) dict() (types.Object, error) {
	if err := ps.enter(); err != nil {
		return nil, err
	}
	defer func() { ps.depth-- }()
	ps.p += 2 // "<<"
	d := types.Dict{}
	for {
		ps.p = skipSpace(ps.b, ps.p)
		if ps.p+1 >= len(ps.b) {
			return nil, ps.cut()
		}
		if ps.b[ps.p] == '>' && ps.b[ps.p+1] == '>' {
			ps.p += 2
			return d, nil
		}
		if ps.b[ps.p] != '/' {
			return nil, fmt.Errorf("a dictionary key is not a name (%q)", ps.b[ps.p])
		}
		k, err := ps.name()
		if err != nil {
			return nil, err
		}
		v, err := ps.value()
		if err != nil {
			return nil, err
		}
		if v != nil { // a null value is the same as no entry
			d[string(k.(types.Name))] = v
		}
	}
}

// number parses an integer, a real, or "n g R" (an indirect reference).
func (ps *parser) number() (types.Object, error) {
	t, err := ps.token()
	if err != nil {
		return nil, err
	}
	s := string(t)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ref, ok, err := ps.reference(i, s); ok || err != nil {
			return ref, err
		}
		if i != int64(int(i)) {
			return types.Float(i), nil
		}
		return types.Integer(int(i)), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("%q is not a number", s)
	}
	return types.Float(f), nil
}

// reference looks past an unsigned integer for "g R".
func (ps *parser) reference(num int64, s string) (types.Object, bool, error) {
	if s[0] == '+' || s[0] == '-' || num > 1<<31 {
		return nil, false, nil
	}
	// Where the buffer ends before the lookahead is decided, read more (unless it is the end
	// of the data, where a lone integer is complete).
	more := func() (types.Object, bool, error) {
		if ps.eof {
			return nil, false, nil
		}
		return nil, false, errTruncated
	}
	q := skipSpace(ps.b, ps.p)
	if q >= len(ps.b) {
		return more()
	}
	gen, q2, ok := readInt(ps.b, q)
	if !ok {
		return nil, false, nil
	}
	if q2 >= len(ps.b) {
		return more()
	}
	if !isSpace(ps.b[q2]) && !isDelim(ps.b[q2]) {
		return nil, false, nil
	}
	r := skipSpace(ps.b, q2)
	if r >= len(ps.b) {
		return more()
	}
	if ps.b[r] != 'R' {
		return nil, false, nil
	}
	if r+1 < len(ps.b) && !isSpace(ps.b[r+1]) && !isDelim(ps.b[r+1]) {
		return nil, false, nil
	}
	if r+1 >= len(ps.b) && !ps.eof {
		return nil, false, errTruncated
	}
	ps.p = r + 1
	return *types.NewIndirectRef(int(num), int(gen)), true, nil
}

package cms

import "errors"

// toDER re-encodes BER (indefinite lengths, constructed strings), as NSS and some other signers
// write, into DER, so that one strict parser reads everything. DER input comes out unchanged,
// which matters for the signed attributes: their signature is over their encoding.
func toDER(b []byte) ([]byte, error) {
	out, _, err := berElement(b, 0)
	return out, err
}

var errBER = errors.New("the CMS signature is malformed (BER)")

func berElement(b []byte, depth int) (der, rest []byte, err error) {
	if depth > 64 || len(b) < 2 {
		return nil, nil, errBER
	}
	tagLen := 1
	if b[0]&0x1f == 0x1f {
		for tagLen < len(b) && b[tagLen]&0x80 != 0 {
			tagLen++
		}
		tagLen++
		if tagLen >= len(b) {
			return nil, nil, errBER
		}
	}
	tag := b[:tagLen]
	constructed := b[0]&0x20 != 0
	p := tagLen
	l := int(b[p])
	p++
	var content []byte
	switch {
	case l == 0x80:
		if !constructed {
			return nil, nil, errBER
		}
		rest = b[p:]
		for {
			if len(rest) >= 2 && rest[0] == 0 && rest[1] == 0 {
				rest = rest[2:]
				break
			}
			child, r, err := berElement(rest, depth+1)
			if err != nil {
				return nil, nil, err
			}
			content = append(content, child...)
			rest = r
		}
	default:
		if l > 0x80 {
			n := l & 0x7f
			if n > 4 || p+n > len(b) {
				return nil, nil, errBER
			}
			l = 0
			for i := 0; i < n; i++ {
				l = l<<8 | int(b[p+i])
			}
			p += n
		}
		if l < 0 || p+l > len(b) {
			return nil, nil, errBER
		}
		body := b[p : p+l]
		rest = b[p+l:]
		if !constructed {
			content = body
			break
		}
		for len(body) > 0 {
			child, r, err := berElement(body, depth+1)
			if err != nil {
				return nil, nil, err
			}
			content = append(content, child...)
			body = r
		}
	}
	// A constructed OCTET STRING becomes one primitive string of its parts' contents.
	if len(tag) == 1 && tag[0] == 0x24 {
		var joined []byte
		for c := content; len(c) > 0; {
			part, r, err := berElement(c, depth+1)
			if err != nil {
				return nil, nil, err
			}
			hl := 2
			if part[1]&0x80 != 0 {
				hl += int(part[1] & 0x7f)
			}
			joined = append(joined, part[hl:]...)
			c = r
		}
		tag, content = []byte{0x04}, joined
	}
	der = append(append([]byte{}, tag...), derLength(len(content))...)
	return append(der, content...), rest, nil
}

func derLength(n int) []byte {
	if n < 0x80 {
		return []byte{byte(n)}
	}
	var b []byte
	for v := n; v > 0; v >>= 8 {
		b = append([]byte{byte(v)}, b...)
	}
	return append([]byte{0x80 | byte(len(b))}, b...)
}

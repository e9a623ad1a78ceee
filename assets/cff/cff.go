// Package cff reads what a PDF needs from an OpenType font with CFF outlines: the bare CFF
// table and the map from glyph IDs to CIDs. store/report embeds the fonts with it, and
// stamp/render's tests write their CJK test files with it.
package cff

import "errors"

// Table returns the bare 'CFF ' table of an OpenType font with CFF outlines (what a PDF embeds
// as FontFile3 /CIDFontType0C).
func Table(b []byte) ([]byte, error) {
	if len(b) < 12 {
		return nil, errors.New("too short")
	}
	u16 := func(o int) int { return int(b[o])<<8 | int(b[o+1]) }
	u32 := func(o int) int { return u16(o)<<16 | u16(o+2) }
	for i := range u16(4) {
		rec := 12 + 16*i
		if rec+16 > len(b) {
			break
		}
		if string(b[rec:rec+4]) == "CFF " {
			off, n := u32(rec+8), u32(rec+12)
			if off+n > len(b) {
				return nil, errors.New("CFF table runs past the end of the file")
			}
			return b[off : off+n], nil
		}
	}
	return nil, errors.New("no CFF table (an OpenType font with CFF outlines is needed)")
}

// CIDs maps the n glyph IDs of the CFF table c to CIDs through the charset of a CID-keyed font
// (a PDF shows a CIDFontType0 glyph by CID, and Noto Sans SC's CIDs differ from its glyph IDs).
// For a font that is not CID-keyed, CID = glyph ID. c is one of our embedded fonts, not a file
// from outside: it is read without bounds checks.
func CIDs(c []byte, n int) []uint16 {
	cu16 := func(o int) int { return int(c[o])<<8 | int(c[o+1]) }
	index := func(o int) ([][]byte, int) {
		cnt := cu16(o)
		if cnt == 0 {
			return nil, o + 2
		}
		osz := int(c[o+2])
		off := func(i int) int {
			v := 0
			for k := range osz {
				v = v<<8 | int(c[o+3+i*osz+k])
			}
			return v
		}
		base := o + 3 + (cnt+1)*osz - 1
		var items [][]byte
		for i := range cnt {
			items = append(items, c[base+off(i):base+off(i+1)])
		}
		return items, base + off(cnt)
	}
	_, end := index(int(c[2])) // Name INDEX
	top, _ := index(end)
	d := top[0]
	var operands []int
	charset, cidKeyed := 0, false
	for i := 0; i < len(d); {
		b0 := int(d[i])
		switch {
		case b0 == 12:
			if d[i+1] == 30 { // ROS
				cidKeyed = true
			}
			operands, i = nil, i+2
		case b0 <= 21:
			if b0 == 15 && len(operands) > 0 { // charset
				charset = operands[len(operands)-1]
			}
			operands, i = nil, i+1
		case b0 == 28:
			operands, i = append(operands, int(int16(int(d[i+1])<<8|int(d[i+2])))), i+3
		case b0 == 29:
			operands, i = append(operands, int(int32(uint32(d[i+1])<<24|uint32(d[i+2])<<16|uint32(d[i+3])<<8|uint32(d[i+4])))), i+5
		case b0 == 30:
			for i++; d[i]&0x0f != 0x0f && d[i]>>4 != 0x0f; i++ {
			}
			operands, i = append(operands, 0), i+1
		case b0 <= 246:
			operands, i = append(operands, b0-139), i+1
		case b0 <= 250:
			operands, i = append(operands, (b0-247)*256+int(d[i+1])+108), i+2
		default:
			operands, i = append(operands, -(b0-251)*256-int(d[i+1])-108), i+2
		}
	}
	cids := make([]uint16, n)
	if !cidKeyed || charset == 0 {
		for g := range cids {
			cids[g] = uint16(g)
		}
		return cids
	}
	o, format := charset+1, c[charset]
	for g := 1; g < n; {
		switch format {
		case 0:
			cids[g], g, o = uint16(cu16(o)), g+1, o+2
		default:
			first, left := cu16(o), int(c[o+2])
			o += 3
			if format == 2 {
				left = cu16(o - 1)
				o++
			}
			for k := 0; k <= left && g < n; k++ {
				cids[g], g = uint16(first+k), g+1
			}
		}
	}
	return cids
}

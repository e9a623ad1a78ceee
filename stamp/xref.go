package stamp

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// The update as bytes: the signature dictionary with room for the CMS, the objects, and a
// cross-reference section of the kind the file's last one is (a table or a stream).
const (
	byteRangeWidth       = 60
	byteRangePlaceholder = "[0 ********** ********** **********]"
)

// build writes the update with room for capacity bytes of CMS and returns it with the offsets
// of the /Contents hex string (from '<' to after '>').
func (u *update) build(capacity int) ([]byte, int, int, error) {
	req := u.req
	var refs []string
	p := 0
	switch {
	case req.Certify && req.Lock:
		p = 1
	case req.Certify:
		p = 2
	}
	if p > 0 {
		refs = append(refs, fmt.Sprintf("<</Type /SigRef /TransformMethod /DocMDP /TransformParams <</Type /TransformParams /P %d /V /1.2>>>>", p))
	}
	if req.Lock {
		refs = append(refs, "<</Type /SigRef /TransformMethod /FieldMDP /TransformParams <</Type /TransformParams /Action /All /P 1 /V /1.2>>>>")
	}
	var sig strings.Builder
	fmt.Fprintf(&sig, "<</Type /Sig /Filter /Adobe.PPKLite /SubFilter /%s /M %s", req.subFilter(), pdfText(pdfDate(req.Time)))
	if cn := req.signerName; cn != "" {
		fmt.Fprintf(&sig, " /Name %s", pdfText(cn))
	}
	if req.Reason != "" {
		fmt.Fprintf(&sig, " /Reason %s", pdfText(req.Reason))
	}
	if req.Location != "" {
		fmt.Fprintf(&sig, " /Location %s", pdfText(req.Location))
	}
	if len(refs) > 0 {
		fmt.Fprintf(&sig, " /Reference [%s]", strings.Join(refs, " "))
	}
	sig.WriteString(" /Prop_Build <</App <</Name /SealKeeper>>>>\n")
	sig.WriteString("/ByteRange " + byteRangePlaceholder + strings.Repeat(" ", byteRangeWidth-len(byteRangePlaceholder)))
	sig.WriteString("\n/Contents <")
	sigPrefix := sig.String()
	u.objs[u.sigNum] = nil // placeholder, written below

	nums := make([]int, 0, len(u.objs)+1)
	for n := range u.objs {
		nums = append(nums, n)
	}
	var out bytes.Buffer
	if u.leadingEOL {
		out.WriteByte('\n')
	}
	base := u.doc.Size
	offsets := map[int]int64{}
	sort.Ints(nums)
	cStart, cEnd := 0, 0
	for _, n := range nums {
		offsets[n] = base + int64(out.Len())
		fmt.Fprintf(&out, "%d 0 obj\n", n)
		if n == u.sigNum {
			out.WriteString(sigPrefix)
			cStart = out.Len() - 1
			out.Write(bytes.Repeat([]byte{'0'}, 2*capacity))
			out.WriteString(">")
			cEnd = out.Len()
			out.WriteString(">>")
		} else {
			out.Write(u.objs[n])
		}
		out.WriteString("\nendobj\n")
	}
	size := u.next
	trailer := fmt.Sprintf("/Size %d%s /Prev %d", size, u.trailer, u.doc.StartXRef)
	if !u.doc.XRefStream {
		xref := base + int64(out.Len())
		out.WriteString("xref\n")
		for _, sec := range sections(nums) {
			fmt.Fprintf(&out, "%d %d\n", sec[0], sec[1])
			for n := sec[0]; n < sec[0]+sec[1]; n++ {
				fmt.Fprintf(&out, "%010d 00000 n\r\n", offsets[n])
			}
		}
		fmt.Fprintf(&out, "trailer\n<<%s>>\nstartxref\n%d\n%%%%EOF\n", trailer, xref)
		return out.Bytes(), cStart, cEnd, nil
	}
	// An xref stream, which lists itself.
	xn := size
	size++
	xref := base + int64(out.Len())
	offsets[xn] = xref
	nums = append(nums, xn)
	trailer = strings.Replace(trailer, fmt.Sprintf("/Size %d", size-1), fmt.Sprintf("/Size %d", size), 1)
	ow := 4
	if xref > 0xffffffff {
		ow = 8
	}
	var rows bytes.Buffer
	var index []string
	for _, sec := range sections(nums) {
		index = append(index, fmt.Sprintf("%d %d", sec[0], sec[1]))
		for n := sec[0]; n < sec[0]+sec[1]; n++ {
			rows.WriteByte(1)
			off := offsets[n]
			for i := ow - 1; i >= 0; i-- {
				rows.WriteByte(byte(off >> (8 * i)))
			}
			rows.WriteByte(0)
		}
	}
	fmt.Fprintf(&out, "%d 0 obj\n<</Type /XRef %s /Index [%s] /W [1 %d 1] /Length %d>>\nstream\n", xn, trailer, strings.Join(index, " "), ow, rows.Len())
	out.Write(rows.Bytes())
	fmt.Fprintf(&out, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xref)
	return out.Bytes(), cStart, cEnd, nil
}

// layout builds the update with room for capacity bytes of CMS and writes its /ByteRange.
func (u *update) layout(capacity int) (upd []byte, cStart, cEnd int, br [4]int64, err error) {
	upd, cStart, cEnd, err = u.build(capacity)
	if err != nil {
		return nil, 0, 0, br, fmt.Errorf("%s: %w", u.doc.File, err)
	}
	size := u.doc.Size
	br = [4]int64{0, size + int64(cStart), size + int64(cEnd), int64(len(upd) - cEnd)}
	text := fmt.Sprintf("[0 %d %d %d]", br[1], br[2], br[3])
	if len(text) > byteRangeWidth {
		return nil, 0, 0, br, fmt.Errorf("%s: the file is too large to sign", u.doc.File)
	}
	i := bytes.Index(upd, []byte(byteRangePlaceholder))
	copy(upd[i:], text+strings.Repeat(" ", byteRangeWidth-len(text)))
	return upd, cStart, cEnd, br, nil
}

// sections groups sorted object numbers into xref subsections [first, count].
func sections(nums []int) [][2]int {
	var out [][2]int
	for _, n := range nums {
		if len(out) > 0 && out[len(out)-1][0]+out[len(out)-1][1] == n {
			out[len(out)-1][1]++
			continue
		}
		out = append(out, [2]int{n, 1})
	}
	return out
}

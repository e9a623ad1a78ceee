package verify

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
)

// changesAfter compares the revision a signature signed with the whole file, object by object,
// and judges each difference against the restriction level in force
// (pdfinspect.Restrictions.Level): adding signatures and filling forms is permitted unless the
// document was locked; adding other annotations only when not certified (or certified with
// P=3); anything else (page content, resources, the page tree, the catalog) never, since the
// seal would no longer show what was sealed.
func (v *verifier) changesAfter(s *Signature, level int) {
	old, err := v.revision(s.revEnd)
	if err != nil {
		s.Permitted = false
		s.problem("the revision it signed cannot be read for comparison: %v", err)
		return
	}
	cur := v.ctx
	contentArrays := map[int]bool{}
	for _, p := range v.doc.Pages {
		if pd := v.dict(p.Ref); pd != nil {
			if r, ok := pd["Contents"].(types.IndirectRef); ok {
				contentArrays[r.ObjectNumber.Value()] = true
			}
		}
	}
	nums := make([]int, 0, len(cur.Table))
	for n := range cur.Table {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	s.Permitted = true
	added := 0
	add := func(n int, what string, ok bool) {
		if level == 1 {
			ok = false
			what += " (the document was locked)"
		}
		s.Changes = append(s.Changes, Change{Object: n, What: what, Permitted: ok})
		if !ok {
			s.Permitted = false
		}
	}
	for _, n := range nums {
		e := cur.Table[n]
		if n == 0 || e == nil || e.Free || e.Object == nil || structural(e.Object) {
			continue
		}
		oe := old.Table[n]
		if oe == nil || oe.Free || oe.Object == nil {
			added++
			continue
		}
		if serialize(oe.Object) == serialize(e.Object) {
			continue
		}
		what, ok := v.judge(n, old, oe.Object, e.Object, level, contentArrays)
		add(n, what, ok)
	}
	if added > 0 {
		add(0, fmt.Sprintf("%d objects added", added), true)
	}
	if c := len(v.doc.Pages); c != countPages(old) {
		add(0, fmt.Sprintf("the page count changed from %d to %d", countPages(old), c), false)
	}
}

func (v *verifier) revision(end int64) (*model.Context, error) {
	if v.revs == nil {
		v.revs = map[int64]*model.Context{}
	}
	if c, ok := v.revs[end]; ok {
		return c, nil
	}
	d, err := pdfinspect.Parse(v.name, bytes.NewReader(v.data[:end]), end)
	if err != nil {
		return nil, err
	}
	v.revs[end] = d.Context()
	return d.Context(), nil
}

func countPages(c *model.Context) int {
	if c.PageCount > 0 {
		return c.PageCount
	}
	pages, err := c.DereferenceDict(c.RootDict["Pages"])
	if err != nil || pages == nil {
		return 0
	}
	n, _ := pages["Count"].(types.Integer)
	return int(n)
}

// structural objects carry no content of the document: cross-reference and object streams.
func structural(o types.Object) bool {
	switch t := o.(type) {
	case types.ObjectStreamDict, types.XRefStreamDict:
		return true
	case types.StreamDict:
		n, _ := t.Dict["Type"].(types.Name)
		return n == "XRef" || n == "ObjStm"
	}
	return false
}

func serialize(o types.Object) string {
	switch t := o.(type) {
	case nil:
		return "null"
	case types.StreamDict:
		return t.Dict.PDFString() + string(t.Raw)
	}
	return o.PDFString()
}

func diffKeys(a, b types.Dict) []string {
	var out []string
	for k, va := range a {
		if vb, ok := b[k]; !ok || serialize(va) != serialize(vb) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func subset(keys []string, allowed ...string) bool {
	for _, k := range keys {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return false
		}
	}
	return true
}

// extends tells whether array b is array a with elements appended.
func extends(a, b types.Array) bool {
	if len(b) < len(a) {
		return false
	}
	for i := range a {
		if serialize(a[i]) != serialize(b[i]) {
			return false
		}
	}
	return true
}

func (v *verifier) judge(n int, old *model.Context, was, now types.Object, level int, contentArrays map[int]bool) (string, bool) {
	formsOK := level != 1
	annotsOK := level == 0 || level == 3
	if n == v.ctx.Root.ObjectNumber.Value() {
		a, _ := was.(types.Dict)
		b, _ := now.(types.Dict)
		keys := diffKeys(a, b)
		return fmt.Sprintf("catalog: %v changed", keys), subset(keys, "AcroForm", "DSS") && formsOK
	}
	switch b := now.(type) {
	case types.Array:
		a, ok := was.(types.Array)
		if contentArrays[n] {
			return fmt.Sprintf("object %d: a page's content list changed", n), false
		}
		if ok && extends(a, b) {
			return fmt.Sprintf("object %d: %d entries added to a list (annotations or fields)", n, len(b)-len(a)), formsOK
		}
		return fmt.Sprintf("object %d: a list was rewritten", n), false
	case types.Dict:
		a, ok := was.(types.Dict)
		if !ok {
			return fmt.Sprintf("object %d changed type", n), false
		}
		keys := diffKeys(a, b)
		typ, _ := b["Type"].(types.Name)
		sub, _ := b["Subtype"].(types.Name)
		switch {
		case typ == "Page":
			if !subset(keys, "Annots") {
				return fmt.Sprintf("page object %d: %v changed", n, keys), false
			}
			oa, _ := old.Dereference(a["Annots"])
			na, _ := v.ctx.Dereference(b["Annots"])
			oarr, _ := oa.(types.Array)
			narr, _ := na.(types.Array)
			if !extends(oarr, narr) {
				return fmt.Sprintf("page object %d: annotations were removed or replaced", n), false
			}
			for _, r := range narr[len(oarr):] {
				ad := v.dict(r)
				if st, _ := ad["Subtype"].(types.Name); st != "Widget" && !annotsOK {
					return fmt.Sprintf("page object %d: a %s annotation was added", n, st), false
				}
			}
			return fmt.Sprintf("page object %d: %d annotations added", n, len(narr)-len(oarr)), formsOK
		case b["Fields"] != nil:
			return fmt.Sprintf("form: %v changed", keys), subset(keys, "Fields", "SigFlags", "DR", "DA", "NeedAppearances") && formsOK
		case sub == "Widget" || b["FT"] != nil || b["Parent"] != nil:
			if ft, _ := b["FT"].(types.Name); ft == "Sig" && a["V"] != nil && !subset(keys, "AP", "AS", "MK", "Kids") {
				return fmt.Sprintf("field object %d: a signature value was replaced", n), false
			}
			return fmt.Sprintf("form field object %d: %v changed (form filling)", n, keys), subset(keys, "V", "AS", "AP", "MK", "Kids") && formsOK
		case typ == "Annot":
			return fmt.Sprintf("annotation object %d changed", n), annotsOK
		}
		return fmt.Sprintf("object %d (%s) changed: %v", n, typ, keys), false
	case types.StreamDict:
		return fmt.Sprintf("stream object %d (page content, image or font) changed", n), false
	}
	return fmt.Sprintf("object %d changed", n), false
}

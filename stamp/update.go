package stamp

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
)

// update builds the incremental update.
type update struct {
	doc        *pdfinspect.Document
	req        Request
	leadingEOL bool
	next       int // next free object number
	objs       map[int][]byte
	fieldName  string
	sigNum     int
	// trailer is the new trailer's /Root, /Info and /ID, taken from the file's last trailer
	// before anything else (validation) may use pdfcpu's model.
	trailer string
}

func newUpdate(doc *pdfinspect.Document, req Request, leadingEOL bool) (*update, error) {
	t := doc.Trailer()
	u := &update{doc: doc, req: req, leadingEOL: leadingEOL, next: t.Next, objs: map[int][]byte{}}
	names := map[string]bool{}
	for _, f := range doc.Fields {
		names[f.Name] = true
	}
	for i := 1; ; i++ {
		n := fmt.Sprintf("Seal%d", i)
		if !names[n] {
			u.fieldName = n
			break
		}
	}
	u.trailer = " /Root " + t.Root.PDFString()
	if t.Info != nil {
		u.trailer += " /Info " + t.Info.PDFString()
	}
	if len(t.ID) == 2 {
		u.trailer += " /ID [" + serialize(t.ID[0]) + " " + serialize(t.ID[1]) + "]"
	}
	if err := u.prepare(); err != nil {
		return nil, err
	}
	return u, nil
}

func (u *update) alloc() int { n := u.next; u.next++; return n }

func ref(n int) string { return fmt.Sprintf("%d 0 R", n) }

func (u *update) put(n int, body string) { u.objs[n] = []byte(body) }

func (u *update) putStream(n int, dict string, data []byte) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<<%s /Length %d>>\nstream\n", dict, len(data))
	b.Write(data)
	b.WriteString("\nendstream")
	u.objs[n] = b.Bytes()
}

// prepare writes every object except the signature dictionary, whose size depends on the
// room reserved for /Contents.
func (u *update) prepare() error {
	doc := u.doc
	req := u.req
	img, smask, err := encodeImage(req.Image)
	if err != nil {
		return err
	}
	b := req.Image.Bounds()
	imgN, maskN := u.alloc(), u.alloc()
	u.putStream(maskN, fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Interpolate true /Filter /FlateDecode", b.Dx(), b.Dy()), smask)
	u.putStream(imgN, fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Interpolate true /SMask %s /Filter /FlateDecode", b.Dx(), b.Dy(), ref(maskN)), img)

	u.sigNum = u.alloc()
	fieldN := u.alloc()
	widgets := req.Placement.Widgets
	widgetNums := make([]int, len(widgets))
	single := len(widgets) == 1
	for i := range widgets {
		if single {
			widgetNums[i] = fieldN
		} else {
			widgetNums[i] = u.alloc()
		}
	}
	lock := ""
	if req.Lock {
		lock = " /Lock <</Type /SigFieldLock /Action /All /P 1>>"
	}
	fieldPart := fmt.Sprintf("/FT /Sig /T %s /V %s%s", pdfText(u.fieldName), ref(u.sigNum), lock)
	// Annotations added per page, in page order.
	pageAnnots := map[int][]int{}
	for i, w := range widgets {
		ap := u.alloc()
		m := w.ImageMatrix()
		content := fmt.Sprintf("q %s %s %s %s %s %s cm /Seal Do Q", num(m[0]), num(m[1]), num(m[2]), num(m[3]), num(m[4]), num(m[5]))
		u.putStream(ap, fmt.Sprintf("/Type /XObject /Subtype /Form /BBox [0 0 %s %s] /Resources <</XObject <</Seal %s>>>>", num(w.Rect.W()), num(w.Rect.H()), ref(imgN)), []byte(content))
		page := u.doc.Pages[w.Page-1]
		annot := fmt.Sprintf("/Type /Annot /Subtype /Widget /Rect [%s %s %s %s] /P %s /F 132 /AP <</N %s>>",
			num(w.Rect.X0), num(w.Rect.Y0), num(w.Rect.X1), num(w.Rect.Y1), page.Ref.PDFString(), ref(ap))
		if single {
			u.put(widgetNums[i], "<<"+fieldPart+" "+annot+">>")
		} else {
			// /V on a widget is redundant (it inherits it), but poppler and MuPDF read the
			// signature from each widget of a multi-widget field without inheritance.
			u.put(widgetNums[i], fmt.Sprintf("<<%s /Parent %s /V %s>>", annot, ref(fieldN), ref(u.sigNum)))
		}
		pageAnnots[w.Page] = append(pageAnnots[w.Page], widgetNums[i])
	}
	if !single {
		kids := make([]string, len(widgetNums))
		for i, n := range widgetNums {
			kids[i] = ref(n)
		}
		u.put(fieldN, fmt.Sprintf("<<%s /Kids [%s]>>", fieldPart, strings.Join(kids, " ")))
	}

	// Pages: append to /Annots, in the array object when it is one, else in the page.
	for pn, nums := range pageAnnots {
		page := u.doc.Pages[pn-1]
		pd, err := u.dictObj(page.Ref)
		if err != nil {
			return fmt.Errorf("page %d: %w", pn, err)
		}
		refs := make(types.Array, len(nums))
		for i, n := range nums {
			refs[i] = *types.NewIndirectRef(n, 0)
		}
		switch a := pd["Annots"].(type) {
		case types.IndirectRef:
			arr, err := doc.DerefArray(a)
			if err != nil || arr == nil {
				return fmt.Errorf("page %d: its annotation list is unreadable", pn)
			}
			u.put(a.ObjectNumber.Value(), serialize(append(arr.Clone().(types.Array), refs...)))
		case types.Array:
			pd = pd.Clone().(types.Dict)
			pd["Annots"] = append(a.Clone().(types.Array), refs...)
			u.put(page.Ref.ObjectNumber.Value(), serialize(pd))
		default:
			pd = pd.Clone().(types.Dict)
			pd["Annots"] = refs
			u.put(page.Ref.ObjectNumber.Value(), serialize(pd))
		}
	}

	// The form: add the field, SigFlags 3 (signatures exist, append only).
	root := doc.Trailer().Root
	catalog, err := u.dictObj(root)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	catalog = catalog.Clone().(types.Dict)
	catalogChanged := false
	fieldRef := *types.NewIndirectRef(fieldN, 0)
	addField := func(acro types.Dict) (types.Dict, error) {
		acro = acro.Clone().(types.Dict)
		switch f := acro["Fields"].(type) {
		case types.IndirectRef:
			arr, err := doc.DerefArray(f)
			if err != nil {
				return nil, errors.New("the form's field list is unreadable")
			}
			u.put(f.ObjectNumber.Value(), serialize(append(arr.Clone().(types.Array), fieldRef)))
		case types.Array:
			acro["Fields"] = append(f.Clone().(types.Array), fieldRef)
		default:
			acro["Fields"] = types.Array{fieldRef}
		}
		acro["SigFlags"] = types.Integer(3)
		return acro, nil
	}
	switch a := catalog["AcroForm"].(type) {
	case types.IndirectRef:
		acro, err := u.dictObj(a)
		if err != nil {
			return fmt.Errorf("the form: %w", err)
		}
		acro, err = addField(acro)
		if err != nil {
			return err
		}
		u.put(a.ObjectNumber.Value(), serialize(acro))
	case types.Dict:
		acro, err := addField(a)
		if err != nil {
			return err
		}
		catalog["AcroForm"] = acro
		catalogChanged = true
	default:
		acro, _ := addField(types.Dict{})
		catalog["AcroForm"] = acro
		catalogChanged = true
	}
	if req.Certify {
		perms := types.Dict{}
		if p, err := doc.DerefDict(catalog["Perms"]); err == nil && p != nil {
			perms = p.Clone().(types.Dict)
		}
		perms["DocMDP"] = *types.NewIndirectRef(u.sigNum, 0)
		catalog["Perms"] = perms
		catalogChanged = true
	}
	if catalogChanged {
		u.put(root.ObjectNumber.Value(), serialize(catalog))
	}
	return nil
}

// dictObj returns the dictionary that the reference points at.
func (u *update) dictObj(r types.IndirectRef) (types.Dict, error) {
	d, err := u.doc.DerefDict(r)
	if err != nil || d == nil {
		return nil, fmt.Errorf("object %d is not a readable dictionary", r.ObjectNumber)
	}
	return d, nil
}

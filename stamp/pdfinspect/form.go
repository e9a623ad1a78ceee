package pdfinspect

import "github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

// The form-field walk and the certify/lock rules live here only: Open and Parse use them for
// Info, and stamp/verify uses them for its report, so the stamper and the verifier cannot
// disagree on whether a document is certified or locked.

// FormField is a terminal form field as the walk of the document's form found it.
type FormField struct {
	Name string     // fully qualified (parents' /T joined with dots)
	Type string     // /FT, inherited from the parents: Tx, Btn, Ch, Sig
	Dict types.Dict // the field itself
	// Widgets are its widget annotations: its /Kids without /T, or the field itself when it
	// has none (a field merged with its widget).
	Widgets []types.Dict
	// Sig is the signature dictionary (/V) of a signed signature field, else nil; SigRef is
	// its object number when /V is a reference (0 otherwise).
	Sig    types.Dict
	SigRef int
}

// maxFieldDepth bounds the /Kids recursion: a deeper tree is a crafted one, and its deeper
// fields are not reported.
const maxFieldDepth = 32

// FormFields walks the AcroForm's /Fields and their /Kids (each object once, so a loop ends)
// and returns the terminal fields in file order. A kid with /T is a child field; one without
// is a widget of its parent.
func (d *Document) FormFields() []FormField {
	acro := d.dict(d.rootDict()["AcroForm"])
	if acro == nil {
		return nil
	}
	var out []FormField
	seen := map[int]bool{}
	var walk func(o types.Object, prefix, ft string, depth int)
	walk = func(o types.Object, prefix, ft string, depth int) {
		if ref, ok := o.(types.IndirectRef); ok {
			if seen[ref.ObjectNumber.Value()] {
				return
			}
			seen[ref.ObjectNumber.Value()] = true
		}
		f := d.dict(o)
		if f == nil || depth > maxFieldDepth {
			return
		}
		name := prefix
		if t := d.text(f["T"]); t != "" {
			if name != "" {
				name += "."
			}
			name += t
		}
		if n, ok := d.deref(f["FT"]).(types.Name); ok {
			ft = string(n)
		}
		kids, _ := d.deref(f["Kids"]).(types.Array)
		var fieldKids []types.Object
		var widgets []types.Dict
		for _, k := range kids {
			kd := d.dict(k)
			if kd == nil {
				continue
			}
			if _, isField := kd["T"]; isField {
				fieldKids = append(fieldKids, k)
			} else {
				widgets = append(widgets, kd)
			}
		}
		if len(fieldKids) > 0 {
			for _, k := range fieldKids {
				walk(k, name, ft, depth+1)
			}
			return
		}
		if len(widgets) == 0 {
			widgets = []types.Dict{f}
		}
		ff := FormField{Name: name, Type: ft, Dict: f, Widgets: widgets}
		if ft == "Sig" {
			ff.Sig = d.dict(f["V"])
			if r, ok := f["V"].(types.IndirectRef); ok && ff.Sig != nil {
				ff.SigRef = r.ObjectNumber.Value()
			}
		}
		out = append(out, ff)
	}
	fields, _ := d.deref(acro["Fields"]).(types.Array)
	for _, f := range fields {
		walk(f, "", "", 0)
	}
	return out
}

// Restrictions are what a signature field forbids after it is signed.
type Restrictions struct {
	// DocMDP is the certification level when the signature certifies the document: 1 (no
	// changes), 2 (form filling and signing), 3 (also annotations); 0 when it does not.
	DocMDP int
	// FieldMDP is the /Action of a field lock (All, Include, Exclude), empty when none; LockP
	// is the lock's /P (PDF 2.0), 0 when the lock has none.
	FieldMDP string
	LockP    int
}

// Locked tells that the field lock forbids every later change, new seals included (/P 1).
func (r Restrictions) Locked() bool { return r.LockP == 1 }

// Level is the restriction in force after this signature, as DocMDP levels (0: none): the
// stricter of the certification's /P and the lock's. ISO 32000-2 gives a field lock (12.7.5.5)
// and a FieldMDP transform (12.8.2.4) the same /P as DocMDP: 1 no changes, 2 form filling and
// signing, 3 also annotations; a /P laxer than one in force is ignored, which taking the
// stricter does. Both the stamper (Info.Locked: level 1 refuses a seal; 2 and 3 allow one) and
// the verifier (what later changes are permitted) read this.
func (r Restrictions) Level() int { return stricter(r.DocMDP, r.LockP) }

// mdpP reads a /P permission value (DocMDP or FieldMDP, 1..3). absent is returned when there
// is none (null counts as none, as in PDF). Any other value — 0, 4, a fraction, a name —
// means a file that does not follow the standard, and is read as 1, the most restrictive:
// a reader that guessed a laxer level would let a seal or a change through that the signer
// may have meant to forbid. Invariant: the result is absent or in 1..3.
func (d *Document) mdpP(o types.Object, absent int) int {
	v := d.deref(o)
	if v == nil {
		return absent
	}
	if n, ok := v.(types.Integer); ok && n >= 1 && n <= 3 {
		return int(n)
	}
	if f, ok := v.(types.Float); ok && f >= 1 && f <= 3 && f == types.Float(int(f)) {
		return int(f)
	}
	return 1
}

// stricter returns the more restrictive of two levels (0 meaning none).
func stricter(a, b int) int {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

// Restrictions reads the certification and lock settings of a signature field: the lock
// dictionary (/Lock, read even when the field is unsigned) and, when signed, the /Reference
// entries of its signature dictionary and the catalog's /Perms /DocMDP. Where several
// entries give a /P, the most restrictive holds. A DocMDP entry without /P, or a /Perms
// /DocMDP pointing at this signature without one, is P=2, the standard's default.
func (d *Document) Restrictions(f FormField) Restrictions {
	var r Restrictions
	if lock := d.dict(f.Dict["Lock"]); lock != nil {
		if a, ok := d.deref(lock["Action"]).(types.Name); ok {
			r.FieldMDP = string(a)
		}
		r.LockP = d.mdpP(lock["P"], 0)
	}
	if f.Sig == nil {
		return r
	}
	refs, _ := d.deref(f.Sig["Reference"]).(types.Array)
	for _, ref := range refs {
		rd := d.dict(ref)
		tm, _ := d.deref(rd["TransformMethod"]).(types.Name)
		tp := d.dict(rd["TransformParams"])
		switch tm {
		case "DocMDP":
			r.DocMDP = stricter(r.DocMDP, d.mdpP(tp["P"], 2))
		case "FieldMDP":
			if a, ok := d.deref(tp["Action"]).(types.Name); ok && r.FieldMDP == "" {
				r.FieldMDP = string(a)
			}
			r.LockP = stricter(r.LockP, d.mdpP(tp["P"], 0))
		}
	}
	if cert := d.sigDocMDP(); cert != nil && f.SigRef != 0 && cert.ObjectNumber.Value() == f.SigRef && r.DocMDP == 0 {
		r.DocMDP = 2
	}
	return r
}

package hub

import (
	"bytes"
	"fmt"
	"time"
	"unicode/utf16"

	"github.com/sealkeeper/sealkeeper/store/upstream"
)

// SamplePDF makes a plain A4 PDF of the given number of pages with a Chinese title. The text
// uses the standard Adobe-GB1 font STSong-Light (no embedded font), which PDF readers and pdfium
// supply themselves, so the file stays a few kilobytes.
func SamplePDF(title, body string, pages int) []byte {
	if pages < 1 {
		pages = 1
	}
	var objs []string
	add := func(s string) int { objs = append(objs, s); return len(objs) }
	catalog := add("") // filled below
	pagesObj := add("")
	fontLatin := add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	fontCJK := add("<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H " +
		"/DescendantFonts [<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light " +
		"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> " +
		"/FontDescriptor << /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] " +
		"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >> /DW 1000 >>] >>")
	var kids []string
	for i := 1; i <= pages; i++ {
		var c bytes.Buffer
		fmt.Fprintf(&c, "BT /F2 20 Tf 72 760 Td <%s> Tj ET\n", ucs2(title))
		if body != "" {
			fmt.Fprintf(&c, "BT /F2 12 Tf 72 720 Td <%s> Tj ET\n", ucs2(body))
		}
		for l := 0; l < 20; l++ {
			fmt.Fprintf(&c, "BT /F1 10 Tf 72 %d Td (Line %d of page %d. The seal goes near the signature block below.) Tj ET\n", 680-l*18, l+1, i)
		}
		fmt.Fprintf(&c, "BT /F2 10 Tf 260 40 Td <%s> Tj ET\n", ucs2(fmt.Sprintf("第 %d 页 / 共 %d 页", i, pages)))
		content := add(fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", c.Len(), c.String()))
		page := add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >> /Contents %d 0 R >>",
			pagesObj, fontLatin, fontCJK, content))
		kids = append(kids, fmt.Sprintf("%d 0 R", page))
	}
	objs[catalog-1] = fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pagesObj)
	objs[pagesObj-1] = fmt.Sprintf("<< /Type /Pages /Count %d /Kids [%s] >>", pages, join(kids))
	info := add(fmt.Sprintf("<< /Title <FEFF%s> /Producer (SealKeeper reference hub) >>", ucs2(title)))

	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, catalog, info, xref)
	return b.Bytes()
}

func ucs2(s string) string {
	var b bytes.Buffer
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	return b.String()
}

func join(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	return b.String()
}

// DemoSeal is the seal id the demo's documents name.
const DemoSeal = "SEAL-DEMO-001"

// SeedDemo fills an empty hub with the demo's seals, custodians and documents for one
// workstation. On a hub that already has documents it does nothing, so a restarted demo keeps
// what the user did.
func (h *Hub) SeedDemo(workstation string) error {
	docs, err := h.Documents()
	if err != nil || len(docs) > 0 {
		return err
	}
	now := h.now()
	for _, s := range []upstream.SealStatus{
		{ID: DemoSeal, Name: "示范单位公章", Status: upstream.SealActive},
		{ID: "SEAL-DEMO-002", Name: "示范单位合同专用章", Status: upstream.SealSuspended, Reason: "印章证书更新中（演示）"},
		{ID: "SEAL-DEMO-OLD", Name: "示范单位旧公章", Status: upstream.SealRevoked, Reason: "单位名称变更，旧章作废（演示）"},
	} {
		if err := h.SetSeal(s); err != nil {
			return err
		}
	}
	zhang := upstream.Person{ID: "c-001", Name: "张敏"}
	li := upstream.Person{ID: "c-002", Name: "李伟"}
	head := upstream.Person{ID: "a-001", Name: "王主任"}
	for _, c := range []upstream.Custodian{
		{Person: zhang, Seals: []string{DemoSeal}},
		{Person: li, Seals: nil},
	} {
		if err := h.AddCustodian(c); err != nil {
			return err
		}
	}
	// 张敏 is away for two weeks: 李伟 keeps the seal meanwhile (代管).
	if _, err := h.ApproveHandover(upstream.Handover{Kind: upstream.CustodyDelegation, SealID: DemoSeal, From: zhang, To: li, ApprovedBy: head,
		Until: now.AddDate(0, 0, 14), Reason: "张敏休假两周（演示）"}); err != nil {
		return err
	}
	samples := []struct {
		title, dept, body string
		pages             int
		signed            bool
		copies            int
	}{
		{"关于2026年度办公用品采购的通知", "办公室", "各部门：现将年度办公用品采购安排通知如下。", 1, false, 1},
		{"技术服务合同（示范）", "法务部", "甲方与乙方经友好协商，订立本合同。", 12, true, 2},
		{"年度工作总结报告", "综合处", "本年度主要工作情况汇报如下。", 40, false, 1},
		{"会议纪要：信息化建设专题会", "信息中心", "会议研究了电子印章系统建设事项。", 3, false, 1},
		{"在职证明", "人事处", "兹证明张三同志系我单位在职职工。", 1, false, 3},
	}
	for i, s := range samples {
		approvals := []upstream.Approval{
			{Approver: upstream.Person{ID: "a-010", Name: "赵科长"}, At: now.Add(-time.Duration(26-i) * time.Hour), Comment: "同意"},
			{Approver: head, At: now.Add(-time.Duration(3+i) * time.Hour), Comment: "同意用印", Signed: s.signed},
		}
		pdf := SamplePDF(s.title, s.body, s.pages)
		if s.signed {
			signed, err := signAsApprover(pdf, head.Name, s.pages)
			if err != nil {
				return fmt.Errorf("signing the demo document %q as its approver: %w", s.title, err)
			}
			pdf = signed
		}
		n := NewDocument{
			Title: s.title, Department: s.dept, Requester: upstream.Person{ID: fmt.Sprintf("u-%03d", i+1), Name: []string{"陈静", "刘洋", "周杰", "吴芳", "孙磊"}[i]},
			Approvals: approvals, SealID: DemoSeal, Workstation: workstation, Copies: s.copies,
			FileName: fmt.Sprintf("demo-%d.pdf", i+1), PDF: pdf,
		}
		if s.pages > 10 {
			n.AllowedPages = []int{s.pages}
		}
		if _, err := h.AddDocument(n); err != nil {
			return err
		}
	}
	return nil
}

// Demo opens (or creates) a hub in dir, seeds it for the workstation and serves it on a free
// loopback port over plain HTTP. It is for the demo workspace only; Close the server, then the hub.
func Demo(dir, workstation string) (*Hub, *Server, error) {
	h, err := Open(dir, Options{Name: "SealKeeper demo hub", AutoEnrol: true})
	if err != nil {
		return nil, nil, err
	}
	if err := h.SeedDemo(workstation); err != nil {
		h.Close()
		return nil, nil, fmt.Errorf("seeding the demo hub: %w", err)
	}
	s, err := h.Serve("127.0.0.1:0", nil)
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	return h, s, nil
}

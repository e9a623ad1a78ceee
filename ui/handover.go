package ui

import (
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/sealkeeper/sealkeeper/app/usecase"
)

// CustodyService is what the handover screen needs from the custody use case (usecase.Custody).
type CustodyService interface {
	Offers() ([]usecase.HandoverOffer, error)
	Begin(id string) (*usecase.HandoverSession, error)
}

// handoverScreen carries out a handover (交接) or delegation (代管) the server approved: pick
// the approval, the incoming person identifies with their own key (or, when the approval names
// one, the one-time code, while the outgoing custodian gives the seal key's PIN to pass it),
// both confirm the inventory, the incoming person sets a new PIN, done. Each step is enabled only when the one before it
// is done; the use case checks them all again.
type handoverScreen struct {
	u       *UI
	content fyne.CanvasObject

	offers   []usecase.HandoverOffer
	approval *widget.Select
	offer    *widget.Label // the picked approval, or why it cannot be carried out
	begin    *widget.Button

	token, pin *widget.Entry
	byKey      *fyne.Container // the step by the incoming person's own key
	// code, sealPIN: the step by one-time code (HandoverOffer.ByCode): the code the server
	// issued, and the seal key's PIN from the outgoing custodian.
	code, sealPIN *widget.Entry
	byCode        *fyne.Container
	step1         *widget.Label // what step 1 asks, for the credential the approval names
	identify      *widget.Button
	who           *widget.Label

	inventory          *widget.Label
	outgoing, incoming *widget.Check
	digest             string

	newPIN, again *widget.Entry
	complete      *widget.Button
	problem       *widget.Label // the last refusal, in the window's language
	result        *widget.Label

	s *usecase.HandoverSession
}

func newHandoverScreen(u *UI) *handoverScreen {
	t := u.tr
	h := &handoverScreen{u: u}
	h.approval = &widget.Select{PlaceHolder: t.T("handover.approval"), OnChanged: func(string) { h.picked() }}
	h.offer = &widget.Label{Wrapping: fyne.TextWrapWord}
	h.begin = &widget.Button{Text: t.T("handover.begin"), Importance: widget.HighImportance, OnTapped: h.start}
	h.token = &widget.Entry{PlaceHolder: t.T("handover.token.hint")}
	h.pin = &widget.Entry{Password: true}
	h.code = &widget.Entry{PlaceHolder: t.T("handover.code.hint")}
	h.sealPIN = &widget.Entry{Password: true}
	h.identify = &widget.Button{Text: t.T("handover.identify"), OnTapped: h.identifyIncoming}
	h.who = &widget.Label{Wrapping: fyne.TextWrapWord}
	h.inventory = &widget.Label{Wrapping: fyne.TextWrapWord}
	h.outgoing = &widget.Check{OnChanged: func(on bool) { h.confirm(usecase.PartyOutgoing, on) }}
	h.incoming = &widget.Check{OnChanged: func(on bool) { h.confirm(usecase.PartyIncoming, on) }}
	h.newPIN = &widget.Entry{Password: true}
	h.again = &widget.Entry{Password: true}
	h.complete = &widget.Button{Text: t.T("handover.complete"), Importance: widget.HighImportance, OnTapped: h.finish}
	h.problem = &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.DangerImportance}
	h.result = &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.SuccessImportance}
	form := func(items ...*widget.FormItem) *widget.Form { return &widget.Form{Items: items} }
	h.step1 = &widget.Label{Text: t.T("handover.step.identify"), TextStyle: fyne.TextStyle{Bold: true}, Wrapping: fyne.TextWrapWord}
	h.byKey = container.NewVBox(form(&widget.FormItem{Text: t.T("handover.token"), Widget: h.token}, &widget.FormItem{Text: t.T("handover.pin"), Widget: h.pin}))
	h.byCode = container.NewVBox(form(&widget.FormItem{Text: t.T("handover.code"), Widget: h.code}, &widget.FormItem{Text: t.T("handover.sealpin"), Widget: h.sealPIN}))
	h.byCode.Hide()
	h.content = container.NewVScroll(container.NewVBox(
		&widget.Label{Text: t.T("handover.title"), TextStyle: fyne.TextStyle{Bold: true}},
		&widget.Label{Text: t.T("handover.note"), Wrapping: fyne.TextWrapWord},
		container.NewBorder(nil, nil, nil, h.begin, h.approval),
		h.offer,
		&widget.Separator{},
		h.step1, h.byKey, h.byCode,
		container.NewBorder(nil, nil, nil, h.identify, h.who),
		&widget.Separator{},
		&widget.Label{Text: t.T("handover.step.inventory"), TextStyle: fyne.TextStyle{Bold: true}},
		h.inventory, h.outgoing, h.incoming,
		&widget.Separator{},
		&widget.Label{Text: t.T("handover.step.pin"), TextStyle: fyne.TextStyle{Bold: true}},
		form(&widget.FormItem{Text: t.T("handover.newpin"), Widget: h.newPIN}, &widget.FormItem{Text: t.T("handover.newpin.again"), Widget: h.again}),
		h.complete, h.problem, h.result,
	))
	h.reset()
	return h
}

// refresh lists the cached approvals again (after a sync round, a login, showing the tab).
func (h *handoverScreen) refresh() {
	if h.s != nil {
		return // a handover is under way: its approval stays as it was picked
	}
	h.offers = nil
	if h.u.opt.Custody != nil {
		offers, err := h.u.opt.Custody.Offers()
		if errors.Is(err, usecase.ErrLedgerLocked) {
			err = nil // the approvals are kept encrypted: the outgoing custodian logs in to see them
		}
		h.showErr(err)
		h.offers = offers
	}
	var opts []string
	for _, o := range h.offers {
		opts = append(opts, h.offerText(o))
	}
	h.approval.Options = opts
	h.approval.Refresh()
	switch {
	case len(opts) == 0 && h.u.opt.Keys.State().Phase != usecase.LoggedIn:
		h.approval.ClearSelected()
		h.offer.SetText(h.u.tr.T("handover.login"))
	case len(opts) == 0:
		h.approval.ClearSelected()
		h.offer.SetText(h.u.tr.T("handover.none"))
	case h.approval.SelectedIndex() < 0:
		h.approval.SetSelectedIndex(0)
	}
	h.picked()
}

func (h *handoverScreen) offerText(o usecase.HandoverOffer) string {
	t := h.u.tr
	s := t.T("handover.offer", o.Approval.ID, t.T("handover.kind."+o.Kind()), o.From.Name, o.To.Name)
	if !o.Approval.Until.IsZero() {
		s += " " + t.T("handover.until", o.Approval.Until.Local().Format("2006-01-02 15:04"))
	}
	return s
}

func (h *handoverScreen) selected() *usecase.HandoverOffer {
	if i := h.approval.SelectedIndex(); i >= 0 && i < len(h.offers) {
		return &h.offers[i]
	}
	return nil
}

// picked shows the chosen approval and whether it can be begun.
func (h *handoverScreen) picked() {
	o := h.selected()
	if o == nil || h.s != nil {
		h.begin.Disable()
		return
	}
	text := fmt.Sprintf("%s · %s", o.Approval.ApprovedBy.Name, o.Approval.Reason)
	if o.Problem != "" {
		text = o.Problem
	}
	h.offer.SetText(text)
	if o.Problem != "" || h.u.opt.Keys.State().Phase != usecase.LoggedIn {
		h.begin.Disable()
		if o.Problem == "" {
			h.offer.SetText(text + "\n" + h.u.tr.T("handover.login"))
		}
		return
	}
	h.begin.Enable()
}

// reset ends a handover under way and disables every step after the first.
func (h *handoverScreen) reset() {
	if h.s != nil {
		h.s.Close()
		h.s = nil
	}
	h.digest = ""
	for _, e := range []*widget.Entry{h.token, h.pin, h.code, h.sealPIN, h.newPIN, h.again} {
		e.SetText("")
		e.Disable()
	}
	h.identify.Disable()
	h.who.SetText("")
	h.inventory.SetText("")
	for _, c := range []*widget.Check{h.outgoing, h.incoming} {
		c.SetChecked(false)
		c.Text = ""
		c.Refresh()
		c.Disable()
	}
	h.complete.Disable()
}

func (h *handoverScreen) showErr(err error) {
	if err == nil {
		h.problem.SetText("")
		return
	}
	h.problem.SetText(h.u.tr.explain(err))
}

func (h *handoverScreen) start() {
	o := h.selected()
	if o == nil || h.u.opt.Custody == nil {
		return
	}
	h.reset()
	h.result.SetText("")
	s, err := h.u.opt.Custody.Begin(o.Approval.ID)
	h.showErr(err)
	if err != nil {
		return
	}
	h.s = s
	h.begin.Disable()
	t := h.u.tr
	if s.Offer.ByCode() {
		h.step1.SetText(t.T("handover.step.code", s.Offer.To.Name, s.Offer.From.Name))
		h.byKey.Hide()
		h.byCode.Show()
		h.code.Enable()
		h.sealPIN.Enable()
	} else {
		h.step1.SetText(t.T("handover.step.identify"))
		h.byCode.Hide()
		h.byKey.Show()
		h.token.Enable()
		h.pin.Enable()
	}
	h.identify.Enable()
	h.outgoing.Text = t.T("handover.confirm.outgoing", s.Offer.From.Name)
	h.incoming.Text = t.T("handover.confirm.incoming", s.Offer.To.Name)
	h.outgoing.Refresh()
	h.incoming.Refresh()
}

func (h *handoverScreen) identifyIncoming() {
	if h.s == nil {
		return
	}
	if h.s.Offer.ByCode() {
		err := h.s.IdentifyByCode(h.code.Text, h.sealPIN.Text)
		h.showErr(err)
		if err != nil {
			return
		}
		h.code.SetText("")
		h.sealPIN.SetText("")
		h.who.SetText(h.u.tr.T("handover.identified.code", h.s.Offer.To.Name))
		h.showInventory()
		return
	}
	who, err := h.s.Identify(strings.TrimSpace(h.token.Text), h.pin.Text)
	h.showErr(err)
	if err != nil {
		return
	}
	h.pin.SetText("")
	h.who.SetText(h.u.tr.T("handover.identified", who.String()))
	h.showInventory()
}

// showInventory shows the inventory as it is now; a confirmation counts for this digest only.
func (h *handoverScreen) showInventory() {
	inv, err := h.s.Inventory()
	h.showErr(err)
	if err != nil {
		return
	}
	t := h.u.tr
	var lines []string
	for _, s := range inv.Seals {
		bad := ""
		if !s.ValidNow {
			bad = t.T("handover.inventory.invalid")
		}
		lines = append(lines, t.T("handover.inventory.seal", s.Label, s.Subject, s.Serial, s.NotBefore.Local().Format("2006-01-02"), s.NotAfter.Local().Format("2006-01-02"), bad))
	}
	lines = append(lines, t.T("handover.inventory.pending", len(inv.Pending)))
	for _, d := range inv.Pending {
		note := ""
		if !d.Cached {
			note = t.T("handover.inventory.notcached")
		}
		lines = append(lines, t.T("handover.inventory.doc", d.ID, d.Title, note))
	}
	lines = append(lines,
		t.T("handover.inventory.interrupted", len(inv.Interrupted)),
		t.T("handover.inventory.unsynced", inv.Unsynced, inv.Outbox),
		t.T("handover.inventory.ledger", inv.LedgerSize, inv.LedgerHead[:16]),
		t.T("handover.inventory.digest", inv.Digest()))
	h.inventory.SetText(strings.Join(lines, "\n"))
	h.digest = inv.Digest()
	h.outgoing.Enable()
	h.incoming.Enable()
}

func (h *handoverScreen) confirm(party string, on bool) {
	if h.s == nil || !on {
		h.stepPIN()
		return
	}
	err := h.s.Confirm(party, h.digest)
	h.showErr(err)
	if err != nil {
		h.showInventory() // it changed: show it again, to be confirmed again
		h.outgoing.SetChecked(false)
		h.incoming.SetChecked(false)
		return
	}
	h.stepPIN()
}

// stepPIN enables the new PIN once both confirmed.
func (h *handoverScreen) stepPIN() {
	if h.s != nil && h.outgoing.Checked && h.incoming.Checked {
		h.newPIN.Enable()
		h.again.Enable()
		h.complete.Enable()
		return
	}
	h.newPIN.Disable()
	h.again.Disable()
	h.complete.Disable()
}

func (h *handoverScreen) finish() {
	if h.s == nil {
		return
	}
	if h.newPIN.Text != h.again.Text {
		h.problem.SetText(h.u.tr.T("handover.newpin.differ"))
		return
	}
	s := h.s
	done, err := s.Complete(h.newPIN.Text)
	h.showErr(err)
	if err != nil {
		return
	}
	o := s.Offer
	h.s = nil
	h.reset()
	h.result.SetText(h.u.tr.T("handover.done", h.u.tr.T("handover.kind."+o.Kind()), o.To.Name, o.Approval.SealID, done.Seq))
	h.refresh()
}

package usecase

import (
	"context"
	"errors"
	"fmt"
	"image"

	"github.com/sealkeeper/sealkeeper/stamp/pdfinspect"
	"github.com/sealkeeper/sealkeeper/stamp/placement"
)

// Place is where the custodian puts the seal, in the screens' terms: its centre in millimetres
// from the top-left corner of the page as displayed.
type Place struct {
	Page     int
	XMM, YMM float64
}

// DefaultPlace is where a seal goes when the custodian does not move it: the lower right of
// page 1, 45 mm from the right edge and 60 mm from the bottom, where official documents carry
// the issuing office's seal above the date.
func DefaultPlace(widthMM, heightMM float64) Place {
	return Place{Page: 1, XMM: widthMM - 45, YMM: heightMM - 60}
}

// SealArt is the seal's picture and its true size.
type SealArt struct {
	Image  image.Image
	SizeMM float64 // diameter
}

// StampAt stamps a queue document with the logged-in seal at the places given (one seal each;
// several places make one signature with a widget on each page). With no place, the seal goes
// where DefaultPlace says.
func (d *Desk) StampAt(ctx context.Context, docID string, at []Place) (*StampResult, error) {
	size, err := d.sealSize()
	if err != nil {
		return nil, err
	}
	file, err := d.DocumentFile(docID)
	if err != nil {
		return nil, err
	}
	doc, err := pdfinspect.OpenFile(file)
	if err != nil {
		return nil, err
	}
	if len(at) == 0 {
		w, h := doc.Pages[0].Page.ViewSize()
		at = []Place{DefaultPlace(w/placement.PointsPerMM, h/placement.PointsPerMM)}
	}
	pl, err := layoutPlacement(doc, size, Layout{Seals: at}, nil)
	if err != nil {
		return nil, err
	}
	return d.stampPlaced(ctx, StampRequest{DocID: docID, Placement: pl})
}

// StampPreview stamps the document of a preview with the layout the custodian made on it.
func (d *Desk) StampPreview(ctx context.Context, p *Preview) (*StampResult, error) {
	pl, err := p.Placement()
	if err != nil {
		return nil, err
	}
	return d.stampPlaced(ctx, StampRequest{DocID: p.item.ID, Placement: pl, Certify: p.signing.Certify, Lock: p.signing.Lock})
}

// stampPlaced stamps a placed request with the logged-in seal and the configured picture.
func (d *Desk) stampPlaced(ctx context.Context, req StampRequest) (*StampResult, error) {
	if d.cfg.Keys == nil {
		return nil, errors.New("no seal key use case is connected")
	}
	seal, err := d.cfg.Keys.Seal()
	if err != nil {
		return nil, err
	}
	req.Image = d.cfg.Seal.Image
	return d.Stamp(ctx, seal, req)
}

// sealSize is the configured seal's size as displayed, or why there is none.
func (d *Desk) sealSize() (placement.Size, error) {
	if d.cfg.Seal.Image == nil {
		return placement.Size{}, errors.New("no seal image: set [seal] image in the configuration (ask the administrator)")
	}
	b := d.cfg.Seal.Image.Bounds()
	return placement.SealSize(d.cfg.Seal.SizeMM, b.Dx(), b.Dy())
}

// RejectQueued returns a queue document in the name of the logged-in custodian.
func (d *Desk) RejectQueued(docID, reason string) (uint64, error) {
	if d.cfg.Keys == nil || d.cfg.Keys.State().Phase != LoggedIn {
		return 0, errors.New("log in with the seal key first: returning a document is the custodian's act")
	}
	return d.Reject(docID, reason, d.cfg.Keys.State().Custodian)
}

// StampQueued stamps several queue documents with the logged-in seal, one after another with
// progress (StampBatch: each its own check, intent and done or failed), each seal at the
// document's first place: the default place on the first page the approval allows, or its first
// approved position. A document that cannot be placed is reported in its item and not stamped.
func (d *Desk) StampQueued(ctx context.Context, ids []string, progress func(BatchProgress)) ([]BatchItem, error) {
	if d.cfg.Keys == nil {
		return nil, errors.New("no seal key use case is connected")
	}
	seal, err := d.cfg.Keys.Seal()
	if err != nil {
		return nil, err
	}
	items := make([]BatchItem, len(ids))
	var reqs []StampRequest
	var at []int // index in items of each request
	for i, id := range ids {
		items[i].Request = StampRequest{DocID: id}
		req, err := d.firstPlace(id)
		if err != nil {
			items[i].Err = err
			continue
		}
		items[i].Request = req
		reqs, at = append(reqs, req), append(at, i)
	}
	done, err := d.StampBatch(ctx, seal, reqs, progress)
	for k, it := range done {
		items[at[k]] = it
	}
	return items, err
}

func (d *Desk) firstPlace(id string) (StampRequest, error) {
	p, err := d.openPreview(id, false) // the geometry only: no page pictures for a batch
	if err != nil {
		return StampRequest{}, err
	}
	defer p.Close()
	for _, pg := range p.Pages() {
		if !pg.Allowed {
			continue
		}
		if _, _, err := p.Put(p.DefaultPlace(pg.Number)); err != nil {
			return StampRequest{}, fmt.Errorf("%q: %w", p.item.Title, err)
		}
		pl, err := p.Placement()
		if err != nil {
			return StampRequest{}, err
		}
		return StampRequest{DocID: id, Placement: pl, Image: d.cfg.Seal.Image}, nil
	}
	return StampRequest{}, fmt.Errorf("%q: %w: the approval allows none of its pages", p.item.Title, ErrPageNotAllowed)
}

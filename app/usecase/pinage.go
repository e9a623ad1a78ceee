package usecase

import (
	"errors"
	"time"

	"github.com/sealkeeper/sealkeeper/device"
	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// pinScanChunk is how many records the PIN history reads at a time, from the newest back: a
// change is usually found in the last chunk, so a login does not decrypt the whole ledger.
const pinScanChunk = 4096

// ledgerPINs is the PIN history kept in the ledger (RULES.md 3): the newest pin.changed record
// of a token is its last change. It is the one source of truth whenever the ledger can be
// read; the side file (store/pinages) is used only where there is no readable ledger (a key
// tested alone), so deleting or editing that file changes nothing on a workstation.
type ledgerPINs struct {
	led *ledger.Ledger
	err error // the first read error; the caller treats it as "no change known"
}

func (h *ledgerPINs) LastChanged(serial string) (time.Time, bool) {
	var last time.Time
	found := false
	errFound := errors.New("found")
	for to := h.led.Size(); to > 0 && !found; {
		from := uint64(1)
		if to > pinScanChunk {
			from = to - pinScanChunk + 1
		}
		err := h.led.Records(from, func(r ledger.Record) error {
			if r.Seq > to {
				return errFound // the chunk after this one was read already
			}
			if r.Kind == ledger.KindPINChanged && r.Token == serial {
				last, found = r.Time, true
			}
			return nil
		})
		if err != nil && !errors.Is(err, errFound) {
			h.err = err
			return time.Time{}, false
		}
		to = from - 1
	}
	return last, found
}

// pinHistory is where the PIN policy looks for the last change: the ledger when it is
// unlocked, else the configured side file.
func (k *Keys) pinHistory() device.PINHistory {
	if k.cfg.Ledger != nil && k.cfg.Ledger.Unlocked() {
		return &ledgerPINs{led: k.cfg.Ledger}
	}
	if k.cfg.Ages == nil {
		return nil
	}
	return k.cfg.Ages
}

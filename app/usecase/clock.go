package usecase

import (
	"errors"
	"fmt"
	"time"

	"github.com/sealkeeper/sealkeeper/store/ledger"
)

// ErrClockBehind: the workstation's clock shows a time before what the ledger and the server
// have already seen. A clock set back would let a stamping pass as older than it is (inside an
// expired approval's validity, say), so nothing is recorded with it.
var ErrClockBehind = errors.New("the workstation's clock is behind the ledger and the server")

// clockSlack is how far behind the floor the clock may be: clocks adjusted by NTP step a little.
const clockSlack = 5 * time.Minute

// floorRecords is how many of the last records the floor is taken from: logins and key events
// are written with the clock's time too, so a floor from the last record alone could be lowered
// by a few logins made with the clock set back.
const floorRecords = 64

// clockFloor is the latest time the workstation has evidence of: the newest of the last records'
// times, the server's signed seal list (its asOf) and the server's time at the last heartbeat. The records are read once per desk (a
// scan decrypts them); after that the desk's own records move the floor (noteRecords).
func (d *Desk) clockFloor() (time.Time, uint64) {
	d.mu.Lock()
	if !d.floorRead {
		var floor time.Time
		var at uint64
		from := uint64(1)
		if n := d.cfg.Ledger.Size(); n > floorRecords {
			from = n - floorRecords + 1
		}
		err := d.cfg.Ledger.Records(from, func(r ledger.Record) error {
			if r.Time.After(floor) {
				floor, at = r.Time, r.Seq
			}
			return nil
		})
		if err == nil {
			d.floor, d.floorSeq, d.floorRead = floor, at, true
		}
	}
	floor, at := d.floor, d.floorSeq
	d.mu.Unlock()
	if d.cfg.Store != nil {
		if l, err := d.cfg.Store.SealList(); err == nil && l.AsOf.After(floor) {
			floor, at = l.AsOf, 0
		}
		// The server's own time at the last heartbeat has passed too.
		if c, err := d.cfg.Store.ServerClock(); err == nil && c.Server.After(floor) {
			floor, at = c.Server, 0
		}
	}
	return floor, at
}

// clockJumps are the alarms (RULES.md 13) for a clock that jumped forward, written with the
// stamping: past the newest record by more than the policy's MaxClockJump, or ahead of the
// server's time by more than clockSlack at the last heartbeat (raised once per heartbeat). A
// forward clock lets nothing pass as older than it is, so the stamping goes on; but records
// dated in the future raise the floor, and the administrator must know.
func (d *Desk) clockJumps(now time.Time) []ledger.Record {
	var out []ledger.Record
	d.mu.Lock()
	last, lastSeq, read := d.floor, d.floorSeq, d.floorRead
	d.mu.Unlock()
	if d.cfg.MaxClockJump > 0 && read && !last.IsZero() && now.Sub(last) > d.cfg.MaxClockJump {
		out = append(out, ledger.Record{Kind: ledger.KindAlarm, Alarm: AlarmClockJump,
			Detail: fmt.Sprintf("the clock showed %s, %s after ledger record %d (%s), more than the %s the policy allows between records",
				now.UTC().Format(time.RFC3339), now.Sub(last).Round(time.Second), lastSeq, last.UTC().Format(time.RFC3339), d.cfg.MaxClockJump)})
	}
	if d.cfg.Store != nil {
		c, err := d.cfg.Store.ServerClock()
		d.mu.Lock()
		fresh := err == nil && !c.Server.IsZero() && !c.Server.Equal(d.skewSeen) && c.Local.Sub(c.Server) > clockSlack
		if fresh {
			d.skewSeen = c.Server
		}
		d.mu.Unlock()
		if fresh {
			out = append(out, ledger.Record{Kind: ledger.KindAlarm, Alarm: AlarmClockJump,
				Detail: fmt.Sprintf("at the last contact the clock showed %s, %s ahead of the server's %s",
					c.Local.UTC().Format(time.RFC3339), c.Local.Sub(c.Server).Round(time.Second), c.Server.UTC().Format(time.RFC3339))})
		}
	}
	return out
}

// noteRecords moves the floor to the newest of records just written.
func (d *Desk) noteRecords(recs []ledger.Record, seqs []uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, r := range recs {
		if d.floorRead && i < len(seqs) && r.Time.After(d.floor) {
			d.floor, d.floorSeq = r.Time, seqs[i]
		}
	}
}

// checkClock refuses a clock set back past the floor, and records the refusal as an alarm
// (docs/rules.md 13) dated at the floor, so that the alarm itself does not lower it.
func (d *Desk) checkClock(now time.Time) error {
	floor, seq := d.clockFloor()
	if floor.IsZero() || !now.Before(floor.Add(-clockSlack)) {
		return nil
	}
	source := "the server's time"
	if seq > 0 {
		source = fmt.Sprintf("ledger record %d", seq)
	}
	detail := fmt.Sprintf("the clock showed %s, %s before %s (%s); the act was refused",
		now.UTC().Format(time.RFC3339), floor.Sub(now).Round(time.Second), source, floor.UTC().Format(time.RFC3339))
	if _, err := d.record(ledger.Record{Kind: ledger.KindAlarm, Alarm: AlarmClockBehind, Time: floor, Detail: detail}); err != nil {
		d.cfg.Log.Error("recording the clock alarm", "error", err.Error())
	}
	return fmt.Errorf("%w: it shows %s, but %s is from %s; correct the clock (or ask the administrator) and try again",
		ErrClockBehind, now.Local().Format("2006-01-02 15:04"), source, floor.Local().Format("2006-01-02 15:04"))
}

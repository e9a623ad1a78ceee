package usecase

import (
	"fmt"
	"strings"
	"time"
)

// WorkingHours are the days and hours stamping is expected on this workstation ([policy]
// working_hours). A stamping outside them is not refused (an urgent seal at night is allowed)
// but recorded with an out-of-hours alarm (RULES.md 13). The zero value is any time.
type WorkingHours struct {
	Days     [7]bool       // by time.Weekday
	From, To time.Duration // since local midnight; To ≤ From spans midnight
	set      bool
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// ParseWorkingHours reads "mon-fri 08:30-17:30" (days optional: "08:30-17:30" is every day;
// days may be listed, "mon,wed,fri"). "" is any time.
func ParseWorkingHours(s string) (WorkingHours, error) {
	var w WorkingHours
	f := strings.Fields(strings.ToLower(s))
	if len(f) == 0 {
		return w, nil
	}
	bad := func() (WorkingHours, error) {
		return WorkingHours{}, fmt.Errorf("working hours %q: write them like \"mon-fri 08:30-17:30\" (days optional)", s)
	}
	if len(f) > 2 {
		return bad()
	}
	days := "sun-sat"
	if len(f) == 2 {
		days = f[0]
	}
	for _, part := range strings.Split(days, ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, ok1 := weekdays[a]
		to, ok2 := from, true
		if isRange {
			to, ok2 = weekdays[b]
		}
		if !ok1 || !ok2 {
			return bad()
		}
		for d := from; ; d = (d + 1) % 7 {
			w.Days[d] = true
			if d == to {
				break
			}
		}
	}
	a, b, ok := strings.Cut(f[len(f)-1], "-")
	from, err1 := time.Parse("15:04", a)
	to, err2 := time.Parse("15:04", b)
	if !ok || err1 != nil || err2 != nil {
		return bad()
	}
	w.From = time.Duration(from.Hour())*time.Hour + time.Duration(from.Minute())*time.Minute
	w.To = time.Duration(to.Hour())*time.Hour + time.Duration(to.Minute())*time.Minute
	w.set = true
	return w, nil
}

// Within reports whether t (in its own location) is inside the working hours.
func (w WorkingHours) Within(t time.Time) bool {
	if !w.set {
		return true
	}
	y, m, d := t.Date()
	since := t.Sub(time.Date(y, m, d, 0, 0, 0, 0, t.Location()))
	day := t.Weekday()
	if w.To <= w.From { // spans midnight: after From today, or before To on the day after a working day
		return (w.Days[day] && since >= w.From) || (w.Days[(day+6)%7] && since < w.To)
	}
	return w.Days[day] && since >= w.From && since < w.To
}

func (w WorkingHours) String() string {
	if !w.set {
		return "any time"
	}
	var days []string
	for _, name := range []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"} {
		if w.Days[weekdays[name]] {
			days = append(days, name)
		}
	}
	hm := func(d time.Duration) string { return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60) }
	return strings.Join(days, ",") + " " + hm(w.From) + "-" + hm(w.To)
}

package schedule

import (
	"errors"
	"fmt"
	"time"
)

// Schedule is an on-call schedule as a person edits it: rotation layers
// stacked in order, with overrides on top. Compile it before asking who is on
// call.
type Schedule struct {
	// Name is for people; the engine does not use it.
	Name string `json:"name"`
	// TimeZone is the IANA zone (e.g. "Europe/Berlin") in which day and week
	// handoffs and restrictions are read.
	TimeZone string `json:"time_zone"`
	// Layers are stacked in order: where a later layer has someone on call it
	// covers every earlier layer.
	Layers []Layer `json:"layers"`
	// Overrides cover every layer; a later override covers an earlier one
	// where they overlap.
	Overrides []Override `json:"overrides,omitempty"`
}

// Layer is one rotation: participants take turns, one shift each, starting at
// Start and repeating for ever. Before Start the layer has nobody on call.
type Layer struct {
	// Name is for people; the engine does not use it.
	Name string `json:"name,omitempty"`
	// Participants are user ids in rotation order. A user may appear more than
	// once to take more turns.
	Participants []string `json:"participants"`
	// Start is when the layer's first shift, held by Participants[0], begins.
	// For day and week shifts its wall-clock time in the schedule's zone is
	// the handoff time of every shift.
	Start time.Time `json:"start"`
	// Shift is the length of one turn.
	Shift ShiftLength `json:"shift"`
	// Restrictions, when present, limit the layer to the windows they
	// describe; outside every window the layer has nobody on call. The
	// rotation keeps turning underneath: a restriction hides shifts, it does
	// not pause or shorten them.
	Restrictions []Restriction `json:"restrictions,omitempty"`
}

// ShiftLength is the length of one turn in a layer's rotation.
type ShiftLength struct {
	// Count is how many Units one turn lasts; it must be positive.
	Count int `json:"count"`
	// Unit is Hours, Days or Weeks.
	Unit Unit `json:"unit"`
}

// Unit is the unit of a ShiftLength.
type Unit int

// Units of a ShiftLength. Hours are exact durations. Days and Weeks are
// calendar days in the schedule's zone: handoffs keep their wall-clock time,
// so a one-day shift that spans a spring-forward transition lasts 23 hours.
const (
	Hours Unit = iota + 1
	Days
	Weeks
)

func (u Unit) name() string {
	switch u {
	case Hours:
		return "hours"
	case Days:
		return "days"
	case Weeks:
		return "weeks"
	}
	return ""
}

// String returns "hours", "days" or "weeks".
func (u Unit) String() string {
	if n := u.name(); n != "" {
		return n
	}
	return fmt.Sprintf("Unit(%d)", int(u))
}

// MarshalText encodes u by name, so JSON carries "days" rather than 2.
func (u Unit) MarshalText() ([]byte, error) {
	n := u.name()
	if n == "" {
		return nil, fmt.Errorf("schedule: unknown unit %d", int(u))
	}
	return []byte(n), nil
}

// UnmarshalText decodes a unit name written by MarshalText.
func (u *Unit) UnmarshalText(b []byte) error {
	for c := Hours; c <= Weeks; c++ {
		if c.name() == string(b) {
			*u = c
			return nil
		}
	}
	return fmt.Errorf("schedule: unknown unit %q (want hours, days or weeks)", b)
}

// RestrictionKind says whether a restriction repeats every day or every week.
type RestrictionKind int

// Restriction kinds.
const (
	// Daily restrictions open a window at StartTime every day.
	Daily RestrictionKind = iota + 1
	// Weekly restrictions open a window at StartTime on StartDay every week.
	Weekly
)

func (k RestrictionKind) name() string {
	switch k {
	case Daily:
		return "daily"
	case Weekly:
		return "weekly"
	}
	return ""
}

// String returns "daily" or "weekly".
func (k RestrictionKind) String() string {
	if n := k.name(); n != "" {
		return n
	}
	return fmt.Sprintf("RestrictionKind(%d)", int(k))
}

// MarshalText encodes k by name.
func (k RestrictionKind) MarshalText() ([]byte, error) {
	n := k.name()
	if n == "" {
		return nil, fmt.Errorf("schedule: unknown restriction kind %d", int(k))
	}
	return []byte(n), nil
}

// UnmarshalText decodes a kind name written by MarshalText.
func (k *RestrictionKind) UnmarshalText(b []byte) error {
	for c := Daily; c <= Weekly; c++ {
		if c.name() == string(b) {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("schedule: unknown restriction kind %q (want daily or weekly)", b)
}

// Restriction is a recurring window, in the schedule's zone, during which a
// layer may have someone on call. Windows are wall-clock based: 09:00 for
// 8h means 09:00–17:00 local time even on the day the clocks change. A window
// edge that falls into a DST gap moves to the end of the gap; one that falls
// into a repeated hour means its first occurrence.
type Restriction struct {
	// Kind is Daily or Weekly.
	Kind RestrictionKind `json:"kind"`
	// StartDay is the day a Weekly window opens; Daily ignores it.
	StartDay time.Weekday `json:"start_day,omitempty"`
	// StartTime is the local time the window opens, "HH:MM" (24-hour).
	StartTime string `json:"start_time"`
	// Duration is how long the window stays open in wall-clock time: more
	// than zero and at most 24h for Daily, 7 days for Weekly.
	Duration time.Duration `json:"duration"`
}

// Override puts User on call from Start to End regardless of the layers.
type Override struct {
	// ID names the override in Shift.Source; it must be unique in the
	// schedule.
	ID string `json:"id"`
	// User is the user id on call.
	User string `json:"user"`
	// Start and End bound the override: [Start, End).
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// ValidationError is one problem Compile found, naming the field by its path
// in the schedule (e.g. "layers[1].shift.count") so an API can point at it.
type ValidationError struct {
	// Field is the path of the offending field, using the JSON names.
	Field string
	// Problem says what is wrong with it.
	Problem string
}

// Error returns "field: problem".
func (e *ValidationError) Error() string {
	return e.Field + ": " + e.Problem
}

// Limits on what Compile accepts; they keep the arithmetic far from overflow
// and catch unit mistakes (a "weeks" shift of 10000).
const (
	maxShiftDays  = 3660 // about ten years
	maxDailyDur   = 24 * time.Hour
	maxWeeklyDur  = 7 * 24 * time.Hour
	maxOverrideID = 256
)

// validate reports every problem with s. It returns the zone so Compile need
// not load it twice.
func validate(s Schedule) (*time.Location, []error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}

	var loc *time.Location
	switch s.TimeZone {
	case "":
		bad("time_zone", "required (an IANA zone such as %q)", "Europe/Berlin")
	case "Local":
		bad("time_zone", "%q is not an IANA zone", s.TimeZone)
	default:
		l, err := time.LoadLocation(s.TimeZone)
		if err != nil {
			bad("time_zone", "unknown time zone %q", s.TimeZone)
		} else {
			loc = l
		}
	}

	if len(s.Layers) == 0 {
		bad("layers", "at least one layer")
	}
	for i, l := range s.Layers {
		p := fmt.Sprintf("layers[%d]", i)
		if len(l.Participants) == 0 {
			bad(p+".participants", "at least one participant")
		}
		for j, u := range l.Participants {
			if u == "" {
				bad(fmt.Sprintf("%s.participants[%d]", p, j), "empty user id")
			}
		}
		if l.Start.IsZero() {
			bad(p+".start", "required")
		}
		days := 0
		switch l.Shift.Unit {
		case Hours:
			days = l.Shift.Count/24 + 1
		case Days:
			days = l.Shift.Count
		case Weeks:
			days = 7 * l.Shift.Count
			if l.Shift.Count > maxShiftDays/7 {
				days = maxShiftDays + 1
			}
		default:
			bad(p+".shift.unit", "want hours, days or weeks")
		}
		switch {
		case l.Shift.Count <= 0:
			bad(p+".shift.count", "must be positive")
		case days > maxShiftDays:
			bad(p+".shift.count", "at most %d days in all", maxShiftDays)
		}
		for j, r := range l.Restrictions {
			rp := fmt.Sprintf("%s.restrictions[%d]", p, j)
			max := maxDailyDur
			switch r.Kind {
			case Daily:
			case Weekly:
				max = maxWeeklyDur
				if r.StartDay < time.Sunday || r.StartDay > time.Saturday {
					bad(rp+".start_day", "want a day of the week (0 Sunday … 6 Saturday)")
				}
			default:
				bad(rp+".kind", "want daily or weekly")
			}
			if _, err := parseClock(r.StartTime); err != nil {
				bad(rp+".start_time", "want HH:MM, got %q", r.StartTime)
			}
			switch {
			case r.Duration <= 0:
				bad(rp+".duration", "must be positive")
			case r.Duration > max:
				bad(rp+".duration", "at most %v for a %v restriction", max, r.Kind)
			}
		}
	}

	ids := make(map[string]int, len(s.Overrides))
	for i, o := range s.Overrides {
		p := fmt.Sprintf("overrides[%d]", i)
		switch first, dup := ids[o.ID]; {
		case o.ID == "":
			bad(p+".id", "required")
		case len(o.ID) > maxOverrideID:
			bad(p+".id", "at most %d bytes", maxOverrideID)
		case dup:
			bad(p+".id", "duplicate of overrides[%d].id %q", first, o.ID)
		default:
			ids[o.ID] = i
		}
		if o.User == "" {
			bad(p+".user", "required")
		}
		if !o.End.After(o.Start) {
			bad(p, "end must be after start")
		}
	}
	return loc, errs
}

// Compile checks s and prepares it for queries. Every problem is reported as
// a *ValidationError; with several they are joined (errors.Join), so use
// errors.As for the first or unwrap []error for all. The result does not share
// memory with s and is safe for concurrent use.
func Compile(s Schedule) (*Compiled, error) {
	loc, errs := validate(s)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c := &Compiled{loc: loc, layers: make([]layer, len(s.Layers))}
	for i, l := range s.Layers {
		c.layers[i] = compileLayer(l, loc)
	}
	c.overrides = flatten(s.Overrides)
	return c, nil
}

// parseClock parses "HH:MM" (00:00–23:59, two digits each) into seconds after
// midnight.
func parseClock(s string) (int64, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("clock %q: want HH:MM", s)
	}
	digit := func(b byte) (int64, bool) { return int64(b - '0'), b >= '0' && b <= '9' }
	h1, ok1 := digit(s[0])
	h2, ok2 := digit(s[1])
	m1, ok3 := digit(s[3])
	m2, ok4 := digit(s[4])
	h, m := h1*10+h2, m1*10+m2
	if !ok1 || !ok2 || !ok3 || !ok4 || h > 23 || m > 59 {
		return 0, fmt.Errorf("clock %q: want HH:MM between 00:00 and 23:59", s)
	}
	return h*3600 + m*60, nil
}

package schedule

import "time"

// Wall-clock arithmetic.
//
// Day and week shifts and restrictions are defined in local wall-clock time,
// which is not monotonic in real time: a fall-back transition repeats an hour
// and a spring-forward transition skips one. The engine therefore works with a
// "civil" value — the wall clock read as if it were UTC, held in a time.Time
// so nanoseconds and comparisons come for free — and two conversions:
//
//   - mono(t) is the largest wall-clock reading at or before instant t. It
//     equals the wall clock except during a repeated hour, where it stays at
//     the last reading before the clocks went back.
//   - resolve(c) is the earliest instant whose wall clock reads c or later.
//     For a wall time inside a gap that is the transition instant (the first
//     valid instant after it); for an ambiguous wall time it is the first
//     occurrence.
//
// The pair is a Galois connection: resolve(c) <= t exactly when c <= mono(t).
// So a wall-clock interval [a, b) maps to the instants [resolve(a),
// resolve(b)), and "is t inside it" needs only integer comparisons against
// mono(t); resolve is called only for the edges that are reported.

const secondsPerDay = 24 * 60 * 60

// maxFallBack bounds how far back the wall clock has ever been set in one
// transition (the largest in the tz database is about a day, when Alaska
// changed sides of the date line in 1867); older zone periods cannot raise
// mono once they are further back than this.
const maxFallBack = 48 * 60 * 60

// civilOf returns the wall-clock reading of t in loc as a civil value.
func civilOf(t time.Time, loc *time.Location) time.Time {
	_, off := t.In(loc).Zone()
	return time.Unix(t.Unix()+int64(off), int64(t.Nanosecond())).UTC()
}

// mono returns the largest wall-clock reading in loc at or before t.
func mono(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	_, off := t.Zone()
	m := time.Unix(t.Unix()+int64(off), int64(t.Nanosecond())).UTC()
	cur := t
	for range 8 {
		start, _ := cur.ZoneBounds()
		if start.IsZero() {
			break
		}
		_, curOff := cur.Zone()
		// The wall clock at the start of this period; earlier periods can only
		// matter if the clocks were set back past a reading we already have.
		if startWall := start.Unix() + int64(curOff); startWall+maxFallBack < m.Unix() {
			break
		}
		prev := time.Unix(start.Unix()-1, 0).In(loc)
		_, prevOff := prev.Zone()
		// The last reading before the transition, one nanosecond before it.
		last := time.Unix(start.Unix()+int64(prevOff), 0).UTC().Add(-time.Nanosecond)
		if last.After(m) {
			m = last
		}
		cur = prev
	}
	return m
}

// resolve returns the earliest instant in loc whose wall clock reads c or
// later: c itself when it exists once, its first occurrence when the clocks
// went back over it, and the end of the gap when the clocks skipped it.
func resolve(c time.Time, loc *time.Location) time.Time {
	// Days and seconds apart, so int stays in range on 32-bit platforms.
	u := c.Unix()
	t := time.Date(1970, time.January, 1+int(floorDiv(u, secondsPerDay)), 0, 0, int(floorMod(u, secondsPerDay)), c.Nanosecond(), loc)
	got := civilOf(t, loc)
	switch got.Compare(c) {
	case 0:
		// Exists; walk back to an earlier occurrence if the clocks were set
		// back over it.
		for range 8 {
			start, _ := t.ZoneBounds()
			if start.IsZero() {
				break
			}
			_, off := t.Zone()
			_, prevOff := time.Unix(start.Unix()-1, 0).In(loc).Zone()
			if prevOff <= off {
				break
			}
			cand := t.Add(-time.Duration(prevOff-off) * time.Second)
			if !cand.Before(start) || !civilOf(cand, loc).Equal(c) {
				break
			}
			t = cand
		}
		return t
	case 1:
		// time.Date read c with the offset from before the gap and landed
		// after it: the gap ends where t's zone period starts.
		if start, _ := t.ZoneBounds(); !start.IsZero() {
			return start.In(loc)
		}
	default:
		// Landed before the gap: it ends where t's zone period ends.
		if _, end := t.ZoneBounds(); !end.IsZero() {
			return end.In(loc)
		}
	}
	return t
}

// civilDays returns the number of days from 1970-01-01 to c's date.
func civilDays(c time.Time) int64 {
	return floorDiv(c.Unix(), secondsPerDay)
}

// civilWeekday returns the day of the week of civil day number d.
func civilWeekday(d int64) time.Weekday {
	// 1970-01-01 was a Thursday.
	return time.Weekday(floorMod(d+int64(time.Thursday), 7))
}

// civilAt returns the civil value for day number d at sec seconds past
// midnight.
func civilAt(d int64, sec int64) time.Time {
	return time.Unix(d*secondsPerDay+sec, 0).UTC()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 {
	return a - floorDiv(a, b)*b
}

// floorSeconds returns floor((a-b) in seconds), exact to the nanosecond and
// free of time.Duration's 292-year range.
func floorSeconds(a, b time.Time) int64 {
	d := a.Unix() - b.Unix()
	if a.Nanosecond() < b.Nanosecond() {
		d--
	}
	return d
}

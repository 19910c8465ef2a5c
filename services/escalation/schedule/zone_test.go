package schedule

import (
	"fmt"
	"testing"
	"time"
)

// zoneRef is an independent model of a zone's offsets over a range, found by
// sampling the offset every 15 minutes and bisecting each change to the
// second. It does not use ZoneBounds, which the engine relies on.
type zoneRef struct {
	loc      *time.Location
	from, to time.Time
	off0     int // offset before the first transition
	trans    []refTransition
}

type refTransition struct {
	at       time.Time
	from, to int // offsets before and after, in seconds
}

func newZoneRef(t testing.TB, loc *time.Location, from, to time.Time) *zoneRef {
	t.Helper()
	offAt := func(u int64) int {
		_, off := time.Unix(u, 0).In(loc).Zone()
		return off
	}
	z := &zoneRef{loc: loc, from: from, to: to, off0: offAt(from.Unix())}
	const step = 15 * 60
	prev := z.off0
	for u := from.Unix() + step; u <= to.Unix(); u += step {
		off := offAt(u)
		if off == prev {
			continue
		}
		lo, hi := u-step, u // offAt(lo) == prev, offAt(hi) == off
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if offAt(mid) == prev {
				lo = mid
			} else {
				hi = mid
			}
		}
		z.trans = append(z.trans, refTransition{at: time.Unix(hi, 0), from: prev, to: off})
		prev = off
	}
	return z
}

// resolve is the earliest instant whose wall clock reads c or later, found by
// walking the zone's periods in order.
func (z *zoneRef) resolve(c time.Time) time.Time {
	for i := 0; ; i++ {
		off := z.off0
		if i > 0 {
			off = z.trans[i-1].to
		}
		d := time.Duration(off) * time.Second
		if i == len(z.trans) || c.Before(z.trans[i].at.Add(d)) {
			u := c.Add(-d)
			if i > 0 && u.Before(z.trans[i-1].at) {
				u = z.trans[i-1].at // c is in the gap before this period
			}
			return u.In(z.loc)
		}
	}
}

// mono is the largest wall-clock reading at or before u.
func (z *zoneRef) mono(u time.Time) time.Time {
	_, off := u.In(z.loc).Zone()
	m := u.Add(time.Duration(off) * time.Second).UTC()
	for _, tr := range z.trans {
		if tr.at.After(u) {
			break
		}
		if last := tr.at.Add(time.Duration(tr.from)*time.Second - time.Nanosecond).UTC(); last.After(m) {
			m = last
		}
	}
	return m
}

// civil builds a civil value from wall-clock fields.
func civil(y int, mo time.Month, d, h, mi int) time.Time {
	return time.Date(y, mo, d, h, mi, 0, 0, time.UTC)
}

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

// testZones are the zones the engine is checked against: the three DST
// shapes the brief asks for (a 1-hour change in each hemisphere and Lord
// Howe's 30 minutes), one without DST, Santiago (whose changes happen at
// midnight, moving the date) and Chatham (+12:45/+13:45).
var testZones = []string{
	"America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
	"UTC", "Asia/Kolkata", "America/Santiago", "Pacific/Chatham",
}

func TestTransitionDates(t *testing.T) {
	t.Parallel()
	// The brief's dates, checked against the tz database rather than trusted.
	tests := []struct {
		zone string
		want []string // local date and time right after each 2026 change, new offset
	}{
		{"America/New_York", []string{"2026-03-08 03:00 -0400", "2026-11-01 01:00 -0500"}},
		{"Europe/Berlin", []string{"2026-03-29 03:00 +0200", "2026-10-25 02:00 +0100"}},
		{"Australia/Lord_Howe", []string{"2026-04-05 01:30 +1030", "2026-10-04 02:30 +1100"}},
	}
	for _, tc := range tests {
		t.Run(tc.zone, func(t *testing.T) {
			t.Parallel()
			loc := mustLoad(t, tc.zone)
			z := newZoneRef(t, loc, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
			var got []string
			for _, tr := range z.trans {
				got = append(got, tr.at.In(loc).Format("2006-01-02 15:04 -0700"))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("2026 transitions = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	ny := mustLoad(t, "America/New_York")
	lh := mustLoad(t, "Australia/Lord_Howe")
	tests := []struct {
		name string
		loc  *time.Location
		wall time.Time
		want string // RFC 3339 in the zone
	}{
		{"plain", ny, civil(2026, 3, 7, 9, 0), "2026-03-07T09:00:00-05:00"},
		{"gap start", ny, civil(2026, 3, 8, 2, 0), "2026-03-08T03:00:00-04:00"},
		{"in gap", ny, civil(2026, 3, 8, 2, 30), "2026-03-08T03:00:00-04:00"},
		{"gap end", ny, civil(2026, 3, 8, 3, 0), "2026-03-08T03:00:00-04:00"},
		{"ambiguous first occurrence", ny, civil(2026, 11, 1, 1, 30), "2026-11-01T01:30:00-04:00"},
		{"ambiguous start", ny, civil(2026, 11, 1, 1, 0), "2026-11-01T01:00:00-04:00"},
		{"after repeat", ny, civil(2026, 11, 1, 2, 0), "2026-11-01T02:00:00-05:00"},
		{"lord howe ambiguous", lh, civil(2026, 4, 5, 1, 45), "2026-04-05T01:45:00+11:00"},
		{"lord howe gap", lh, civil(2026, 10, 4, 2, 15), "2026-10-04T02:30:00+11:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := resolve(tc.wall, tc.loc).Format(time.RFC3339); got != tc.want {
				t.Fatalf("resolve(%s) = %s, want %s", tc.wall.Format("2006-01-02 15:04"), got, tc.want)
			}
		})
	}
}

// TestZoneAgainstReference checks resolve and mono against zoneRef on a
// dense grid around every transition in 2025–2027 of every test zone, and
// the Galois property the engine depends on: resolve(c) <= t iff c <= mono(t).
func TestZoneAgainstReference(t *testing.T) {
	t.Parallel()
	for _, name := range testZones {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			loc := mustLoad(t, name)
			from, to := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
			z := newZoneRef(t, loc, from, to)
			// Around each transition, plus one ordinary stretch.
			centres := []time.Time{time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)}
			for _, tr := range z.trans {
				centres = append(centres, tr.at)
			}
			for _, c := range centres {
				lo, hi := c.Add(-26*time.Hour), c.Add(26*time.Hour)
				// Wall times every 5 minutes, and just off whole minutes.
				for w := lo; w.Before(hi); w = w.Add(5 * time.Minute) {
					for _, d := range []time.Duration{0, -time.Nanosecond, time.Nanosecond, 7*time.Second + 500*time.Millisecond} {
						cw := w.Add(d).UTC()
						if got, want := resolve(cw, loc), z.resolve(cw); !got.Equal(want) {
							t.Fatalf("resolve(%s) = %s, want %s", cw.Format(time.RFC3339Nano), got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
						}
					}
				}
				// Instants every 7 minutes and a nanosecond either side of
				// the transition.
				insts := []time.Time{c.Add(-time.Nanosecond), c, c.Add(time.Nanosecond)}
				for u := lo; u.Before(hi); u = u.Add(7 * time.Minute) {
					insts = append(insts, u)
				}
				for _, u := range insts {
					m := mono(u, loc)
					if want := z.mono(u); !m.Equal(want) {
						t.Fatalf("mono(%s) = %s, want %s", u.In(loc).Format(time.RFC3339Nano), m.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
					}
					// resolve(m) <= u < resolve(m + 1ns).
					if r := resolve(m, loc); r.After(u) {
						t.Fatalf("resolve(mono(%s)) = %s, after it", u.Format(time.RFC3339Nano), r.Format(time.RFC3339Nano))
					}
					if r := resolve(m.Add(time.Nanosecond), loc); !r.After(u) {
						t.Fatalf("resolve(mono(%s)+1ns) = %s, not after it", u.Format(time.RFC3339Nano), r.Format(time.RFC3339Nano))
					}
				}
			}
		})
	}
}

func TestCivilWeekday(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Time{
		time.Date(1969, 12, 28, 0, 0, 0, 0, time.UTC),
		time.Date(1970, 1, 1, 23, 59, 0, 0, time.UTC),
		time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC),
		time.Date(1900, 2, 28, 1, 0, 0, 0, time.UTC),
	} {
		if got := civilWeekday(civilDays(d)); got != d.Weekday() {
			t.Errorf("civilWeekday(%s) = %v, want %v", d, got, d.Weekday())
		}
	}
}

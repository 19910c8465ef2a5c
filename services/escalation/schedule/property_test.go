package schedule

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"
)

// refModel is a deliberately simple second implementation of a schedule: it
// walks every layer's shifts from the layer's start, lists every restriction
// window day by day, and answers queries by scanning. It shares only the DST
// rule with the engine, through zoneRef.
type refModel struct {
	s      Schedule
	layers []refLayer
}

type refLayer struct {
	starts  []time.Time // shift k is [starts[k], starts[k+1])
	windows [][2]time.Time
}

func newRefModel(t testing.TB, s Schedule, from, to time.Time) *refModel {
	t.Helper()
	loc := mustLoad(t, s.TimeZone)
	z := newZoneRef(t, loc, from.AddDate(-1, 0, 0), to.AddDate(0, 0, 30))
	m := &refModel{s: s}
	for _, l := range s.Layers {
		var rl refLayer
		w := l.Start.In(loc)
		for k := 0; ; k++ {
			var st time.Time
			switch l.Shift.Unit {
			case Hours:
				st = l.Start.Add(time.Duration(k*l.Shift.Count) * time.Hour)
			case Days, Weeks:
				days := k * l.Shift.Count
				if l.Shift.Unit == Weeks {
					days *= 7
				}
				st = z.resolve(time.Date(w.Year(), w.Month(), w.Day()+days, w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), time.UTC))
				if k == 0 && st.Before(l.Start) {
					st = l.Start // Start was the second occurrence of its wall time
				}
			}
			rl.starts = append(rl.starts, st)
			if st.After(to) {
				break
			}
		}
		for d := from.In(loc).AddDate(0, 0, -8); d.Before(to.AddDate(0, 0, 1)); d = d.AddDate(0, 0, 1) {
			for _, r := range l.Restrictions {
				if r.Kind == Weekly && d.Weekday() != r.StartDay {
					continue
				}
				var hh, mm int
				fmt.Sscanf(r.StartTime, "%d:%d", &hh, &mm)
				ws := time.Date(d.Year(), d.Month(), d.Day(), hh, mm, 0, 0, time.UTC)
				rl.windows = append(rl.windows, [2]time.Time{z.resolve(ws), z.resolve(ws.Add(r.Duration))})
			}
		}
		slices.SortFunc(rl.windows, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })
		m.layers = append(m.layers, rl)
	}
	return m
}

// layerAt is who layer i has on call at t, on its own.
func (m *refModel) layerAt(i int, t time.Time) string {
	l, rl := m.s.Layers[i], m.layers[i]
	if t.Before(l.Start) {
		return ""
	}
	if len(l.Restrictions) > 0 {
		// Windows are sorted by start and last at most a week.
		j := sort.Search(len(rl.windows), func(j int) bool { return rl.windows[j][0].After(t) })
		open := false
		for _, w := range rl.windows[max(0, j-8*len(l.Restrictions)):j] {
			open = open || t.Before(w[1])
		}
		if !open {
			return ""
		}
	}
	k := sort.Search(len(rl.starts), func(k int) bool { return rl.starts[k].After(t) }) - 1
	return l.Participants[k%len(l.Participants)]
}

func (m *refModel) at(t time.Time) (string, Source) {
	for i := len(m.s.Overrides) - 1; i >= 0; i-- {
		if o := m.s.Overrides[i]; !t.Before(o.Start) && t.Before(o.End) {
			return o.User, Source{Kind: SourceOverride, Override: o.ID}
		}
	}
	for i := len(m.s.Layers) - 1; i >= 0; i-- {
		if u := m.layerAt(i, t); u != "" {
			return u, Source{Kind: SourceLayer, Layer: i}
		}
	}
	return "", Source{}
}

// randomSchedule builds a schedule around 2026 that leans towards the hard
// cases: handoffs and restriction edges at 01:30/02:30 (inside DST gaps and
// repeats), repeated participants, overlapping restrictions and overrides,
// and starts with sub-second parts.
func randomSchedule(r *rand.Rand, zone string, year time.Time) Schedule {
	loc, _ := time.LoadLocation(zone)
	clock := func() (int, int) {
		switch r.IntN(4) {
		case 0:
			return 1 + r.IntN(2), 30
		case 1:
			return 9, 0
		}
		return r.IntN(24), 15 * r.IntN(4)
	}
	s := Schedule{Name: "random", TimeZone: zone}
	pool := []string{"ann", "ben", "cat", "dan", "eli"}
	for i := range 1 + r.IntN(3) {
		var l Layer
		l.Name = fmt.Sprintf("layer %d", i)
		for range 1 + r.IntN(4) {
			l.Participants = append(l.Participants, pool[r.IntN(len(pool))])
		}
		d := year.AddDate(0, 0, r.IntN(150)-90)
		hh, mm := clock()
		l.Start = time.Date(d.Year(), d.Month(), d.Day(), hh, mm, 0, 0, loc)
		if r.IntN(4) == 0 {
			l.Start = l.Start.Add(time.Duration(r.IntN(1e9)))
		}
		switch r.IntN(3) {
		case 0:
			l.Shift = ShiftLength{[]int{1, 8, 12, 24, 36}[r.IntN(5)], Hours}
		case 1:
			l.Shift = ShiftLength{1 + r.IntN(3), Days}
		default:
			l.Shift = ShiftLength{1 + r.IntN(2), Weeks}
		}
		if r.IntN(2) == 0 {
			for range 1 + r.IntN(3) {
				hh, mm := clock()
				res := Restriction{Kind: Daily, StartTime: fmt.Sprintf("%02d:%02d", hh, mm),
					Duration: time.Duration(1+r.IntN(24*4)) * 15 * time.Minute}
				if r.IntN(2) == 0 {
					res.Kind, res.StartDay = Weekly, time.Weekday(r.IntN(7))
					res.Duration = time.Duration(1+r.IntN(7*24)) * time.Hour
				}
				l.Restrictions = append(l.Restrictions, res)
			}
		}
		s.Layers = append(s.Layers, l)
	}
	for i := range r.IntN(25) {
		st := year.Add(time.Duration(r.Int64N(int64(365 * 24 * time.Hour)))).Truncate(time.Minute)
		s.Overrides = append(s.Overrides, Override{
			ID: fmt.Sprintf("o%d", i), User: pool[r.IntN(len(pool))],
			Start: st, End: st.Add(time.Duration(1+r.IntN(72*4)) * 15 * time.Minute),
		})
	}
	return s
}

// TestAgainstReference compares the engine with refModel on random schedules
// over a year, sampling every 7 minutes and a nanosecond either side of every
// handoff, restriction edge and override edge.
func TestAgainstReference(t *testing.T) {
	t.Parallel()
	// One random schedule per test zone; under -short or -race only the
	// three zones with the DST shapes that matter most.
	cases := len(testZones)
	if testing.Short() || raceEnabled {
		cases = 3
	}
	for n := range cases {
		zone := testZones[n%len(testZones)]
		t.Run(fmt.Sprintf("%d-%s", n, zone), func(t *testing.T) {
			t.Parallel()
			loc := mustLoad(t, zone)
			r := rand.New(rand.NewPCG(uint64(n), 2026))
			from := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
			to := from.AddDate(1, 0, 0)
			s := randomSchedule(r, zone, from)
			c := mustCompile(t, s)
			ref := newRefModel(t, s, from, to)
			checkAgainstReference(t, c, ref, s, from, to)
		})
	}
}

func checkAgainstReference(t *testing.T, c *Compiled, ref *refModel, s Schedule, from, to time.Time) {
	t.Helper()
	loc := c.loc
	segs := c.Render(from, to)
	checkCover(t, segs, from, to)
	for i := 1; i < len(segs); i++ {
		if segs[i].User == segs[i-1].User && segs[i].Source == segs[i-1].Source {
			t.Fatalf("unmerged neighbours:\n%s", fmtShifts(segs[i-1:i+1], loc))
		}
	}

	// Sample instants.
	var samples []time.Time
	for u := from; u.Before(to); u = u.Add(7 * time.Minute) {
		samples = append(samples, u)
	}
	edge := func(e time.Time) {
		for _, d := range []time.Duration{-time.Nanosecond, 0, time.Nanosecond} {
			if u := e.Add(d); !u.Before(from) && u.Before(to) {
				samples = append(samples, u)
			}
		}
	}
	for _, rl := range ref.layers {
		for _, st := range rl.starts {
			edge(st)
		}
		for _, w := range rl.windows {
			edge(w[0])
			edge(w[1])
		}
	}
	for _, o := range s.Overrides {
		edge(o.Start)
		edge(o.End)
	}
	for i, u := range samples {
		wantUser, wantSrc := ref.at(u)
		got, ok := c.OnCall(u)
		if got.User != wantUser || got.Source != wantSrc || ok != (wantUser != "") {
			t.Fatalf("OnCall(%s) = %s, %v; reference says %s (%s)", u.In(loc).Format(time.RFC3339Nano), fmtShift(got, loc), ok, wantUser, wantSrc)
		}
		if u.Before(got.Start) && !got.Start.IsZero() || !u.Before(got.End) {
			t.Fatalf("OnCall(%s) = %s, which does not contain it", u.In(loc).Format(time.RFC3339Nano), fmtShift(got, loc))
		}
		j := sort.Search(len(segs), func(j int) bool { return segs[j].End.After(u) })
		seg := segs[j]
		if seg.User != wantUser || seg.Source != wantSrc {
			t.Fatalf("Render at %s: %s; reference says %s (%s)", u.In(loc).Format(time.RFC3339Nano), fmtShift(seg, loc), wantUser, wantSrc)
		}
		// OnCall's interval, clipped to the render range, is the rendered
		// segment unless maxMerge cut it short. Checked on a subset, as
		// widening costs a few more lookups.
		if i%5 == 0 {
			full, cutStart, cutEnd := c.onCall(u, maxMerge)
			lo, hi := full.Start, full.End
			if lo.Before(from) {
				lo = from
			}
			if hi.After(to) {
				hi = to
			}
			if (!lo.Equal(seg.Start) && !cutStart) || (!hi.Equal(seg.End) && !cutEnd) {
				t.Fatalf("OnCall(%s) spans %s, rendered segment %s", u.In(loc).Format(time.RFC3339Nano), fmtShift(full, loc), fmtShift(seg, loc))
			}
		}
	}

	// Each layer on its own.
	for li, l := range s.Layers {
		shifts, err := c.LayerShifts(li, from, to)
		if err != nil {
			t.Fatal(err)
		}
		for k, sh := range shifts {
			if !sh.Start.Before(sh.End) || sh.Start.Before(from) || sh.End.After(to) {
				t.Fatalf("layer %d: bad shift %s", li, fmtShift(sh, loc))
			}
			if k > 0 && sh.Start.Before(shifts[k-1].End) {
				t.Fatalf("layer %d: overlapping shifts:\n%s", li, fmtShifts(shifts[k-1:k+1], loc))
			}
		}
		if len(l.Restrictions) == 0 {
			lo := from
			if l.Start.After(from) {
				lo = l.Start
			}
			checkCover(t, shifts, lo, to)
			// Pieces are exactly the reference's shifts.
			var want []time.Time
			for _, st := range ref.layers[li].starts {
				if st.After(lo) && st.Before(to) {
					want = append(want, st)
				}
			}
			for k, sh := range shifts[1:] {
				if k >= len(want) || !sh.Start.Equal(want[k]) {
					t.Fatalf("layer %d: shift %d starts %s, reference handoffs %v", li, k+1, sh.Start, want[:min(k+1, len(want))])
				}
			}
		}
		for _, u := range samples {
			want := ref.layerAt(li, u)
			k := sort.Search(len(shifts), func(k int) bool { return shifts[k].End.After(u) })
			got := ""
			if k < len(shifts) && !u.Before(shifts[k].Start) {
				got = shifts[k].User
			}
			if got != want {
				t.Fatalf("layer %d at %s: LayerShifts says %q, reference %q", li, u.In(loc).Format(time.RFC3339Nano), got, want)
			}
		}
	}
}

// checkCover fails unless segs are contiguous, non-empty and cover [from, to)
// exactly.
func checkCover(t *testing.T, segs []Shift, from, to time.Time) {
	t.Helper()
	if len(segs) == 0 {
		t.Fatalf("no segments for [%s, %s)", from, to)
	}
	if !segs[0].Start.Equal(from) || !segs[len(segs)-1].End.Equal(to) {
		t.Fatalf("segments cover [%s, %s), want [%s, %s)", segs[0].Start, segs[len(segs)-1].End, from, to)
	}
	for i, s := range segs {
		if !s.Start.Before(s.End) {
			t.Fatalf("empty segment %d: %v", i, s)
		}
		if i > 0 && !s.Start.Equal(segs[i-1].End) {
			t.Fatalf("segment %d starts %s, previous ends %s", i, s.Start, segs[i-1].End)
		}
	}
}

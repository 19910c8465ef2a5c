package schedule

import (
	"container/heap"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Compiled is a validated schedule ready for queries. It is immutable and
// safe for concurrent use.
type Compiled struct {
	loc       *time.Location
	layers    []layer
	overrides []overrideSeg // disjoint, sorted, later overrides already won
}

// Shift is a stretch of time during which one assignment holds.
type Shift struct {
	// User is the user id on call, or "" when nobody is.
	User string `json:"user"`
	// Start and End bound the shift: [Start, End). Times are in the
	// schedule's zone.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Source says which layer or override put User on call.
	Source Source `json:"source"`
}

// SourceKind says where an assignment comes from.
type SourceKind int

// Sources of an assignment.
const (
	// SourceNone marks a gap: no override and no layer has anyone on call.
	SourceNone SourceKind = iota
	// SourceLayer means a layer's rotation; Source.Layer is its index.
	SourceLayer
	// SourceOverride means an override; Source.Override is its ID.
	SourceOverride
)

// Source says why someone is on call. It is comparable.
type Source struct {
	Kind SourceKind `json:"kind"`
	// Layer is the index into Schedule.Layers when Kind is SourceLayer.
	Layer int `json:"layer,omitempty"`
	// Override is the Override.ID when Kind is SourceOverride.
	Override string `json:"override,omitempty"`
}

// String returns "layer 2", "override <id>" or "none".
func (s Source) String() string {
	switch s.Kind {
	case SourceLayer:
		return fmt.Sprintf("layer %d", s.Layer)
	case SourceOverride:
		return "override " + s.Override
	}
	return "none"
}

// maxMerge bounds how many neighbouring segments OnCall inspects on each side
// when widening a shift to the maximal interval with the same assignment.
// Only a run of handoffs to the same user (a one-person layer, say) reaches
// it; the shift reported is then shorter than the truth but still correct.
const maxMerge = 16

// OnCall returns who is on call at t and why. The bool is false when nobody
// is; the Shift then describes the gap. Start and End bound the maximal
// interval around t with the same user and source (see maxMerge); Start is
// the zero Time if the assignment holds since the beginning of time (only a
// gap before every layer and override starts can).
func (c *Compiled) OnCall(t time.Time) (Shift, bool) {
	s, _, _ := c.onCall(t, maxMerge)
	return s, s.User != ""
}

// onCall is OnCall with the merge bound as a parameter; it also reports
// whether the bound cut the interval short at either end.
func (c *Compiled) onCall(t time.Time, steps int) (s Shift, cutStart, cutEnd bool) {
	user, src, lo, hi := c.at(t)
	for n := 0; ; n++ {
		u, s, _, h := c.at(hi)
		if u != user || s != src {
			break
		}
		if n == steps {
			cutEnd = true
			break
		}
		hi = h
	}
	for n := 0; !lo.IsZero(); n++ {
		u, s, l, _ := c.at(lo.Add(-time.Nanosecond))
		if u != user || s != src {
			break
		}
		if n == steps {
			cutStart = true
			break
		}
		lo = l
	}
	if !lo.IsZero() {
		lo = lo.In(c.loc)
	}
	return Shift{User: user, Start: lo, End: hi.In(c.loc), Source: src}, cutStart, cutEnd
}

// Render returns the final schedule over [from, to): consecutive segments
// that cover it exactly, gaps included as segments with User "", with
// adjacent segments of the same user and source merged. The first and last
// segments are clipped to from and to. It returns nil if to is not after
// from. Its cost is proportional to the number of handoffs and restriction
// edges in the range.
func (c *Compiled) Render(from, to time.Time) []Shift {
	if !from.Before(to) {
		return nil
	}
	var out []Shift
	for t := from; t.Before(to); {
		user, src, _, hi := c.at(t)
		end := hi
		if end.After(to) {
			end = to
		}
		if n := len(out); n > 0 && out[n-1].User == user && out[n-1].Source == src {
			out[n-1].End = end.In(c.loc)
		} else {
			out = append(out, Shift{User: user, Start: t.In(c.loc), End: end.In(c.loc), Source: src})
		}
		t = hi
	}
	return out
}

// LayerShifts returns layer i's own shifts over [from, to), as if it were the
// only layer and there were no overrides: one Shift per rotation turn, cut
// to its restriction windows and clipped to [from, to). Times when the layer
// has nobody on call are left out. It fails if i is not a layer index.
func (c *Compiled) LayerShifts(i int, from, to time.Time) ([]Shift, error) {
	if i < 0 || i >= len(c.layers) {
		return nil, fmt.Errorf("schedule: layer %d out of range (have %d)", i, len(c.layers))
	}
	l := &c.layers[i]
	src := Source{Kind: SourceLayer, Layer: i}
	var out []Shift
	lastTurn := int64(-1)
	for t := from; t.Before(to); {
		var w window
		user, turn, on := l.at(t, mono(t, c.loc), &w)
		_, hi := w.bounds(c.loc)
		if on {
			end := hi
			if end.After(to) {
				end = to
			}
			if n := len(out); n > 0 && turn == lastTurn && out[n-1].End.Equal(t) {
				out[n-1].End = end.In(c.loc)
			} else {
				out = append(out, Shift{User: user, Start: t.In(c.loc), End: end.In(c.loc), Source: src})
			}
			lastTurn = turn
		}
		t = hi
	}
	return out, nil
}

// at returns the assignment at t and the interval [lo, hi) around it within
// which nothing that decides it changes. lo is zero when unbounded; hi never
// is, because every layer has a next handoff or start.
func (c *Compiled) at(t time.Time) (user string, src Source, lo, hi time.Time) {
	ov := c.overrides
	i := sort.Search(len(ov), func(i int) bool { return ov[i].end.After(t) })
	if i < len(ov) && !t.Before(ov[i].start) {
		o := &ov[i]
		return o.user, Source{Kind: SourceOverride, Override: o.id}, o.start, o.end
	}
	var w window
	if i > 0 {
		w.lo = ov[i-1].end
	}
	if i < len(ov) {
		w.hi = ov[i].start
	}
	civ := mono(t, c.loc)
	for li := len(c.layers) - 1; li >= 0; li-- {
		if u, _, on := c.layers[li].at(t, civ, &w); on {
			user, src = u, Source{Kind: SourceLayer, Layer: li}
			break
		}
	}
	lo, hi = w.bounds(c.loc)
	return user, src, lo, hi
}

// window narrows the interval around an instant within which an answer
// holds. Bounds come as instants or as civil (wall-clock) values; civil ones
// are resolved once at the end, which is sound because resolve is monotonic.
// A zero bound is unbounded.
type window struct {
	lo, hi       time.Time
	civLo, civHi time.Time
}

func raise(b *time.Time, v time.Time) {
	if b.IsZero() || v.After(*b) {
		*b = v
	}
}

func lower(b *time.Time, v time.Time) {
	if b.IsZero() || v.Before(*b) {
		*b = v
	}
}

func (w *window) bounds(loc *time.Location) (lo, hi time.Time) {
	lo, hi = w.lo, w.hi
	if !w.civLo.IsZero() {
		raise(&lo, resolve(w.civLo, loc))
	}
	if !w.civHi.IsZero() {
		lower(&hi, resolve(w.civHi, loc))
	}
	return lo, hi
}

// layer is a compiled Layer.
type layer struct {
	participants []string
	start        time.Time
	// hourly is set for Hours shifts, whose length is shiftSec real seconds;
	// otherwise shiftSec is a length in civil seconds (whole days) counted
	// from handoff, the wall-clock reading of start.
	hourly       bool
	shiftSec     int64
	handoff      time.Time
	restrictions []restriction
}

type restriction struct {
	weekly   bool
	day      time.Weekday
	startSec int64 // seconds after local midnight
	dur      time.Duration
}

func compileLayer(l Layer, loc *time.Location) layer {
	cl := layer{
		participants: slices.Clone(l.Participants),
		start:        l.Start,
		handoff:      civilOf(l.Start, loc),
	}
	switch l.Shift.Unit {
	case Hours:
		cl.hourly = true
		cl.shiftSec = int64(l.Shift.Count) * 3600
	case Days:
		cl.shiftSec = int64(l.Shift.Count) * secondsPerDay
	case Weeks:
		cl.shiftSec = int64(l.Shift.Count) * 7 * secondsPerDay
	}
	for _, r := range l.Restrictions {
		sec, _ := parseClock(r.StartTime) // validated
		cl.restrictions = append(cl.restrictions, restriction{
			weekly: r.Kind == Weekly, day: r.StartDay, startSec: sec, dur: r.Duration,
		})
	}
	return cl
}

// at reports the layer's assignment at t, whose wall-clock reading (mono) is
// civ, and narrows w to the interval where it holds. turn numbers the
// rotation shift, counting from 0 at Start.
func (l *layer) at(t, civ time.Time, w *window) (user string, turn int64, on bool) {
	if t.Before(l.start) {
		lower(&w.hi, l.start)
		return "", 0, false
	}
	raise(&w.lo, l.start)
	if l.hourly {
		turn = floorDiv(floorSeconds(t, l.start), l.shiftSec)
		s := time.Unix(l.start.Unix()+turn*l.shiftSec, int64(l.start.Nanosecond()))
		raise(&w.lo, s)
		lower(&w.hi, s.Add(time.Duration(l.shiftSec)*time.Second))
	} else {
		turn = floorDiv(floorSeconds(civ, l.handoff), l.shiftSec)
		s := time.Unix(l.handoff.Unix()+turn*l.shiftSec, int64(l.handoff.Nanosecond())).UTC()
		raise(&w.civLo, s)
		lower(&w.civHi, s.Add(time.Duration(l.shiftSec)*time.Second))
	}
	if len(l.restrictions) > 0 && !l.open(civ, w) {
		return "", turn, false
	}
	return l.participants[floorMod(turn, int64(len(l.participants)))], turn, true
}

// open reports whether civ lies in one of the layer's restriction windows and
// narrows w to the nearest window edges around it. Daily windows last at most
// a day and weekly ones a week, so the windows opening on the day before,
// the day of and the day after civ (the week before, of and after, for
// weekly) include both nearest edges.
func (l *layer) open(civ time.Time, w *window) bool {
	day := civilDays(civ)
	wd := civilWeekday(day)
	in := false
	var lo, hi time.Time
	edge := func(e time.Time) {
		if e.After(civ) {
			lower(&hi, e)
		} else {
			raise(&lo, e)
		}
	}
	for _, r := range l.restrictions {
		first, step := day-1, int64(1)
		if r.weekly {
			first, step = day-floorMod(int64(wd-r.day), 7)-7, 7
		}
		for d := first; d <= first+2*step; d += step {
			s := civilAt(d, r.startSec)
			e := s.Add(r.dur)
			edge(s)
			edge(e)
			if !civ.Before(s) && civ.Before(e) {
				in = true
			}
		}
	}
	raise(&w.civLo, lo)
	lower(&w.civHi, hi)
	return in
}

// overrideSeg is a piece of the override timeline with its winning override.
type overrideSeg struct {
	start, end time.Time
	id, user   string
}

// flatten turns overrides into disjoint, sorted segments in which the latest
// override covering each instant wins, merging neighbours from the same
// override.
func flatten(os []Override) []overrideSeg {
	type event struct {
		at    time.Time
		i     int
		start bool
	}
	evs := make([]event, 0, 2*len(os))
	for i, o := range os {
		evs = append(evs, event{o.Start, i, true}, event{o.End, i, false})
	}
	slices.SortFunc(evs, func(a, b event) int { return a.at.Compare(b.at) })
	var (
		out    []overrideSeg
		active maxHeap // may hold ended overrides until they reach the top
		ended  = make([]bool, len(os))
	)
	for j := 0; j < len(evs); {
		at := evs[j].at
		for ; j < len(evs) && evs[j].at.Equal(at); j++ {
			if evs[j].start {
				heap.Push(&active, evs[j].i)
			} else {
				ended[evs[j].i] = true
			}
		}
		for active.Len() > 0 && ended[active[0]] {
			heap.Pop(&active)
		}
		if active.Len() == 0 {
			continue
		}
		// Something is active, so some end event is still ahead.
		top, next := active[0], evs[j].at
		if n := len(out); n > 0 && out[n-1].id == os[top].ID && out[n-1].end.Equal(at) {
			out[n-1].end = next
		} else {
			out = append(out, overrideSeg{start: at, end: next, id: os[top].ID, user: os[top].User})
		}
	}
	return out
}

// maxHeap holds the indexes of active overrides, latest on top.
type maxHeap []int

func (h maxHeap) Len() int           { return len(h) }
func (h maxHeap) Less(i, j int) bool { return h[i] > h[j] }
func (h maxHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *maxHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *maxHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

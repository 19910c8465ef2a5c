package schedule

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// local parses "2006-01-02 15:04" in loc. For wall times that exist twice
// it takes the first occurrence, like the engine.
func local(t testing.TB, loc *time.Location, s string) time.Time {
	t.Helper()
	c, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return resolve(c, loc)
}

func mustCompile(t testing.TB, s Schedule) *Compiled {
	t.Helper()
	c, err := Compile(s)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return c
}

// fmtShift formats a shift compactly in loc for failure messages and
// expectations: "alice 2026-01-05 09:00 → 2026-01-12 09:00 (layer 0)".
func fmtShift(s Shift, loc *time.Location) string {
	const f = "2006-01-02 15:04"
	user := s.User
	if user == "" {
		user = "-"
	}
	return fmt.Sprintf("%s %s → %s (%s)", user, s.Start.In(loc).Format(f), s.End.In(loc).Format(f), s.Source)
}

func fmtShifts(ss []Shift, loc *time.Location) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString(fmtShift(s, loc))
		b.WriteByte('\n')
	}
	return b.String()
}

var abc = []string{"alice", "bob", "carol"}

func TestOnCallRotations(t *testing.T) {
	t.Parallel()
	loc := mustLoad(t, "Europe/Berlin")
	// 2026-01-05 is a Monday; January has no DST change.
	start := local(t, loc, "2026-01-05 09:00")
	layer := func(n int, u Unit) Schedule {
		return Schedule{TimeZone: "Europe/Berlin", Layers: []Layer{{Participants: abc, Start: start, Shift: ShiftLength{n, u}}}}
	}
	tests := []struct {
		name  string
		s     Schedule
		at    string
		want  string // fmtShift, or "-" for nobody before any layer starts
		onCal bool
	}{
		{"weekly first", layer(1, Weeks), "2026-01-05 09:00", "alice 2026-01-05 09:00 → 2026-01-12 09:00 (layer 0)", true},
		{"weekly before handoff", layer(1, Weeks), "2026-01-12 08:59", "alice 2026-01-05 09:00 → 2026-01-12 09:00 (layer 0)", true},
		{"weekly second", layer(1, Weeks), "2026-01-12 09:00", "bob 2026-01-12 09:00 → 2026-01-19 09:00 (layer 0)", true},
		{"weekly wraps", layer(1, Weeks), "2026-01-28 12:00", "alice 2026-01-26 09:00 → 2026-02-02 09:00 (layer 0)", true},
		{"weekly far future", layer(1, Weeks), "2036-01-07 12:00", "alice 2036-01-07 09:00 → 2036-01-14 09:00 (layer 0)", true},
		{"two-week shifts", layer(2, Weeks), "2026-01-20 12:00", "bob 2026-01-19 09:00 → 2026-02-02 09:00 (layer 0)", true},
		{"daily", layer(1, Days), "2026-01-06 12:00", "bob 2026-01-06 09:00 → 2026-01-07 09:00 (layer 0)", true},
		{"daily third", layer(1, Days), "2026-01-08 08:59", "carol 2026-01-07 09:00 → 2026-01-08 09:00 (layer 0)", true},
		{"12-hour day", layer(12, Hours), "2026-01-05 20:59", "alice 2026-01-05 09:00 → 2026-01-05 21:00 (layer 0)", true},
		{"12-hour night", layer(12, Hours), "2026-01-05 21:00", "bob 2026-01-05 21:00 → 2026-01-06 09:00 (layer 0)", true},
		{"12-hour next day", layer(12, Hours), "2026-01-06 09:00", "carol 2026-01-06 09:00 → 2026-01-06 21:00 (layer 0)", true},
		{"before start", layer(1, Weeks), "2026-01-05 08:59", "- 0001-01-01 00:00 → 2026-01-05 09:00 (none)", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := mustCompile(t, tc.s)
			s, ok := c.OnCall(local(t, loc, tc.at))
			if s.Start.IsZero() {
				s.Start = time.Date(1, 1, 1, 0, 0, 0, 0, loc)
			}
			if got := fmtShift(s, loc); got != tc.want || ok != tc.onCal {
				t.Fatalf("OnCall(%s) = %s, %v\nwant %s, %v", tc.at, got, ok, tc.want, tc.onCal)
			}
		})
	}
}

func TestOnCallMergesRepeats(t *testing.T) {
	t.Parallel()
	loc := mustLoad(t, "UTC")
	start := local(t, loc, "2026-01-01 09:00")
	tests := []struct {
		name         string
		participants []string
		at           string
		want         string
	}{
		{"consecutive repeat", []string{"alice", "alice", "bob"}, "2026-01-02 10:00", "alice 2026-01-01 09:00 → 2026-01-03 09:00 (layer 0)"},
		{"wrap-around repeat", []string{"alice", "bob", "alice"}, "2026-01-03 10:00", "alice 2026-01-03 09:00 → 2026-01-05 09:00 (layer 0)"},
		// One participant: the same assignment for ever, bounded by maxMerge
		// handoffs each way.
		{"single participant", []string{"alice"}, "2026-02-01 10:00", "alice 2026-01-16 09:00 → 2026-02-18 09:00 (layer 0)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := mustCompile(t, Schedule{TimeZone: "UTC", Layers: []Layer{{Participants: tc.participants, Start: start, Shift: ShiftLength{1, Days}}}})
			s, _ := c.OnCall(local(t, loc, tc.at))
			if got := fmtShift(s, loc); got != tc.want {
				t.Fatalf("OnCall(%s) = %s\nwant %s", tc.at, got, tc.want)
			}
		})
	}
}

// TestDST checks, around each 2026 transition of three zones, that day and
// week handoffs keep 09:00 local, that hour shifts keep exact lengths, and
// that a 09:00–17:00 restriction stays at local wall time.
func TestDST(t *testing.T) {
	t.Parallel()
	tests := []struct {
		zone   string
		change string        // local date of the change
		delta  time.Duration // how much the change lengthens that day
	}{
		{"America/New_York", "2026-03-08", -time.Hour},
		{"America/New_York", "2026-11-01", time.Hour},
		{"Europe/Berlin", "2026-03-29", -time.Hour},
		{"Europe/Berlin", "2026-10-25", time.Hour},
		{"Australia/Lord_Howe", "2026-04-05", 30 * time.Minute},
		{"Australia/Lord_Howe", "2026-10-04", -30 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.zone+"/"+tc.change, func(t *testing.T) {
			t.Parallel()
			loc := mustLoad(t, tc.zone)
			day := local(t, loc, tc.change+" 00:00")
			start := local(t, loc, day.AddDate(0, 0, -20).Format("2006-01-02")+" 09:00")
			from, to := day.AddDate(0, 0, -9), day.AddDate(0, 0, 9)
			compile := func(l Layer) *Compiled {
				l.Participants, l.Start = abc, start
				return mustCompile(t, Schedule{TimeZone: tc.zone, Layers: []Layer{l}})
			}

			t.Run("daily handoff at 09:00", func(t *testing.T) {
				t.Parallel()
				shifts, _ := compile(Layer{Shift: ShiftLength{1, Days}}).LayerShifts(0, from, to)
				for _, s := range shifts[1 : len(shifts)-1] {
					if got := s.Start.In(loc).Format("15:04"); got != "09:00" {
						t.Errorf("shift %s starts at %s local", fmtShift(s, loc), got)
					}
					want := 24 * time.Hour
					if s.Start.In(loc).Format("2006-01-02") == day.AddDate(0, 0, -1).Format("2006-01-02") {
						want += tc.delta
					}
					if got := s.End.Sub(s.Start); got != want {
						t.Errorf("shift %s lasts %v, want %v", fmtShift(s, loc), got, want)
					}
				}
			})
			t.Run("weekly handoff at 09:00", func(t *testing.T) {
				t.Parallel()
				c := compile(Layer{Shift: ShiftLength{1, Weeks}})
				s, _ := c.OnCall(day.Add(12 * time.Hour))
				if s.Start.In(loc).Format("15:04") != "09:00" || s.End.In(loc).Format("15:04") != "09:00" {
					t.Errorf("week across the change = %s, want 09:00 handoffs", fmtShift(s, loc))
				}
				if got, want := s.End.Sub(s.Start), 7*24*time.Hour+tc.delta; got != want {
					t.Errorf("week across the change lasts %v, want %v", got, want)
				}
			})
			t.Run("12-hour shifts are exact", func(t *testing.T) {
				t.Parallel()
				shifts, _ := compile(Layer{Shift: ShiftLength{12, Hours}}).LayerShifts(0, from, to)
				for _, s := range shifts[1 : len(shifts)-1] {
					if got := s.End.Sub(s.Start); got != 12*time.Hour {
						t.Errorf("shift %s lasts %v", fmtShift(s, loc), got)
					}
				}
				// After the change the wall-clock handoff has moved.
				last := shifts[len(shifts)-2]
				if got, want := last.Start.In(loc).Format("15:04"), start.Add(-tc.delta).In(loc).Format("15:04"); got != want {
					t.Errorf("handoff after the change at %s, want %s", got, want)
				}
			})
			t.Run("restriction keeps local time", func(t *testing.T) {
				t.Parallel()
				c := compile(Layer{Shift: ShiftLength{1, Days}, Restrictions: []Restriction{{Kind: Daily, StartTime: "09:00", Duration: 8 * time.Hour}}})
				shifts, _ := c.LayerShifts(0, from, to)
				if len(shifts) != 18 {
					t.Fatalf("got %d shifts, want 18:\n%s", len(shifts), fmtShifts(shifts, loc))
				}
				for _, s := range shifts {
					if s.Start.In(loc).Format("15:04") != "09:00" || s.End.In(loc).Format("15:04") != "17:00" || s.End.Sub(s.Start) != 8*time.Hour {
						t.Errorf("restricted shift %s, want 09:00–17:00 local", fmtShift(s, loc))
					}
				}
			})
		})
	}
}

// TestDSTHandoffInGapOrRepeat puts the handoff at a wall time that does not
// exist, or exists twice, on the change day.
func TestDSTHandoffInGapOrRepeat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, zone, start, at string
		want                  string // RFC 3339 start and end of the shift at "at"
	}{
		{"new york gap: end of gap", "America/New_York", "2026-03-01 02:30", "2026-03-08 12:00",
			"2026-03-08T03:00:00-04:00 2026-03-09T02:30:00-04:00"},
		{"new york gap: day before is short", "America/New_York", "2026-03-01 02:30", "2026-03-07 12:00",
			"2026-03-07T02:30:00-05:00 2026-03-08T03:00:00-04:00"},
		{"new york repeat: first occurrence", "America/New_York", "2026-10-25 01:30", "2026-11-01 12:00",
			"2026-11-01T01:30:00-04:00 2026-11-02T01:30:00-05:00"},
		{"new york repeat: second pass belongs to new shift", "America/New_York", "2026-10-25 01:30", "2026-11-01 01:45",
			"2026-11-01T01:30:00-04:00 2026-11-02T01:30:00-05:00"},
		{"berlin gap", "Europe/Berlin", "2026-03-22 02:15", "2026-03-29 12:00",
			"2026-03-29T03:00:00+02:00 2026-03-30T02:15:00+02:00"},
		{"lord howe gap", "Australia/Lord_Howe", "2026-09-27 02:10", "2026-10-04 12:00",
			"2026-10-04T02:30:00+11:00 2026-10-05T02:10:00+11:00"},
		{"lord howe repeat", "Australia/Lord_Howe", "2026-03-29 01:45", "2026-04-05 12:00",
			"2026-04-05T01:45:00+11:00 2026-04-06T01:45:00+10:30"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			loc := mustLoad(t, tc.zone)
			c := mustCompile(t, Schedule{TimeZone: tc.zone, Layers: []Layer{{Participants: abc, Start: local(t, loc, tc.start), Shift: ShiftLength{1, Days}}}})
			at := local(t, loc, tc.at)
			if tc.at == "2026-11-01 01:45" {
				at = at.Add(time.Hour) // the second 01:45
			}
			s, _ := c.OnCall(at)
			if got := s.Start.Format(time.RFC3339) + " " + s.End.Format(time.RFC3339); got != tc.want {
				t.Fatalf("shift at %s = %s, want %s", at.Format(time.RFC3339), got, tc.want)
			}
		})
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	loc := mustLoad(t, "UTC")
	start := local(t, loc, "2026-01-05 09:00") // Monday
	daily := Layer{Participants: []string{"alice", "bob"}, Start: start, Shift: ShiftLength{1, Days}}
	ov := func(id, user, from, to string) Override {
		return Override{ID: id, User: user, Start: local(t, loc, from), End: local(t, loc, to)}
	}
	tests := []struct {
		name     string
		s        Schedule
		from, to string
		want     []string
	}{
		{
			name: "override across a handoff",
			s:    Schedule{Layers: []Layer{daily}, Overrides: []Override{ov("o1", "zed", "2026-01-06 08:00", "2026-01-06 10:00")}},
			from: "2026-01-06 00:00", to: "2026-01-06 12:00",
			want: []string{
				"alice 2026-01-06 00:00 → 2026-01-06 08:00 (layer 0)",
				"zed 2026-01-06 08:00 → 2026-01-06 10:00 (override o1)",
				"bob 2026-01-06 10:00 → 2026-01-06 12:00 (layer 0)",
			},
		},
		{
			name: "nested override wins",
			s: Schedule{Layers: []Layer{daily}, Overrides: []Override{
				ov("outer", "xavier", "2026-01-06 08:00", "2026-01-06 12:00"),
				ov("inner", "yana", "2026-01-06 09:00", "2026-01-06 10:00"),
			}},
			from: "2026-01-06 07:00", to: "2026-01-06 13:00",
			want: []string{
				"alice 2026-01-06 07:00 → 2026-01-06 08:00 (layer 0)",
				"xavier 2026-01-06 08:00 → 2026-01-06 09:00 (override outer)",
				"yana 2026-01-06 09:00 → 2026-01-06 10:00 (override inner)",
				"xavier 2026-01-06 10:00 → 2026-01-06 12:00 (override outer)",
				"bob 2026-01-06 12:00 → 2026-01-06 13:00 (layer 0)",
			},
		},
		{
			name: "nested but earlier loses everywhere",
			s: Schedule{Layers: []Layer{daily}, Overrides: []Override{
				ov("inner", "yana", "2026-01-06 09:00", "2026-01-06 10:00"),
				ov("outer", "xavier", "2026-01-06 08:00", "2026-01-06 12:00"),
			}},
			from: "2026-01-06 08:00", to: "2026-01-06 12:00",
			want: []string{"xavier 2026-01-06 08:00 → 2026-01-06 12:00 (override outer)"},
		},
		{
			name: "overlapping: later wins the overlap",
			s: Schedule{Layers: []Layer{daily}, Overrides: []Override{
				ov("a", "xavier", "2026-01-06 10:00", "2026-01-06 12:00"),
				ov("b", "yana", "2026-01-06 11:00", "2026-01-06 13:00"),
				ov("c", "xavier", "2026-01-06 12:30", "2026-01-06 14:00"),
			}},
			from: "2026-01-06 10:00", to: "2026-01-06 15:00",
			want: []string{
				"xavier 2026-01-06 10:00 → 2026-01-06 11:00 (override a)",
				"yana 2026-01-06 11:00 → 2026-01-06 12:30 (override b)",
				"xavier 2026-01-06 12:30 → 2026-01-06 14:00 (override c)",
				"bob 2026-01-06 14:00 → 2026-01-06 15:00 (layer 0)",
			},
		},
		{
			name: "back-to-back overrides of one user stay apart",
			s: Schedule{Layers: []Layer{daily}, Overrides: []Override{
				ov("a", "xavier", "2026-01-06 10:00", "2026-01-06 11:00"),
				ov("b", "xavier", "2026-01-06 11:00", "2026-01-06 12:00"),
			}},
			from: "2026-01-06 10:00", to: "2026-01-06 12:00",
			want: []string{
				"xavier 2026-01-06 10:00 → 2026-01-06 11:00 (override a)",
				"xavier 2026-01-06 11:00 → 2026-01-06 12:00 (override b)",
			},
		},
		{
			name: "override on a restriction gap",
			s: Schedule{
				Layers: []Layer{{Participants: []string{"alice"}, Start: start, Shift: ShiftLength{1, Weeks},
					Restrictions: []Restriction{{Kind: Daily, StartTime: "09:00", Duration: 8 * time.Hour}}}},
				Overrides: []Override{ov("evening", "zed", "2026-01-06 18:00", "2026-01-06 20:00")},
			},
			from: "2026-01-06 12:00", to: "2026-01-07 12:00",
			want: []string{
				"alice 2026-01-06 12:00 → 2026-01-06 17:00 (layer 0)",
				"- 2026-01-06 17:00 → 2026-01-06 18:00 (none)",
				"zed 2026-01-06 18:00 → 2026-01-06 20:00 (override evening)",
				"- 2026-01-06 20:00 → 2026-01-07 09:00 (none)",
				"alice 2026-01-07 09:00 → 2026-01-07 12:00 (layer 0)",
			},
		},
		{
			name: "business hours layer covers the round-the-clock one",
			s: Schedule{Layers: []Layer{
				{Participants: []string{"night"}, Start: start, Shift: ShiftLength{1, Weeks}},
				{Participants: []string{"dee", "eve"}, Start: start, Shift: ShiftLength{1, Days},
					Restrictions: []Restriction{
						{Kind: Weekly, StartDay: time.Monday, StartTime: "09:00", Duration: 8 * time.Hour},
						{Kind: Weekly, StartDay: time.Tuesday, StartTime: "09:00", Duration: 8 * time.Hour},
						{Kind: Weekly, StartDay: time.Wednesday, StartTime: "09:00", Duration: 8 * time.Hour},
						{Kind: Weekly, StartDay: time.Thursday, StartTime: "09:00", Duration: 8 * time.Hour},
						{Kind: Weekly, StartDay: time.Friday, StartTime: "09:00", Duration: 8 * time.Hour},
					}},
			}},
			from: "2026-01-08 00:00", to: "2026-01-12 00:00",
			want: []string{
				"night 2026-01-08 00:00 → 2026-01-08 09:00 (layer 0)",
				"eve 2026-01-08 09:00 → 2026-01-08 17:00 (layer 1)",
				"night 2026-01-08 17:00 → 2026-01-09 09:00 (layer 0)",
				"dee 2026-01-09 09:00 → 2026-01-09 17:00 (layer 1)",
				"night 2026-01-09 17:00 → 2026-01-12 00:00 (layer 0)",
			},
		},
		{
			name: "daily restriction with weekend excluded by a weekly one",
			s: Schedule{Layers: []Layer{
				{Participants: []string{"dee"}, Start: start, Shift: ShiftLength{1, Weeks},
					Restrictions: []Restriction{{Kind: Weekly, StartDay: time.Saturday, StartTime: "00:00", Duration: 48 * time.Hour}}},
				{Participants: []string{"eve"}, Start: start, Shift: ShiftLength{1, Weeks},
					Restrictions: []Restriction{{Kind: Daily, StartTime: "09:00", Duration: 8 * time.Hour}}},
			}},
			from: "2026-01-09 12:00", to: "2026-01-12 12:00",
			want: []string{
				"eve 2026-01-09 12:00 → 2026-01-09 17:00 (layer 1)",
				"- 2026-01-09 17:00 → 2026-01-10 00:00 (none)",
				"dee 2026-01-10 00:00 → 2026-01-10 09:00 (layer 0)",
				"eve 2026-01-10 09:00 → 2026-01-10 17:00 (layer 1)",
				"dee 2026-01-10 17:00 → 2026-01-11 09:00 (layer 0)",
				"eve 2026-01-11 09:00 → 2026-01-11 17:00 (layer 1)",
				"dee 2026-01-11 17:00 → 2026-01-12 00:00 (layer 0)",
				"- 2026-01-12 00:00 → 2026-01-12 09:00 (none)",
				"eve 2026-01-12 09:00 → 2026-01-12 12:00 (layer 1)",
			},
		},
		{
			name: "nobody before the layer starts",
			s:    Schedule{Layers: []Layer{daily}},
			from: "2026-01-05 00:00", to: "2026-01-05 10:00",
			want: []string{
				"- 2026-01-05 00:00 → 2026-01-05 09:00 (none)",
				"alice 2026-01-05 09:00 → 2026-01-05 10:00 (layer 0)",
			},
		},
		{
			name: "empty range",
			s:    Schedule{Layers: []Layer{daily}},
			from: "2026-01-05 10:00", to: "2026-01-05 10:00",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.s.TimeZone = "UTC"
			c := mustCompile(t, tc.s)
			got := fmtShifts(c.Render(local(t, loc, tc.from), local(t, loc, tc.to)), loc)
			want := ""
			if len(tc.want) > 0 {
				want = strings.Join(tc.want, "\n") + "\n"
			}
			if got != want {
				t.Fatalf("Render:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestLayerShifts(t *testing.T) {
	t.Parallel()
	loc := mustLoad(t, "UTC")
	start := local(t, loc, "2026-01-05 09:00")
	c := mustCompile(t, Schedule{TimeZone: "UTC", Layers: []Layer{
		{Participants: []string{"alice", "alice", "bob"}, Start: start, Shift: ShiftLength{1, Days},
			// Two overlapping windows make one piece per shift.
			Restrictions: []Restriction{
				{Kind: Daily, StartTime: "08:00", Duration: 4 * time.Hour},
				{Kind: Daily, StartTime: "10:00", Duration: 4 * time.Hour},
			}},
	}})
	got, err := c.LayerShifts(0, local(t, loc, "2026-01-05 00:00"), local(t, loc, "2026-01-07 00:00"))
	if err != nil {
		t.Fatal(err)
	}
	want := "alice 2026-01-05 09:00 → 2026-01-05 14:00 (layer 0)\n" +
		"alice 2026-01-06 08:00 → 2026-01-06 09:00 (layer 0)\n" + // yesterday's turn
		"alice 2026-01-06 09:00 → 2026-01-06 14:00 (layer 0)\n" // today's, not merged
	if g := fmtShifts(got, loc); g != want {
		t.Errorf("LayerShifts:\n%s\nwant:\n%s", g, want)
	}
	for _, i := range []int{-1, 1} {
		if _, err := c.LayerShifts(i, start, start.Add(time.Hour)); err == nil {
			t.Errorf("LayerShifts(%d) succeeded", i)
		}
	}
}

func TestCompileValidation(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	valid := func() Schedule {
		return Schedule{
			TimeZone: "Europe/Berlin",
			Layers: []Layer{
				{Participants: abc, Start: start, Shift: ShiftLength{1, Weeks}},
				{Participants: abc, Start: start, Shift: ShiftLength{1, Days},
					Restrictions: []Restriction{
						{Kind: Weekly, StartDay: time.Monday, StartTime: "09:00", Duration: 8 * time.Hour},
						{Kind: Daily, StartTime: "09:00", Duration: 8 * time.Hour},
					}},
			},
			Overrides: []Override{
				{ID: "o0", User: "zed", Start: start, End: start.Add(time.Hour)},
				{ID: "o1", User: "zed", Start: start, End: start.Add(time.Hour)},
				{ID: "o2", User: "zed", Start: start, End: start.Add(time.Hour)},
			},
		}
	}
	if _, err := Compile(valid()); err != nil {
		t.Fatalf("valid schedule: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*Schedule)
		want   string // the first problem's message
	}{
		{"unknown zone", func(s *Schedule) { s.TimeZone = "Mars/Olympus" }, `time_zone: unknown time zone "Mars/Olympus"`},
		{"no zone", func(s *Schedule) { s.TimeZone = "" }, `time_zone: required (an IANA zone such as "Europe/Berlin")`},
		{"local zone", func(s *Schedule) { s.TimeZone = "Local" }, `time_zone: "Local" is not an IANA zone`},
		{"no layers", func(s *Schedule) { s.Layers = nil }, "layers: at least one layer"},
		{"no participants", func(s *Schedule) { s.Layers[0].Participants = nil }, "layers[0].participants: at least one participant"},
		{"empty participant", func(s *Schedule) { s.Layers[1].Participants = []string{"a", ""} }, "layers[1].participants[1]: empty user id"},
		{"no start", func(s *Schedule) { s.Layers[0].Start = time.Time{} }, "layers[0].start: required"},
		{"zero shift", func(s *Schedule) { s.Layers[1].Shift.Count = 0 }, "layers[1].shift.count: must be positive"},
		{"negative shift", func(s *Schedule) { s.Layers[1].Shift.Count = -2 }, "layers[1].shift.count: must be positive"},
		{"huge shift", func(s *Schedule) { s.Layers[0].Shift.Count = 1 << 40 }, "layers[0].shift.count: at most 3660 days in all"},
		{"huge hour shift", func(s *Schedule) { s.Layers[0].Shift = ShiftLength{math.MaxInt, Hours} }, "layers[0].shift.count: at most 3660 days in all"},
		{"huge day shift", func(s *Schedule) { s.Layers[0].Shift = ShiftLength{3661, Days} }, "layers[0].shift.count: at most 3660 days in all"},
		{"unknown unit", func(s *Schedule) { s.Layers[0].Shift.Unit = 0 }, "layers[0].shift.unit: want hours, days or weeks"},
		{"bad clock", func(s *Schedule) { s.Layers[1].Restrictions[1].StartTime = "9:00" }, `layers[1].restrictions[1].start_time: want HH:MM, got "9:00"`},
		{"clock out of range", func(s *Schedule) { s.Layers[1].Restrictions[0].StartTime = "24:00" }, `layers[1].restrictions[0].start_time: want HH:MM, got "24:00"`},
		{"daily too long", func(s *Schedule) { s.Layers[1].Restrictions[1].Duration = 25 * time.Hour }, "layers[1].restrictions[1].duration: at most 24h0m0s for a daily restriction"},
		{"weekly too long", func(s *Schedule) { s.Layers[1].Restrictions[0].Duration = 7*24*time.Hour + time.Second }, "layers[1].restrictions[0].duration: at most 168h0m0s for a weekly restriction"},
		{"zero duration", func(s *Schedule) { s.Layers[1].Restrictions[0].Duration = 0 }, "layers[1].restrictions[0].duration: must be positive"},
		{"bad day", func(s *Schedule) { s.Layers[1].Restrictions[0].StartDay = 7 }, "layers[1].restrictions[0].start_day: want a day of the week (0 Sunday … 6 Saturday)"},
		{"bad kind", func(s *Schedule) { s.Layers[1].Restrictions[0].Kind = 0 }, "layers[1].restrictions[0].kind: want daily or weekly"},
		{"override ends at start", func(s *Schedule) { s.Overrides[2].End = s.Overrides[2].Start }, "overrides[2]: end must be after start"},
		{"override ends before start", func(s *Schedule) { s.Overrides[2].End = s.Overrides[2].Start.Add(-time.Hour) }, "overrides[2]: end must be after start"},
		{"override without user", func(s *Schedule) { s.Overrides[1].User = "" }, "overrides[1].user: required"},
		{"override without id", func(s *Schedule) { s.Overrides[0].ID = "" }, "overrides[0].id: required"},
		{"duplicate override id", func(s *Schedule) { s.Overrides[2].ID = "o0" }, `overrides[2].id: duplicate of overrides[0].id "o0"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := valid()
			tc.mutate(&s)
			c, err := Compile(s)
			if err == nil || c != nil {
				t.Fatalf("Compile = %v, %v; want an error", c, err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *ValidationError", err)
			}
			if ve.Error() != tc.want {
				t.Fatalf("error = %q, want %q", ve.Error(), tc.want)
			}
			if !strings.HasPrefix(tc.want, ve.Field+": ") {
				t.Fatalf("Field = %q", ve.Field)
			}
		})
	}
	t.Run("every problem reported", func(t *testing.T) {
		t.Parallel()
		s := valid()
		s.TimeZone = "Nowhere/Else"
		s.Layers[0].Shift.Count = 0
		s.Overrides[1].End = time.Time{}
		_, err := Compile(s)
		var fields []string
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			fields = append(fields, e.(*ValidationError).Field)
		}
		if got, want := strings.Join(fields, " "), "time_zone layers[0].shift.count overrides[1]"; got != want {
			t.Fatalf("fields = %s, want %s", got, want)
		}
	})
}

func TestCompileCopiesInput(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	s := Schedule{TimeZone: "UTC", Layers: []Layer{{Participants: []string{"alice", "bob"}, Start: start, Shift: ShiftLength{1, Days}}}}
	c := mustCompile(t, s)
	s.Layers[0].Participants[0] = "mallory"
	if got, _ := c.OnCall(start); got.User != "alice" {
		t.Fatalf("OnCall after editing the input = %s, want alice", got.User)
	}
}

func TestUnitAndKindText(t *testing.T) {
	t.Parallel()
	for _, u := range []Unit{Hours, Days, Weeks} {
		b, err := u.MarshalText()
		var back Unit
		if err != nil || back.UnmarshalText(b) != nil || back != u {
			t.Errorf("unit %v: round trip gave %v (%v)", u, back, err)
		}
	}
	for _, k := range []RestrictionKind{Daily, Weekly} {
		b, err := k.MarshalText()
		var back RestrictionKind
		if err != nil || back.UnmarshalText(b) != nil || back != k {
			t.Errorf("kind %v: round trip gave %v (%v)", k, back, err)
		}
	}
	var u Unit
	if err := u.UnmarshalText([]byte("fortnights")); err == nil {
		t.Error("unmarshal of an unknown unit succeeded")
	}
	if _, err := Unit(9).MarshalText(); err == nil {
		t.Error("marshal of an unknown unit succeeded")
	}
}

// TestConcurrentQueries lets the race detector check that a Compiled is
// read-only.
func TestConcurrentQueries(t *testing.T) {
	t.Parallel()
	loc := mustLoad(t, "America/New_York")
	start := local(t, loc, "2026-01-05 09:00")
	c := mustCompile(t, Schedule{TimeZone: "America/New_York", Layers: []Layer{
		{Participants: abc, Start: start, Shift: ShiftLength{1, Days}, Restrictions: []Restriction{{Kind: Daily, StartTime: "09:00", Duration: 8 * time.Hour}}},
	}, Overrides: []Override{{ID: "o", User: "zed", Start: start, End: start.Add(time.Hour)}}})
	done := make(chan []Shift)
	for g := range 4 {
		go func() {
			from := start.AddDate(0, 0, g)
			c.OnCall(from)
			done <- c.Render(from, from.AddDate(0, 1, 0))
		}()
	}
	for range 4 {
		if r := <-done; len(r) == 0 {
			t.Error("empty render")
		}
	}
}

// TestFarInstants checks queries centuries away from the rotation epoch,
// beyond time.Duration's 292-year range.
func TestFarInstants(t *testing.T) {
	t.Parallel()
	loc := mustLoad(t, "America/New_York")
	start := local(t, loc, "2026-01-05 09:00")
	for _, u := range []Unit{Hours, Days, Weeks} {
		c := mustCompile(t, Schedule{TimeZone: "America/New_York", Layers: []Layer{{Participants: abc, Start: start, Shift: ShiftLength{5, u}}}})
		tests := []struct {
			name string
			at   time.Time
			ok   bool
		}{
			{"zero time", time.Time{}, false},
			{"year 2626", time.Date(2626, 7, 1, 12, 0, 0, 0, loc), true},
			{"year 9999", time.Date(9999, 7, 1, 12, 0, 0, 0, loc), true},
		}
		for _, tc := range tests {
			t.Run(u.String()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				s, ok := c.OnCall(tc.at)
				if ok != tc.ok || tc.at.Before(s.Start) || !tc.at.Before(s.End) {
					t.Fatalf("OnCall(%s) = %s, %v", tc.at, fmtShift(s, loc), ok)
				}
				if ok && u != Hours && s.Start.In(loc).Format("15:04") != "09:00" {
					t.Fatalf("OnCall(%s) = %s: handoff not at 09:00", tc.at, fmtShift(s, loc))
				}
				if ok && u == Hours && floorSeconds(s.Start, start)%(5*3600) != 0 {
					t.Fatalf("OnCall(%s) = %s: not a whole number of shifts from the start", tc.at, fmtShift(s, loc))
				}
			})
		}
	}
}

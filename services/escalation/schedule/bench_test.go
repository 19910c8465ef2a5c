package schedule

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchSchedule is a realistic three-layer schedule in a DST zone: a weekly
// round-the-clock primary, a daily business-hours layer (weekday windows) and
// a 12-hour follow-the-sun layer on weekends, with 50 overrides over the year.
func benchSchedule(b *testing.B, firstUnit Unit) (*Compiled, time.Time) {
	b.Helper()
	loc := mustLoad(b, "Europe/Berlin")
	year := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
	start := time.Date(2025, 12, 29, 9, 0, 0, 0, loc)
	people := []string{"ann", "ben", "cat", "dan", "eli", "fay"}
	var weekdays []Restriction
	for d := time.Monday; d <= time.Friday; d++ {
		weekdays = append(weekdays, Restriction{Kind: Weekly, StartDay: d, StartTime: "09:00", Duration: 8 * time.Hour})
	}
	s := Schedule{
		TimeZone: "Europe/Berlin",
		Layers: []Layer{
			{Participants: people, Start: start, Shift: ShiftLength{1, firstUnit}},
			{Participants: people[:4], Start: start, Shift: ShiftLength{1, Days}, Restrictions: weekdays},
			{Participants: people[2:], Start: start, Shift: ShiftLength{12, Hours},
				Restrictions: []Restriction{{Kind: Weekly, StartDay: time.Saturday, StartTime: "00:00", Duration: 48 * time.Hour}}},
		},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		st := year.Add(time.Duration(r.Int64N(int64(360 * 24 * time.Hour)))).Truncate(time.Hour)
		s.Overrides = append(s.Overrides, Override{ID: fmt.Sprintf("o%d", i), User: people[r.IntN(len(people))], Start: st, End: st.Add(time.Duration(1+r.IntN(48)) * time.Hour)})
	}
	c, err := Compile(s)
	if err != nil {
		b.Fatal(err)
	}
	return c, year
}

func BenchmarkOnCall(b *testing.B) {
	c, year := benchSchedule(b, Weeks)
	r := rand.New(rand.NewPCG(3, 4))
	ts := make([]time.Time, 1024)
	for i := range ts {
		ts[i] = year.Add(time.Duration(r.Int64N(int64(365 * 24 * time.Hour))))
	}
	for i := 0; b.Loop(); i++ {
		c.OnCall(ts[i%len(ts)])
	}
}

func BenchmarkRenderYear(b *testing.B) {
	c, year := benchSchedule(b, Days)
	end := year.AddDate(1, 0, 0)
	var n int
	for b.Loop() {
		n = len(c.Render(year, end))
	}
	b.ReportMetric(float64(n), "segments")
}

package schedule

import (
	"fmt"
	"testing"
)

func FuzzParseClock(f *testing.F) {
	for _, s := range []string{"09:00", "00:00", "23:59", "24:00", "9:00", "09:60", "0900", "09:0a", "", "١٢:٠٠"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sec, err := parseClock(s)
		if err != nil {
			return
		}
		if sec < 0 || sec >= secondsPerDay || sec%60 != 0 {
			t.Fatalf("parseClock(%q) = %d", s, sec)
		}
		// Accepted input is exactly the canonical form.
		if canon := fmt.Sprintf("%02d:%02d", sec/3600, sec%3600/60); canon != s {
			t.Fatalf("parseClock(%q) accepted non-canonical input (%s)", s, canon)
		}
	})
}

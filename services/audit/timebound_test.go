package audit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/services/audit"
)

func TestParseTimeBound(t *testing.T) {
	now := time.Date(2026, 3, 30, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in, want, err string
	}{
		{in: "2026-03-02T09:00:00Z", want: "2026-03-02T09:00:00Z"},
		{in: "2026-03-02T09:00:00.5+02:00", want: "2026-03-02T07:00:00.5Z"},
		{in: "30d", want: "2026-02-28T12:00:00Z"},
		{in: "12h", want: "2026-03-30T00:00:00Z"},
		{in: "90m", want: "2026-03-30T10:30:00Z"},
		{in: "45s", want: "2026-03-30T11:59:15Z"},
		{in: "2w", want: "2026-03-16T12:00:00Z"},
		{in: "0h", want: "2026-03-30T12:00:00Z"},
		{in: "", err: "must not be empty"},
		{in: "30", err: "a whole number and a unit"},
		{in: "d", err: "a whole number and a unit"},
		{in: "30y", err: "a whole number and a unit"},
		{in: "1.5h", err: "a whole number and a unit"},
		{in: "-3d", err: "not a valid RFC 3339 time"},
		{in: "3 d", err: "a whole number and a unit"},
		{in: "1h30m", err: "a whole number and a unit"},
		{in: "36501d", err: "more than 100 years"},
		{in: "99999999999999999999h", err: "more than 100 years"},
		{in: "2026-03-02", err: "not a valid RFC 3339 time"},
		{in: "2026-03-02T25:00:00Z", err: "not a valid RFC 3339 time"},
	} {
		got, err := audit.ParseTimeBound(tt.in, now)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseTimeBound(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !got.Equal(mustTime(t, tt.want)) {
			t.Errorf("ParseTimeBound(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// FuzzParseTimeBound: any input either fails with an error or gives a
// time; a relative one is never after now nor more than 100 years back.
func FuzzParseTimeBound(f *testing.F) {
	for _, s := range []string{"30d", "12h", "90m", "2w", "2026-03-02T09:00:00Z", "", "1.5h", "-3d", "99999999999999999999h"} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 30, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := audit.ParseTimeBound(s, now)
		if err != nil {
			if !got.IsZero() {
				t.Fatalf("error %v with a time %v", err, got)
			}
			return
		}
		if _, rfcErr := time.Parse(time.RFC3339Nano, s); rfcErr == nil {
			return
		}
		if got.After(now) || now.Sub(got) > 100*365*24*time.Hour {
			t.Fatalf("ParseTimeBound(%q) = %v, outside (now-100y, now]", s, got)
		}
	})
}

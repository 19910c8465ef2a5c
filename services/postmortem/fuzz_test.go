package postmortem_test

import (
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/postmortem"
)

var fuzzNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// FuzzParseSince: every input is either refused with an Invalid error
// naming "since", or read as an instant before now and at most ten years
// back.
func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"30d", "12h", "2w", "90m", "1h30m", "2026-11-01", "2026-11-01T10:00:00+01:00", "0d", "-5h", "999999w", "yesterday", "", "30D", "1e9h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := postmortem.ParseSince(s, fuzzNow)
		if err != nil {
			if fault.KindOf(err) != fault.Invalid || fault.DetailsOf(err)["field"] != "since" {
				t.Fatalf("%q: error %v is not an Invalid error naming since", s, err)
			}
			return
		}
		if !got.Before(fuzzNow) || fuzzNow.Sub(got) > 10*365*24*time.Hour {
			t.Fatalf("%q: %s is not in the last ten years", s, got)
		}
	})
}

// FuzzParseZone: a zone is loaded or refused naming "tz", never panics.
func FuzzParseZone(f *testing.F) {
	for _, s := range []string{"Europe/Berlin", "UTC", "", "Local", "../../etc/passwd", "America/New_York", "Mars/Olympus"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		loc, err := postmortem.ParseZone(s, time.UTC)
		if err != nil {
			if fault.DetailsOf(err)["field"] != "tz" {
				t.Fatalf("%q: %v does not name tz", s, err)
			}
			return
		}
		if loc == nil || strings.Contains(s, "..") {
			t.Fatalf("%q accepted as %v", s, loc)
		}
	})
}

// FuzzQueryValues: the format, grouping and state parsers accept only their
// values and name the field otherwise.
func FuzzQueryValues(f *testing.F) {
	for _, s := range []string{"json", "md", "csv", "", "pdf", "service", "severity", "team", "draft", "in_review", "published", "PUBLISHED"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, err := postmortem.ParseFormat(s, "json", "md", "csv"); err == nil {
			if got != "json" && got != "md" && got != "csv" {
				t.Fatalf("format %q read as %q", s, got)
			}
		} else if fault.DetailsOf(err)["field"] != "format" {
			t.Fatalf("format %q: %v", s, err)
		}
		if got, err := postmortem.ParseBy(s); err == nil {
			if got != "service" && got != "severity" {
				t.Fatalf("by %q read as %q", s, got)
			}
		} else if fault.DetailsOf(err)["field"] != "by" {
			t.Fatalf("by %q: %v", s, err)
		}
		if got, err := postmortem.ParseState(s); err == nil && string(got) != s {
			t.Fatalf("state %q read as %q", s, got)
		} else if err != nil && fault.DetailsOf(err)["field"] != "state" {
			t.Fatalf("state %q: %v", s, err)
		}
	})
}

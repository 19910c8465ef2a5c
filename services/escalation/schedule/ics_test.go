package schedule

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func TestICSGolden(t *testing.T) {
	t.Parallel()
	loc := mustLoad(t, "Europe/Berlin")
	start := local(t, loc, "2026-03-23 09:00") // the week of Berlin's spring change
	c := mustCompile(t, Schedule{
		TimeZone: "Europe/Berlin",
		Layers:   []Layer{{Participants: []string{"alice", "bob, the builder; jr.", `back\slash`}, Start: start, Shift: ShiftLength{1, Weeks}}},
		Overrides: []Override{
			{ID: "swap", User: "Zoë Ångström-Łukasiewicz\nsecond line", Start: local(t, loc, "2026-03-29 08:00"), End: local(t, loc, "2026-03-29 10:00")},
		},
	})
	shifts := c.Render(local(t, loc, "2026-03-23 00:00"), local(t, loc, "2026-04-13 09:00"))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	got := ICS("Payments primary — a calendar name long enough that it has to be folded twice at least, surely", shifts, "fb-sched-42", now)

	path := filepath.Join("testdata", "oncall.ics")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("ICS differs from %s (run with -update if intended):\n%s", path, got)
	}
	// The same shifts give the same UIDs.
	if again := ICS("Payments primary — a calendar name long enough that it has to be folded twice at least, surely", shifts, "fb-sched-42", now); !bytes.Equal(again, got) {
		t.Fatal("ICS is not deterministic")
	}
}

func TestICSStructure(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	shifts := []Shift{
		{User: "alice", Start: start, End: start.Add(time.Hour), Source: Source{Kind: SourceLayer}},
		{Start: start.Add(time.Hour), End: start.Add(2 * time.Hour)}, // gap: no event
		{User: strings.Repeat("ü", 100), Start: start.Add(2 * time.Hour), End: start.Add(3 * time.Hour), Source: Source{Kind: SourceOverride, Override: "o"}},
	}
	out := ICS("cal", shifts, "p", start)
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		t.Fatal("does not end in CRLF")
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n")
	for _, l := range lines {
		if len(l) > 75 {
			t.Errorf("line of %d octets: %q", len(l), l)
		}
		if strings.ContainsAny(l, "\r\n") {
			t.Errorf("bare CR or LF in %q", l)
		}
		if !utf8.ValidString(l) {
			t.Errorf("folding split a UTF-8 sequence: %q", l)
		}
	}
	unfolded := strings.ReplaceAll(string(out), "\r\n ", "")
	if n := strings.Count(unfolded, "BEGIN:VEVENT"); n != 2 {
		t.Errorf("%d events, want 2 (gaps have none)", n)
	}
	for _, want := range []string{
		"DTSTART:20260105T090000Z\r\n", "DTEND:20260105T100000Z\r\n", "DTSTAMP:20260105T090000Z\r\n",
		"SUMMARY:On call: alice\r\n", "SUMMARY:On call: " + strings.Repeat("ü", 100) + "\r\n",
		"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", "END:VCALENDAR\r\n",
	} {
		if !strings.Contains(unfolded, want) {
			t.Errorf("missing %q", want)
		}
	}
}

func TestEscapeText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{`a\b`, `a\\b`},
		{"a;b,c", `a\;b\,c`},
		{"one\ntwo\r\nthree", `one\ntwo\nthree`},
		{"tab\tbell\x07del\x7f", "tab\tbelldel"},
		{"Zoë", "Zoë"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			if got := escapeText(tc.in); got != tc.want {
				t.Fatalf("escapeText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestWriteFolded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []int // physical line lengths, CRLF excluded
	}{
		{"short", "SUMMARY:x", []int{9}},
		{"exactly 75", strings.Repeat("a", 75), []int{75}},
		{"76", strings.Repeat("a", 76), []int{75, 2}},
		{"three lines", strings.Repeat("a", 75+74+10), []int{75, 75, 11}},
		// A two-octet rune would straddle octet 75: the line breaks before it.
		{"no split rune", strings.Repeat("a", 74) + "éz", []int{74, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			writeFolded(&b, tc.in)
			lines := strings.Split(strings.TrimSuffix(b.String(), "\r\n"), "\r\n")
			var got []int
			for _, l := range lines {
				got = append(got, len(l))
			}
			if strings.ReplaceAll(b.String(), "\r\n ", "") != tc.in+"\r\n" {
				t.Fatalf("unfolds to %q", b.String())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("line lengths %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("line lengths %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestForUser(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	shifts := []Shift{
		{User: "alice", Start: start, End: start.Add(time.Hour)},
		{User: "bob", Start: start.Add(time.Hour), End: start.Add(2 * time.Hour)},
		{Start: start.Add(2 * time.Hour), End: start.Add(3 * time.Hour)},
		{User: "alice", Start: start.Add(3 * time.Hour), End: start.Add(4 * time.Hour)},
	}
	if got := ForUser(shifts, "alice"); len(got) != 2 || got[0].User != "alice" || got[1].User != "alice" {
		t.Errorf("ForUser(alice) = %v", got)
	}
	if got := ForUser(shifts, ""); len(got) != 0 {
		t.Errorf("ForUser(\"\") = %v, want no gaps", got)
	}
}

package incident

import (
	"strings"
	"testing"
)

// FuzzParseRef: incident references come from URLs, CLI arguments and
// Slack text.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"INC-42", "inc-1", "42", "0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d5e", "", "INC-", "INC-00", "INC-99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		if (r.Number > 0) == (r.ID != "") {
			t.Fatalf("ParseRef(%q) = %+v: exactly one of number and id must be set", s, r)
		}
		if r.ID != "" && (len(r.ID) > 64 || strings.TrimSpace(r.ID) != r.ID) {
			t.Fatalf("ParseRef(%q) kept id %q", s, r.ID)
		}
	})
}

// FuzzCursor: list cursors come back from clients.
func FuzzCursor(f *testing.F) {
	f.Add(encodeCursor(42))
	f.Add("bjox")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := decodeCursor(s)
		if err != nil {
			return
		}
		if n < 1 {
			t.Fatalf("decodeCursor(%q) = %d", s, n)
		}
		if m, err := decodeCursor(encodeCursor(n)); err != nil || m != n {
			t.Fatalf("cursor %d does not round-trip", n)
		}
	})
}

package token

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzParse: token strings come from any HTTP client. No input panics;
// whatever parses has exactly the shape the store hands out, and its id is a
// valid bucket key; every token the store makes parses to its id.
func FuzzParse(f *testing.F) {
	for range 3 {
		_, s, err := newSecret()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
	}
	f.Add(dummyToken)
	f.Add("")
	f.Add("fbt_")
	f.Add("fbt_0123456789abcdef_")
	f.Add("fb_admin_0123456789abcdef0123456789abcdef0123456789abcdef")
	f.Add("fbt_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB")
	f.Add("fbt_0123456789ABCDEF_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("fbt_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := Parse(s)
		if !ok {
			if id != "" {
				t.Fatalf("Parse(%q) refused but returned id %q", s, id)
			}
			return
		}
		if !validID(id) || len(s) != tokenLen || !strings.HasPrefix(s, prefix+id+"_") {
			t.Fatalf("Parse(%q) accepted id %q", s, id)
		}
		if strings.ContainsAny(s, " \t\r\n=+/.*>") {
			t.Fatalf("Parse(%q) accepted a character outside the token alphabet", s)
		}
		// One secret, one spelling: re-encoding the decoded secret gives
		// the same string.
		if got := reencode(t, s); got != s {
			t.Fatalf("Parse(%q) accepted a non-canonical spelling of %q", s, got)
		}
	})
}

func reencode(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s[len(prefix)+idLen+1:])
	if err != nil || len(b) != secretBytes {
		t.Fatalf("accepted token does not decode to %d bytes: %d %v", secretBytes, len(b), err)
	}
	return prefix + s[len(prefix):len(prefix)+idLen] + "_" + base64.RawURLEncoding.EncodeToString(b)
}

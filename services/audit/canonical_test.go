package audit_test

import (
	"testing"

	"github.com/firebreak-dev/firebreak/services/audit"
)

func TestCanonicalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"sorted keys, no whitespace", `{ "b": 1, "a" : [ 1, 2 ], "c": {"z": null, "y": true} }`, `{"a":[1,2],"b":1,"c":{"y":true,"z":null}}`},
		{"nested arrays keep order", `[3, [2, 1], {"b":false,"a":""}]`, `[3,[2,1],{"a":"","b":false}]`},
		{"integers", `[0, -0, 10, -7, 9007199254740991]`, `[0,0,10,-7,9007199254740991]`},
		{"fractions and exponents", `[1.0, 1.50, 2e3, 1E-7, 1e21, 123456789e10, 123456789e15, 0.000001]`, `[1,1.5,2000,1e-7,1e+21,1234567890000000000,1.23456789e+23,0.000001]`},
		{"string escapes", `"a\"b\\c\/d\n\t\u0001\u00e9\u2028"`, "\"a\\\"b\\\\c/d\\n\\t\\u0001é\u2028\""},
		{"no HTML escaping", `"<a&b>"`, `"<a&b>"`},
		// RFC 8785 §3.2.3: names sort by UTF-16 code units, so U+1F600
		// (a surrogate pair, D83D…) comes before U+FB01.
		{"utf16 key order", `{"\ufb01":1,"\ud83d\ude00":2,"a":3}`, "{\"a\":3,\"\U0001F600\":2,\"\ufb01\":1}"},
		{"empty containers", ` { "a" : { } , "b" : [ ] } `, `{"a":{},"b":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := audit.Canonicalize([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			again, err := audit.Canonicalize(got)
			if err != nil || string(again) != string(got) {
				t.Fatalf("not idempotent: %s, %v", again, err)
			}
		})
	}
}

func TestCanonicalizeRejects(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"duplicate key": `{"a":1,"a":2}`,
		"trailing data": `{"a":1} {}`,
		"overflow":      `1e400`,
		"truncated":     `{"a":`,
		"not json":      `nope`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got, err := audit.Canonicalize([]byte(in)); err == nil {
				t.Fatalf("accepted %s as %s", in, got)
			}
		})
	}
}

func FuzzCanonicalize(f *testing.F) {
	f.Add([]byte(`{"b":[1,2.5,"x"],"a":{"c":null}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := audit.Canonicalize(in)
		if err != nil {
			return
		}
		again, err := audit.Canonicalize(got)
		if err != nil || string(again) != string(got) {
			t.Fatalf("canonical form not stable: %q → %q (%v)", got, again, err)
		}
	})
}

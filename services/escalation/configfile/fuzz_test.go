package configfile_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/escalation/configfile"
)

// FuzzParse checks that Parse never panics, that every error it returns is
// an *Error, and that a file Parse and Validate accept survives
// Marshal and Parse unchanged. The corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	if rich, err := configfile.Marshal(rich()); err == nil {
		f.Add(rich)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, idx, err := configfile.Parse(data)
		if err != nil {
			for _, e := range configfile.Errors(err) {
				if e.Msg == "" {
					t.Fatalf("empty error message in %v", err)
				}
			}
			return
		}
		errs := escalation.Validate(c)
		for _, e := range errs {
			idx.Line(e.Field) // must not panic
		}
		if len(errs) > 0 {
			return
		}
		out, err := configfile.Marshal(c)
		if err != nil {
			t.Fatalf("Marshal of a valid configuration: %v", err)
		}
		back, _, err := configfile.Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal(c)): %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("Parse(Marshal(c)) != c: %v\n%s", escalation.Diff(c, back), out)
		}
		if again, _ := configfile.Marshal(back); !bytes.Equal(again, out) {
			t.Fatalf("Marshal not stable:\n%s\n---\n%s", out, again)
		}
	})
}

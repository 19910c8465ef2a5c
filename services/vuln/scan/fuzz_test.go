package scan_test

import (
	"errors"
	"os"
	"testing"

	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
	"github.com/firebreak-dev/firebreak/services/vuln/scan"
)

// check holds for every finding a parser returns: the key is set and the
// severity agrees with the score and vector.
func check(t *testing.T, fs []scan.Finding, err error) {
	if err != nil {
		if !errors.Is(err, scan.ErrMalformed) {
			t.Fatalf("error is not ErrMalformed: %v", err)
		}
		return
	}
	seen := map[[2]string]bool{}
	for _, f := range fs {
		if f.Component == "" || f.AdvisoryID == "" {
			t.Fatalf("finding without key: %+v", f)
		}
		k := [2]string{f.Component, f.AdvisoryID}
		if seen[k] {
			t.Fatalf("duplicate key %v", k)
		}
		seen[k] = true
		if f.Vector != "" {
			s, perr := cvss.Parse(f.Vector)
			if perr != nil || s.Severity != f.Severity {
				t.Fatalf("vector %q: %v, severity %s vs %s", f.Vector, perr, s.Severity, f.Severity)
			}
		}
		if f.Severity == "" {
			t.Fatalf("no severity: %+v", f)
		}
	}
}

func FuzzTrivy(f *testing.F) {
	b, _ := os.ReadFile("testdata/trivy.json")
	f.Add(b)
	f.Add([]byte(`{"SchemaVersion":2}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		fs, err := scan.ParseTrivy(in)
		check(t, fs, err)
	})
}

func FuzzOSV(f *testing.F) {
	b, _ := os.ReadFile("testdata/osv.json")
	f.Add(b)
	f.Add([]byte(`{"results":[]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		fs, err := scan.ParseOSV(in)
		check(t, fs, err)
	})
}

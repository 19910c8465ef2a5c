package cvss_test

import (
	"fmt"
	"testing"

	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
)

func fmtF(f float64) string { return fmt.Sprintf("%.1f", f) }
func fmtAny(v any) string   { return fmt.Sprint(v) }

// FuzzParse checks that Parse never panics, that accepted vectors score
// within 0–10 with the severity of their score, and that the normalized
// vector parses to the same score.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
		"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N/CR:L/MS:C",
		"CVSS:3.1/AV:P/AC:H/PR:H/UI:N/S:U/C:H/I:H/A:H/E:F/RL:U/RC:C/CR:M/IR:H/AR:M/MAV:L/MAC:H/MPR:L/MUI:R/MS:U/MC:L/MI:H/MA:L",
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U",
		"CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:P/VC:N/VI:H/VA:H/SC:N/SI:L/SA:L/E:P/CR:H/IR:M/AR:H/MAV:A/MAT:P/MPR:N/MVI:H/MVA:N/MSI:H/MSA:N/S:N/V:C/U:Amber",
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/AV:L",
		"CVSS:2.0/AV:N",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, vector string) {
		s, err := cvss.Parse(vector)
		if err != nil {
			return
		}
		for _, v := range []*float64{&s.BaseScore, s.TemporalScore, s.EnvironmentalScore, &s.Score} {
			if v != nil && (*v < 0 || *v > 10) {
				t.Fatalf("%q: score %v out of 0–10: %+v", vector, *v, s)
			}
		}
		if s.Severity != cvss.SeverityOf(s.Score) {
			t.Fatalf("%q: severity %s for score %v", vector, s.Severity, s.Score)
		}
		again, err := cvss.Parse(s.Vector)
		if err != nil {
			t.Fatalf("normalized %q of %q: %v", s.Vector, vector, err)
		}
		if again.Score != s.Score || again.Vector != s.Vector {
			t.Fatalf("normalized %q scores %v, original %q %v", again.Vector, again.Score, vector, s.Score)
		}
	})
}

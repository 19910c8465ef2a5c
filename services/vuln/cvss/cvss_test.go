package cvss_test

import (
	"errors"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
)

func ptr(f float64) *float64 { return &f }

// TestParseV31Examples scores the vectors of FIRST's "CVSS v3.1 Examples"
// document (first.org/cvss/v3.1/examples); each expected base score is the
// one printed there for the CVE named.
func TestParseV31Examples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		vector string
		base   float64
		sev    cvss.Severity
	}{
		{"CVE-2013-1937 phpMyAdmin reflected XSS", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, cvss.Medium},
		{"CVE-2013-0375 MySQL stored SQL injection", "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4, cvss.Medium},
		{"CVE-2014-3566 SSLv3 POODLE", "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1, cvss.Low},
		{"CVE-2012-1516 VMware guest to host escape", "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9, cvss.Critical},
		{"CVE-2009-0783 Apache Tomcat XML parser", "CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L", 4.2, cvss.Medium},
		{"CVE-2012-0384 Cisco IOS command execution", "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8, cvss.High},
		{"CVE-2015-1098 Apple iWork denial of service", "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8, cvss.High},
		{"CVE-2014-0160 OpenSSL Heartbleed", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, cvss.High},
		{"CVE-2014-6271 GNU Bash Shellshock", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, cvss.Critical},
		{"CVE-2008-1447 DNS Kaminsky bug", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N", 6.8, cvss.Medium},
		{"CVE-2014-2005 Sophos login screen bypass", "CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8, cvss.Medium},
		{"CVE-2010-0467 Joomla directory traversal", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N", 5.8, cvss.Medium},
		{"CVE-2012-1342 Cisco access control bypass", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:L/A:N", 5.8, cvss.Medium},
		{"CVE-2013-6014 Juniper proxy ARP denial of service", "CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:C/C:N/I:H/A:H", 9.3, cvss.Critical},
		{"CVE-2014-9253 DokuWiki reflected XSS", "CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N", 5.4, cvss.Medium},
		{"CVE-2011-1265 Microsoft Windows Bluetooth RCE", "CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.8, cvss.High},
		{"CVE-2014-2019 Apple iOS security control bypass", "CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N", 4.6, cvss.Medium},
		{"CVE-2015-0970 SearchBlox CSRF", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8, cvss.High},
		{"CVE-2014-0224 OpenSSL CCS injection", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N", 7.4, cvss.High},
		{"CVE-2016-1645 Google Chrome PDFium", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8, cvss.High},
		{"CVE-2016-5729 Lenovo BIOS", "CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:C/C:H/I:H/A:H", 8.2, cvss.High},
		{"CVE-2018-3652 Intel Xeon debug interface", "CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 7.6, cvss.High},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := cvss.Parse(tt.vector)
			if err != nil {
				t.Fatal(err)
			}
			want := cvss.Score{Version: "3.1", Vector: tt.vector, BaseScore: tt.base, Score: tt.base, Severity: tt.sev}
			assertScore(t, got, want)
		})
	}
}

// TestParse covers temporal, environmental, v3.0 and v4.0 scoring and the
// edge cases. Each case says where its numbers come from.
func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		vector string
		want   cvss.Score
	}{
		{
			// first.org/cvss/calculator/3.1 for this vector: 6.1 / 5.6 / 5.6
			// (also the worked example in the cvssrust README). Temporal =
			// Roundup(6.1 × 0.94 × 0.97 × 1) = Roundup(5.56198) = 5.6; the
			// environmental score with no environmental metric defined is
			// not reported.
			name:   "v3.1 temporal",
			vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N/E:P/RL:W/RC:C",
			want: cvss.Score{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N/E:P/RL:W/RC:C",
				BaseScore: 6.1, TemporalScore: ptr(5.6), Score: 5.6, Severity: cvss.Medium},
		},
		{
			// CVE-2020-1472 (ZeroLogon) with temporal metrics, the example of
			// the goark/go-cvss README: base 10.0, temporal 9.1 =
			// Roundup(10 × 0.97 × 0.97 × 0.96 = 9.0326).
			name:   "v3.1 scope changed, temporal lowers the severity",
			vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H/E:F/RL:W/RC:R",
			want: cvss.Score{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H/E:F/RL:W/RC:R",
				BaseScore: 10, TemporalScore: ptr(9.1), Score: 9.1, Severity: cvss.Critical},
		},
		{
			// Environmental example of the goark/go-cvss README, worked by
			// hand from the v3.1 specification section 7.3: MISS =
			// min(1−(1−0.22×1)(1−0.56×1.5)(1−0.22×1), 0.915) = 0.902656;
			// M.Impact = 6.42 × MISS = 5.7951; M.Exploitability = 8.22 ×
			// 0.55 × 0.44 × 0.62 × 0.62 = 0.7647; Roundup(Roundup(6.5598) ×
			// 0.97) = Roundup(6.402) = 6.5. Base: Roundup(5.8731+0.1660) = 6.1;
			// temporal Roundup(6.1 × 0.97) = Roundup(5.917) = 6.0.
			name:   "v3.1 environmental, metrics in any order",
			vector: "CVSS:3.1/MA:L/AV:P/AC:H/PR:H/UI:N/S:U/C:H/I:H/A:H/E:F/RL:U/RC:C/CR:M/IR:H/AR:M/MAV:L/MAC:H/MPR:L/MUI:R/MS:U/MC:L/MI:H",
			want: cvss.Score{Version: "3.1",
				Vector:    "CVSS:3.1/AV:P/AC:H/PR:H/UI:N/S:U/C:H/I:H/A:H/E:F/RL:U/RC:C/CR:M/IR:H/AR:M/MAV:L/MAC:H/MPR:L/MUI:R/MS:U/MC:L/MI:H/MA:L",
				BaseScore: 6.1, TemporalScore: ptr(6.0), EnvironmentalScore: ptr(6.5), Score: 6.5, Severity: cvss.Medium},
		},
		{
			// Metrics set to X (Not Defined) do not count: the score is the
			// base score, and the normalized vector drops them.
			name:   "v3.1 temporal all X",
			vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:X/RL:X/RC:X/MAV:X",
			want: cvss.Score{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
				BaseScore: 9.8, Score: 9.8, Severity: cvss.Critical},
		},
		{
			// v3.1 specification section 7.1: "If Impact sub score <= 0, 0".
			name:   "all impacts None: 0.0, severity None",
			vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N",
			want: cvss.Score{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N",
				BaseScore: 0, Score: 0, Severity: cvss.None},
		},
		{
			name:   "all impacts None with scope changed",
			vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:N/A:N",
			want: cvss.Score{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:N/A:N",
				BaseScore: 0, Score: 0, Severity: cvss.None},
		},
		{
			// Lowest non-zero v3.1 base score, worked by hand: Impact = 6.42 ×
			// 0.22 = 1.4124; Exploitability = 8.22 × 0.2 × 0.44 × 0.27 × 0.62
			// = 0.1211; Roundup(1.5335) = 1.6.
			name:   "least severe Low",
			vector: "CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
			want: cvss.Score{Version: "3.1", Vector: "CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
				BaseScore: 1.6, Score: 1.6, Severity: cvss.Low},
		},
		{
			// v3.1 specification Appendix A: Roundup works on the input
			// rounded to 5 decimals, so 10.0 × 0.92, which is
			// 9.200000000000001 in binary floating point, is 9.2; a naive
			// ceiling (the floating-point bug Appendix A fixes) gives 9.3.
			name:   "Roundup boundary: 9.200000000000001 is 9.2",
			vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H/RC:U",
			want: cvss.Score{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H/RC:U",
				BaseScore: 10, TemporalScore: ptr(9.2), Score: 9.2, Severity: cvss.Critical},
		},
		{
			// Same base (9.1, a Roundup of 9.07 upwards: Impact 5.1771 +
			// Exploitability 3.8870 = 9.0641) in v3.0 and v3.1; the
			// environmental score differs because v3.1 changed the Modified
			// Impact formula for MS:C (v3.1 specification section 7.3 and
			// user guide section 2.6, "Formula Changes"). Worked by hand,
			// MISS = 1−(1−0.56×0.5)(1−0.56) = 0.6832:
			//   v3.0: 7.52×(MISS−0.029) − 3.25×(MISS−0.02)^15 = 4.9127;
			//         Roundup(1.08 × (4.9127+3.8870)) = Roundup(9.5037) = 9.6
			//   v3.1: 7.52×(MISS−0.029) − 3.25×(MISS×0.9731−0.02)^13 = 4.9088;
			//         Roundup(1.08 × (4.9088+3.8870)) = Roundup(9.4995) = 9.5
			name:   "v3.0 environmental, scope changed",
			vector: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N/CR:L/MS:C",
			want: cvss.Score{Version: "3.0", Vector: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N/CR:L/MS:C",
				BaseScore: 9.1, EnvironmentalScore: ptr(9.6), Score: 9.6, Severity: cvss.Critical},
		},
		{
			name:   "v3.1 environmental, scope changed",
			vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N/CR:L/MS:C",
			want: cvss.Score{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N/CR:L/MS:C",
				BaseScore: 9.1, EnvironmentalScore: ptr(9.5), Score: 9.5, Severity: cvss.Critical},
		},
		{
			// CVSS v3.0 specification section 8 examples use the same base
			// vectors; Heartbleed is 7.5 in both versions.
			name:   "v3.0 base",
			vector: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
			want: cvss.Score{Version: "3.0", Vector: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
				BaseScore: 7.5, Score: 7.5, Severity: cvss.High},
		},
		{
			name:   "surrounding white space is ignored",
			vector: "  CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N\n",
			want: cvss.Score{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
				BaseScore: 7.5, Score: 7.5, Severity: cvss.High},
		},
		// CVSS v4.0: scores from FIRST's "CVSS v4.0 Examples" document and
		// the v4.0 calculator (first.org/cvss/calculator/4.0), which
		// go-cvss is tested against.
		{
			// Full impact on the vulnerable and subsequent systems (e.g.
			// CVE-2021-44228 Log4Shell in the v4.0 examples): 10.0.
			name:   "v4.0 maximum",
			vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H",
			want: cvss.Score{Version: "4.0", Vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H",
				BaseScore: 10, Score: 10, Severity: cvss.Critical},
		},
		{
			// Calculator: CVSS-B 9.3 (macro vector 000200).
			name:   "v4.0 no subsequent system impact",
			vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
			want: cvss.Score{Version: "4.0", Vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
				BaseScore: 9.3, Score: 9.3, Severity: cvss.Critical},
		},
		{
			// Calculator: E:U (unreported exploit) lowers 10.0 to 9.1 (CVSS-BT).
			name:   "v4.0 threat metric",
			vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U",
			want: cvss.Score{Version: "4.0", Vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U",
				BaseScore: 10, Score: 9.1, Severity: cvss.Critical},
		},
		{
			// Calculator: CVSS-B 5.2, CVSS-BTE 4.7 with threat,
			// environmental and supplemental metrics (supplemental ones do
			// not change the score).
			name:   "v4.0 BTE with supplemental metrics",
			vector: "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:P/VC:N/VI:H/VA:H/SC:N/SI:L/SA:L/E:P/CR:H/IR:M/AR:H/MAV:A/MAT:P/MPR:N/MVI:H/MVA:N/MSI:H/MSA:N/S:N/V:C/U:Amber",
			want: cvss.Score{Version: "4.0", Vector: "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:P/VC:N/VI:H/VA:H/SC:N/SI:L/SA:L/E:P/CR:H/IR:M/AR:H/MAV:A/MAT:P/MPR:N/MVI:H/MVA:N/MSI:H/MSA:N/S:N/V:C/U:Amber",
				BaseScore: 5.2, Score: 4.7, Severity: cvss.Medium},
		},
		{
			// Calculator: the least exploitable vector with low impact, 1.0.
			name:   "v4.0 Low",
			vector: "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N",
			want: cvss.Score{Version: "4.0", Vector: "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N",
				BaseScore: 1, Score: 1, Severity: cvss.Low},
		},
		{
			// v4.0 specification section 8.2: no impact on any system is 0.0.
			name:   "v4.0 no impact",
			vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N",
			want: cvss.Score{Version: "4.0", Vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N",
				BaseScore: 0, Score: 0, Severity: cvss.None},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := cvss.Parse(tt.vector)
			if err != nil {
				t.Fatal(err)
			}
			assertScore(t, got, tt.want)
		})
	}
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		vector string
		msg    string
		metric string
	}{
		{"bad value", "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", `AV: invalid value "Q"`, "AV"},
		{"values are case-sensitive", "CVSS:3.1/AV:n/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", `AV: invalid value "n"`, "AV"},
		{"bad temporal value", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:Z", `E: invalid value "Z"`, "E"},
		{"empty value", "CVSS:3.1/AV:N/AC:/PR:N/UI:N/S:U/C:H/I:H/A:H", `AC: invalid value ""`, "AC"},
		{"no colon", "CVSS:3.1/AV:N/AC/PR:N/UI:N/S:U/C:H/I:H/A:H", `AC: missing value (want AC:<value>)`, "AC"},
		{"missing mandatory", "CVSS:3.1/AV:N/AC:L/UI:N/S:U/C:H/I:H/A:H", "missing mandatory metric PR", "PR"},
		{"missing everything", "CVSS:3.1/", "missing mandatory metric AV", "AV"},
		{"no slash after the prefix", "CVSS:3.1", "missing mandatory metric AV", "AV"},
		// v3.1 specification section 6: each metric at most once.
		{"duplicate", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/AV:L", "AV: defined more than once", "AV"},
		{"duplicate with the same value", "CVSS:3.0/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "AV: defined more than once", "AV"},
		{"unknown metric", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/XX:Y", `unknown metric "XX" in a CVSS v3.1 vector`, "XX"},
		{"v4.0 metric in v3.1", "CVSS:3.1/AV:N/AC:L/AT:N/PR:N/UI:N/S:U/C:H/I:H/A:H", `unknown metric "AT" in a CVSS v3.1 vector`, "AT"},
		{"stray slash", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/", `empty metric at position 9 (stray "/")`, ""},
		{"unsupported version", "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P", "unsupported version CVSS:2.0 (want CVSS:3.0, CVSS:3.1 or CVSS:4.0)", "CVSS"},
		{"v2 without prefix", "AV:N/AC:L/Au:N/C:P/I:P/A:P", "vector must start with CVSS:3.0/, CVSS:3.1/ or CVSS:4.0/ (CVSS v2 is not supported)", "CVSS"},
		{"empty", "", "empty vector", "CVSS"},
		{"v4.0 bad value", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:X/VA:H/SC:H/SI:H/SA:H", `VI: invalid value "X"`, "VI"},
		{"v4.0 missing", "CVSS:4.0/AV:N/AC:L/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", "missing mandatory metric AT", "AT"},
		// v4.0 specification section 7: metrics must be in the order of Table 23.
		{"v4.0 wrong order", "CVSS:4.0/AC:L/AV:N/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", "AV: out of order (CVSS v4.0 requires AV before AC)", "AV"},
		{"v4.0 optional metric out of order", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/CR:H/E:A", "E: out of order (CVSS v4.0 requires E before CR)", "E"},
		{"v4.0 duplicate", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:A/E:A", "E: defined more than once", "E"},
		{"v4.0 unknown", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/RL:W", `unknown metric "RL" in a CVSS v4.0 vector`, "RL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := cvss.Parse(tt.vector)
			if err == nil {
				t.Fatalf("Parse(%q) accepted", tt.vector)
			}
			if err.Error() != tt.msg {
				t.Errorf("error %q, want %q", err, tt.msg)
			}
			if !errors.Is(err, cvss.ErrInvalidVector) || !errors.Is(err, fault.Invalid) {
				t.Errorf("error %v is not ErrInvalidVector/Invalid", err)
			}
			if m := fault.DetailsOf(err)["metric"]; m != tt.metric {
				t.Errorf("metric %v, want %q", m, tt.metric)
			}
		})
	}
}

// TestSeverityOf checks the boundaries of the qualitative severity rating
// scale (v3.1 specification section 5, Table 14; v4.0 section 6).
func TestSeverityOf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		score float64
		want  cvss.Severity
	}{
		{0, cvss.None}, {0.1, cvss.Low}, {3.9, cvss.Low}, {4.0, cvss.Medium}, {6.9, cvss.Medium},
		{7.0, cvss.High}, {8.9, cvss.High}, {9.0, cvss.Critical}, {10, cvss.Critical},
	} {
		if got := cvss.SeverityOf(tt.score); got != tt.want {
			t.Errorf("SeverityOf(%v) = %s, want %s", tt.score, got, tt.want)
		}
	}
	for _, s := range []string{"critical", "HIGH", "Medium", "low", "none"} {
		if _, err := cvss.ParseSeverity(s); err != nil {
			t.Errorf("ParseSeverity(%q): %v", s, err)
		}
	}
	if _, err := cvss.ParseSeverity("urgent"); err == nil {
		t.Error("ParseSeverity(urgent) accepted")
	}
}

func assertScore(t *testing.T, got, want cvss.Score) {
	t.Helper()
	if got.Version != want.Version || got.Vector != want.Vector || got.BaseScore != want.BaseScore ||
		got.Score != want.Score || got.Severity != want.Severity ||
		!sameScore(got.TemporalScore, want.TemporalScore) || !sameScore(got.EnvironmentalScore, want.EnvironmentalScore) {
		t.Errorf("got  %s\nwant %s", show(got), show(want))
	}
}

func sameScore(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func show(s cvss.Score) string {
	f := func(p *float64) any {
		if p == nil {
			return "nil"
		}
		return *p
	}
	return s.Version + " " + s.Vector + " base=" + fmtF(s.BaseScore) + " temporal=" + fmtAny(f(s.TemporalScore)) +
		" env=" + fmtAny(f(s.EnvironmentalScore)) + " score=" + fmtF(s.Score) + " " + string(s.Severity)
}

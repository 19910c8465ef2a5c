// Package cvss parses CVSS vectors (v3.0, v3.1 and v4.0) and scores them.
//
// The arithmetic is github.com/pandatix/go-cvss's; this package adds one
// result type for every version, the qualitative severity, and errors that
// name the metric that is wrong, because the library reports most mistakes
// without saying where they are.
package cvss

import (
	"errors"
	"fmt"
	"math"
	"strings"

	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"

	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Versions of CVSS that Parse accepts.
const (
	V30 = "3.0"
	V31 = "3.1"
	V40 = "4.0"
)

// Severity is the qualitative severity rating of a score.
type Severity string

// The ratings of the qualitative severity rating scale (CVSS v3.1
// specification, section 5, Table 14; CVSS v4.0 specification, section 6).
const (
	None     Severity = "None"     // 0.0
	Low      Severity = "Low"      // 0.1–3.9
	Medium   Severity = "Medium"   // 4.0–6.9
	High     Severity = "High"     // 7.0–8.9
	Critical Severity = "Critical" // 9.0–10.0
)

// Severities lists the ratings from the least to the most severe.
func Severities() []Severity { return []Severity{None, Low, Medium, High, Critical} }

// SeverityOf rates a score on the qualitative scale. Scores are given to
// one decimal, so 3.95 (which no vector yields) rates as Medium.
func SeverityOf(score float64) Severity {
	switch {
	case score >= 9.0:
		return Critical
	case score >= 7.0:
		return High
	case score >= 4.0:
		return Medium
	case score > 0:
		return Low
	}
	return None
}

// ParseSeverity reads a rating by name, in any case ("high", "HIGH").
func ParseSeverity(s string) (Severity, error) {
	for _, v := range Severities() {
		if strings.EqualFold(s, string(v)) {
			return v, nil
		}
	}
	return "", fmt.Errorf("unknown severity %q (want none, low, medium, high or critical)", s)
}

// Score is a parsed and scored vector.
type Score struct {
	// Version is "3.0", "3.1" or "4.0".
	Version string `json:"version"`
	// Vector is the vector in the specification's metric order, without
	// metrics set to X (Not Defined).
	Vector string `json:"vector"`
	// BaseScore is the score of the base metrics alone (for v4.0, CVSS-B).
	BaseScore float64 `json:"base_score"`
	// TemporalScore is the v3 temporal score; nil for v4.0 and when no
	// temporal metric is defined.
	TemporalScore *float64 `json:"temporal_score"`
	// EnvironmentalScore is the v3 environmental score; nil for v4.0 and
	// when no environmental metric is defined.
	EnvironmentalScore *float64 `json:"environmental_score"`
	// Score is the one that applies: for v3 the environmental score if
	// there is one, else the temporal score if there is one, else the base
	// score; for v4.0 the score of every metric given (CVSS-B, -BT, -BE or -BTE).
	Score float64 `json:"score"`
	// Severity rates Score.
	Severity Severity `json:"severity"`
}

// ErrInvalidVector is the sentinel of every error Parse returns: errors.Is
// matches it, and fault.DetailsOf gives {"metric": the metric at fault}.
var ErrInvalidVector = fault.New(fault.Invalid, "invalid_cvss_vector", "invalid CVSS vector")

// invalid returns an ErrInvalidVector naming metric.
func invalid(metric, format string, args ...any) error {
	e := fault.Wrap(ErrInvalidVector, format, args...)
	e.Details = map[string]any{"metric": metric}
	return e
}

// Parse parses and scores a CVSS v3.0, v3.1 or v4.0 vector such as
// "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H". Surrounding white space
// is ignored; everything else is case-sensitive, as the specifications say.
// An invalid vector returns an ErrInvalidVector whose message names the
// metric: `AV: invalid value "Q"`, `missing mandatory metric PR`,
// `unsupported version CVSS:2.0`.
func Parse(vector string) (Score, error) {
	vector = strings.TrimSpace(vector)
	prefix, body, _ := strings.Cut(vector, "/")
	switch prefix {
	case "CVSS:3.0":
		return parse3(vector, V30, body, v30)
	case "CVSS:3.1":
		return parse3(vector, V31, body, v31)
	case "CVSS:4.0":
		return parse4(vector, body)
	}
	if strings.HasPrefix(prefix, "CVSS:") {
		return Score{}, invalid("CVSS", "unsupported version %s (want CVSS:3.0, CVSS:3.1 or CVSS:4.0)", prefix)
	}
	if vector == "" {
		return Score{}, invalid("CVSS", "empty vector")
	}
	// A v2 vector has no prefix: say so rather than "unknown metric".
	return Score{}, invalid("CVSS", "vector must start with CVSS:3.0/, CVSS:3.1/ or CVSS:4.0/ (CVSS v2 is not supported)")
}

// v3 is what CVSS30 and CVSS31 have in common.
type v3 interface {
	Get(abv string) (string, error)
	Vector() string
	BaseScore() float64
	TemporalScore() float64
	EnvironmentalScore() float64
}

// v3impl is one v3 minor version of the library.
type v3impl struct {
	parse func(string) (v3, error)
	// set sets one metric on an empty vector: how diagnose finds out
	// whether a metric or a value is the one at fault.
	set func(abv, value string) error
}

var (
	v30 = v3impl{
		parse: func(s string) (v3, error) { return gocvss30.ParseVector(s) },
		set:   func(a, v string) error { var c gocvss30.CVSS30; return c.Set(a, v) },
	}
	v31 = v3impl{
		parse: func(s string) (v3, error) { return gocvss31.ParseVector(s) },
		set:   func(a, v string) error { var c gocvss31.CVSS31; return c.Set(a, v) },
	}
)

// Metrics of v3 (v3.1 specification, section 6, Table 15).
var (
	base3          = []string{"AV", "AC", "PR", "UI", "S", "C", "I", "A"}
	temporal3      = []string{"E", "RL", "RC"}
	environmental3 = []string{"CR", "IR", "AR", "MAV", "MAC", "MPR", "MUI", "MS", "MC", "MI", "MA"}
)

func parse3(vector, version, body string, impl v3impl) (Score, error) {
	c, err := impl.parse(vector)
	if err != nil {
		return Score{}, diagnose(version, body, impl.set, base3, nil, err)
	}
	s := Score{Version: version, Vector: c.Vector(), BaseScore: round1(c.BaseScore())}
	s.Score = s.BaseScore
	if defined(c, temporal3) {
		t := round1(c.TemporalScore())
		s.TemporalScore, s.Score = &t, t
	}
	if defined(c, environmental3) {
		e := round1(c.EnvironmentalScore())
		s.EnvironmentalScore, s.Score = &e, e
	}
	s.Severity = SeverityOf(s.Score)
	return s, nil
}

// defined reports whether any of the metrics has a value other than X.
func defined(c v3, metrics []string) bool {
	for _, m := range metrics {
		if v, _ := c.Get(m); v != "X" && v != "" {
			return true
		}
	}
	return false
}

// order4 is the order of the v4.0 metrics, which the v4.0 specification
// (section 7, "Vector String") requires; the first 11 are mandatory.
var order4 = []string{
	// base
	"AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA",
	// threat
	"E",
	// environmental
	"CR", "IR", "AR", "MAV", "MAC", "MAT", "MPR", "MUI", "MVC", "MVI", "MVA", "MSC", "MSI", "MSA",
	// supplemental
	"S", "AU", "R", "V", "RE", "U",
}

const base4Count = 11

func set4(a, v string) error { var c gocvss40.CVSS40; return c.Set(a, v) }

func parse4(vector, body string) (Score, error) {
	c, err := gocvss40.ParseVector(vector)
	if err != nil {
		return Score{}, diagnose(V40, body, set4, order4[:base4Count], order4, err)
	}
	s := Score{Version: V40, Vector: c.Vector(), Score: round1(c.Score())}
	// The base score (CVSS-B) is the score of the base metrics alone: the
	// vector cut after SA, which is always the 11th metric.
	parts := strings.SplitN(s.Vector, "/", base4Count+2)
	b, err := gocvss40.ParseVector(strings.Join(parts[:base4Count+1], "/"))
	if err != nil {
		return Score{}, fmt.Errorf("cvss: score base metrics of %s: %w", s.Vector, err)
	}
	s.BaseScore = round1(b.Score())
	s.Severity = SeverityOf(s.Score)
	return s, nil
}

// diagnose finds which metric made the library reject a vector. The checks
// run in the order a reader would fix them: the first bad pair from the
// left, then missing metrics, then (v4.0) order.
func diagnose(version, body string, set func(a, v string) error, mandatory, order []string, libErr error) error {
	seen := map[string]bool{}
	var pairs []string
	if body != "" {
		pairs = strings.Split(body, "/")
	}
	for i, p := range pairs {
		abv, value, ok := strings.Cut(p, ":")
		switch {
		case p == "":
			return invalid("", "empty metric at position %d (stray \"/\")", i+1)
		case !ok:
			return invalid(abv, "%s: missing value (want %s:<value>)", abv, abv)
		}
		if err := set(abv, value); err != nil {
			if errors.Is(err, gocvss31.ErrInvalidMetricValue) || errors.Is(err, gocvss30.ErrInvalidMetricValue) ||
				errors.Is(err, gocvss40.ErrInvalidMetricValue) {
				return invalid(abv, "%s: invalid value %q", abv, value)
			}
			return invalid(abv, "unknown metric %q in a CVSS v%s vector", abv, version)
		}
		if seen[abv] {
			return invalid(abv, "%s: defined more than once", abv)
		}
		seen[abv] = true
	}
	for _, m := range mandatory {
		if !seen[m] {
			return invalid(m, "missing mandatory metric %s", m)
		}
	}
	if order != nil {
		pos := map[string]int{}
		for i, m := range order {
			pos[m] = i
		}
		last := ""
		for _, p := range pairs {
			abv, _, _ := strings.Cut(p, ":")
			if last != "" && pos[abv] < pos[last] {
				return invalid(abv, "%s: out of order (CVSS v4.0 requires %s before %s)", abv, abv, last)
			}
			last = abv
		}
	}
	// Nothing found: pass on the library's words rather than guess.
	return invalid("", "%v", libErr)
}

// round1 removes binary noise below the one decimal every score has.
func round1(x float64) float64 { return math.Round(x*10) / 10 }

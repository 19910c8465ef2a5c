// Package policy computes remediation deadlines ("SLA clocks") for
// vulnerabilities from a Policy: how long each severity may take to fix on
// each hosting type, when the clock starts and whether it pauses.
//
// Everything here is a pure function of its inputs, time included, so the
// vuln service can sweep every open vulnerability with one "now".
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
)

// Hosting is where the affected product runs; the policy gives each its
// own timeframes.
type Hosting string

// The hosting types.
const (
	Cloud      Hosting = "cloud"
	DataCenter Hosting = "datacenter" // Data Center and Server (customer-hosted)
)

// ParseHosting reads a hosting type; "server" and "data_center" mean
// DataCenter.
func ParseHosting(s string) (Hosting, error) {
	switch strings.ToLower(s) {
	case "cloud":
		return Cloud, nil
	case "datacenter", "data_center", "server":
		return DataCenter, nil
	}
	return "", fmt.Errorf("unknown hosting %q (want cloud or datacenter)", s)
}

// Week is the unit the Atlassian policy counts in.
const Week = 7 * 24 * time.Hour

// Policy is a remediation policy.
type Policy struct {
	// TimeToFix is, per hosting type, how long a vulnerability of each
	// severity (Low to Critical) may stay unfixed once its clock starts.
	TimeToFix map[Hosting]map[cvss.Severity]time.Duration
	// PauseWhileMitigated stops the clock while a vulnerability is
	// mitigated (a workaround is in place) but not yet fixed.
	PauseWhileMitigated bool
	// Warnings are the fractions of the time to fix (0 < f < 1, increasing)
	// at which a warning is due, e.g. 0.5 and 0.8.
	Warnings []float64
	// BugBountyTriage is how long after a bug-bounty report its clock
	// starts.
	BugBountyTriage time.Duration
}

// DefaultPolicy is the Atlassian Marketplace Security Bug Fix Policy:
//
//	              Critical  High   Medium  Low
//	cloud          4 w      6 w     8 w    25 w
//	datacenter    12 w     12 w    12 w    25 w
//
// with severity from the CVSS score (Critical ≥ 9.0, High ≥ 7.0, Medium ≥
// 4.0, Low < 4.0); the clock starts when the vulnerability is reported
// (acknowledged), or two weeks later for bug-bounty findings, which is
// their triage period. The policy does not stop the clock for a
// mitigation, so neither does DefaultPolicy; warnings at 50 % and 80 %.
func DefaultPolicy() Policy {
	return Policy{
		TimeToFix: map[Hosting]map[cvss.Severity]time.Duration{
			Cloud:      {cvss.Critical: 4 * Week, cvss.High: 6 * Week, cvss.Medium: 8 * Week, cvss.Low: 25 * Week},
			DataCenter: {cvss.Critical: 12 * Week, cvss.High: 12 * Week, cvss.Medium: 12 * Week, cvss.Low: 25 * Week},
		},
		Warnings:        []float64{0.5, 0.8},
		BugBountyTriage: 2 * Week,
	}
}

// rated are the severities a policy must give a time to fix for. None (a
// 0.0 score) has no deadline.
var rated = []cvss.Severity{cvss.Low, cvss.Medium, cvss.High, cvss.Critical}

// Validate checks that every hosting type has a positive time for every
// rated severity and that the warnings are increasing fractions.
func (p Policy) Validate() error {
	if len(p.TimeToFix) == 0 {
		return errors.New("no time_to_fix")
	}
	for h, m := range p.TimeToFix {
		for _, s := range rated {
			if m[s] <= 0 {
				return fmt.Errorf("time_to_fix %s: no positive time for %s", h, strings.ToLower(string(s)))
			}
		}
	}
	for i, w := range p.Warnings {
		if w <= 0 || w >= 1 {
			return fmt.Errorf("warnings: %v is not a fraction between 0 and 1", w)
		}
		if i > 0 && w <= p.Warnings[i-1] {
			return fmt.Errorf("warnings: %v after %v; they must increase", w, p.Warnings[i-1])
		}
	}
	if p.BugBountyTriage < 0 {
		return errors.New("bug_bounty_triage: negative")
	}
	return nil
}

// TimeFor returns how long a vulnerability may take to fix.
// It returns ErrNoDeadline for severity None, and an error for a hosting
// type the policy does not cover.
func (p Policy) TimeFor(h Hosting, s cvss.Severity) (time.Duration, error) {
	if s == cvss.None {
		return 0, ErrNoDeadline
	}
	m, ok := p.TimeToFix[h]
	if !ok {
		return 0, fmt.Errorf("policy has no timeframes for hosting %q", h)
	}
	d, ok := m[s]
	if !ok {
		return 0, fmt.Errorf("policy has no time to fix for %s on %s", s, h)
	}
	return d, nil
}

// ErrNoDeadline is returned for a severity without a remediation deadline
// (None: a CVSS score of 0.0).
var ErrNoDeadline = errors.New("no remediation deadline for severity None")

// The YAML form:
//
//	time_to_fix:
//	  cloud:      {critical: 4w, high: 6w, medium: 8w, low: 25w}
//	  datacenter: {critical: 12w, high: 12w, medium: 12w, low: 25w}
//	pause_while_mitigated: false
//	warnings: [0.5, 0.8]
//	bug_bounty_triage: 2w
//
// Durations are a whole number of weeks (w) or days (d), or a Go duration
// ("36h").
type file struct {
	TimeToFix           yaml.Node `yaml:"time_to_fix"`
	PauseWhileMitigated bool      `yaml:"pause_while_mitigated"`
	Warnings            []float64 `yaml:"warnings"`
	BugBountyTriage     yaml.Node `yaml:"bug_bounty_triage"`
}

// Load reads a policy from YAML. Unknown keys are errors, and every error
// names its line.
func Load(r io.Reader) (Policy, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return Policy{}, errors.New("policy: empty document")
		}
		return Policy{}, fmt.Errorf("policy: %w", err)
	}
	p := Policy{PauseWhileMitigated: f.PauseWhileMitigated, Warnings: f.Warnings, TimeToFix: map[Hosting]map[cvss.Severity]time.Duration{}}
	if f.TimeToFix.Kind == 0 {
		return Policy{}, errors.New("policy: time_to_fix is missing")
	}
	if f.TimeToFix.Kind != yaml.MappingNode {
		return Policy{}, lineErr(&f.TimeToFix, "time_to_fix must map hosting types to tables")
	}
	for i := 0; i+1 < len(f.TimeToFix.Content); i += 2 {
		k, v := f.TimeToFix.Content[i], f.TimeToFix.Content[i+1]
		h, err := ParseHosting(k.Value)
		if err != nil {
			return Policy{}, lineErr(k, "time_to_fix: %v", err)
		}
		if _, dup := p.TimeToFix[h]; dup {
			return Policy{}, lineErr(k, "time_to_fix: %s given twice", h)
		}
		if v.Kind != yaml.MappingNode {
			return Policy{}, lineErr(v, "time_to_fix %s must map severities to durations", h)
		}
		m := map[cvss.Severity]time.Duration{}
		for j := 0; j+1 < len(v.Content); j += 2 {
			sk, sv := v.Content[j], v.Content[j+1]
			s, err := cvss.ParseSeverity(sk.Value)
			if err != nil || s == cvss.None {
				return Policy{}, lineErr(sk, "time_to_fix %s: unknown severity %q (want critical, high, medium or low)", h, sk.Value)
			}
			if _, dup := m[s]; dup {
				return Policy{}, lineErr(sk, "time_to_fix %s: %s given twice", h, sk.Value)
			}
			d, err := parseDuration(sv)
			if err != nil {
				return Policy{}, err
			}
			m[s] = d
		}
		for _, s := range rated {
			if _, ok := m[s]; !ok {
				return Policy{}, lineErr(v, "time_to_fix %s: no time for %s", h, strings.ToLower(string(s)))
			}
		}
		p.TimeToFix[h] = m
	}
	if f.BugBountyTriage.Kind != 0 {
		d, err := parseDuration(&f.BugBountyTriage)
		if err != nil {
			return Policy{}, err
		}
		p.BugBountyTriage = d
	}
	if err := p.Validate(); err != nil {
		return Policy{}, fmt.Errorf("policy: %w", err)
	}
	return p, nil
}

// LoadBytes is Load of a byte slice.
func LoadBytes(b []byte) (Policy, error) { return Load(bytes.NewReader(b)) }

func lineErr(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("policy: line %d: %s", n.Line, fmt.Sprintf(format, args...))
}

// parseDuration reads "4w", "28d" or a Go duration; it must be positive.
func parseDuration(n *yaml.Node) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, lineErr(n, "want a duration such as 4w, 28d or 36h")
	}
	s := n.Value
	var d time.Duration
	var err error
	switch {
	case strings.HasSuffix(s, "w"), strings.HasSuffix(s, "d"):
		unit := Week
		if strings.HasSuffix(s, "d") {
			unit = 24 * time.Hour
		}
		var k int
		k, err = strconv.Atoi(s[:len(s)-1])
		d = time.Duration(k) * unit
	default:
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, lineErr(n, "invalid duration %q (want a positive duration such as 4w, 28d or 36h)", s)
	}
	return d, nil
}

// sortedWarnings is Warnings in increasing order (Validate requires it;
// this keeps a hand-built Policy safe).
func (p Policy) sortedWarnings() []float64 {
	if slices.IsSorted(p.Warnings) {
		return p.Warnings
	}
	w := slices.Clone(p.Warnings)
	slices.Sort(w)
	return w
}

package policy

import (
	"fmt"
	"slices"
	"time"

	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
)

// Source is how a vulnerability was found; bug-bounty findings start their
// clock after the triage period.
type Source string

// The sources.
const (
	Reported  Source = "report"     // reported or found otherwise; the clock starts at once
	BugBounty Source = "bug_bounty" // the clock starts after Policy.BugBountyTriage
)

// Interval is a span of time a vulnerability spent mitigated. A zero To
// means it is still mitigated.
type Interval struct {
	From, To time.Time
}

// Input is what a clock is computed from.
type Input struct {
	Hosting  Hosting
	Severity cvss.Severity
	Source   Source
	// ReportedAt is when the vulnerability was reported (acknowledged).
	ReportedAt time.Time
	// Mitigated are the spans it spent mitigated, in any order; they
	// pause the clock only if the policy says so.
	Mitigated []Interval
}

// Clock is the remediation clock of one vulnerability. Its zero value is
// not useful; get one from Policy.Clock.
type Clock struct {
	in Input
	// StartsAt is when the clock started (or starts): ReportedAt, plus the
	// triage period for a bug-bounty finding.
	StartsAt time.Time
	// TimeToFix is the policy's time for the hosting type and severity.
	TimeToFix time.Duration

	pauses   []Interval // sorted, merged, clipped to start at StartsAt; nil if the policy does not pause
	warnings []float64
}

// Status is a clock read at an instant.
type Status struct {
	StartsAt time.Time
	// DueAt is when the time to fix runs out, counting the pauses known at
	// the instant read; while paused, as if the pause ended then.
	DueAt time.Time
	// Elapsed is the time the clock has run; Remaining is TimeToFix less
	// Elapsed (negative once breached).
	Elapsed, Remaining time.Duration
	// Fraction is Elapsed over TimeToFix (above 1 once breached).
	Fraction float64
	// Warning is the highest warning fraction crossed, 0 if none.
	Warning float64
	// NextWarning is the lowest warning fraction not yet crossed, 0 if
	// none; NextWarningAt is when it will be, if the clock is not paused.
	NextWarning   float64
	NextWarningAt time.Time
	// Paused reports that the vulnerability is mitigated and the policy
	// stops the clock for it.
	Paused bool
	// Breached reports that the time to fix has run out.
	Breached bool
}

// Clock returns the remediation clock of a vulnerability. It returns
// ErrNoDeadline for severity None, and an error for a hosting type or
// severity the policy does not cover or a zero ReportedAt.
func (p Policy) Clock(in Input) (Clock, error) {
	if in.ReportedAt.IsZero() {
		return Clock{}, fmt.Errorf("clock: no reported time")
	}
	ttf, err := p.TimeFor(in.Hosting, in.Severity)
	if err != nil {
		return Clock{}, err
	}
	c := Clock{in: in, StartsAt: in.ReportedAt, TimeToFix: ttf, warnings: p.sortedWarnings()}
	switch in.Source {
	case Reported, "":
	case BugBounty:
		c.StartsAt = c.StartsAt.Add(p.BugBountyTriage)
	default:
		return Clock{}, fmt.Errorf("clock: unknown source %q (want %s or %s)", in.Source, Reported, BugBounty)
	}
	if p.PauseWhileMitigated {
		c.pauses = normalize(in.Mitigated, c.StartsAt)
	}
	return c, nil
}

// ClockForScore is Clock with the severity of a CVSS score.
func (p Policy) ClockForScore(in Input, score float64) (Clock, error) {
	in.Severity = cvss.SeverityOf(score)
	return p.Clock(in)
}

// Input returns what the clock was computed from.
func (c Clock) Input() Input { return c.in }

// normalize sorts the intervals, merges overlaps and drops what lies
// before start (the clock does not run then anyway).
func normalize(iv []Interval, start time.Time) []Interval {
	if len(iv) == 0 {
		return nil
	}
	out := make([]Interval, 0, len(iv))
	for _, v := range iv {
		if !v.To.IsZero() && !v.To.After(start) {
			continue
		}
		if v.From.Before(start) {
			v.From = start
		}
		if !v.To.IsZero() && !v.To.After(v.From) {
			continue
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Interval) int { return a.From.Compare(b.From) })
	merged := out[:0]
	for _, v := range out {
		if n := len(merged); n > 0 {
			last := &merged[n-1]
			if last.To.IsZero() {
				continue // an open pause swallows everything after it
			}
			if !v.From.After(last.To) {
				if v.To.IsZero() || v.To.After(last.To) {
					last.To = v.To
				}
				continue
			}
		}
		merged = append(merged, v)
	}
	return merged
}

// At reads the clock at t.
func (c Clock) At(t time.Time) Status {
	s := Status{StartsAt: c.StartsAt}
	ttf := c.TimeToFix
	// Walk the run time from the start: elapsed counts the running time up
	// to t; need is what is left of the time to fix at cur.
	cur := c.StartsAt
	need := ttf
	var elapsed time.Duration
	due := time.Time{}
	for _, p := range c.pauses {
		if !p.From.Before(t) {
			break // not known at t
		}
		end := p.To
		if end.IsZero() || end.After(t) {
			end = t
			s.Paused = true
		}
		run := p.From.Sub(cur)
		if due.IsZero() && run >= need {
			due = cur.Add(need)
		}
		if due.IsZero() {
			need -= run
		}
		elapsed += run
		cur = end
	}
	if t.After(cur) {
		elapsed += t.Sub(cur)
	}
	if due.IsZero() {
		due = cur.Add(need)
	}
	if t.Before(c.StartsAt) {
		elapsed = 0
	}
	s.DueAt = due
	s.Elapsed = elapsed
	s.Remaining = ttf - elapsed
	s.Fraction = float64(elapsed) / float64(ttf)
	s.Breached = elapsed >= ttf
	from := t
	if from.Before(c.StartsAt) {
		from = c.StartsAt
	}
	for _, w := range c.warnings {
		at := time.Duration(w * float64(ttf))
		if elapsed >= at {
			s.Warning = w
			continue
		}
		s.NextWarning, s.NextWarningAt = w, from.Add(at-elapsed)
		break
	}
	return s
}

// Reclassify returns the clock for a new severity (after a rescoring),
// read at t. The start stays: a change of severity does not restart the
// clock, it only changes the time to fix. The reason says what changed,
// e.g. "severity High → Critical: time to fix 6 weeks → 4 weeks, due
// 2026-03-12 → 2026-02-26".
func (c Clock) Reclassify(p Policy, sev cvss.Severity, t time.Time) (Clock, string, error) {
	in := c.in
	in.Severity = sev
	n, err := p.Clock(in)
	if err != nil {
		return Clock{}, "", err
	}
	before, after := c.At(t), n.At(t)
	reason := fmt.Sprintf("severity %s → %s: time to fix %s → %s, due %s → %s", c.in.Severity, sev,
		humanDuration(c.TimeToFix), humanDuration(n.TimeToFix),
		before.DueAt.UTC().Format(time.DateOnly), after.DueAt.UTC().Format(time.DateOnly))
	if after.Breached && !before.Breached {
		reason += "; already past the new deadline"
	}
	return n, reason, nil
}

func humanDuration(d time.Duration) string {
	switch {
	case d%Week == 0 && d/Week == 1:
		return "1 week"
	case d%Week == 0:
		return fmt.Sprintf("%d weeks", d/Week)
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

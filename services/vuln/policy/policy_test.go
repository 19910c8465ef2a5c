package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
	"github.com/firebreak-dev/firebreak/services/vuln/policy"
)

const day = 24 * time.Hour

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// TestDefaultPolicy checks every hosting/severity pair of the Atlassian
// Marketplace Security Bug Fix Policy timeframes (as given in the issue)
// and the two ways a clock starts.
func TestDefaultPolicy(t *testing.T) {
	t.Parallel()
	p := policy.DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		hosting policy.Hosting
		sev     cvss.Severity
		source  policy.Source
		due     time.Time
	}{
		{policy.Cloud, cvss.Critical, policy.Reported, t0.Add(4 * policy.Week)},
		{policy.Cloud, cvss.High, policy.Reported, t0.Add(6 * policy.Week)},
		{policy.Cloud, cvss.Medium, policy.Reported, t0.Add(8 * policy.Week)},
		{policy.Cloud, cvss.Low, policy.Reported, t0.Add(25 * policy.Week)},
		{policy.DataCenter, cvss.Critical, policy.Reported, t0.Add(12 * policy.Week)},
		{policy.DataCenter, cvss.High, policy.Reported, t0.Add(12 * policy.Week)},
		{policy.DataCenter, cvss.Medium, policy.Reported, t0.Add(12 * policy.Week)},
		{policy.DataCenter, cvss.Low, policy.Reported, t0.Add(25 * policy.Week)},
		// Bug bounty: the clock starts after the two-week triage period.
		{policy.Cloud, cvss.Critical, policy.BugBounty, t0.Add(2*policy.Week + 4*policy.Week)},
		{policy.DataCenter, cvss.Low, policy.BugBounty, t0.Add(2*policy.Week + 25*policy.Week)},
	}
	for _, tt := range tests {
		t.Run(string(tt.hosting)+"/"+string(tt.sev)+"/"+string(tt.source), func(t *testing.T) {
			t.Parallel()
			c, err := p.Clock(policy.Input{Hosting: tt.hosting, Severity: tt.sev, Source: tt.source, ReportedAt: t0})
			if err != nil {
				t.Fatal(err)
			}
			s := c.At(t0)
			if !s.DueAt.Equal(tt.due) {
				t.Errorf("due %s, want %s", s.DueAt, tt.due)
			}
			if s.Breached || s.Elapsed != 0 || s.Warning != 0 {
				t.Errorf("at report: %+v", s)
			}
			if got := c.At(tt.due); !got.Breached || got.Fraction != 1 {
				t.Errorf("at due: %+v", got)
			}
			if got := c.At(tt.due.Add(-time.Nanosecond)); got.Breached {
				t.Errorf("a nanosecond before due: breached")
			}
		})
	}
}

func TestClockForScore(t *testing.T) {
	t.Parallel()
	p := policy.DefaultPolicy()
	for _, tt := range []struct {
		score float64
		ttf   time.Duration
	}{{9.0, 4 * policy.Week}, {8.9, 6 * policy.Week}, {7.0, 6 * policy.Week}, {6.9, 8 * policy.Week}, {4.0, 8 * policy.Week}, {3.9, 25 * policy.Week}, {0.1, 25 * policy.Week}} {
		c, err := p.ClockForScore(policy.Input{Hosting: policy.Cloud, ReportedAt: t0}, tt.score)
		if err != nil {
			t.Fatal(err)
		}
		if c.TimeToFix != tt.ttf {
			t.Errorf("score %v: time to fix %s, want %s", tt.score, c.TimeToFix, tt.ttf)
		}
	}
	if _, err := p.ClockForScore(policy.Input{Hosting: policy.Cloud, ReportedAt: t0}, 0); !errors.Is(err, policy.ErrNoDeadline) {
		t.Errorf("score 0: %v, want ErrNoDeadline", err)
	}
	if _, err := p.Clock(policy.Input{Hosting: "moon", Severity: cvss.High, ReportedAt: t0}); err == nil {
		t.Error("unknown hosting accepted")
	}
	if _, err := p.Clock(policy.Input{Hosting: policy.Cloud, Severity: cvss.High, Source: "rumour", ReportedAt: t0}); err == nil {
		t.Error("unknown source accepted")
	}
}

// TestWarnings reads a cloud High clock (6 weeks = 42 days) with warnings
// at 50 % (day 21) and 80 % (day 33.6) and the breach at 100 % (day 42).
func TestWarnings(t *testing.T) {
	t.Parallel()
	c, err := policy.DefaultPolicy().Clock(policy.Input{Hosting: policy.Cloud, Severity: cvss.High, ReportedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	at80 := t0.Add(time.Duration(0.8 * float64(42*day)))
	tests := []struct {
		name     string
		at       time.Time
		warning  float64
		next     float64
		nextAt   time.Time
		breached bool
	}{
		{"start", t0, 0, 0.5, t0.Add(21 * day), false},
		{"just before 50%", t0.Add(21*day - time.Second), 0, 0.5, t0.Add(21 * day), false},
		{"50%", t0.Add(21 * day), 0.5, 0.8, at80, false},
		{"80%", at80, 0.8, 0, time.Time{}, false},
		{"100%", t0.Add(42 * day), 0.8, 0, time.Time{}, true},
		{"after", t0.Add(60 * day), 0.8, 0, time.Time{}, true},
	}
	for _, tt := range tests {
		s := c.At(tt.at)
		if s.Warning != tt.warning || s.NextWarning != tt.next || !s.NextWarningAt.Equal(tt.nextAt) || s.Breached != tt.breached {
			t.Errorf("%s: warning %v next %v at %s breached %v; want %v %v %s %v", tt.name,
				s.Warning, s.NextWarning, s.NextWarningAt, s.Breached, tt.warning, tt.next, tt.nextAt, tt.breached)
		}
	}
	if s := c.At(t0.Add(21 * day)); s.Remaining != 21*day || s.Fraction != 0.5 {
		t.Errorf("half way: remaining %s fraction %v", s.Remaining, s.Fraction)
	}
	if s := c.At(t0.Add(50 * day)); s.Remaining != -8*day {
		t.Errorf("8 days late: remaining %s", s.Remaining)
	}
}

// TestPause covers the clock stopping while mitigated, with a policy that
// says so (the default does not), a cloud Critical: 28 days.
func TestPause(t *testing.T) {
	t.Parallel()
	pausing := policy.DefaultPolicy()
	pausing.PauseWhileMitigated = true
	d := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(day))) }
	tests := []struct {
		name      string
		policy    policy.Policy
		source    policy.Source
		mitigated []policy.Interval
		at        time.Time
		due       time.Time
		elapsed   time.Duration
		paused    bool
		breached  bool
	}{
		{name: "default policy does not pause", policy: policy.DefaultPolicy(),
			mitigated: []policy.Interval{{d(5), d(15)}}, at: d(20), due: d(28), elapsed: 20 * day},
		{name: "one pause", policy: pausing,
			mitigated: []policy.Interval{{d(5), d(15)}}, at: d(20), due: d(38), elapsed: 10 * day},
		{name: "paused now: due as if the pause ended now", policy: pausing,
			mitigated: []policy.Interval{{d(5), time.Time{}}}, at: d(20), due: d(43), elapsed: 5 * day, paused: true},
		{name: "several pauses, unordered and overlapping", policy: pausing,
			mitigated: []policy.Interval{{d(20), d(22)}, {d(2), d(4)}, {d(3), d(6)}}, at: d(30), due: d(34), elapsed: 24 * day},
		{name: "pause after the breach does not undo it", policy: pausing,
			mitigated: []policy.Interval{{d(30), time.Time{}}}, at: d(40), due: d(28), elapsed: 30 * day, paused: true, breached: true},
		{name: "pause not yet known at t", policy: pausing,
			mitigated: []policy.Interval{{d(10), d(12)}}, at: d(8), due: d(28), elapsed: 8 * day},
		{name: "pause ending after t counts up to t", policy: pausing,
			mitigated: []policy.Interval{{d(10), d(20)}}, at: d(15), due: d(33), elapsed: 10 * day, paused: true},
		{name: "pause during bug-bounty triage does not count", policy: pausing, source: policy.BugBounty,
			mitigated: []policy.Interval{{d(1), d(10)}}, at: d(20), due: d(14 + 28 + 0), elapsed: 6 * day},
		{name: "before the bug-bounty clock starts", policy: pausing, source: policy.BugBounty,
			at: d(7), due: d(42), elapsed: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := tt.policy.Clock(policy.Input{Hosting: policy.Cloud, Severity: cvss.Critical, Source: tt.source,
				ReportedAt: t0, Mitigated: tt.mitigated})
			if err != nil {
				t.Fatal(err)
			}
			s := c.At(tt.at)
			if !s.DueAt.Equal(tt.due) || s.Elapsed != tt.elapsed || s.Paused != tt.paused || s.Breached != tt.breached {
				t.Errorf("due %s elapsed %s paused %v breached %v; want %s %s %v %v",
					s.DueAt, s.Elapsed, s.Paused, s.Breached, tt.due, tt.elapsed, tt.paused, tt.breached)
			}
		})
	}
}

// TestReclassify: a new severity keeps the start and changes the time to fix.
func TestReclassify(t *testing.T) {
	t.Parallel()
	p := policy.DefaultPolicy()
	c, err := p.Clock(policy.Input{Hosting: policy.Cloud, Severity: cvss.High, ReportedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		sev    cvss.Severity
		at     time.Time
		due    time.Time
		reason string
	}{
		{"upgrade", cvss.Critical, t0.Add(10 * day), t0.Add(28 * day),
			"severity High → Critical: time to fix 6 weeks → 4 weeks, due 2026-02-16 → 2026-02-02"},
		{"upgrade past the new deadline", cvss.Critical, t0.Add(30 * day), t0.Add(28 * day),
			"severity High → Critical: time to fix 6 weeks → 4 weeks, due 2026-02-16 → 2026-02-02; already past the new deadline"},
		{"downgrade", cvss.Low, t0.Add(10 * day), t0.Add(25 * 7 * day),
			"severity High → Low: time to fix 6 weeks → 25 weeks, due 2026-02-16 → 2026-06-29"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, reason, err := c.Reclassify(p, tt.sev, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			if !n.StartsAt.Equal(c.StartsAt) {
				t.Errorf("start moved: %s", n.StartsAt)
			}
			if s := n.At(tt.at); !s.DueAt.Equal(tt.due) {
				t.Errorf("due %s, want %s", s.DueAt, tt.due)
			}
			if reason != tt.reason {
				t.Errorf("reason %q\nwant   %q", reason, tt.reason)
			}
		})
	}
	if _, _, err := c.Reclassify(p, cvss.None, t0); !errors.Is(err, policy.ErrNoDeadline) {
		t.Errorf("reclassify to None: %v", err)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	const good = `# the Atlassian timeframes
time_to_fix:
  cloud: {critical: 4w, high: 6w, medium: 8w, low: 25w}
  server:
    Critical: 84d
    high: 12w
    medium: 2016h
    low: 25w
pause_while_mitigated: true
warnings: [0.5, 0.8]
bug_bounty_triage: 2w
`
	p, err := policy.LoadBytes([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	def := policy.DefaultPolicy()
	for h, m := range def.TimeToFix {
		for s, d := range m {
			if p.TimeToFix[h][s] != d {
				t.Errorf("%s %s: %s, want %s", h, s, p.TimeToFix[h][s], d)
			}
		}
	}
	if !p.PauseWhileMitigated || p.BugBountyTriage != 2*policy.Week || len(p.Warnings) != 2 {
		t.Errorf("loaded %+v", p)
	}

	bad := []struct{ name, yaml, want string }{
		{"unknown key", "time_to_fix: {cloud: {critical: 1w, high: 1w, medium: 1w, low: 1w}}\npause_while_mitigatd: true\n", "line 2: field pause_while_mitigatd not found"},
		{"unknown hosting", "time_to_fix:\n  moon: {critical: 1w}\n", `line 2: time_to_fix: unknown hosting "moon"`},
		{"unknown severity", "time_to_fix:\n  cloud:\n    critical: 1w\n    urgent: 1w\n", `line 4: time_to_fix cloud: unknown severity "urgent"`},
		{"bad duration", "time_to_fix:\n  cloud:\n    critical: 4 weeks\n", `line 3: invalid duration "4 weeks"`},
		{"negative duration", "time_to_fix:\n  cloud:\n    critical: -1w\n", `line 3: invalid duration "-1w"`},
		{"missing severity", "time_to_fix:\n  cloud:\n    critical: 1w\n    high: 2w\n    medium: 3w\n", "line 3: time_to_fix cloud: no time for low"},
		{"duplicate severity", "time_to_fix:\n  cloud:\n    critical: 1w\n    Critical: 2w\n", "line 4: time_to_fix cloud: Critical given twice"},
		{"warnings not increasing", "time_to_fix: {cloud: {critical: 1w, high: 1w, medium: 1w, low: 1w}}\nwarnings: [0.8, 0.5]\n", "warnings: 0.5 after 0.8"},
		{"warning not a fraction", "time_to_fix: {cloud: {critical: 1w, high: 1w, medium: 1w, low: 1w}}\nwarnings: [1.5]\n", "warnings: 1.5 is not a fraction"},
		{"bad triage", "time_to_fix: {cloud: {critical: 1w, high: 1w, medium: 1w, low: 1w}}\nbug_bounty_triage: soon\n", `line 2: invalid duration "soon"`},
		{"no time_to_fix", "warnings: [0.5]\n", "time_to_fix is missing"},
		{"empty", "", "empty document"},
		{"not a mapping", "time_to_fix: [1, 2]\n", "line 1: time_to_fix must map"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := policy.Load(strings.NewReader(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseHosting(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]policy.Hosting{"cloud": policy.Cloud, "Server": policy.DataCenter, "datacenter": policy.DataCenter, "data_center": policy.DataCenter} {
		if got, err := policy.ParseHosting(in); err != nil || got != want {
			t.Errorf("ParseHosting(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := policy.ParseHosting("onprem"); err == nil {
		t.Error("onprem accepted")
	}
}

// BenchmarkSweep reads 100 000 open vulnerabilities' clocks at one instant,
// as a periodic sweep for warnings and breaches would. It reports ms/sweep.
func BenchmarkSweep(b *testing.B) {
	p := policy.DefaultPolicy()
	p.PauseWhileMitigated = true
	hostings := []policy.Hosting{policy.Cloud, policy.DataCenter}
	sevs := []cvss.Severity{cvss.Low, cvss.Medium, cvss.High, cvss.Critical}
	clocks := make([]policy.Clock, 100_000)
	for i := range clocks {
		in := policy.Input{Hosting: hostings[i%2], Severity: sevs[i%4], ReportedAt: t0.Add(-time.Duration(i%200) * day)}
		if i%3 == 0 {
			in.Source = policy.BugBounty
		}
		if i%5 == 0 {
			in.Mitigated = []policy.Interval{{in.ReportedAt.Add(20 * day), in.ReportedAt.Add(25 * day)}, {in.ReportedAt.Add(40 * day), time.Time{}}}
		}
		c, err := p.Clock(in)
		if err != nil {
			b.Fatal(err)
		}
		clocks[i] = c
	}
	var breached int
	for b.Loop() {
		breached = 0
		for _, c := range clocks {
			if c.At(t0).Breached {
				breached++
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed())/1e6/float64(b.N), "ms/sweep")
	if breached == 0 {
		b.Fatal("no breach among 100 000: the fixture is wrong")
	}
}

package vuln

import (
	"context"
	"time"

	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
)

// Sweep is the SLA state of every open vulnerability at one instant.
type Sweep struct {
	At time.Time `json:"at"`
	// Open counts open vulnerabilities by severity, then SLA state.
	Open  map[string]map[string]int `json:"open"`
	Total int                       `json:"total"`
}

// Sweep reads every open vulnerability's clock at now.
func (s *Service) Sweep(ctx context.Context, now time.Time) (Sweep, error) {
	vs, err := s.store.VulnListOpen(ctx)
	if err != nil {
		return Sweep{}, err
	}
	sw := Sweep{At: now.UTC(), Open: map[string]map[string]int{}}
	for _, v := range vs {
		sev := string(v.Severity)
		if sev == "" {
			sev = "Unassessed"
		}
		m := sw.Open[sev]
		if m == nil {
			m = map[string]int{}
			sw.Open[sev] = m
		}
		m[v.SLAAt(s.pol, now).State]++
		sw.Total++
	}
	return sw, nil
}

// Report answers GET /api/v1/vulnerabilities/report.
type Report struct {
	Sweep
	// MeanTimeToRemediate is, per severity, the mean time from report to
	// release (or the end of the record), in hours, over every
	// remediated vulnerability.
	MeanTimeToRemediate map[string]float64 `json:"mean_time_to_remediate_hours"`
	Remediated          map[string]int     `json:"remediated"`
	// Breaches counts SLA breaches recorded in [From, To) by severity.
	From     time.Time        `json:"from"`
	To       time.Time        `json:"to"`
	Breaches map[string]int64 `json:"breaches"`
}

// Report builds the report; breaches are counted in [from, to).
func (s *Service) Report(ctx context.Context, from, to time.Time) (Report, error) {
	sw, err := s.Sweep(ctx, s.now())
	if err != nil {
		return Report{}, err
	}
	r := Report{Sweep: sw, MeanTimeToRemediate: map[string]float64{}, Remediated: map[string]int{}, From: from.UTC(), To: to.UTC()}
	done, err := s.store.VulnListRemediated(ctx)
	if err != nil {
		return Report{}, err
	}
	sum := map[string]time.Duration{}
	for _, v := range done {
		if v.RemediatedAt.IsZero() || v.Status == StatusRejected || v.Status == StatusDuplicate {
			continue
		}
		sev := string(v.Severity)
		if sev == "" {
			sev = string(cvss.None)
		}
		sum[sev] += v.RemediatedAt.Sub(v.ReportedAt)
		r.Remediated[sev]++
	}
	for sev, d := range sum {
		r.MeanTimeToRemediate[sev] = d.Hours() / float64(r.Remediated[sev])
	}
	if r.Breaches, err = s.store.HistoryCount(ctx, HistoryBreach, from, to); err != nil {
		return Report{}, err
	}
	return r, nil
}

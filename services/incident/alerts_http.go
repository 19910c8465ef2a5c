package incident

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
)

// AlertJSON is one alert of an incident as the API shows it.
type AlertJSON struct {
	// Key is the alert's fingerprint (Alertmanager and Grafana groups) or
	// the incident's dedup key.
	Key          string            `json:"key"`
	Status       string            `json:"status"`
	Summary      string            `json:"summary,omitempty"`
	Severity     string            `json:"severity,omitempty"`
	Source       string            `json:"source,omitempty"`
	Integration  string            `json:"integration,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Details      json.RawMessage   `json:"details,omitempty"`
	GeneratorURL string            `json:"generator_url,omitempty"`
	StartsAt     *time.Time        `json:"starts_at,omitempty"`
	EndsAt       *time.Time        `json:"ends_at,omitempty"`
	FirstSeenAt  time.Time         `json:"first_seen_at"`
	LastSeenAt   time.Time         `json:"last_seen_at"`
	Receipts     int64             `json:"receipts"`
}

// AlertStatsJSON sums up an incident's alerts.
type AlertStatsJSON struct {
	Firing   int64 `json:"firing"`
	Resolved int64 `json:"resolved"`
	// Limit is the most distinct alerts an incident keeps.
	Limit int `json:"limit"`
	// Overflow counts receipts of alerts not kept because the incident had
	// Limit alerts already.
	Overflow int64 `json:"overflow"`
	// TruncatedAlerts is the truncatedAlerts of the latest grouped
	// notification: alerts the sender left out of it.
	TruncatedAlerts int64 `json:"truncated_alerts"`
}

// AlertListJSON is a page of an incident's alerts.
type AlertListJSON struct {
	Incident   string         `json:"incident"`
	Stats      AlertStatsJSON `json:"stats"`
	Items      []AlertJSON    `json:"items"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// AlertToJSON renders an alert for the API.
func AlertToJSON(a Alert) AlertJSON {
	return AlertJSON{Key: a.Key, Status: a.Status, Summary: a.Summary, Severity: a.Severity, Source: a.Source,
		Integration: a.Integration, Labels: a.Labels, Annotations: a.Annotations, Details: a.Details,
		GeneratorURL: a.GeneratorURL, StartsAt: a.StartsAt, EndsAt: a.EndsAt, FirstSeenAt: a.FirstSeenAt,
		LastSeenAt: a.LastSeenAt, Receipts: a.Receipts}
}

// StatsToJSON renders alert stats for the API; limit is the per-incident
// limit of distinct alerts.
func StatsToJSON(st AlertStats, limit int) AlertStatsJSON {
	return AlertStatsJSON{Firing: st.Firing, Resolved: st.Resolved, Limit: limit, Overflow: st.Overflow, TruncatedAlerts: st.TruncatedAlerts}
}

// alerts serves GET /api/v1/incidents/{ref}/alerts.
func (h *handler) alerts(w http.ResponseWriter, r *http.Request) {
	f, err := parseAlertQuery(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	inc, items, st, err := h.svc.Alerts(r.Context(), r.PathValue("ref"), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := AlertListJSON{Incident: inc.Key(), Stats: StatsToJSON(st, h.svc.MaxAlerts()), Items: make([]AlertJSON, 0, len(items))}
	for _, a := range items {
		out.Items = append(out.Items, AlertToJSON(a))
	}
	if len(items) == f.Limit && f.Limit > 0 {
		out.NextCursor = encodePageCursor("a", items[len(items)-1].Seq)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func parseAlertQuery(r *http.Request) (AlertFilter, error) {
	q := r.URL.Query()
	f := AlertFilter{Limit: DefaultPageSize, Status: strings.TrimSpace(q.Get("status"))}
	switch f.Status {
	case "", AlertFiring, AlertResolved:
	default:
		return f, fault.Field("status", "must be firing or resolved, got %q", f.Status)
	}
	var err error
	f.Limit, f.AfterSeq, err = pageParams(q, f.Limit, "a")
	return f, err
}

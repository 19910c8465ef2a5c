package incident

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Alert statuses of an incident's alert: the source says it still fires, or
// that it stopped.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// DefaultMaxAlerts applies when Config.MaxAlerts is 0: the most distinct
// alerts one incident keeps. Receipts of further alerts are counted
// (AlertStats.Overflow), not kept, so a storm cannot grow one incident
// without bound.
const DefaultMaxAlerts = 1000

// Alert is one distinct alert of an incident, as last received: an alert
// of an Alertmanager or Grafana group (Key is its fingerprint), or the
// incident's own alert (Key is the dedup key).
type Alert struct {
	IncidentID  string
	Key         string
	Status      string // AlertFiring or AlertResolved
	Summary     string
	Severity    string // critical|error|warning|info
	Source      string
	Integration string
	Labels      map[string]string // nil for none
	Annotations map[string]string // nil for none
	// Details are the alert's custom details (generic alerts) or the
	// sender's extra fields of a grouped alert (Grafana's values,
	// silenceURL, …): a JSON object, nil for none.
	Details      json.RawMessage
	GeneratorURL string
	// StartsAt is when the alert started: the source's startsAt, else when
	// it was first received. Written as nil by AlertRecord it keeps the
	// stored start (a repeat of an ungrouped alert).
	StartsAt *time.Time
	// EndsAt is when the alert ended, nil while it fires.
	EndsAt      *time.Time
	FirstSeenAt time.Time
	LastSeenAt  time.Time
	// Receipts counts the alert.received events that carried this alert.
	Receipts int64
	// Seq orders an incident's alerts (first seen first); it is the paging
	// cursor. Set by the store.
	Seq int64
}

// AlertFilter selects an incident's alerts for AlertList.
type AlertFilter struct {
	IncidentID string
	Status     string // "" for any, else AlertFiring or AlertResolved
	AfterSeq   int64  // cursor: only alerts after this Seq; 0 from the first
	Limit      int
}

// AlertStats sums up an incident's alerts.
type AlertStats struct {
	Firing   int64
	Resolved int64
	// Overflow counts receipts of alerts that were not kept because the
	// incident already had the most distinct alerts it keeps.
	Overflow int64
	// TruncatedAlerts is the truncatedAlerts of the latest grouped
	// notification: alerts its sender left out.
	TruncatedAlerts int64
}

// AlertStore is the part of Store that serves an incident's alerts.
type AlertStore interface {
	// AlertList returns an incident's alerts matching f, first seen first,
	// at most f.Limit.
	AlertList(ctx context.Context, f AlertFilter) ([]Alert, error)
	// AlertStats counts an incident's alerts by status and returns its
	// overflow and truncation counts (all zero for an incident without
	// alerts).
	AlertStats(ctx context.Context, incidentID string) (AlertStats, error)
}

// AlertTx is the part of Tx that records an incident's alerts.
type AlertTx interface {
	// AlertRecord records a.Receipts receipts of alert a.Key on incident
	// a.IncidentID: an alert the incident has is overwritten with a's
	// content (first_seen_at stays, receipts add up, a nil StartsAt keeps
	// the stored one); a new alert is added while the incident has fewer
	// than max alerts, else its receipts are added to the incident's
	// overflow. It reports whether the alert is kept.
	// Errors: ErrNotFound for an unknown incident.
	AlertRecord(ctx context.Context, a Alert, max int) (bool, error)
	// AlertFiringCount counts an incident's kept alerts that fire.
	AlertFiringCount(ctx context.Context, incidentID string) (int64, error)
	// AlertsMove moves every alert of incident from to incident to, as
	// AlertRecord would record them there (receipts add up; the moved
	// content replaces to's copy of the same alert; beyond max they count
	// as overflow), adds from's overflow to to's, and returns how many
	// alerts from had.
	AlertsMove(ctx context.Context, from, to string, max int) (int64, error)
	// AlertTruncatedSet records the truncatedAlerts of the latest grouped
	// notification of an incident. Errors: ErrNotFound for an unknown
	// incident.
	AlertTruncatedSet(ctx context.Context, incidentID string, n int64) error
}

// Alerts returns a page of the alerts of the incident ref ("INC-42", "42"
// or an id), with the incident and its alert stats.
// Errors: ErrNotFound, ErrInvalid.
func (s *Service) Alerts(ctx context.Context, ref string, f AlertFilter) (Incident, []Alert, AlertStats, error) {
	inc, err := s.Get(ctx, ref)
	if err != nil {
		return Incident{}, nil, AlertStats{}, err
	}
	switch f.Status {
	case "", AlertFiring, AlertResolved:
	default:
		return Incident{}, nil, AlertStats{}, fault.Field("status", "must be firing or resolved, got %q", f.Status)
	}
	f.IncidentID = inc.ID
	alerts, err := s.store.AlertList(ctx, f)
	if err != nil {
		return Incident{}, nil, AlertStats{}, err
	}
	st, err := s.store.AlertStats(ctx, inc.ID)
	if err != nil {
		return Incident{}, nil, AlertStats{}, err
	}
	return inc, alerts, st, nil
}

// AlertStatsOf returns the alert stats of an incident.
func (s *Service) AlertStatsOf(ctx context.Context, incidentID string) (AlertStats, error) {
	return s.store.AlertStats(ctx, incidentID)
}

// MaxAlerts is the most distinct alerts one incident keeps.
func (s *Service) MaxAlerts() int { return s.cfg.MaxAlerts }

// alertGroup is the part of intake's alertmanager.Details (the details of
// an Alertmanager or Grafana group's alert.received) the incident service
// reads. Groups are recognized by this shape, not by the integration's
// name, which is the label an admin gave the integration.
type alertGroup struct {
	Receiver        *string          `json:"receiver"`
	GroupKey        string           `json:"groupKey"`
	TruncatedAlerts int64            `json:"truncatedAlerts"`
	Alerts          []map[string]any `json:"alerts"`
}

// groupAlert is the core of one alert of a group; every other key of the
// alert's object is the sender's extra.
type groupAlert struct {
	Fingerprint  string            `json:"fingerprint"`
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

var groupAlertKeys = []string{"fingerprint", "status", "labels", "annotations", "startsAt", "endsAt", "generatorURL"}

// alertsOf returns the alerts one alert.received carries, for the incident
// incidentID: each alert of an Alertmanager or Grafana group by its
// fingerprint (grouped is true, truncated is the group's truncatedAlerts),
// else one alert keyed by the dedup key. Details are a group's when they
// have a receiver, a groupKey and alerts that each have a fingerprint
// (intake's alertmanager.Details); anything else, including a group's
// details that do not decode, is an ungrouped alert's: the incident still
// tracks the notification.
func alertsOf(incidentID string, a events.AlertReceived, now time.Time) (out []Alert, truncated int64, grouped bool) {
	seen := a.ReceivedAt.UTC()
	if seen.IsZero() {
		seen = now
	}
	if as, n, ok := groupAlerts(incidentID, a, seen); ok {
		return as, n, true
	}
	al := Alert{
		IncidentID: incidentID, Key: a.DedupKey, Status: AlertFiring, Summary: cut(a.Summary, MaxTitleLen),
		Severity: a.Severity, Source: a.Source, Integration: a.Integration, Details: jsonObject(a.Details),
		FirstSeenAt: seen, LastSeenAt: seen, Receipts: 1,
	}
	if a.EventAction == events.ActionResolve {
		al.Status, al.EndsAt = AlertResolved, &seen
	}
	return []Alert{al}, 0, false
}

func groupAlerts(incidentID string, a events.AlertReceived, seen time.Time) ([]Alert, int64, bool) {
	var g alertGroup
	if len(a.Details) == 0 || json.Unmarshal(a.Details, &g) != nil || g.Receiver == nil || g.GroupKey == "" || len(g.Alerts) == 0 {
		return nil, 0, false
	}
	out := make([]Alert, 0, len(g.Alerts))
	for _, m := range g.Alerts {
		raw, err := json.Marshal(m)
		if err != nil {
			return nil, 0, false
		}
		var ga groupAlert
		if err := json.Unmarshal(raw, &ga); err != nil || ga.Fingerprint == "" {
			return nil, 0, false
		}
		al := Alert{
			IncidentID: incidentID, Key: ga.Fingerprint, Status: ga.Status, Integration: a.Integration,
			Labels: nonEmpty(ga.Labels), Annotations: nonEmpty(ga.Annotations), GeneratorURL: ga.GeneratorURL,
			FirstSeenAt: seen, LastSeenAt: seen, Receipts: 1,
		}
		if al.Status != AlertFiring && al.Status != AlertResolved {
			al.Status = AlertFiring
			if a.EventAction == events.ActionResolve {
				al.Status = AlertResolved
			}
		}
		al.Summary = firstOf(ga.Annotations["summary"], ga.Labels["alertname"], a.Summary)
		al.Summary = cut(al.Summary, MaxTitleLen)
		al.Severity = a.Severity
		if sev, ok := events.SeverityOfLabel(ga.Labels["severity"]); ok {
			al.Severity = sev
		}
		al.Source = firstOf(ga.Labels["instance"], ga.Labels["job"], a.Source)
		if !ga.StartsAt.IsZero() {
			t := ga.StartsAt.UTC()
			al.StartsAt = &t
		} else {
			al.StartsAt = &seen
		}
		if !ga.EndsAt.IsZero() && al.Status == AlertResolved {
			t := ga.EndsAt.UTC()
			al.EndsAt = &t
		}
		extra := map[string]any{}
		for k, v := range m {
			extra[k] = v
		}
		for _, k := range groupAlertKeys {
			delete(extra, k)
		}
		if len(extra) > 0 {
			al.Details, _ = json.Marshal(extra) // values came from JSON
		}
		out = append(out, al)
	}
	return out, g.TruncatedAlerts, true
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// jsonObject returns raw when it is a JSON object, else nil.
func jsonObject(raw json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil || m == nil {
		return nil
	}
	return raw
}

// cut shortens s to at most n bytes without splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// alertKey names one alert of one incident in a batch.
type alertKey struct{ incident, key string }

// alertFold gathers a batch's alert receipts so that each alert is written
// once per batch.
type alertFold struct {
	pending   map[alertKey]*Alert
	order     []alertKey
	truncated map[string]int64
	torder    []string
}

// add merges the receipts of as into the batch: the latest content wins,
// receipts add up, the first sighting stays.
func (af *alertFold) add(as []Alert, incidentID string, truncated int64, grouped bool) {
	if af.pending == nil {
		af.pending, af.truncated = map[alertKey]*Alert{}, map[string]int64{}
	}
	for _, a := range as {
		k := alertKey{a.IncidentID, a.Key}
		p, ok := af.pending[k]
		if !ok {
			af.pending[k] = &a
			af.order = append(af.order, k)
			continue
		}
		first, receipts, starts := p.FirstSeenAt, p.Receipts, p.StartsAt
		*p = a
		p.FirstSeenAt, p.Receipts = first, receipts+a.Receipts
		if p.StartsAt == nil {
			p.StartsAt = starts
		}
	}
	if grouped {
		if _, ok := af.truncated[incidentID]; !ok {
			af.torder = append(af.torder, incidentID)
		}
		af.truncated[incidentID] = truncated
	}
}

// flush writes the batch's alerts.
func (af *alertFold) flush(ctx context.Context, tx Tx, max int) error {
	for _, k := range af.order {
		if _, err := tx.AlertRecord(ctx, *af.pending[k], max); err != nil {
			return err
		}
	}
	for _, id := range af.torder {
		if err := tx.AlertTruncatedSet(ctx, id, af.truncated[id]); err != nil {
			return err
		}
	}
	af.pending, af.order, af.truncated, af.torder = nil, nil, nil, nil
	return nil
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/incident/store/sqlite/gen"
)

// AlertRecord implements incident.Tx.
func (t *Tx) AlertRecord(ctx context.Context, a incident.Alert, max int) (bool, error) {
	labels, err := encodeMap(a.Labels)
	if err != nil {
		return false, fmt.Errorf("alert %s labels: %w", a.Key, err)
	}
	annotations, err := encodeMap(a.Annotations)
	if err != nil {
		return false, fmt.Errorf("alert %s annotations: %w", a.Key, err)
	}
	n, err := t.q.AlertUpdate(ctx, gen.AlertUpdateParams{
		Status: a.Status, Summary: a.Summary, Severity: a.Severity, Source: a.Source, Integration: a.Integration,
		Labels: labels, Annotations: annotations, Details: string(a.Details), GeneratorUrl: a.GeneratorURL,
		StartsAt: nullTime(a.StartsAt), EndsAt: nullTime(a.EndsAt), LastSeenAt: formatTime(a.LastSeenAt),
		Receipts: a.Receipts, IncidentID: a.IncidentID, AlertKey: a.Key,
	})
	if err != nil {
		return false, fmt.Errorf("update alert %s of incident %s: %w", a.Key, a.IncidentID, err)
	}
	if n > 0 {
		return true, nil
	}
	count, err := t.q.AlertCountByIncident(ctx, a.IncidentID)
	if err != nil {
		return false, fmt.Errorf("count alerts of incident %s: %w", a.IncidentID, err)
	}
	if count >= int64(max) {
		if err := t.q.AlertOverflowAdd(ctx, gen.AlertOverflowAddParams{IncidentID: a.IncidentID, Overflow: a.Receipts}); err != nil {
			return false, fmt.Errorf("count overflow of incident %s: %w", a.IncidentID, mapErr(err))
		}
		return false, nil
	}
	starts := a.FirstSeenAt
	if a.StartsAt != nil {
		starts = *a.StartsAt
	}
	err = t.q.AlertInsert(ctx, gen.AlertInsertParams{
		IncidentID: a.IncidentID, AlertKey: a.Key, Status: a.Status, Summary: a.Summary, Severity: a.Severity,
		Source: a.Source, Integration: a.Integration, Labels: labels, Annotations: annotations,
		Details: string(a.Details), GeneratorUrl: a.GeneratorURL, StartsAt: formatTime(starts),
		EndsAt: nullTime(a.EndsAt), FirstSeenAt: formatTime(a.FirstSeenAt), LastSeenAt: formatTime(a.LastSeenAt),
		Receipts: a.Receipts,
	})
	if err != nil {
		return false, fmt.Errorf("insert alert %s of incident %s: %w", a.Key, a.IncidentID, mapErr(err))
	}
	return true, nil
}

// AlertTruncatedSet implements incident.Tx.
func (t *Tx) AlertTruncatedSet(ctx context.Context, incidentID string, n int64) error {
	if err := t.q.AlertTruncatedSet(ctx, gen.AlertTruncatedSetParams{IncidentID: incidentID, TruncatedAlerts: n}); err != nil {
		return fmt.Errorf("record truncated alerts of incident %s: %w", incidentID, mapErr(err))
	}
	return nil
}

// AlertFiringCount implements incident.Tx.
func (t *Tx) AlertFiringCount(ctx context.Context, incidentID string) (int64, error) {
	n, err := t.q.AlertFiringCount(ctx, incidentID)
	if err != nil {
		return 0, fmt.Errorf("count firing alerts of incident %s: %w", incidentID, err)
	}
	return n, nil
}

// AlertsMove implements incident.Tx.
func (t *Tx) AlertsMove(ctx context.Context, from, to string, max int) (int64, error) {
	rows, err := t.q.AlertListAll(ctx, from)
	if err != nil {
		return 0, fmt.Errorf("list alerts of incident %s: %w", from, err)
	}
	for _, r := range rows {
		a, err := fromAlertRow(r)
		if err != nil {
			return 0, err
		}
		a.IncidentID = to
		if _, err := t.AlertRecord(ctx, a, max); err != nil {
			return 0, err
		}
	}
	tot, err := t.q.AlertTotalsGet(ctx, from)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, fmt.Errorf("alert totals of incident %s: %w", from, err)
	case tot.Overflow > 0:
		if err := t.q.AlertOverflowAdd(ctx, gen.AlertOverflowAddParams{IncidentID: to, Overflow: tot.Overflow}); err != nil {
			return 0, fmt.Errorf("count overflow of incident %s: %w", to, mapErr(err))
		}
	}
	if err := t.q.AlertDeleteAll(ctx, from); err != nil {
		return 0, fmt.Errorf("delete alerts of incident %s: %w", from, err)
	}
	if err := t.q.AlertTotalsDelete(ctx, from); err != nil {
		return 0, fmt.Errorf("delete alert totals of incident %s: %w", from, err)
	}
	return int64(len(rows)), nil
}

// AlertList implements incident.Store.
func (s *Store) AlertList(ctx context.Context, f incident.AlertFilter) ([]incident.Alert, error) {
	limit := int64(f.Limit)
	if limit <= 0 {
		limit = defaultListLimit
	}
	rows, err := gen.New(s.db).AlertList(ctx, gen.AlertListParams{IncidentID: f.IncidentID, AfterSeq: f.AfterSeq, Status: f.Status, Lim: limit})
	if err != nil {
		return nil, fmt.Errorf("list alerts of incident %s: %w", f.IncidentID, err)
	}
	out := make([]incident.Alert, 0, len(rows))
	for _, r := range rows {
		a, err := fromAlertRow(r)
		if err != nil {
			return nil, fmt.Errorf("alert %s of incident %s: %w", r.AlertKey, r.IncidentID, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// AlertStats implements incident.Store.
func (s *Store) AlertStats(ctx context.Context, incidentID string) (incident.AlertStats, error) {
	q := gen.New(s.db)
	var st incident.AlertStats
	rows, err := q.AlertCountByStatus(ctx, incidentID)
	if err != nil {
		return st, fmt.Errorf("count alerts of incident %s: %w", incidentID, err)
	}
	for _, r := range rows {
		switch r.Status {
		case incident.AlertFiring:
			st.Firing = r.N
		case incident.AlertResolved:
			st.Resolved = r.N
		}
	}
	tot, err := q.AlertTotalsGet(ctx, incidentID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return st, fmt.Errorf("alert totals of incident %s: %w", incidentID, err)
	default:
		st.Overflow, st.TruncatedAlerts = tot.Overflow, tot.TruncatedAlerts
	}
	return st, nil
}

func fromAlertRow(r gen.IncidentAlert) (incident.Alert, error) {
	a := incident.Alert{
		IncidentID: r.IncidentID, Key: r.AlertKey, Status: r.Status, Summary: r.Summary, Severity: r.Severity,
		Source: r.Source, Integration: r.Integration, GeneratorURL: r.GeneratorUrl, Receipts: r.Receipts, Seq: r.Seq,
	}
	var err error
	if a.Labels, err = decodeMap(r.Labels); err != nil {
		return a, err
	}
	if a.Annotations, err = decodeMap(r.Annotations); err != nil {
		return a, err
	}
	if r.Details != "" {
		a.Details = json.RawMessage(r.Details)
	}
	starts, err := db.ParseTime(r.StartsAt)
	if err != nil {
		return a, err
	}
	a.StartsAt = &starts
	if a.EndsAt, err = parseNullTime(r.EndsAt); err != nil {
		return a, err
	}
	if a.FirstSeenAt, err = db.ParseTime(r.FirstSeenAt); err != nil {
		return a, err
	}
	if a.LastSeenAt, err = db.ParseTime(r.LastSeenAt); err != nil {
		return a, err
	}
	return a, nil
}

// encodeMap writes a string map as a JSON object, "" for none.
func encodeMap(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// decodeMap reads what encodeMap wrote; none is nil.
func decodeMap(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode stored map: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

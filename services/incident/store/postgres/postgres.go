// Package postgres is the PostgreSQL adapter of the incident service's store
// (pgx/v5). It maps the sqlc-generated code in gen/ to the domain types of
// package incident; generated types never leave this package.
//
// PostgreSQL aborts a transaction at its first failed statement, so after a
// Tx method fails fn must return an error. The one exception is
// IncidentCreate's ErrConflict, which runs under a savepoint and leaves the
// transaction usable, as it is on SQLite.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db"
	outboxpg "github.com/firebreak-dev/firebreak/internal/outbox/postgres"
	"github.com/firebreak-dev/firebreak/internal/timer"
	timerpostgres "github.com/firebreak-dev/firebreak/internal/timer/postgres"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/incident/store/postgres/gen"
)

// defaultListLimit applies when ListFilter.Limit is not positive.
const defaultListLimit = 100

// SQLSTATEs InTx retries and the constraint it maps to ErrConflict.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	openDedupIndex           = "incidents_open_dedup"
)

// Store is the incident store on a PostgreSQL schema migrated with the
// "outbox" and "incident" sets.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

var _ incident.Store = (*Store)(nil)

// New returns the store of pool. now stamps outbox and inbox rows and fills
// zero creation times.
func New(pool *pgxpool.Pool, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{pool: pool, now: now}
}

// InTx runs fn in a read-committed transaction. When fn fails with
// ErrConflict or ErrVersionConflict, or PostgreSQL reports a serialization
// failure, a deadlock or a unique violation (another replica won a race), InTx
// re-runs fn on a fresh transaction, up to 5 times in all, and then returns
// the last error unchanged.
func (s *Store) InTx(ctx context.Context, fn func(tx incident.Tx) error) error {
	return db.Retry(ctx, retryable, func() error {
		return db.InPgTx(ctx, s.pool, func(pgTx pgx.Tx) error {
			return fn(&Tx{tx: pgTx, q: gen.New(pgTx), now: s.now})
		})
	})
}

func retryable(err error) bool {
	if errors.Is(err, incident.ErrConflict) || errors.Is(err, incident.ErrVersionConflict) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeSerializationFailure, codeDeadlockDetected, codeUniqueViolation:
			return true
		}
	}
	return false
}

// IncidentGet implements incident.Store.
func (s *Store) IncidentGet(ctx context.Context, ref incident.Ref) (incident.Incident, error) {
	return incidentGet(ctx, gen.New(s.pool), ref)
}

// IncidentList implements incident.Store.
func (s *Store) IncidentList(ctx context.Context, f incident.ListFilter) ([]incident.Incident, error) {
	q := gen.New(s.pool)
	limit := int64(f.Limit)
	if limit <= 0 {
		limit = defaultListLimit
	}
	before := int64(math.MaxInt64)
	if f.AfterNumber > 0 {
		before = f.AfterNumber
	}
	var (
		rows []gen.Incident
		err  error
	)
	if len(f.Statuses) == 0 {
		rows, err = q.IncidentList(ctx, gen.IncidentListParams{Service: f.Service, Assignee: f.Assignee, Before: before, Lim: limit})
	} else {
		statuses := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			statuses[i] = string(st)
		}
		rows, err = q.IncidentListByStatus(ctx, gen.IncidentListByStatusParams{
			Statuses: statuses, Service: f.Service, Assignee: f.Assignee, Before: before, Lim: limit,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	out := make([]incident.Incident, len(rows))
	for i, r := range rows {
		out[i] = fromRow(r)
	}
	return out, nil
}

// NoteList implements incident.Store.
func (s *Store) NoteList(ctx context.Context, incidentID string) ([]incident.Note, error) {
	rows, err := gen.New(s.pool).NoteListByIncident(ctx, incidentID)
	if err != nil {
		return nil, fmt.Errorf("list notes of incident %s: %w", incidentID, err)
	}
	out := make([]incident.Note, len(rows))
	for i, r := range rows {
		out[i] = incident.Note{
			ID:         r.ID,
			IncidentID: r.IncidentID,
			Text:       r.Text,
			Author:     actor(r.ActorKind, r.ActorID, r.ActorName, r.ActorChannel),
			CreatedAt:  r.CreatedAt.Time.UTC(),
		}
	}
	return out, nil
}

// ActionList implements incident.Store.
func (s *Store) ActionList(ctx context.Context, incidentID string) ([]incident.Action, error) {
	rows, err := gen.New(s.pool).ActionListByIncident(ctx, incidentID)
	if err != nil {
		return nil, fmt.Errorf("list actions of incident %s: %w", incidentID, err)
	}
	out := make([]incident.Action, len(rows))
	for i, r := range rows {
		out[i] = incident.Action{
			ID:         r.ID,
			IncidentID: r.IncidentID,
			Kind:       r.Kind,
			Text:       r.Text,
			Actor:      actor(r.ActorKind, r.ActorID, r.ActorName, r.ActorChannel),
			CreatedAt:  r.CreatedAt.Time.UTC(),
		}
	}
	return out, nil
}

// ResponderList implements incident.Store.
func (s *Store) ResponderList(ctx context.Context, incidentID string) ([]incident.Responder, error) {
	rows, err := gen.New(s.pool).ResponderListByIncident(ctx, incidentID)
	if err != nil {
		return nil, fmt.Errorf("list responders of incident %s: %w", incidentID, err)
	}
	out := make([]incident.Responder, len(rows))
	for i, r := range rows {
		out[i] = incident.Responder{
			IncidentID: r.IncidentID,
			User:       r.UserID,
			AddedBy:    actor(r.AddedByKind, r.AddedByID, r.AddedByName, r.AddedByChannel),
			AddedAt:    r.AddedAt.Time.UTC(),
		}
	}
	return out, nil
}

// ServiceList implements incident.Store.
func (s *Store) ServiceList(ctx context.Context) ([]incident.TechService, error) {
	rows, err := gen.New(s.pool).ServiceList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	out := make([]incident.TechService, 0, len(rows))
	for _, r := range rows {
		svc, err := fromServiceRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, svc)
	}
	return out, nil
}

// ServiceGet implements incident.Store.
func (s *Store) ServiceGet(ctx context.Context, name string) (incident.TechService, error) {
	return serviceGet(ctx, gen.New(s.pool), name)
}

// OutboxCount returns the number of unpublished outbox rows, for tests and
// metrics.
func (s *Store) OutboxCount(ctx context.Context) (int64, error) {
	return outboxpg.New(s.pool).Count(ctx)
}

// Tx is the store inside one transaction of InTx.
type Tx struct {
	tx  pgx.Tx
	q   *gen.Queries
	now func() time.Time
}

var _ incident.Tx = (*Tx)(nil)

// MarkProcessed implements incident.Tx.
func (t *Tx) MarkProcessed(ctx context.Context, consumer, msgID string) (bool, error) {
	return outboxpg.MarkProcessed(ctx, t.tx, consumer, msgID, t.now())
}

// Emit implements incident.Tx.
func (t *Tx) Emit(ctx context.Context, envs ...events.Envelope) error {
	return outboxpg.Enqueue(ctx, t.tx, t.now(), envs...)
}

// ServiceGet implements incident.Tx.
func (t *Tx) ServiceGet(ctx context.Context, name string) (incident.TechService, error) {
	return serviceGet(ctx, t.q, name)
}

// ServiceCreate implements incident.Tx. An empty s.ID gets a UUIDv7; a zero
// s.CreatedAt gets the store's now.
func (t *Tx) ServiceCreate(ctx context.Context, s incident.TechService) (incident.TechService, error) {
	if s.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return incident.TechService{}, fmt.Errorf("new service id: %w", err)
		}
		s.ID = id.String()
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = t.now()
	}
	sevMap, err := encodeSeverityMap(s.SeverityMap)
	if err != nil {
		return incident.TechService{}, fmt.Errorf("create service %s: %w", s.Name, err)
	}
	err = t.q.ServiceInsert(ctx, gen.ServiceInsertParams{
		ID:               s.ID,
		Name:             s.Name,
		Description:      s.Description,
		CreatedAt:        ts(s.CreatedAt),
		EscalationPolicy: s.EscalationPolicy,
		AckTimeoutMs:     s.AckTimeout.Milliseconds(),
		SeverityMap:      sevMap,
		AlertGrouping:    events.EncodeAlertGrouping(s.AlertGrouping),
	})
	if err != nil {
		return incident.TechService{}, fmt.Errorf("create service %s: %w", s.Name, err)
	}
	return t.ServiceGet(ctx, s.Name)
}

// ServiceUpdate implements incident.Tx.
func (t *Tx) ServiceUpdate(ctx context.Context, s incident.TechService) error {
	sevMap, err := encodeSeverityMap(s.SeverityMap)
	if err != nil {
		return fmt.Errorf("update service %s: %w", s.Name, err)
	}
	n, err := t.q.ServiceUpdate(ctx, gen.ServiceUpdateParams{
		Description:      s.Description,
		EscalationPolicy: s.EscalationPolicy,
		AckTimeoutMs:     s.AckTimeout.Milliseconds(),
		SeverityMap:      sevMap,
		AlertGrouping:    events.EncodeAlertGrouping(s.AlertGrouping),
		Name:             s.Name,
	})
	if err != nil {
		return fmt.Errorf("update service %s: %w", s.Name, err)
	}
	if n == 0 {
		return fmt.Errorf("update service %s: %w", s.Name, incident.ErrNotFound)
	}
	return nil
}

// IncidentGet implements incident.Tx.
func (t *Tx) IncidentGet(ctx context.Context, ref incident.Ref) (incident.Incident, error) {
	return incidentGet(ctx, t.q, ref)
}

// IncidentOpenByDedup implements incident.Tx.
func (t *Tx) IncidentOpenByDedup(ctx context.Context, service, dedupKey string) (incident.Incident, error) {
	r, err := t.q.IncidentOpenByDedup(ctx, gen.IncidentOpenByDedupParams{Service: service, DedupKey: dedupKey})
	if errors.Is(err, pgx.ErrNoRows) {
		r, err = t.q.IncidentOpenByMember(ctx, gen.IncidentOpenByMemberParams{Service: service, DedupKey: dedupKey})
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return incident.Incident{}, fmt.Errorf("open incident of %s/%s: %w", service, dedupKey, incident.ErrNotFound)
	}
	if err != nil {
		return incident.Incident{}, fmt.Errorf("load open incident of %s/%s: %w", service, dedupKey, err)
	}
	return fromRow(r), nil
}

// IncidentOpenByGroup implements incident.Tx.
func (t *Tx) IncidentOpenByGroup(ctx context.Context, service, groupKey string, since time.Time) (incident.Incident, error) {
	r, err := t.q.IncidentOpenByGroup(ctx, gen.IncidentOpenByGroupParams{Service: service, GroupKey: groupKey, CreatedAt: ts(since)})
	if errors.Is(err, pgx.ErrNoRows) {
		return incident.Incident{}, fmt.Errorf("open incident of %s group %s: %w", service, groupKey, incident.ErrNotFound)
	}
	if err != nil {
		return incident.Incident{}, fmt.Errorf("load open incident of %s group %s: %w", service, groupKey, err)
	}
	return fromRow(r), nil
}

// MemberAdd implements incident.Tx.
func (t *Tx) MemberAdd(ctx context.Context, service, dedupKey, incidentID string, at time.Time) error {
	err := t.q.MemberAdd(ctx, gen.MemberAddParams{Service: service, DedupKey: dedupKey, IncidentID: incidentID, AddedAt: ts(at)})
	if err != nil {
		return fmt.Errorf("add %s/%s to incident %s: %w", service, dedupKey, incidentID, mapErr(err))
	}
	return nil
}

// MemberCount implements incident.Tx.
func (t *Tx) MemberCount(ctx context.Context, incidentID string) (int64, error) {
	n, err := t.q.MemberCount(ctx, incidentID)
	if err != nil {
		return 0, fmt.Errorf("count dedup keys of incident %s: %w", incidentID, err)
	}
	return n, nil
}

// MembersCopy implements incident.Tx.
func (t *Tx) MembersCopy(ctx context.Context, src, dst string, at time.Time) error {
	if err := t.q.MembersCopy(ctx, gen.MembersCopyParams{Src: src, Dst: dst, AddedAt: ts(at)}); err != nil {
		return fmt.Errorf("copy dedup keys of incident %s to %s: %w", src, dst, mapErr(err))
	}
	return nil
}

// IncidentCreate implements incident.Tx. It runs under a savepoint, so a
// refused create (ErrConflict) changes nothing, gives its number back and
// leaves the transaction usable instead of aborted. Zero CreatedAt, UpdatedAt
// and LastAlertAt get the store's now.
func (t *Tx) IncidentCreate(ctx context.Context, inc incident.Incident) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, t.tx, func(sp pgx.Tx) error {
		q := gen.New(sp)
		var err error
		if n, err = q.IncidentNumberNext(ctx); err != nil {
			return fmt.Errorf("allocate incident number: %w", err)
		}
		now := t.now()
		for _, p := range []*time.Time{&inc.CreatedAt, &inc.UpdatedAt, &inc.LastAlertAt} {
			if p.IsZero() {
				*p = now
			}
		}
		err = q.IncidentInsert(ctx, gen.IncidentInsertParams{
			ID:             inc.ID,
			Number:         n,
			Service:        inc.Service,
			DedupKey:       inc.DedupKey,
			Title:          inc.Title,
			Severity:       inc.Severity,
			AlertSeverity:  inc.AlertSeverity,
			Status:         string(inc.Status),
			AlertCount:     inc.AlertCount,
			Version:        inc.Version,
			CreatedAt:      ts(inc.CreatedAt),
			UpdatedAt:      ts(inc.UpdatedAt),
			LastAlertAt:    ts(inc.LastAlertAt),
			AcknowledgedAt: nullTS(inc.AcknowledgedAt),
			AcknowledgedBy: inc.AcknowledgedBy,
			ResolvedAt:     nullTS(inc.ResolvedAt),
			ResolvedBy:     inc.ResolvedBy,

			Summary:               inc.Summary,
			Origin:                inc.Origin,
			Assignee:              inc.Assignee,
			EscalationLevel:       int32(inc.EscalationLevel),
			SnoozedUntil:          nullTS(inc.SnoozedUntil),
			MergedInto:            inc.MergedInto,
			ContainedAt:           nullTS(inc.ContainedAt),
			MitigatedAt:           nullTS(inc.MitigatedAt),
			ClosedAt:              nullTS(inc.ClosedAt),
			PostmortemPublishedAt: nullTS(inc.PostmortemPublishedAt),
			ReopenCount:           int32(inc.ReopenCount),
			GroupKey:              inc.GroupKey,
		})
		return mapErr(err)
	})
	if err != nil {
		return 0, fmt.Errorf("create incident %s: %w", inc.ID, err)
	}
	return n, nil
}

// IncidentUpdate implements incident.Tx. Number, service, dedup key, origin
// and creation time never change.
func (t *Tx) IncidentUpdate(ctx context.Context, inc incident.Incident, expectedVersion int64) error {
	if inc.Version != expectedVersion+1 {
		return fmt.Errorf("%w: update incident %s to version %d from %d", incident.ErrInvalid, inc.ID, inc.Version, expectedVersion)
	}
	n, err := t.q.IncidentUpdate(ctx, gen.IncidentUpdateParams{
		Title:          inc.Title,
		Severity:       inc.Severity,
		AlertSeverity:  inc.AlertSeverity,
		Status:         string(inc.Status),
		AlertCount:     inc.AlertCount,
		Version:        inc.Version,
		UpdatedAt:      ts(inc.UpdatedAt),
		LastAlertAt:    ts(inc.LastAlertAt),
		AcknowledgedAt: nullTS(inc.AcknowledgedAt),
		AcknowledgedBy: inc.AcknowledgedBy,
		ResolvedAt:     nullTS(inc.ResolvedAt),
		ResolvedBy:     inc.ResolvedBy,

		Summary:               inc.Summary,
		Assignee:              inc.Assignee,
		EscalationLevel:       int32(inc.EscalationLevel),
		SnoozedUntil:          nullTS(inc.SnoozedUntil),
		MergedInto:            inc.MergedInto,
		ContainedAt:           nullTS(inc.ContainedAt),
		MitigatedAt:           nullTS(inc.MitigatedAt),
		ClosedAt:              nullTS(inc.ClosedAt),
		PostmortemPublishedAt: nullTS(inc.PostmortemPublishedAt),
		ReopenCount:           int32(inc.ReopenCount),

		ID:              inc.ID,
		ExpectedVersion: expectedVersion,
	})
	if err != nil {
		return fmt.Errorf("update incident %s: %w", inc.ID, mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("update incident %s at version %d: %w", inc.ID, expectedVersion, incident.ErrVersionConflict)
	}
	return nil
}

// NoteAdd implements incident.Tx. A zero n.CreatedAt gets the store's now; a
// note on an unknown incident is ErrNotFound.
func (t *Tx) NoteAdd(ctx context.Context, n incident.Note) (int64, error) {
	if n.CreatedAt.IsZero() {
		n.CreatedAt = t.now()
	}
	id, err := t.q.NoteInsert(ctx, gen.NoteInsertParams{
		IncidentID:   n.IncidentID,
		Text:         n.Text,
		ActorKind:    string(n.Author.Kind),
		ActorID:      n.Author.ID,
		ActorName:    n.Author.Name,
		ActorChannel: string(n.Author.Channel),
		CreatedAt:    ts(n.CreatedAt),
	})
	if err != nil {
		return 0, fmt.Errorf("add note to incident %s: %w", n.IncidentID, mapErr(err))
	}
	return id, nil
}

// ActionAdd implements incident.Tx. A zero a.CreatedAt gets the store's now.
func (t *Tx) ActionAdd(ctx context.Context, a incident.Action) (int64, error) {
	if a.CreatedAt.IsZero() {
		a.CreatedAt = t.now()
	}
	id, err := t.q.ActionInsert(ctx, gen.ActionInsertParams{
		IncidentID:   a.IncidentID,
		Kind:         a.Kind,
		Text:         a.Text,
		ActorKind:    string(a.Actor.Kind),
		ActorID:      a.Actor.ID,
		ActorName:    a.Actor.Name,
		ActorChannel: string(a.Actor.Channel),
		CreatedAt:    ts(a.CreatedAt),
	})
	if err != nil {
		return 0, fmt.Errorf("add action to incident %s: %w", a.IncidentID, mapErr(err))
	}
	return id, nil
}

// ResponderAdd implements incident.Tx. A zero r.AddedAt gets the store's
// now; adding a responder again keeps the first addition.
func (t *Tx) ResponderAdd(ctx context.Context, r incident.Responder) (bool, error) {
	if r.AddedAt.IsZero() {
		r.AddedAt = t.now()
	}
	n, err := t.q.ResponderInsert(ctx, gen.ResponderInsertParams{
		IncidentID:     r.IncidentID,
		UserID:         r.User,
		AddedByKind:    string(r.AddedBy.Kind),
		AddedByID:      r.AddedBy.ID,
		AddedByName:    r.AddedBy.Name,
		AddedByChannel: string(r.AddedBy.Channel),
		AddedAt:        ts(r.AddedAt),
	})
	if err != nil {
		return false, fmt.Errorf("add responder %s to incident %s: %w", r.User, r.IncidentID, mapErr(err))
	}
	return n > 0, nil
}

func serviceGet(ctx context.Context, q *gen.Queries, name string) (incident.TechService, error) {
	r, err := q.ServiceGetByName(ctx, name)
	if errors.Is(err, pgx.ErrNoRows) {
		return incident.TechService{}, fmt.Errorf("service %s: %w", name, incident.ErrNotFound)
	}
	if err != nil {
		return incident.TechService{}, fmt.Errorf("load service %s: %w", name, err)
	}
	return fromServiceRow(r)
}

func fromServiceRow(r gen.Service) (incident.TechService, error) {
	sevMap, err := decodeSeverityMap(r.SeverityMap)
	if err != nil {
		return incident.TechService{}, fmt.Errorf("service %s: %w", r.Name, err)
	}
	grouping, err := events.DecodeAlertGrouping(r.AlertGrouping)
	if err != nil {
		return incident.TechService{}, fmt.Errorf("service %s: %w", r.Name, err)
	}
	return incident.TechService{
		ID:               r.ID,
		Name:             r.Name,
		Description:      r.Description,
		CreatedAt:        r.CreatedAt.Time.UTC(),
		EscalationPolicy: r.EscalationPolicy,
		AckTimeout:       time.Duration(r.AckTimeoutMs) * time.Millisecond,
		SeverityMap:      sevMap,
		AlertGrouping:    grouping,
	}, nil
}

// encodeSeverityMap stores nil and an empty map alike, as {}.
func encodeSeverityMap(m map[string]string) ([]byte, error) {
	if len(m) == 0 {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode severity map: %w", err)
	}
	return b, nil
}

// decodeSeverityMap gives back nil for no overrides (incident.TechService).
func decodeSeverityMap(b []byte) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode severity map: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

func actor(kind, id, name, channel string) events.Actor {
	return events.Actor{Kind: events.ActorKind(kind), ID: id, Name: name, Channel: events.Channel(channel)}
}

func incidentGet(ctx context.Context, q *gen.Queries, ref incident.Ref) (incident.Incident, error) {
	var (
		r   gen.Incident
		err error
	)
	if ref.Number > 0 {
		r, err = q.IncidentGetByNumber(ctx, ref.Number)
	} else {
		r, err = q.IncidentGetByID(ctx, ref.ID)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return incident.Incident{}, fmt.Errorf("incident %s: %w", ref, incident.ErrNotFound)
	}
	if err != nil {
		return incident.Incident{}, fmt.Errorf("load incident %s: %w", ref, err)
	}
	return fromRow(r), nil
}

// mapErr turns the constraint violations the domain cares about into its
// sentinel errors, keeping the driver's error in the chain (InTx still sees
// the SQLSTATE).
func mapErr(err error) error {
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) {
		return err
	}
	switch {
	case pe.Code == codeUniqueViolation && pe.ConstraintName == openDedupIndex:
		return fmt.Errorf("%w: an open incident has this service and dedup key (%w)", incident.ErrConflict, err)
	case pe.Code == codeForeignKeyViolation:
		return fmt.Errorf("%w: no such incident (%w)", incident.ErrNotFound, err)
	}
	return err
}

func fromRow(r gen.Incident) incident.Incident {
	return incident.Incident{
		ID:             r.ID,
		Number:         r.Number,
		Service:        r.Service,
		DedupKey:       r.DedupKey,
		Title:          r.Title,
		Severity:       r.Severity,
		AlertSeverity:  r.AlertSeverity,
		Status:         incident.Status(r.Status),
		AlertCount:     r.AlertCount,
		Version:        r.Version,
		CreatedAt:      r.CreatedAt.Time.UTC(),
		UpdatedAt:      r.UpdatedAt.Time.UTC(),
		LastAlertAt:    r.LastAlertAt.Time.UTC(),
		AcknowledgedAt: timePtr(r.AcknowledgedAt),
		AcknowledgedBy: r.AcknowledgedBy,
		ResolvedAt:     timePtr(r.ResolvedAt),
		ResolvedBy:     r.ResolvedBy,

		Summary:               r.Summary,
		Origin:                r.Origin,
		Assignee:              r.Assignee,
		EscalationLevel:       int(r.EscalationLevel),
		SnoozedUntil:          timePtr(r.SnoozedUntil),
		MergedInto:            r.MergedInto,
		ContainedAt:           timePtr(r.ContainedAt),
		MitigatedAt:           timePtr(r.MitigatedAt),
		ClosedAt:              timePtr(r.ClosedAt),
		PostmortemPublishedAt: timePtr(r.PostmortemPublishedAt),
		ReopenCount:           int(r.ReopenCount),
		GroupKey:              r.GroupKey,
	}
}

func ts(t time.Time) pgtype.Timestamptz { return pgtype.Timestamptz{Time: t.UTC(), Valid: true} }

func nullTS(t *time.Time) pgtype.Timestamptz {
	if t == nil {
		return pgtype.Timestamptz{}
	}
	return ts(*t)
}

func timePtr(t pgtype.Timestamptz) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// FireTimer implements incident.Store: the timer's deletion and fn's effect
// commit together.
func (s *Store) FireTimer(ctx context.Context, t timer.Timer, fn func(tx incident.Tx) error) error {
	return timerpostgres.New(s.pool).Fire(ctx, t, func(pgTx pgx.Tx) error {
		return fn(&Tx{tx: pgTx, q: gen.New(pgTx), now: s.now})
	})
}

// Timers implements incident.Store.
func (s *Store) Timers() timer.Source { return timerpostgres.New(s.pool) }

// TimerSchedule implements incident.Tx.
func (t *Tx) TimerSchedule(ctx context.Context, tm timer.Timer) error {
	return timerpostgres.Schedule(ctx, t.tx, tm)
}

// TimerCancel implements incident.Tx.
func (t *Tx) TimerCancel(ctx context.Context, kind, key string) (bool, error) {
	return timerpostgres.Cancel(ctx, t.tx, kind, key)
}

// HeartbeatList implements incident.Store.
func (s *Store) HeartbeatList(ctx context.Context) ([]incident.Heartbeat, error) {
	rows, err := gen.New(s.pool).HeartbeatList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list heartbeats: %w", err)
	}
	out := make([]incident.Heartbeat, 0, len(rows))
	for _, r := range rows {
		out = append(out, fromHeartbeatRow(r))
	}
	return out, nil
}

// HeartbeatCreate implements incident.Tx.
func (t *Tx) HeartbeatCreate(ctx context.Context, hb incident.Heartbeat, keyHash string) error {
	if _, err := t.HeartbeatByName(ctx, hb.Name); err == nil {
		return fmt.Errorf("heartbeat %q exists: %w", hb.Name, incident.ErrHeartbeatExists)
	}
	err := t.q.HeartbeatInsert(ctx, gen.HeartbeatInsertParams{
		ID: hb.ID, Name: hb.Name, Service: hb.Service, IntervalSeconds: int32(hb.Interval / time.Second),
		KeyHash: keyHash, Status: hb.Status, LastPingAt: nullTS(hb.LastPingAt), CreatedAt: ts(hb.CreatedAt),
	})
	if err != nil {
		return fmt.Errorf("insert heartbeat %s: %w", hb.Name, err)
	}
	return nil
}

// HeartbeatGet implements incident.Tx.
func (t *Tx) HeartbeatGet(ctx context.Context, id string) (incident.Heartbeat, error) {
	return heartbeatRow(t.q.HeartbeatGetByID(ctx, id))
}

// HeartbeatByName implements incident.Tx.
func (t *Tx) HeartbeatByName(ctx context.Context, name string) (incident.Heartbeat, error) {
	return heartbeatRow(t.q.HeartbeatGetByName(ctx, name))
}

// HeartbeatByKeyHash implements incident.Tx.
func (t *Tx) HeartbeatByKeyHash(ctx context.Context, keyHash string) (incident.Heartbeat, error) {
	return heartbeatRow(t.q.HeartbeatGetByKeyHash(ctx, keyHash))
}

// HeartbeatUpdate implements incident.Tx.
func (t *Tx) HeartbeatUpdate(ctx context.Context, hb incident.Heartbeat) error {
	n, err := t.q.HeartbeatUpdate(ctx, gen.HeartbeatUpdateParams{Status: hb.Status, LastPingAt: nullTS(hb.LastPingAt), ID: hb.ID})
	if err != nil {
		return fmt.Errorf("update heartbeat %s: %w", hb.Name, err)
	}
	if n == 0 {
		return fmt.Errorf("heartbeat %s: %w", hb.ID, incident.ErrNotFound)
	}
	return nil
}

func heartbeatRow(r gen.Heartbeat, err error) (incident.Heartbeat, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return incident.Heartbeat{}, fmt.Errorf("heartbeat: %w", incident.ErrNotFound)
	}
	if err != nil {
		return incident.Heartbeat{}, fmt.Errorf("get heartbeat: %w", err)
	}
	return fromHeartbeatRow(r), nil
}

func fromHeartbeatRow(r gen.Heartbeat) incident.Heartbeat {
	return incident.Heartbeat{ID: r.ID, Name: r.Name, Service: r.Service, Interval: time.Duration(r.IntervalSeconds) * time.Second,
		Status: r.Status, LastPingAt: timePtr(r.LastPingAt), CreatedAt: r.CreatedAt.Time.UTC()}
}

// Package sqlite is the SQLite adapter of the incident service's store. It
// maps the sqlc-generated code in gen/ to the domain types of package
// incident; generated types never leave this package.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/internal/timer"
	timersqlite "github.com/firebreak-dev/firebreak/internal/timer/sqlite"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/incident/store/sqlite/gen"
)

// defaultListLimit applies when ListFilter.Limit is not positive.
const defaultListLimit = 100

// Store is the incident store on a SQLite database migrated with the
// "outbox" and "incident" sets.
type Store struct {
	db  *sql.DB
	now func() time.Time
}

var _ incident.Store = (*Store)(nil)

// New returns the store of d. now stamps outbox and inbox rows and fills
// zero creation times.
func New(d *sql.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: d, now: now}
}

// InTx runs fn in an IMMEDIATE transaction. SQLite has one writer at a time,
// so a conflict here is one fn found itself (ErrConflict, ErrVersionConflict,
// for example against a row it read before this transaction); InTx re-runs
// fn on a fresh transaction up to 5 times in all and then returns fn's error.
func (s *Store) InTx(ctx context.Context, fn func(tx incident.Tx) error) error {
	return db.Retry(ctx, retryable, func() error {
		return db.InTx(ctx, s.db, func(sqlTx *sql.Tx) error {
			return fn(&Tx{tx: sqlTx, q: gen.New(sqlTx), now: s.now})
		})
	})
}

func retryable(err error) bool {
	return errors.Is(err, incident.ErrConflict) || errors.Is(err, incident.ErrVersionConflict)
}

// IncidentGet implements incident.Store.
func (s *Store) IncidentGet(ctx context.Context, ref incident.Ref) (incident.Incident, error) {
	return incidentGet(ctx, gen.New(s.db), ref)
}

// IncidentList implements incident.Store.
func (s *Store) IncidentList(ctx context.Context, f incident.ListFilter) ([]incident.Incident, error) {
	q := gen.New(s.db)
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
			Statuses: statuses, Column2: f.Service, Column3: f.Assignee, Number: before, Limit: limit,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	out := make([]incident.Incident, 0, len(rows))
	for _, r := range rows {
		inc, err := fromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, inc)
	}
	return out, nil
}

// NoteList implements incident.Store.
func (s *Store) NoteList(ctx context.Context, incidentID string) ([]incident.Note, error) {
	rows, err := gen.New(s.db).NoteListByIncident(ctx, incidentID)
	if err != nil {
		return nil, fmt.Errorf("list notes of incident %s: %w", incidentID, err)
	}
	out := make([]incident.Note, 0, len(rows))
	for _, r := range rows {
		created, err := db.ParseTime(r.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("note %d: %w", r.ID, err)
		}
		out = append(out, incident.Note{
			ID:         r.ID,
			IncidentID: r.IncidentID,
			Text:       r.Text,
			Author:     actor(r.ActorKind, r.ActorID, r.ActorName, r.ActorChannel),
			CreatedAt:  created,
		})
	}
	return out, nil
}

// ActionList implements incident.Store.
func (s *Store) ActionList(ctx context.Context, incidentID string) ([]incident.Action, error) {
	rows, err := gen.New(s.db).ActionListByIncident(ctx, incidentID)
	if err != nil {
		return nil, fmt.Errorf("list actions of incident %s: %w", incidentID, err)
	}
	out := make([]incident.Action, 0, len(rows))
	for _, r := range rows {
		created, err := db.ParseTime(r.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("action %d: %w", r.ID, err)
		}
		out = append(out, incident.Action{
			ID:         r.ID,
			IncidentID: r.IncidentID,
			Kind:       r.Kind,
			Text:       r.Text,
			Actor:      actor(r.ActorKind, r.ActorID, r.ActorName, r.ActorChannel),
			CreatedAt:  created,
		})
	}
	return out, nil
}

// ResponderList implements incident.Store.
func (s *Store) ResponderList(ctx context.Context, incidentID string) ([]incident.Responder, error) {
	rows, err := gen.New(s.db).ResponderListByIncident(ctx, incidentID)
	if err != nil {
		return nil, fmt.Errorf("list responders of incident %s: %w", incidentID, err)
	}
	out := make([]incident.Responder, 0, len(rows))
	for _, r := range rows {
		added, err := db.ParseTime(r.AddedAt)
		if err != nil {
			return nil, fmt.Errorf("responder %s of incident %s: %w", r.UserID, incidentID, err)
		}
		out = append(out, incident.Responder{
			IncidentID: r.IncidentID,
			User:       r.UserID,
			AddedBy:    actor(r.AddedByKind, r.AddedByID, r.AddedByName, r.AddedByChannel),
			AddedAt:    added,
		})
	}
	return out, nil
}

// ServiceList implements incident.Store.
func (s *Store) ServiceList(ctx context.Context) ([]incident.TechService, error) {
	rows, err := gen.New(s.db).ServiceList(ctx)
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
	return serviceGet(ctx, gen.New(s.db), name)
}

// OutboxCount returns the number of unpublished outbox rows, for tests and
// metrics.
func (s *Store) OutboxCount(ctx context.Context) (int64, error) {
	return outboxsqlite.New(s.db).Count(ctx)
}

// Tx is the store inside one transaction of InTx.
type Tx struct {
	tx  *sql.Tx
	q   *gen.Queries
	now func() time.Time
}

var _ incident.Tx = (*Tx)(nil)

// MarkProcessed implements incident.Tx.
func (t *Tx) MarkProcessed(ctx context.Context, consumer, msgID string) (bool, error) {
	return outboxsqlite.MarkProcessed(ctx, t.tx, consumer, msgID, t.now())
}

// Emit implements incident.Tx.
func (t *Tx) Emit(ctx context.Context, envs ...events.Envelope) error {
	return outboxsqlite.Enqueue(ctx, t.tx, t.now(), envs...)
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
		CreatedAt:        formatTime(s.CreatedAt),
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
	if errors.Is(err, sql.ErrNoRows) {
		r, err = t.q.IncidentOpenByMember(ctx, gen.IncidentOpenByMemberParams{Service: service, DedupKey: dedupKey})
	}
	if errors.Is(err, sql.ErrNoRows) {
		return incident.Incident{}, fmt.Errorf("open incident of %s/%s: %w", service, dedupKey, incident.ErrNotFound)
	}
	if err != nil {
		return incident.Incident{}, fmt.Errorf("load open incident of %s/%s: %w", service, dedupKey, err)
	}
	return fromRow(r)
}

// IncidentOpenByGroup implements incident.Tx.
func (t *Tx) IncidentOpenByGroup(ctx context.Context, service, groupKey string, since time.Time) (incident.Incident, error) {
	r, err := t.q.IncidentOpenByGroup(ctx, gen.IncidentOpenByGroupParams{Service: service, GroupKey: groupKey, CreatedAt: formatTime(since)})
	if errors.Is(err, sql.ErrNoRows) {
		return incident.Incident{}, fmt.Errorf("open incident of %s group %s: %w", service, groupKey, incident.ErrNotFound)
	}
	if err != nil {
		return incident.Incident{}, fmt.Errorf("load open incident of %s group %s: %w", service, groupKey, err)
	}
	return fromRow(r)
}

// MemberAdd implements incident.Tx.
func (t *Tx) MemberAdd(ctx context.Context, service, dedupKey, incidentID string, at time.Time) error {
	err := t.q.MemberAdd(ctx, gen.MemberAddParams{Service: service, DedupKey: dedupKey, IncidentID: incidentID, AddedAt: formatTime(at)})
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
	if err := t.q.MembersCopy(ctx, gen.MembersCopyParams{Src: src, Dst: dst, AddedAt: formatTime(at)}); err != nil {
		return fmt.Errorf("copy dedup keys of incident %s to %s: %w", src, dst, mapErr(err))
	}
	return nil
}

// IncidentCreate implements incident.Tx. It runs under a savepoint, so a
// refused create (ErrConflict) changes nothing, gives its number back and
// leaves the transaction usable. Zero CreatedAt, UpdatedAt and LastAlertAt
// get the store's now.
func (t *Tx) IncidentCreate(ctx context.Context, inc incident.Incident) (n int64, err error) {
	if _, err := t.tx.ExecContext(ctx, "SAVEPOINT incident_create"); err != nil {
		return 0, fmt.Errorf("create incident %s: %w", inc.ID, err)
	}
	defer func() {
		// The savepoint must end even when ctx is done.
		ctx := context.WithoutCancel(ctx)
		if err != nil {
			if _, serr := t.tx.ExecContext(ctx, "ROLLBACK TO incident_create"); serr != nil {
				err = errors.Join(err, fmt.Errorf("roll back create of incident %s: %w", inc.ID, serr))
			}
		}
		if _, serr := t.tx.ExecContext(ctx, "RELEASE incident_create"); serr != nil && err == nil {
			n, err = 0, fmt.Errorf("create incident %s: %w", inc.ID, serr)
		}
	}()

	n, err = t.q.IncidentNumberNext(ctx)
	if err != nil {
		return 0, fmt.Errorf("allocate incident number: %w", err)
	}
	now := t.now()
	for _, ts := range []*time.Time{&inc.CreatedAt, &inc.UpdatedAt, &inc.LastAlertAt} {
		if ts.IsZero() {
			*ts = now
		}
	}
	err = t.q.IncidentInsert(ctx, gen.IncidentInsertParams{
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
		CreatedAt:      formatTime(inc.CreatedAt),
		UpdatedAt:      formatTime(inc.UpdatedAt),
		LastAlertAt:    formatTime(inc.LastAlertAt),
		AcknowledgedAt: nullTime(inc.AcknowledgedAt),
		AcknowledgedBy: inc.AcknowledgedBy,
		ResolvedAt:     nullTime(inc.ResolvedAt),
		ResolvedBy:     inc.ResolvedBy,

		Summary:               inc.Summary,
		Origin:                inc.Origin,
		Assignee:              inc.Assignee,
		EscalationLevel:       int64(inc.EscalationLevel),
		SnoozedUntil:          nullTime(inc.SnoozedUntil),
		MergedInto:            inc.MergedInto,
		ContainedAt:           nullTime(inc.ContainedAt),
		MitigatedAt:           nullTime(inc.MitigatedAt),
		ClosedAt:              nullTime(inc.ClosedAt),
		PostmortemPublishedAt: nullTime(inc.PostmortemPublishedAt),
		ReopenCount:           int64(inc.ReopenCount),
		GroupKey:              inc.GroupKey,
	})
	if err != nil {
		return 0, fmt.Errorf("create incident %s: %w", inc.ID, mapErr(err))
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
		UpdatedAt:      formatTime(inc.UpdatedAt),
		LastAlertAt:    formatTime(inc.LastAlertAt),
		AcknowledgedAt: nullTime(inc.AcknowledgedAt),
		AcknowledgedBy: inc.AcknowledgedBy,
		ResolvedAt:     nullTime(inc.ResolvedAt),
		ResolvedBy:     inc.ResolvedBy,

		Summary:               inc.Summary,
		Assignee:              inc.Assignee,
		EscalationLevel:       int64(inc.EscalationLevel),
		SnoozedUntil:          nullTime(inc.SnoozedUntil),
		MergedInto:            inc.MergedInto,
		ContainedAt:           nullTime(inc.ContainedAt),
		MitigatedAt:           nullTime(inc.MitigatedAt),
		ClosedAt:              nullTime(inc.ClosedAt),
		PostmortemPublishedAt: nullTime(inc.PostmortemPublishedAt),
		ReopenCount:           int64(inc.ReopenCount),

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
		CreatedAt:    formatTime(n.CreatedAt),
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
		CreatedAt:    formatTime(a.CreatedAt),
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
		AddedAt:        formatTime(r.AddedAt),
	})
	if err != nil {
		return false, fmt.Errorf("add responder %s to incident %s: %w", r.User, r.IncidentID, mapErr(err))
	}
	return n > 0, nil
}

func serviceGet(ctx context.Context, q *gen.Queries, name string) (incident.TechService, error) {
	r, err := q.ServiceGetByName(ctx, name)
	if errors.Is(err, sql.ErrNoRows) {
		return incident.TechService{}, fmt.Errorf("service %s: %w", name, incident.ErrNotFound)
	}
	if err != nil {
		return incident.TechService{}, fmt.Errorf("load service %s: %w", name, err)
	}
	return fromServiceRow(r)
}

func fromServiceRow(r gen.Service) (incident.TechService, error) {
	created, err := db.ParseTime(r.CreatedAt)
	if err != nil {
		return incident.TechService{}, fmt.Errorf("service %s: %w", r.Name, err)
	}
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
		CreatedAt:        created,
		EscalationPolicy: r.EscalationPolicy,
		AckTimeout:       time.Duration(r.AckTimeoutMs) * time.Millisecond,
		SeverityMap:      sevMap,
		AlertGrouping:    grouping,
	}, nil
}

// encodeSeverityMap stores nil and an empty map alike, as {}.
func encodeSeverityMap(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode severity map: %w", err)
	}
	return string(b), nil
}

// decodeSeverityMap gives back nil for no overrides (incident.TechService).
func decodeSeverityMap(s string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
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
	if errors.Is(err, sql.ErrNoRows) {
		return incident.Incident{}, fmt.Errorf("incident %s: %w", ref, incident.ErrNotFound)
	}
	if err != nil {
		return incident.Incident{}, fmt.Errorf("load incident %s: %w", ref, err)
	}
	return fromRow(r)
}

// mapErr turns the constraint violations the domain cares about into its
// sentinel errors, keeping the driver's message.
func mapErr(err error) error {
	var se *sqlitedrv.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		// SQLite names the columns of the violated index, not the index.
		if strings.Contains(se.Error(), "incidents.service, incidents.dedup_key") {
			return fmt.Errorf("%w: an open incident has this service and dedup key (%w)", incident.ErrConflict, err)
		}
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w: no such incident (%w)", incident.ErrNotFound, err)
	}
	return err
}

func fromRow(r gen.Incident) (incident.Incident, error) {
	inc := incident.Incident{
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
		AcknowledgedBy: r.AcknowledgedBy,
		ResolvedBy:     r.ResolvedBy,

		Summary:         r.Summary,
		Origin:          r.Origin,
		Assignee:        r.Assignee,
		EscalationLevel: int(r.EscalationLevel),
		MergedInto:      r.MergedInto,
		ReopenCount:     int(r.ReopenCount),
		GroupKey:        r.GroupKey,
	}
	var err error
	for _, c := range []struct {
		dst *time.Time
		src string
	}{{&inc.CreatedAt, r.CreatedAt}, {&inc.UpdatedAt, r.UpdatedAt}, {&inc.LastAlertAt, r.LastAlertAt}} {
		if *c.dst, err = db.ParseTime(c.src); err != nil {
			return incident.Incident{}, fmt.Errorf("incident %s: %w", r.ID, err)
		}
	}
	for _, c := range []struct {
		dst **time.Time
		src sql.NullString
	}{
		{&inc.AcknowledgedAt, r.AcknowledgedAt},
		{&inc.ResolvedAt, r.ResolvedAt},
		{&inc.SnoozedUntil, r.SnoozedUntil},
		{&inc.ContainedAt, r.ContainedAt},
		{&inc.MitigatedAt, r.MitigatedAt},
		{&inc.ClosedAt, r.ClosedAt},
		{&inc.PostmortemPublishedAt, r.PostmortemPublishedAt},
	} {
		if *c.dst, err = parseNullTime(c.src); err != nil {
			return incident.Incident{}, fmt.Errorf("incident %s: %w", r.ID, err)
		}
	}
	return inc, nil
}

// formatTime stores microseconds, as PostgreSQL does, so both engines give
// back the same time.
func formatTime(t time.Time) string { return db.FormatTime(t.Truncate(time.Microsecond)) }

func nullTime(t *time.Time) sql.NullString {
	if t == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: formatTime(*t), Valid: true}
}

func parseNullTime(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := db.ParseTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// FireTimer implements incident.Store: the timer's deletion and fn's effect
// commit together.
func (s *Store) FireTimer(ctx context.Context, t timer.Timer, fn func(tx incident.Tx) error) error {
	return timersqlite.New(s.db).Fire(ctx, t, func(sqlTx *sql.Tx) error {
		return fn(&Tx{tx: sqlTx, q: gen.New(sqlTx), now: s.now})
	})
}

// Timers implements incident.Store.
func (s *Store) Timers() timer.Source { return timersqlite.New(s.db) }

// TimerSchedule implements incident.Tx.
func (t *Tx) TimerSchedule(ctx context.Context, tm timer.Timer) error {
	return timersqlite.Schedule(ctx, t.tx, tm)
}

// TimerCancel implements incident.Tx.
func (t *Tx) TimerCancel(ctx context.Context, kind, key string) (bool, error) {
	return timersqlite.Cancel(ctx, t.tx, kind, key)
}

// HeartbeatList implements incident.Store.
func (s *Store) HeartbeatList(ctx context.Context) ([]incident.Heartbeat, error) {
	rows, err := gen.New(s.db).HeartbeatList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list heartbeats: %w", err)
	}
	out := make([]incident.Heartbeat, 0, len(rows))
	for _, r := range rows {
		hb, err := fromHeartbeatRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, hb)
	}
	return out, nil
}

// HeartbeatCreate implements incident.Tx.
func (t *Tx) HeartbeatCreate(ctx context.Context, hb incident.Heartbeat, keyHash string) error {
	if _, err := t.HeartbeatByName(ctx, hb.Name); err == nil {
		return fmt.Errorf("heartbeat %q exists: %w", hb.Name, incident.ErrHeartbeatExists)
	}
	err := t.q.HeartbeatInsert(ctx, gen.HeartbeatInsertParams{
		ID: hb.ID, Name: hb.Name, Service: hb.Service, IntervalSeconds: int64(hb.Interval / time.Second),
		KeyHash: keyHash, Status: hb.Status, LastPingAt: nullTime(hb.LastPingAt), CreatedAt: formatTime(hb.CreatedAt),
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
	n, err := t.q.HeartbeatUpdate(ctx, gen.HeartbeatUpdateParams{Status: hb.Status, LastPingAt: nullTime(hb.LastPingAt), ID: hb.ID})
	if err != nil {
		return fmt.Errorf("update heartbeat %s: %w", hb.Name, err)
	}
	if n == 0 {
		return fmt.Errorf("heartbeat %s: %w", hb.ID, incident.ErrNotFound)
	}
	return nil
}

func heartbeatRow(r gen.Heartbeat, err error) (incident.Heartbeat, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return incident.Heartbeat{}, fmt.Errorf("heartbeat: %w", incident.ErrNotFound)
	}
	if err != nil {
		return incident.Heartbeat{}, fmt.Errorf("get heartbeat: %w", err)
	}
	return fromHeartbeatRow(r)
}

func fromHeartbeatRow(r gen.Heartbeat) (incident.Heartbeat, error) {
	created, err := db.ParseTime(r.CreatedAt)
	if err != nil {
		return incident.Heartbeat{}, err
	}
	last, err := parseNullTime(r.LastPingAt)
	if err != nil {
		return incident.Heartbeat{}, err
	}
	return incident.Heartbeat{ID: r.ID, Name: r.Name, Service: r.Service, Interval: time.Duration(r.IntervalSeconds) * time.Second,
		Status: r.Status, LastPingAt: last, CreatedAt: created}, nil
}

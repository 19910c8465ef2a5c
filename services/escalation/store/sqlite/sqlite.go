// Package sqlite is the SQLite adapter of the escalation service's store. It
// maps the sqlc-generated code in gen/ to the domain types of package
// escalation; generated types never leave this package.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/internal/timer"
	timersqlite "github.com/firebreak-dev/firebreak/internal/timer/sqlite"
	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/escalation/schedule"
	"github.com/firebreak-dev/firebreak/services/escalation/store/sqlite/gen"
)

// Store is the escalation store on a SQLite database migrated with the
// "outbox", "timer" and "escalation" sets.
type Store struct {
	db  *sql.DB
	now func() time.Time
}

var _ escalation.Store = (*Store)(nil)

// New returns the store of d. now stamps outbox and inbox rows.
func New(d *sql.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: d, now: now}
}

// InTx runs fn in an IMMEDIATE transaction. SQLite has one writer at a time,
// so a conflict here is one fn found itself (ErrConflict); InTx re-runs fn on
// a fresh transaction up to 5 times in all and then returns fn's error.
func (s *Store) InTx(ctx context.Context, fn func(tx escalation.Tx) error) error {
	return db.Retry(ctx, func(err error) bool { return errors.Is(err, escalation.ErrConflict) }, func() error {
		return db.InTx(ctx, s.db, func(sqlTx *sql.Tx) error {
			return fn(s.tx(sqlTx))
		})
	})
}

func (s *Store) tx(sqlTx *sql.Tx) *Tx {
	return &Tx{tx: sqlTx, q: gen.New(sqlTx), now: s.now, readVersion: -1}
}

// FireTimer implements escalation.Store: the timer's deletion and fn's
// effect commit together.
func (s *Store) FireTimer(ctx context.Context, t timer.Timer, fn func(tx escalation.Tx) error) error {
	return timersqlite.New(s.db).Fire(ctx, t, func(sqlTx *sql.Tx) error {
		return fn(s.tx(sqlTx))
	})
}

// Timers implements escalation.Store.
func (s *Store) Timers() timer.Source { return timersqlite.New(s.db) }

// ConfigGet implements escalation.Store.
func (s *Store) ConfigGet(ctx context.Context) (escalation.Config, error) {
	var c escalation.Config
	err := db.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var err error
		c, err = configGet(ctx, gen.New(tx))
		return err
	})
	return c, err
}

// MaintenanceActive implements escalation.Store.
func (s *Store) MaintenanceActive(ctx context.Context, service string, t time.Time) (escalation.MaintenanceWindow, bool, error) {
	return maintenanceActive(ctx, gen.New(s.db), service, t)
}

// EscalationGet implements escalation.Store.
func (s *Store) EscalationGet(ctx context.Context, incidentID string) (escalation.Escalation, error) {
	return escalationGet(ctx, gen.New(s.db), incidentID)
}

// EscalationList implements escalation.Store.
func (s *Store) EscalationList(ctx context.Context) ([]escalation.Escalation, error) {
	rows, err := gen.New(s.db).EscalationList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list escalations: %w", err)
	}
	out := make([]escalation.Escalation, 0, len(rows))
	for _, r := range rows {
		e, err := fromEscalationRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// OutboxCount returns the number of unpublished outbox rows, for tests.
func (s *Store) OutboxCount(ctx context.Context) (int64, error) {
	return outboxsqlite.New(s.db).Count(ctx)
}

// Tx is the store inside one transaction.
type Tx struct {
	tx  *sql.Tx
	q   *gen.Queries
	now func() time.Time
	// readVersion is the configuration version ConfigGet saw, -1 before.
	readVersion int64
}

var _ escalation.Tx = (*Tx)(nil)

// MarkProcessed implements escalation.Tx.
func (t *Tx) MarkProcessed(ctx context.Context, consumer, msgID string) (bool, error) {
	return outboxsqlite.MarkProcessed(ctx, t.tx, consumer, msgID, t.now())
}

// Emit implements escalation.Tx.
func (t *Tx) Emit(ctx context.Context, envs ...events.Envelope) error {
	return outboxsqlite.Enqueue(ctx, t.tx, t.now(), envs...)
}

// ScheduleTimer implements escalation.Tx.
func (t *Tx) ScheduleTimer(ctx context.Context, tm timer.Timer) error {
	return timersqlite.Schedule(ctx, t.tx, tm)
}

// CancelTimer implements escalation.Tx.
func (t *Tx) CancelTimer(ctx context.Context, kind, key string) (bool, error) {
	return timersqlite.Cancel(ctx, t.tx, kind, key)
}

// TimerGet implements escalation.Tx.
func (t *Tx) TimerGet(ctx context.Context, kind, key string) (timer.Timer, error) {
	return timersqlite.Get(ctx, t.tx, kind, key)
}

// ConfigGet implements escalation.Tx.
func (t *Tx) ConfigGet(ctx context.Context) (escalation.Config, error) {
	v, err := t.q.ConfigVersion(ctx)
	if err != nil {
		return escalation.Config{}, fmt.Errorf("read configuration version: %w", err)
	}
	t.readVersion = v
	return configGet(ctx, t.q)
}

// ConfigVersion implements escalation.Tx.
func (t *Tx) ConfigVersion(ctx context.Context) (int64, error) {
	v, err := t.q.ConfigVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("read configuration version: %w", err)
	}
	return v, nil
}

// ConfigReplace implements escalation.Tx.
func (t *Tx) ConfigReplace(ctx context.Context, c escalation.Config) error {
	read := t.readVersion
	if read < 0 {
		v, err := t.q.ConfigVersion(ctx)
		if err != nil {
			return fmt.Errorf("read configuration version: %w", err)
		}
		read = v
	}
	n, err := t.q.ConfigVersionBump(ctx, read)
	if err != nil {
		return fmt.Errorf("replace configuration: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("replace configuration read at version %d: %w", read, escalation.ErrConflict)
	}
	t.readVersion = read + 1
	if err := t.replace(ctx, c); err != nil {
		return fmt.Errorf("replace configuration: %w", err)
	}
	return nil
}

func (t *Tx) replace(ctx context.Context, c escalation.Config) error {
	q := t.q
	for _, del := range []func(context.Context) error{
		q.ServiceDeleteAll, q.UserDeleteAll, q.ScheduleDeleteAll, q.PolicyDeleteAll, q.MaintenanceWindowDeleteAll,
	} {
		if err := del(ctx); err != nil {
			return err
		}
	}
	for i, s := range c.Services {
		sev, err := encodeMap(s.SeverityMap)
		if err != nil {
			return err
		}
		grouping := escalation.EncodeGrouping(s.AlertGrouping)
		if err := q.ServiceInsert(ctx, gen.ServiceInsertParams{
			Name: s.Name, Position: int64(i), Description: s.Description, EscalationPolicy: s.EscalationPolicy,
			AckTimeoutMs: s.AckTimeout.Milliseconds(), SeverityMap: sev, AlertGrouping: grouping,
		}); err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
	}
	for i, u := range c.Users {
		if err := q.UserInsert(ctx, gen.UserInsertParams{ID: u.ID, Position: int64(i), Name: u.Name, Email: u.Email, TimeZone: u.TimeZone}); err != nil {
			return fmt.Errorf("user %s: %w", u.ID, err)
		}
		for j, m := range u.ContactMethods {
			if err := q.ContactMethodInsert(ctx, gen.ContactMethodInsertParams{
				UserID: u.ID, Name: m.Name, Position: int64(j), Type: m.Type, Address: m.Address,
			}); err != nil {
				return fmt.Errorf("user %s contact method %s: %w", u.ID, m.Name, err)
			}
		}
		for j, r := range u.NotificationRules {
			if err := q.NotificationRuleInsert(ctx, gen.NotificationRuleInsertParams{
				UserID: u.ID, Position: int64(j), ContactMethod: r.ContactMethod, DelayMinutes: int64(r.DelayMinutes),
			}); err != nil {
				return fmt.Errorf("user %s notification rule %d: %w", u.ID, j, err)
			}
		}
	}
	for i, sc := range c.Schedules {
		body, err := json.Marshal(sc)
		if err != nil {
			return fmt.Errorf("schedule %s: %w", sc.Name, err)
		}
		if err := q.ScheduleInsert(ctx, gen.ScheduleInsertParams{Name: sc.Name, Position: int64(i), Body: string(body)}); err != nil {
			return fmt.Errorf("schedule %s: %w", sc.Name, err)
		}
	}
	for i, p := range c.Policies {
		if err := q.PolicyInsert(ctx, gen.PolicyInsertParams{Name: p.Name, Position: int64(i), Description: p.Description, Repeat: int64(p.Repeat)}); err != nil {
			return fmt.Errorf("policy %s: %w", p.Name, err)
		}
		for j, l := range p.Levels {
			if err := q.PolicyLevelInsert(ctx, gen.PolicyLevelInsertParams{Policy: p.Name, LevelIndex: int64(j), DelayMinutes: int64(l.DelayMinutes)}); err != nil {
				return fmt.Errorf("policy %s level %d: %w", p.Name, j+1, err)
			}
			for k, tg := range l.Targets {
				if err := q.PolicyTargetInsert(ctx, gen.PolicyTargetInsertParams{
					Policy: p.Name, LevelIndex: int64(j), Position: int64(k), Type: tg.Type, TargetID: tg.ID,
				}); err != nil {
					return fmt.Errorf("policy %s level %d target %d: %w", p.Name, j+1, k, err)
				}
			}
		}
	}
	for i, w := range c.MaintenanceWindows {
		if err := q.MaintenanceWindowInsert(ctx, gen.MaintenanceWindowInsertParams{
			ID: w.ID, Position: int64(i), Service: w.Service, StartAt: formatTime(w.Start), EndAt: formatTime(w.End), Reason: w.Reason,
		}); err != nil {
			return fmt.Errorf("maintenance window %s: %w", w.ID, err)
		}
	}
	return nil
}

// MaintenanceActive implements escalation.Tx.
func (t *Tx) MaintenanceActive(ctx context.Context, service string, at time.Time) (escalation.MaintenanceWindow, bool, error) {
	return maintenanceActive(ctx, t.q, service, at)
}

// EscalationGet implements escalation.Tx.
func (t *Tx) EscalationGet(ctx context.Context, incidentID string) (escalation.Escalation, error) {
	return escalationGet(ctx, t.q, incidentID)
}

// EscalationPut implements escalation.Tx.
func (t *Tx) EscalationPut(ctx context.Context, e escalation.Escalation) error {
	keys := e.NotifyTimers
	if keys == nil {
		keys = []string{}
	}
	timers, err := json.Marshal(keys)
	if err != nil {
		return fmt.Errorf("put escalation %s: %w", e.IncidentID, err)
	}
	err = t.q.EscalationUpsert(ctx, gen.EscalationUpsertParams{
		IncidentID: e.IncidentID, Number: e.Number, Service: e.Service, Title: e.Title, Severity: e.Severity,
		Policy: e.Policy, Level: int64(e.Level), Status: string(e.Status), Round: int64(e.Round),
		NotifyTimers: string(timers), StartedAt: formatTime(e.StartedAt), UpdatedAt: formatTime(e.UpdatedAt),
	})
	if err != nil {
		return fmt.Errorf("put escalation %s: %w", e.IncidentID, err)
	}
	return nil
}

func escalationGet(ctx context.Context, q *gen.Queries, incidentID string) (escalation.Escalation, error) {
	r, err := q.EscalationGet(ctx, incidentID)
	if errors.Is(err, sql.ErrNoRows) {
		return escalation.Escalation{}, fmt.Errorf("escalation of incident %s: %w", incidentID, escalation.ErrNotFound)
	}
	if err != nil {
		return escalation.Escalation{}, fmt.Errorf("get escalation of incident %s: %w", incidentID, err)
	}
	return fromEscalationRow(r)
}

func fromEscalationRow(r gen.Escalation) (escalation.Escalation, error) {
	e := escalation.Escalation{
		IncidentID: r.IncidentID, Number: r.Number, Service: r.Service, Title: r.Title, Severity: r.Severity,
		Policy: r.Policy, Level: int(r.Level), Status: escalation.EscalationStatus(r.Status), Round: int(r.Round),
	}
	if err := json.Unmarshal([]byte(r.NotifyTimers), &e.NotifyTimers); err != nil {
		return escalation.Escalation{}, fmt.Errorf("escalation %s: notify timers: %w", r.IncidentID, err)
	}
	if len(e.NotifyTimers) == 0 {
		e.NotifyTimers = nil
	}
	var err error
	if e.StartedAt, err = db.ParseTime(r.StartedAt); err != nil {
		return escalation.Escalation{}, fmt.Errorf("escalation %s: %w", r.IncidentID, err)
	}
	if e.UpdatedAt, err = db.ParseTime(r.UpdatedAt); err != nil {
		return escalation.Escalation{}, fmt.Errorf("escalation %s: %w", r.IncidentID, err)
	}
	return e, nil
}

func maintenanceActive(ctx context.Context, q *gen.Queries, service string, at time.Time) (escalation.MaintenanceWindow, bool, error) {
	rows, err := q.MaintenanceWindowActive(ctx, gen.MaintenanceWindowActiveParams{Service: service, At: formatTime(at)})
	if err != nil {
		return escalation.MaintenanceWindow{}, false, fmt.Errorf("maintenance windows of %s: %w", service, err)
	}
	if len(rows) == 0 {
		return escalation.MaintenanceWindow{}, false, nil
	}
	w, err := fromWindowRow(rows[0])
	return w, err == nil, err
}

func fromWindowRow(r gen.EscMaintenanceWindow) (escalation.MaintenanceWindow, error) {
	w := escalation.MaintenanceWindow{ID: r.ID, Service: r.Service, Reason: r.Reason}
	var err error
	if w.Start, err = db.ParseTime(r.StartAt); err != nil {
		return w, fmt.Errorf("maintenance window %s: %w", r.ID, err)
	}
	if w.End, err = db.ParseTime(r.EndAt); err != nil {
		return w, fmt.Errorf("maintenance window %s: %w", r.ID, err)
	}
	return w, nil
}

// configGet reads the configuration; callers run it in one transaction so
// the parts agree.
func configGet(ctx context.Context, q *gen.Queries) (escalation.Config, error) {
	var c escalation.Config
	services, err := q.ServiceList(ctx)
	if err != nil {
		return c, fmt.Errorf("list services: %w", err)
	}
	for _, r := range services {
		m, err := decodeMap(r.SeverityMap)
		if err != nil {
			return c, fmt.Errorf("service %s: %w", r.Name, err)
		}
		grouping, err := escalation.DecodeGrouping(r.AlertGrouping)
		if err != nil {
			return c, fmt.Errorf("service %s: %w", r.Name, err)
		}
		c.Services = append(c.Services, escalation.ServiceConfig{
			Name: r.Name, Description: r.Description, EscalationPolicy: r.EscalationPolicy,
			AckTimeout: time.Duration(r.AckTimeoutMs) * time.Millisecond, SeverityMap: m,
			AlertGrouping: grouping,
		})
	}

	users, err := q.UserList(ctx)
	if err != nil {
		return c, fmt.Errorf("list users: %w", err)
	}
	methods, err := q.ContactMethodList(ctx)
	if err != nil {
		return c, fmt.Errorf("list contact methods: %w", err)
	}
	rules, err := q.NotificationRuleList(ctx)
	if err != nil {
		return c, fmt.Errorf("list notification rules: %w", err)
	}
	byUser := map[string]int{}
	for _, r := range users {
		byUser[r.ID] = len(c.Users)
		c.Users = append(c.Users, escalation.User{ID: r.ID, Name: r.Name, Email: r.Email, TimeZone: r.TimeZone})
	}
	for _, r := range methods {
		u := &c.Users[byUser[r.UserID]]
		u.ContactMethods = append(u.ContactMethods, escalation.ContactMethod{Name: r.Name, Type: r.Type, Address: r.Address})
	}
	for _, r := range rules {
		u := &c.Users[byUser[r.UserID]]
		u.NotificationRules = append(u.NotificationRules, escalation.NotificationRule{ContactMethod: r.ContactMethod, DelayMinutes: int(r.DelayMinutes)})
	}

	schedules, err := q.ScheduleList(ctx)
	if err != nil {
		return c, fmt.Errorf("list schedules: %w", err)
	}
	for _, r := range schedules {
		var sc schedule.Schedule
		if err := json.Unmarshal([]byte(r.Body), &sc); err != nil {
			return c, fmt.Errorf("schedule %s: %w", r.Name, err)
		}
		c.Schedules = append(c.Schedules, sc)
	}

	policies, err := q.PolicyList(ctx)
	if err != nil {
		return c, fmt.Errorf("list policies: %w", err)
	}
	levels, err := q.PolicyLevelList(ctx)
	if err != nil {
		return c, fmt.Errorf("list policy levels: %w", err)
	}
	targets, err := q.PolicyTargetList(ctx)
	if err != nil {
		return c, fmt.Errorf("list policy targets: %w", err)
	}
	byPolicy := map[string]int{}
	for _, r := range policies {
		byPolicy[r.Name] = len(c.Policies)
		c.Policies = append(c.Policies, escalation.Policy{Name: r.Name, Description: r.Description, Repeat: int(r.Repeat)})
	}
	for _, r := range levels {
		p := &c.Policies[byPolicy[r.Policy]]
		p.Levels = append(p.Levels, escalation.Level{DelayMinutes: int(r.DelayMinutes)})
	}
	for _, r := range targets {
		p := &c.Policies[byPolicy[r.Policy]]
		l := &p.Levels[r.LevelIndex]
		l.Targets = append(l.Targets, escalation.Target{Type: r.Type, ID: r.TargetID})
	}

	windows, err := q.MaintenanceWindowList(ctx)
	if err != nil {
		return c, fmt.Errorf("list maintenance windows: %w", err)
	}
	for _, r := range windows {
		w, err := fromWindowRow(r)
		if err != nil {
			return c, err
		}
		c.MaintenanceWindows = append(c.MaintenanceWindows, w)
	}
	return c, nil
}

func encodeMap(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

func decodeMap(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// formatTime stores microseconds, as PostgreSQL does, so both engines give
// back the same time.
func formatTime(t time.Time) string { return db.FormatTime(t.Truncate(time.Microsecond)) }

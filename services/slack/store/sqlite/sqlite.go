// Package sqlite is the SQLite adapter of the slack service's store. It
// maps the sqlc-generated code in gen/ to package slack's types; generated
// types never leave this package.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/services/slack"
	"github.com/firebreak-dev/firebreak/services/slack/store/sqlite/gen"
)

// Store is the slack service's state on a SQLite database migrated with
// the "outbox" and "slack" sets.
//
// Writes take the database's write turn in the process (db.WriteLock,
// shared with the outbox relay's deletes): SQLite has one writer, and
// writers that meet on its lock back off in sleeps of up to 100 ms, which
// under a burst of events costs far more than waiting in line.
type Store struct {
	db  *sql.DB
	q   *gen.Queries
	now func() time.Time

	pmu      sync.Mutex
	prepared bool
}

var _ slack.Store = (*Store)(nil)

// New returns the store of d; now stamps the inbox.
func New(d *sql.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: d, q: gen.New(d), now: now}
}

// queries returns the statements, prepared on first use (New has no
// context); until they are prepared, or if preparing fails, queries run
// unprepared.
func (s *Store) queries(ctx context.Context) *gen.Queries {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if !s.prepared {
		if q, err := gen.Prepare(ctx, s.db); err == nil {
			s.q = q
		}
		s.prepared = true
	}
	return s.q
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return slack.ErrNotFound
	}
	return err
}

func parse(s string) time.Time {
	t, _ := db.ParseTime(s)
	return t
}

func incident(r gen.SlackIncident, err error) (slack.Incident, error) {
	if err != nil {
		return slack.Incident{}, notFound(err)
	}
	return slack.Incident{
		ID: r.ID, Number: r.Number, Title: r.Title, Severity: r.Severity, Service: r.Service, Status: r.Status,
		AlertCount: r.AlertCount, Assignee: r.Assignee, AcknowledgedBy: r.AcknowledgedBy, ResolvedBy: r.ResolvedBy,
		Version: r.Version, UpdatedAt: parse(r.UpdatedAt), Channel: r.Channel, MessageTS: r.MessageTs,
		IncChannel: r.IncChannel, IncMessageTS: r.IncMessageTs, Topic: r.Topic,
	}, nil
}

func user(r gen.SlackUser, err error) (slack.UserLink, error) {
	if err != nil {
		return slack.UserLink{}, notFound(err)
	}
	return slack.UserLink{SlackUserID: r.SlackUserID, FirebreakID: r.FirebreakID, Email: r.Email, Name: r.Name,
		Provisioned: r.Provisioned != 0, LinkedAt: parse(r.LinkedAt)}, nil
}

// InTx implements slack.Store.
func (s *Store) InTx(ctx context.Context, fn func(slack.Tx) error) error {
	return db.InTx(ctx, s.db, func(tx *sql.Tx) error {
		return fn(&txn{tx: tx, q: s.queries(ctx).WithTx(tx), now: s.now})
	})
}

// IncidentGet implements slack.Store.
func (s *Store) IncidentGet(ctx context.Context, id string) (slack.Incident, error) {
	return incident(s.queries(ctx).SlackIncidentGet(ctx, id))
}

// IncidentByNumber implements slack.Store.
func (s *Store) IncidentByNumber(ctx context.Context, n int64) (slack.Incident, error) {
	return incident(s.queries(ctx).SlackIncidentByNumber(ctx, n))
}

// IncidentByChannel implements slack.Store.
func (s *Store) IncidentByChannel(ctx context.Context, channel string) (slack.Incident, error) {
	return incident(s.queries(ctx).SlackIncidentByChannel(ctx, channel))
}

// IncidentSetMessage implements slack.Store.
func (s *Store) IncidentSetMessage(ctx context.Context, id, channel, ts string) error {
	unlock, err := db.WriteLock(ctx, s.db)
	if err != nil {
		return err
	}
	defer unlock()
	return s.queries(ctx).SlackIncidentSetMessage(ctx, gen.SlackIncidentSetMessageParams{ID: id, Channel: channel, MessageTs: ts})
}

// IncidentSetChannel implements slack.Store.
func (s *Store) IncidentSetChannel(ctx context.Context, id, channel, ts string) error {
	unlock, err := db.WriteLock(ctx, s.db)
	if err != nil {
		return err
	}
	defer unlock()
	return s.queries(ctx).SlackIncidentSetChannel(ctx, gen.SlackIncidentSetChannelParams{ID: id, IncChannel: channel, IncMessageTs: ts})
}

// IncidentSetTopic implements slack.Store.
func (s *Store) IncidentSetTopic(ctx context.Context, id, topic string) error {
	unlock, err := db.WriteLock(ctx, s.db)
	if err != nil {
		return err
	}
	defer unlock()
	return s.queries(ctx).SlackIncidentSetTopic(ctx, gen.SlackIncidentSetTopicParams{ID: id, Topic: topic})
}

// Effects implements slack.Store.
func (s *Store) Effects(ctx context.Context, incidentID string) ([]slack.Effect, error) {
	rows, err := s.queries(ctx).SlackEffectList(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	out := make([]slack.Effect, 0, len(rows))
	for _, r := range rows {
		out = append(out, slack.Effect{Seq: r.Seq, IncidentID: r.IncidentID, Kind: r.Kind, DedupKey: r.DedupKey, Text: r.Text, CreatedAt: parse(r.CreatedAt)})
	}
	return out, nil
}

// EffectIncidents implements slack.Store.
func (s *Store) EffectIncidents(ctx context.Context, limit int) ([]string, error) {
	return s.queries(ctx).SlackEffectIncidents(ctx, int64(limit))
}

// EffectDelete implements slack.Store.
func (s *Store) EffectDelete(ctx context.Context, seq int64) error {
	unlock, err := db.WriteLock(ctx, s.db)
	if err != nil {
		return err
	}
	defer unlock()
	return s.queries(ctx).SlackEffectDelete(ctx, seq)
}

// FlushClaim implements slack.Store: read and write the lease in one
// (IMMEDIATE) transaction.
func (s *Store) FlushClaim(ctx context.Context, incidentID, owner string, until time.Time) (bool, error) {
	claimed := false
	err := db.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var err error
		claimed, err = flushClaim(ctx, s.queries(ctx).WithTx(tx), incidentID, owner, until, s.now())
		return err
	})
	return claimed && err == nil, err
}

// flushClaim claims the lease in a transaction: SQLite has one writer, so
// reading the lease and then writing it is atomic.
func flushClaim(ctx context.Context, q *gen.Queries, incidentID, owner string, until, now time.Time) (bool, error) {
	l, err := q.SlackFlushLease(ctx, incidentID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return false, err
	case l.Owner != owner && l.UntilMs >= now.UnixMilli():
		return false, nil
	}
	return true, q.SlackFlushPut(ctx, gen.SlackFlushPutParams{IncidentID: incidentID, Owner: owner, UntilMs: until.UnixMilli()})
}

// FlushRelease implements slack.Store.
func (s *Store) FlushRelease(ctx context.Context, incidentID, owner string) error {
	unlock, err := db.WriteLock(ctx, s.db)
	if err != nil {
		return err
	}
	defer unlock()
	return s.queries(ctx).SlackFlushRelease(ctx, gen.SlackFlushReleaseParams{IncidentID: incidentID, Owner: owner})
}

// UserGet implements slack.Store.
func (s *Store) UserGet(ctx context.Context, id string) (slack.UserLink, error) {
	return user(s.queries(ctx).SlackUserGet(ctx, id))
}

// UserByFirebreakID implements slack.Store.
func (s *Store) UserByFirebreakID(ctx context.Context, id string) (slack.UserLink, error) {
	return user(s.queries(ctx).SlackUserByFirebreakID(ctx, id))
}

// UserSave implements slack.Store.
func (s *Store) UserSave(ctx context.Context, u slack.UserLink) error {
	unlock, err := db.WriteLock(ctx, s.db)
	if err != nil {
		return err
	}
	defer unlock()
	var p int64
	if u.Provisioned {
		p = 1
	}
	return s.queries(ctx).SlackUserUpsert(ctx, gen.SlackUserUpsertParams{SlackUserID: u.SlackUserID, FirebreakID: u.FirebreakID,
		Email: u.Email, Name: u.Name, Provisioned: p, LinkedAt: db.FormatTime(u.LinkedAt)})
}

// CommandGet implements slack.Store.
func (s *Store) CommandGet(ctx context.Context, id string) (slack.IssuedCommand, error) {
	r, err := s.queries(ctx).SlackCommandGet(ctx, id)
	if err != nil {
		return slack.IssuedCommand{}, notFound(err)
	}
	return slack.IssuedCommand{CommandID: r.CommandID, SlackUserID: r.SlackUserID, Channel: r.Channel, IncidentID: r.IncidentID, CreatedAt: parse(r.CreatedAt)}, nil
}

type txn struct {
	tx  *sql.Tx
	q   *gen.Queries
	now func() time.Time
}

func (t *txn) MarkProcessed(ctx context.Context, consumer, msgID string) (bool, error) {
	return outboxsqlite.MarkProcessed(ctx, t.tx, consumer, msgID, t.now())
}

func (t *txn) IncidentGet(ctx context.Context, id string) (slack.Incident, error) {
	return incident(t.q.SlackIncidentGet(ctx, id))
}

func (t *txn) IncidentPut(ctx context.Context, i slack.Incident) error {
	return t.q.SlackIncidentUpsert(ctx, gen.SlackIncidentUpsertParams{
		ID: i.ID, Number: i.Number, Title: i.Title, Severity: i.Severity, Service: i.Service, Status: i.Status,
		AlertCount: i.AlertCount, Assignee: i.Assignee, AcknowledgedBy: i.AcknowledgedBy, ResolvedBy: i.ResolvedBy,
		Version: i.Version, UpdatedAt: db.FormatTime(i.UpdatedAt),
	})
}

func (t *txn) EffectAdd(ctx context.Context, e slack.Effect) error {
	return t.q.SlackEffectAdd(ctx, gen.SlackEffectAddParams{IncidentID: e.IncidentID, Kind: e.Kind, DedupKey: e.DedupKey, Text: e.Text, CreatedAt: db.FormatTime(e.CreatedAt)})
}

func (t *txn) CommandAdd(ctx context.Context, c slack.IssuedCommand) error {
	return t.q.SlackCommandAdd(ctx, gen.SlackCommandAddParams{CommandID: c.CommandID, SlackUserID: c.SlackUserID, Channel: c.Channel, IncidentID: c.IncidentID, CreatedAt: db.FormatTime(c.CreatedAt)})
}

func (t *txn) Emit(ctx context.Context, envs ...events.Envelope) error {
	return outboxsqlite.Enqueue(ctx, t.tx, t.now(), envs...)
}

func (t *txn) FlushClaim(ctx context.Context, incidentID, owner string, until time.Time) (bool, error) {
	return flushClaim(ctx, t.q, incidentID, owner, until, t.now())
}

func (t *txn) FlushDone(ctx context.Context, incidentID, owner string, done []int64) error {
	for _, seq := range done {
		if err := t.q.SlackEffectDelete(ctx, seq); err != nil {
			return err
		}
	}
	return t.q.SlackFlushRelease(ctx, gen.SlackFlushReleaseParams{IncidentID: incidentID, Owner: owner})
}

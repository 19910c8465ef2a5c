// Package postgres is the PostgreSQL adapter of the slack service's store. It
// maps the sqlc-generated code in gen/ to package slack's types; generated
// types never leave this package.
package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db"
	outboxpg "github.com/firebreak-dev/firebreak/internal/outbox/postgres"
	"github.com/firebreak-dev/firebreak/services/slack"
	"github.com/firebreak-dev/firebreak/services/slack/store/postgres/gen"
)

// Store is the slack service's state on a PostgreSQL schema migrated with
// the "outbox" and "slack" sets.
type Store struct {
	pool *pgxpool.Pool
	q    *gen.Queries
	now  func() time.Time
}

var _ slack.Store = (*Store)(nil)

// New returns the store of d; now stamps the inbox.
func New(pool *pgxpool.Pool, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{pool: pool, q: gen.New(pool), now: now}
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return slack.ErrNotFound
	}
	return err
}

func parse(t pgtype.Timestamptz) time.Time { return t.Time.UTC() }

func ts(t time.Time) pgtype.Timestamptz { return pgtype.Timestamptz{Time: t.UTC(), Valid: true} }

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
		Provisioned: r.Provisioned, LinkedAt: parse(r.LinkedAt)}, nil
}

// InTx implements slack.Store.
func (s *Store) InTx(ctx context.Context, fn func(slack.Tx) error) error {
	return db.InPgTx(ctx, s.pool, func(tx pgx.Tx) error {
		return fn(&txn{tx: tx, q: s.q.WithTx(tx), now: s.now})
	})
}

// IncidentGet implements slack.Store.
func (s *Store) IncidentGet(ctx context.Context, id string) (slack.Incident, error) {
	return incident(s.q.SlackIncidentGet(ctx, id))
}

// IncidentByNumber implements slack.Store.
func (s *Store) IncidentByNumber(ctx context.Context, n int64) (slack.Incident, error) {
	return incident(s.q.SlackIncidentByNumber(ctx, n))
}

// IncidentByChannel implements slack.Store.
func (s *Store) IncidentByChannel(ctx context.Context, channel string) (slack.Incident, error) {
	return incident(s.q.SlackIncidentByChannel(ctx, channel))
}

// IncidentSetMessage implements slack.Store.
func (s *Store) IncidentSetMessage(ctx context.Context, id, channel, ts string) error {
	return s.q.SlackIncidentSetMessage(ctx, gen.SlackIncidentSetMessageParams{ID: id, Channel: channel, MessageTs: ts})
}

// IncidentSetChannel implements slack.Store.
func (s *Store) IncidentSetChannel(ctx context.Context, id, channel, ts string) error {
	return s.q.SlackIncidentSetChannel(ctx, gen.SlackIncidentSetChannelParams{ID: id, IncChannel: channel, IncMessageTs: ts})
}

// IncidentSetTopic implements slack.Store.
func (s *Store) IncidentSetTopic(ctx context.Context, id, topic string) error {
	return s.q.SlackIncidentSetTopic(ctx, gen.SlackIncidentSetTopicParams{ID: id, Topic: topic})
}

// Effects implements slack.Store.
func (s *Store) Effects(ctx context.Context, incidentID string) ([]slack.Effect, error) {
	rows, err := s.q.SlackEffectList(ctx, incidentID)
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
	return s.q.SlackEffectIncidents(ctx, int32(limit))
}

// EffectDelete implements slack.Store.
func (s *Store) EffectDelete(ctx context.Context, seq int64) error {
	return s.q.SlackEffectDelete(ctx, seq)
}

// FlushClaim implements slack.Store: one upsert, atomic across replicas.
func (s *Store) FlushClaim(ctx context.Context, incidentID, owner string, until time.Time) (bool, error) {
	return flushClaim(ctx, s.q, incidentID, owner, until, s.now())
}

func flushClaim(ctx context.Context, q *gen.Queries, incidentID, owner string, until, now time.Time) (bool, error) {
	n, err := q.SlackFlushClaim(ctx, gen.SlackFlushClaimParams{IncidentID: incidentID, Owner: owner,
		UntilMs: until.UnixMilli(), NowMs: now.UnixMilli()})
	return n == 1, err
}

// FlushRelease implements slack.Store.
func (s *Store) FlushRelease(ctx context.Context, incidentID, owner string) error {
	return s.q.SlackFlushRelease(ctx, gen.SlackFlushReleaseParams{IncidentID: incidentID, Owner: owner})
}

// UserGet implements slack.Store.
func (s *Store) UserGet(ctx context.Context, id string) (slack.UserLink, error) {
	return user(s.q.SlackUserGet(ctx, id))
}

// UserByFirebreakID implements slack.Store.
func (s *Store) UserByFirebreakID(ctx context.Context, id string) (slack.UserLink, error) {
	return user(s.q.SlackUserByFirebreakID(ctx, id))
}

// UserSave implements slack.Store.
func (s *Store) UserSave(ctx context.Context, u slack.UserLink) error {
	return s.q.SlackUserUpsert(ctx, gen.SlackUserUpsertParams{SlackUserID: u.SlackUserID, FirebreakID: u.FirebreakID,
		Email: u.Email, Name: u.Name, Provisioned: u.Provisioned, LinkedAt: ts(u.LinkedAt)})
}

// CommandGet implements slack.Store.
func (s *Store) CommandGet(ctx context.Context, id string) (slack.IssuedCommand, error) {
	r, err := s.q.SlackCommandGet(ctx, id)
	if err != nil {
		return slack.IssuedCommand{}, notFound(err)
	}
	return slack.IssuedCommand{CommandID: r.CommandID, SlackUserID: r.SlackUserID, Channel: r.Channel, IncidentID: r.IncidentID, CreatedAt: parse(r.CreatedAt)}, nil
}

type txn struct {
	tx  pgx.Tx
	q   *gen.Queries
	now func() time.Time
}

func (t *txn) MarkProcessed(ctx context.Context, consumer, msgID string) (bool, error) {
	return outboxpg.MarkProcessed(ctx, t.tx, consumer, msgID, t.now())
}

func (t *txn) IncidentGet(ctx context.Context, id string) (slack.Incident, error) {
	return incident(t.q.SlackIncidentGet(ctx, id))
}

func (t *txn) IncidentPut(ctx context.Context, i slack.Incident) error {
	return t.q.SlackIncidentUpsert(ctx, gen.SlackIncidentUpsertParams{
		ID: i.ID, Number: i.Number, Title: i.Title, Severity: i.Severity, Service: i.Service, Status: i.Status,
		AlertCount: i.AlertCount, Assignee: i.Assignee, AcknowledgedBy: i.AcknowledgedBy, ResolvedBy: i.ResolvedBy,
		Version: i.Version, UpdatedAt: ts(i.UpdatedAt),
	})
}

func (t *txn) EffectAdd(ctx context.Context, e slack.Effect) error {
	return t.q.SlackEffectAdd(ctx, gen.SlackEffectAddParams{IncidentID: e.IncidentID, Kind: e.Kind, DedupKey: e.DedupKey, Text: e.Text, CreatedAt: ts(e.CreatedAt)})
}

func (t *txn) CommandAdd(ctx context.Context, c slack.IssuedCommand) error {
	return t.q.SlackCommandAdd(ctx, gen.SlackCommandAddParams{CommandID: c.CommandID, SlackUserID: c.SlackUserID, Channel: c.Channel, IncidentID: c.IncidentID, CreatedAt: ts(c.CreatedAt)})
}

func (t *txn) Emit(ctx context.Context, envs ...events.Envelope) error {
	return outboxpg.Enqueue(ctx, t.tx, t.now(), envs...)
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

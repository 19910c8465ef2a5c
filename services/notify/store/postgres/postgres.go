// Package postgres is the PostgreSQL adapter (pgx/v5) of the notify
// service's store. It maps the sqlc-generated code in gen/ to package
// notify's types; generated types never leave this package.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db"
	outboxpg "github.com/firebreak-dev/firebreak/internal/outbox/postgres"
	"github.com/firebreak-dev/firebreak/internal/timer"
	timerpg "github.com/firebreak-dev/firebreak/internal/timer/postgres"
	"github.com/firebreak-dev/firebreak/services/notify"
	"github.com/firebreak-dev/firebreak/services/notify/store/postgres/gen"
)

// Store is the notify store on a PostgreSQL schema migrated with the
// "outbox", "timer" and "notify" sets.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

var _ notify.Store = (*Store)(nil)

// New returns the store of pool. now stamps outbox and inbox rows.
func New(pool *pgxpool.Pool, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{pool: pool, now: now}
}

// InTx runs fn in a read-committed transaction. A unique violation (two
// replicas inserting the same inbox row or delivery), a serialization
// failure or a deadlock re-runs fn on a fresh transaction, up to 5 times.
func (s *Store) InTx(ctx context.Context, fn func(tx notify.Tx) error) error {
	return db.Retry(ctx, retryable, func() error {
		return db.InPgTx(ctx, s.pool, func(pgTx pgx.Tx) error { return fn(s.tx(pgTx)) })
	})
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505", "40001", "40P01":
			return true
		}
	}
	return false
}

func (s *Store) tx(pgTx pgx.Tx) *Tx { return &Tx{tx: pgTx, q: gen.New(pgTx), now: s.now} }

// FireTimer implements notify.Store.
func (s *Store) FireTimer(ctx context.Context, t timer.Timer, fn func(tx notify.Tx) error) error {
	return timerpg.New(s.pool).Fire(ctx, t, func(pgTx pgx.Tx) error { return fn(s.tx(pgTx)) })
}

// Timers implements notify.Store.
func (s *Store) Timers() timer.Source { return timerpg.New(s.pool) }

// DeliveryGet implements notify.Store.
func (s *Store) DeliveryGet(ctx context.Context, key string) (notify.Delivery, error) {
	return deliveryGet(ctx, gen.New(s.pool), key)
}

// DeliveryList implements notify.Store.
func (s *Store) DeliveryList(ctx context.Context, incidentID string, number int64) ([]notify.Delivery, error) {
	q := gen.New(s.pool)
	var (
		rows []gen.NotifyDelivery
		err  error
	)
	if incidentID != "" {
		rows, err = q.DeliveryListByIncident(ctx, incidentID)
	} else {
		rows, err = q.DeliveryListByNumber(ctx, number)
	}
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out := make([]notify.Delivery, 0, len(rows))
	for _, r := range rows {
		d, err := fromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// SubscriberList implements notify.Store.
func (s *Store) SubscriberList(ctx context.Context) ([]notify.Subscriber, error) {
	return subscriberList(ctx, gen.New(s.pool))
}

// SubscriberGet implements notify.Store.
func (s *Store) SubscriberGet(ctx context.Context, id string) (notify.Subscriber, error) {
	r, err := gen.New(s.pool).SubscriberGet(ctx, id)
	return subscriberOf(r, err, "subscriber "+id)
}

// OutboxCount returns the number of unpublished outbox rows, for tests.
func (s *Store) OutboxCount(ctx context.Context) (int64, error) {
	return outboxpg.New(s.pool).Count(ctx)
}

// Tx is the store inside one transaction.
type Tx struct {
	tx  pgx.Tx
	q   *gen.Queries
	now func() time.Time
}

var _ notify.Tx = (*Tx)(nil)

// MarkProcessed implements notify.Tx.
func (t *Tx) MarkProcessed(ctx context.Context, consumer, msgID string) (bool, error) {
	return outboxpg.MarkProcessed(ctx, t.tx, consumer, msgID, t.now())
}

// Emit implements notify.Tx.
func (t *Tx) Emit(ctx context.Context, envs ...events.Envelope) error {
	return outboxpg.Enqueue(ctx, t.tx, t.now(), envs...)
}

// ScheduleTimer implements notify.Tx.
func (t *Tx) ScheduleTimer(ctx context.Context, tm timer.Timer) error {
	return timerpg.Schedule(ctx, t.tx, tm)
}

// CancelTimer implements notify.Tx.
func (t *Tx) CancelTimer(ctx context.Context, kind, key string) (bool, error) {
	return timerpg.Cancel(ctx, t.tx, kind, key)
}

// DeliveryCreate implements notify.Tx.
func (t *Tx) DeliveryCreate(ctx context.Context, d notify.Delivery) (bool, error) {
	page, err := json.Marshal(d.Page)
	if err != nil {
		return false, fmt.Errorf("encode page: %w", err)
	}
	var notice []byte
	if d.Notice != nil {
		if notice, err = json.Marshal(d.Notice); err != nil {
			return false, fmt.Errorf("encode notice: %w", err)
		}
		page = []byte("{}")
	}
	n, err := t.q.DeliveryInsert(ctx, gen.DeliveryInsertParams{
		Key: d.Key, IncidentID: d.IncidentID, IncidentNumber: d.Number, EventID: d.EventID, CorrelationID: d.CorrelationID,
		Provider: d.Provider, Target: d.Target, ContactMethod: d.ContactMethod, Status: string(d.Status),
		Attempts: int32(d.Attempts), Reason: d.Reason, Page: page,
		CreatedAt: ts(d.CreatedAt), UpdatedAt: ts(d.UpdatedAt), NextAttemptAt: ts(d.NextAttemptAt), SentAt: ts(d.SentAt),
		Notice: notice,
	})
	if err != nil {
		return false, fmt.Errorf("create delivery %s: %w", d.Key, err)
	}
	return n > 0, nil
}

// DeliveryGet implements notify.Tx.
func (t *Tx) DeliveryGet(ctx context.Context, key string) (notify.Delivery, error) {
	return deliveryGet(ctx, t.q, key)
}

// DeliveryUpdate implements notify.Tx.
func (t *Tx) DeliveryUpdate(ctx context.Context, d notify.Delivery, from notify.Status, fromAttempts int) error {
	n, err := t.q.DeliveryUpdate(ctx, gen.DeliveryUpdateParams{
		Status: string(d.Status), Attempts: int32(d.Attempts), Reason: d.Reason, UpdatedAt: ts(d.UpdatedAt),
		NextAttemptAt: ts(d.NextAttemptAt), SentAt: ts(d.SentAt),
		Key: d.Key, OldStatus: string(from), OldAttempts: int32(fromAttempts),
	})
	if err != nil {
		return fmt.Errorf("update delivery %s: %w", d.Key, err)
	}
	if n == 0 {
		if _, err := deliveryGet(ctx, t.q, d.Key); err != nil {
			return err
		}
		return fmt.Errorf("update delivery %s from %s/%d: %w", d.Key, from, fromAttempts, notify.ErrConflict)
	}
	return nil
}

func deliveryGet(ctx context.Context, q *gen.Queries, key string) (notify.Delivery, error) {
	r, err := q.DeliveryGet(ctx, key)
	if errors.Is(err, pgx.ErrNoRows) {
		return notify.Delivery{}, fmt.Errorf("delivery %s: %w", key, notify.ErrNotFound)
	}
	if err != nil {
		return notify.Delivery{}, fmt.Errorf("get delivery %s: %w", key, err)
	}
	return fromRow(r)
}

func fromRow(r gen.NotifyDelivery) (notify.Delivery, error) {
	d := notify.Delivery{
		Key: r.Key, IncidentID: r.IncidentID, Number: r.IncidentNumber, EventID: r.EventID, CorrelationID: r.CorrelationID,
		Provider: r.Provider, Target: r.Target, ContactMethod: r.ContactMethod, Status: notify.Status(r.Status),
		Attempts: int(r.Attempts), Reason: r.Reason,
		CreatedAt: r.CreatedAt.Time.UTC(), UpdatedAt: r.UpdatedAt.Time.UTC(),
	}
	if r.NextAttemptAt.Valid {
		d.NextAttemptAt = r.NextAttemptAt.Time.UTC()
	}
	if r.SentAt.Valid {
		d.SentAt = r.SentAt.Time.UTC()
	}
	if err := json.Unmarshal(r.Page, &d.Page); err != nil {
		return notify.Delivery{}, fmt.Errorf("delivery %s page: %w", r.Key, err)
	}
	if r.Notice != nil {
		d.Notice = new(notify.Notice)
		if err := json.Unmarshal(r.Notice, d.Notice); err != nil {
			return notify.Delivery{}, fmt.Errorf("delivery %s notice: %w", r.Key, err)
		}
	}
	return d, nil
}

// ts maps a zero time to NULL.
func ts(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t.UTC(), Valid: true}
}

// SubscriberCreate implements notify.Tx. A concurrent insert of the same
// subscriber is a unique violation, which InTx retries; the retry then
// finds the row and reports ErrConflict.
func (t *Tx) SubscriberCreate(ctx context.Context, sub notify.Subscriber) error {
	n, err := t.q.SubscriberInsert(ctx, gen.SubscriberInsertParams{
		ID: sub.ID, Kind: sub.Kind, Address: sub.Address, Topics: strings.Join(sub.Topics, ","), Service: sub.Service,
		TokenHash: sub.TokenHash, CreatedAt: ts(sub.CreatedAt),
	})
	if err != nil {
		return fmt.Errorf("create subscriber: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("create subscriber: %w", notify.ErrConflict)
	}
	return nil
}

// SubscriberList implements notify.Tx.
func (t *Tx) SubscriberList(ctx context.Context) ([]notify.Subscriber, error) {
	return subscriberList(ctx, t.q)
}

// SubscriberGetByTokenHash implements notify.Tx.
func (t *Tx) SubscriberGetByTokenHash(ctx context.Context, hash string) (notify.Subscriber, error) {
	r, err := t.q.SubscriberGetByTokenHash(ctx, hash)
	return subscriberOf(r, err, "subscriber by token")
}

// SubscriberDelete implements notify.Tx.
func (t *Tx) SubscriberDelete(ctx context.Context, id string) (bool, error) {
	n, err := t.q.SubscriberDelete(ctx, id)
	if err != nil {
		return false, fmt.Errorf("delete subscriber %s: %w", id, err)
	}
	return n > 0, nil
}

func subscriberList(ctx context.Context, q *gen.Queries) ([]notify.Subscriber, error) {
	rows, err := q.SubscriberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list subscribers: %w", err)
	}
	out := make([]notify.Subscriber, 0, len(rows))
	for _, r := range rows {
		sub, err := subscriberOf(r, nil, "subscriber "+r.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, nil
}

func subscriberOf(r gen.NotifySubscriber, err error, what string) (notify.Subscriber, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return notify.Subscriber{}, fmt.Errorf("%s: %w", what, notify.ErrNotFound)
	}
	if err != nil {
		return notify.Subscriber{}, fmt.Errorf("get %s: %w", what, err)
	}
	return notify.Subscriber{ID: r.ID, Kind: r.Kind, Address: r.Address, Topics: strings.Split(r.Topics, ","), Service: r.Service,
		TokenHash: r.TokenHash, CreatedAt: r.CreatedAt.Time.UTC()}, nil
}

// Package sqlite is the SQLite adapter of the notify service's store. It
// maps the sqlc-generated code in gen/ to package notify's types; generated
// types never leave this package.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/internal/timer"
	timersqlite "github.com/firebreak-dev/firebreak/internal/timer/sqlite"
	"github.com/firebreak-dev/firebreak/services/notify"
	"github.com/firebreak-dev/firebreak/services/notify/store/sqlite/gen"
)

// Store is the notify store on a SQLite database migrated with the
// "outbox", "timer" and "notify" sets.
type Store struct {
	db  *sql.DB
	now func() time.Time
}

var _ notify.Store = (*Store)(nil)

// New returns the store of d. now stamps outbox and inbox rows.
func New(d *sql.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: d, now: now}
}

// InTx runs fn in an IMMEDIATE transaction.
func (s *Store) InTx(ctx context.Context, fn func(tx notify.Tx) error) error {
	return db.InTx(ctx, s.db, func(sqlTx *sql.Tx) error { return fn(s.tx(sqlTx)) })
}

func (s *Store) tx(sqlTx *sql.Tx) *Tx { return &Tx{tx: sqlTx, q: gen.New(sqlTx), now: s.now} }

// FireTimer implements notify.Store.
func (s *Store) FireTimer(ctx context.Context, t timer.Timer, fn func(tx notify.Tx) error) error {
	return timersqlite.New(s.db).Fire(ctx, t, func(sqlTx *sql.Tx) error { return fn(s.tx(sqlTx)) })
}

// Timers implements notify.Store.
func (s *Store) Timers() timer.Source { return timersqlite.New(s.db) }

// DeliveryGet implements notify.Store.
func (s *Store) DeliveryGet(ctx context.Context, key string) (notify.Delivery, error) {
	return deliveryGet(ctx, gen.New(s.db), key)
}

// DeliveryList implements notify.Store.
func (s *Store) DeliveryList(ctx context.Context, incidentID string, number int64) ([]notify.Delivery, error) {
	q := gen.New(s.db)
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
	return subscriberList(ctx, gen.New(s.db))
}

// SubscriberGet implements notify.Store.
func (s *Store) SubscriberGet(ctx context.Context, id string) (notify.Subscriber, error) {
	r, err := gen.New(s.db).SubscriberGet(ctx, id)
	return subscriberOf(r, err, "subscriber "+id)
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
}

var _ notify.Tx = (*Tx)(nil)

// MarkProcessed implements notify.Tx.
func (t *Tx) MarkProcessed(ctx context.Context, consumer, msgID string) (bool, error) {
	return outboxsqlite.MarkProcessed(ctx, t.tx, consumer, msgID, t.now())
}

// Emit implements notify.Tx.
func (t *Tx) Emit(ctx context.Context, envs ...events.Envelope) error {
	return outboxsqlite.Enqueue(ctx, t.tx, t.now(), envs...)
}

// ScheduleTimer implements notify.Tx.
func (t *Tx) ScheduleTimer(ctx context.Context, tm timer.Timer) error {
	return timersqlite.Schedule(ctx, t.tx, tm)
}

// CancelTimer implements notify.Tx.
func (t *Tx) CancelTimer(ctx context.Context, kind, key string) (bool, error) {
	return timersqlite.Cancel(ctx, t.tx, kind, key)
}

// DeliveryCreate implements notify.Tx.
func (t *Tx) DeliveryCreate(ctx context.Context, d notify.Delivery) (bool, error) {
	page, err := json.Marshal(d.Page)
	if err != nil {
		return false, fmt.Errorf("encode page: %w", err)
	}
	var notice sql.NullString
	if d.Notice != nil {
		b, err := json.Marshal(d.Notice)
		if err != nil {
			return false, fmt.Errorf("encode notice: %w", err)
		}
		notice, page = sql.NullString{String: string(b), Valid: true}, []byte("{}")
	}
	n, err := t.q.DeliveryInsert(ctx, gen.DeliveryInsertParams{
		Key: d.Key, IncidentID: d.IncidentID, IncidentNumber: d.Number, EventID: d.EventID, CorrelationID: d.CorrelationID,
		Provider: d.Provider, Target: d.Target, ContactMethod: d.ContactMethod, Status: string(d.Status),
		Attempts: int64(d.Attempts), Reason: d.Reason, Page: string(page),
		CreatedAt: db.FormatTime(d.CreatedAt), UpdatedAt: db.FormatTime(d.UpdatedAt),
		NextAttemptAt: nullTime(d.NextAttemptAt), SentAt: nullTime(d.SentAt), Notice: notice,
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
		Status: string(d.Status), Attempts: int64(d.Attempts), Reason: d.Reason, UpdatedAt: db.FormatTime(d.UpdatedAt),
		NextAttemptAt: nullTime(d.NextAttemptAt), SentAt: nullTime(d.SentAt),
		Key: d.Key, OldStatus: string(from), OldAttempts: int64(fromAttempts),
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
	if errors.Is(err, sql.ErrNoRows) {
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
	}
	if err := json.Unmarshal([]byte(r.Page), &d.Page); err != nil {
		return notify.Delivery{}, fmt.Errorf("delivery %s page: %w", r.Key, err)
	}
	if r.Notice.Valid {
		d.Notice = new(notify.Notice)
		if err := json.Unmarshal([]byte(r.Notice.String), d.Notice); err != nil {
			return notify.Delivery{}, fmt.Errorf("delivery %s notice: %w", r.Key, err)
		}
	}
	var err error
	if d.CreatedAt, err = db.ParseTime(r.CreatedAt); err != nil {
		return notify.Delivery{}, err
	}
	if d.UpdatedAt, err = db.ParseTime(r.UpdatedAt); err != nil {
		return notify.Delivery{}, err
	}
	if d.NextAttemptAt, err = parseNull(r.NextAttemptAt); err != nil {
		return notify.Delivery{}, err
	}
	if d.SentAt, err = parseNull(r.SentAt); err != nil {
		return notify.Delivery{}, err
	}
	return d, nil
}

func nullTime(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: db.FormatTime(t), Valid: true}
}

func parseNull(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	return db.ParseTime(s.String)
}

// SubscriberCreate implements notify.Tx.
func (t *Tx) SubscriberCreate(ctx context.Context, sub notify.Subscriber) error {
	n, err := t.q.SubscriberInsert(ctx, gen.SubscriberInsertParams{
		ID: sub.ID, Kind: sub.Kind, Address: sub.Address, Topics: strings.Join(sub.Topics, ","), Service: sub.Service,
		TokenHash: sub.TokenHash, CreatedAt: db.FormatTime(sub.CreatedAt),
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
	if errors.Is(err, sql.ErrNoRows) {
		return notify.Subscriber{}, fmt.Errorf("%s: %w", what, notify.ErrNotFound)
	}
	if err != nil {
		return notify.Subscriber{}, fmt.Errorf("get %s: %w", what, err)
	}
	at, err := db.ParseTime(r.CreatedAt)
	if err != nil {
		return notify.Subscriber{}, err
	}
	return notify.Subscriber{ID: r.ID, Kind: r.Kind, Address: r.Address, Topics: strings.Split(r.Topics, ","), Service: r.Service,
		TokenHash: r.TokenHash, CreatedAt: at}, nil
}

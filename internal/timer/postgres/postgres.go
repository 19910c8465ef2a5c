// Package postgres is the PostgreSQL adapter (pgx/v5) of the durable timers
// (package timer). Schedule, Cancel and Get work inside the caller's
// transaction; Store is the runner's Source and fires timers with Fire.
//
// Runners claim with FOR UPDATE SKIP LOCKED, so several of them (replicas of
// a service) share one schema without waiting on each other, and a claim
// passes over a timer whose Fire transaction is deleting it.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/internal/timer/postgres/gen"
)

func ts(t time.Time) pgtype.Timestamptz { return pgtype.Timestamptz{Time: t.UTC(), Valid: true} }

// Schedule writes t inside the caller's transaction, replacing the pending
// timer of the same (Kind, Key) and any claim on it. An empty t.ID gets a
// new one; a zero t.CreatedAt becomes time.Now(). PostgreSQL keeps
// microseconds: DueAt is truncated to them.
func Schedule(ctx context.Context, tx gen.DBTX, t timer.Timer) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if t.ID == "" {
		t.ID = timer.NewID()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	if t.Payload == nil {
		t.Payload = []byte{}
	}
	err := gen.New(tx).TimerUpsert(ctx, gen.TimerUpsertParams{
		ID: t.ID, Kind: t.Kind, Key: t.Key, DueAt: ts(t.DueAt),
		Payload: t.Payload, CreatedAt: ts(t.CreatedAt),
	})
	if err != nil {
		return fmt.Errorf("schedule timer %s/%s: %w", t.Kind, t.Key, err)
	}
	return nil
}

// Cancel deletes the pending timer (kind, key) inside the caller's
// transaction and reports whether there was one. A runner holding it finds
// it gone when it fires.
func Cancel(ctx context.Context, tx gen.DBTX, kind, key string) (bool, error) {
	n, err := gen.New(tx).TimerDeleteByKey(ctx, gen.TimerDeleteByKeyParams{Kind: kind, Key: key})
	if err != nil {
		return false, fmt.Errorf("cancel timer %s/%s: %w", kind, key, err)
	}
	return n > 0, nil
}

// Get returns the pending timer (kind, key). Errors: timer.ErrNotFound.
func Get(ctx context.Context, tx gen.DBTX, kind, key string) (timer.Timer, error) {
	row, err := gen.New(tx).TimerGetByKey(ctx, gen.TimerGetByKeyParams{Kind: kind, Key: key})
	if errors.Is(err, pgx.ErrNoRows) {
		return timer.Timer{}, fmt.Errorf("timer %s/%s: %w", kind, key, timer.ErrNotFound)
	}
	if err != nil {
		return timer.Timer{}, fmt.Errorf("get timer %s/%s: %w", kind, key, err)
	}
	return fromRow(row), nil
}

// Store claims and fires the timers of a PostgreSQL schema migrated with
// the "timer" set.
type Store struct{ pool *pgxpool.Pool }

var _ timer.Source = (*Store)(nil)

// New returns the timer store of pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// ClaimDue implements timer.Source with one UPDATE over a
// FOR UPDATE SKIP LOCKED selection.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, limit int, owner string, lease time.Duration) ([]timer.Timer, error) {
	rows, err := gen.New(s.pool).TimerClaimDue(ctx, gen.TimerClaimDueParams{
		Owner: pgtype.Text{String: owner, Valid: true},
		Until: ts(now.Add(lease)),
		Now:   ts(now),
		Lim:   int32(min(limit, 1<<30)),
	})
	if err != nil {
		return nil, fmt.Errorf("claim due timers: %w", err)
	}
	out := make([]timer.Timer, len(rows))
	for i, r := range rows {
		out[i] = fromRow(r)
	}
	// RETURNING has no defined order; the runner fires the earliest first.
	slices.SortFunc(out, func(a, b timer.Timer) int { return a.DueAt.Compare(b.DueAt) })
	return out, nil
}

// Fire fires the claimed timer t: in one transaction it deletes t if
// t.ClaimedBy still holds it and runs fn, the timer's effect, then commits.
// When fn fails nothing is committed and Fire returns fn's error (wrapped);
// the timer stays claimed until the runner records the failure (Retry) or
// the lease lapses. As always on PostgreSQL, once a statement in tx failed
// fn must return an error. Errors: timer.ErrGone (fn not called) when t was
// cancelled, replaced, fired or claimed by someone else.
func (s *Store) Fire(ctx context.Context, t timer.Timer, fn func(tx pgx.Tx) error) error {
	return db.InPgTx(ctx, s.pool, func(tx pgx.Tx) error {
		n, err := gen.New(tx).TimerDeleteClaimed(ctx, gen.TimerDeleteClaimedParams{ID: t.ID, ClaimedBy: claim(t.ClaimedBy)})
		if err != nil {
			return fmt.Errorf("fire timer %s/%s: %w", t.Kind, t.Key, err)
		}
		if n == 0 {
			return fmt.Errorf("fire timer %s/%s: %w", t.Kind, t.Key, timer.ErrGone)
		}
		if err := fn(tx); err != nil {
			return fmt.Errorf("fire timer %s/%s: %w", t.Kind, t.Key, err)
		}
		return nil
	})
}

// Retry implements timer.Source.
func (s *Store) Retry(ctx context.Context, t timer.Timer, due time.Time, cause string) error {
	n, err := gen.New(s.pool).TimerRetry(ctx, gen.TimerRetryParams{
		ID: t.ID, ClaimedBy: claim(t.ClaimedBy), LastError: cause, DueAt: ts(due),
	})
	if err != nil {
		return fmt.Errorf("retry timer %s/%s: %w", t.Kind, t.Key, err)
	}
	if n == 0 {
		return fmt.Errorf("retry timer %s/%s: %w", t.Kind, t.Key, timer.ErrGone)
	}
	return nil
}

// Release implements timer.Source. It releases per owner, since timers may mix
// claims.
func (s *Store) Release(ctx context.Context, timers []timer.Timer) error {
	byOwner := map[string][]string{}
	for _, t := range timers {
		byOwner[t.ClaimedBy] = append(byOwner[t.ClaimedBy], t.ID)
	}
	q := gen.New(s.pool)
	for owner, ids := range byOwner {
		if _, err := q.TimerRelease(ctx, gen.TimerReleaseParams{Ids: ids, Owner: claim(owner)}); err != nil {
			return fmt.Errorf("release %d timers: %w", len(ids), err)
		}
	}
	return nil
}

// claim is the claimed_by a claimed timer must still have; an unclaimed
// timer (empty owner) matches no row, since NULL equals nothing.
func claim(owner string) pgtype.Text { return pgtype.Text{String: owner, Valid: owner != ""} }

func fromRow(r gen.FbTimer) timer.Timer {
	t := timer.Timer{
		ID: r.ID, Kind: r.Kind, Key: r.Key, DueAt: r.DueAt.Time.UTC(), Payload: r.Payload,
		CreatedAt: r.CreatedAt.Time.UTC(), Attempts: int(r.Attempts), LastError: r.LastError,
		ClaimedBy: r.ClaimedBy.String,
	}
	if r.ClaimedUntil.Valid {
		t.ClaimedUntil = r.ClaimedUntil.Time.UTC()
	}
	return t
}

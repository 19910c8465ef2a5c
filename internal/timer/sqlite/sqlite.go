// Package sqlite is the SQLite adapter of the durable timers (package
// timer). Schedule, Cancel and Get work inside the caller's transaction;
// Store is the runner's Source and fires timers with Fire.
//
// Every write runs in an IMMEDIATE transaction (db.OpenSQLite), so claims
// and firings of runners sharing one file queue on SQLite's write lock
// instead of racing.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/internal/timer/sqlite/gen"
)

// Schedule writes t inside the caller's transaction, replacing the pending
// timer of the same (Kind, Key) and any claim on it. An empty t.ID gets a
// new one; a zero t.CreatedAt becomes time.Now().
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
		ID: t.ID, Kind: t.Kind, Key: t.Key, DueAt: db.FormatTime(t.DueAt),
		Payload: t.Payload, CreatedAt: db.FormatTime(t.CreatedAt),
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
	if errors.Is(err, sql.ErrNoRows) {
		return timer.Timer{}, fmt.Errorf("timer %s/%s: %w", kind, key, timer.ErrNotFound)
	}
	if err != nil {
		return timer.Timer{}, fmt.Errorf("get timer %s/%s: %w", kind, key, err)
	}
	return fromRow(row)
}

// Store claims and fires the timers of a SQLite database migrated with the
// "timer" set.
type Store struct{ db *sql.DB }

var _ timer.Source = (*Store)(nil)

// New returns the timer store of d.
func New(d *sql.DB) *Store { return &Store{db: d} }

// ClaimDue implements timer.Source with one UPDATE ... RETURNING in an
// IMMEDIATE transaction.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, limit int, owner string, lease time.Duration) ([]timer.Timer, error) {
	var rows []gen.FbTimer
	err := db.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var err error
		rows, err = gen.New(tx).TimerClaimDue(ctx, gen.TimerClaimDueParams{
			Owner: sql.NullString{String: owner, Valid: true},
			Until: sql.NullString{String: db.FormatTime(now.Add(lease)), Valid: true},
			Now:   db.FormatTime(now),
			Lim:   int64(limit),
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim due timers: %w", err)
	}
	return fromRows(rows)
}

// Fire fires the claimed timer t: in one transaction it deletes t if
// t.ClaimedBy still holds it and runs fn, the timer's effect, then commits.
// When fn fails nothing is committed and Fire returns fn's error (wrapped);
// the timer stays claimed until the runner records the failure (Retry) or
// the lease lapses. Errors: timer.ErrGone (fn not called) when t was
// cancelled, replaced, fired or claimed by someone else.
func (s *Store) Fire(ctx context.Context, t timer.Timer, fn func(tx *sql.Tx) error) error {
	return db.InTx(ctx, s.db, func(tx *sql.Tx) error {
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
	var n int64
	err := db.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var err error
		n, err = gen.New(tx).TimerRetry(ctx, gen.TimerRetryParams{
			LastError: cause, DueAt: db.FormatTime(due), ID: t.ID, ClaimedBy: claim(t.ClaimedBy),
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("retry timer %s/%s: %w", t.Kind, t.Key, err)
	}
	if n == 0 {
		return fmt.Errorf("retry timer %s/%s: %w", t.Kind, t.Key, timer.ErrGone)
	}
	return nil
}

// Release implements timer.Source.
func (s *Store) Release(ctx context.Context, ts []timer.Timer) error {
	err := db.InTx(ctx, s.db, func(tx *sql.Tx) error {
		q := gen.New(tx)
		for _, t := range ts {
			if _, err := q.TimerRelease(ctx, gen.TimerReleaseParams{ID: t.ID, ClaimedBy: claim(t.ClaimedBy)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release %d timers: %w", len(ts), err)
	}
	return nil
}

// claim is the claimed_by a claimed timer must still have; an unclaimed
// timer (empty owner) matches no row, since NULL equals nothing.
func claim(owner string) sql.NullString {
	return sql.NullString{String: owner, Valid: owner != ""}
}

func fromRows(rows []gen.FbTimer) ([]timer.Timer, error) {
	out := make([]timer.Timer, len(rows))
	for i, r := range rows {
		t, err := fromRow(r)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	// RETURNING has no defined order; the runner fires the earliest first.
	slices.SortFunc(out, func(a, b timer.Timer) int { return a.DueAt.Compare(b.DueAt) })
	return out, nil
}

func fromRow(r gen.FbTimer) (timer.Timer, error) {
	t := timer.Timer{
		ID: r.ID, Kind: r.Kind, Key: r.Key, Payload: r.Payload,
		Attempts: int(r.Attempts), LastError: r.LastError, ClaimedBy: r.ClaimedBy.String,
	}
	var err error
	if t.DueAt, err = db.ParseTime(r.DueAt); err != nil {
		return timer.Timer{}, err
	}
	if t.CreatedAt, err = db.ParseTime(r.CreatedAt); err != nil {
		return timer.Timer{}, err
	}
	if r.ClaimedUntil.Valid {
		if t.ClaimedUntil, err = db.ParseTime(r.ClaimedUntil.String); err != nil {
			return timer.Timer{}, err
		}
	}
	return t, nil
}

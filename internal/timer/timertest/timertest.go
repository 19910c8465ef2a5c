// Package timertest is the contract both timer adapters pass, with the
// runner running on each of them, and the benchmarks they share. The SQLite
// and PostgreSQL adapters run it from their own tests:
//
//	timertest.Run(t, func(t testing.TB, n int) []timertest.Engine { ... })
//
// Fire is typed per engine (its fn gets a *sql.Tx or a pgx.Tx), so each
// adapter test wraps its Store in an Engine whose Fire applies one fixed
// effect: it inserts the timer's id into a table fired (id primary key) in
// the firing transaction. A timer that fired twice would violate that key.
package timertest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/timer"
)

// Engine is one connection pool on a timer database, seen through
// engine-neutral transactions.
type Engine interface {
	timer.Source

	// Schedule schedules ts with the adapter's Schedule in one transaction,
	// which it rolls back instead of committing when rollback is true.
	Schedule(ctx context.Context, rollback bool, ts ...timer.Timer) error
	// Cancel cancels (kind, key) with the adapter's Cancel in a
	// transaction, rolled back when rollback is true.
	Cancel(ctx context.Context, rollback bool, kind, key string) (bool, error)
	// Get returns the pending timer (kind, key) or timer.ErrNotFound.
	Get(ctx context.Context, kind, key string) (timer.Timer, error)
	// Fire fires t with the adapter's Fire and an fn that inserts t.ID into
	// fired and then returns effect(tx) (rolling the insert back when that
	// fails). effect may be nil.
	Fire(ctx context.Context, t timer.Timer, effect func(tx Tx) error) error
	// Fired returns the number of rows in fired.
	Fired(ctx context.Context) (int, error)
	// Load inserts many unclaimed timers quickly (benchmark set-up); it
	// need not go through Schedule.
	Load(ctx context.Context, ts []timer.Timer) error
}

// Tx is the firing transaction as an effect sees it.
type Tx interface {
	// Schedule is the adapter's Schedule inside the firing transaction.
	Schedule(ctx context.Context, t timer.Timer) error
}

// Open returns n engines with a pool each on one fresh, migrated database
// that has the fired table, as n processes would see it.
type Open func(t testing.TB, n int) []Engine

// Clock is a fake clock for runners and tests: it stands still until
// advanced.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Base is a fixed time with microsecond precision, the precision both
// engines keep.
var Base = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

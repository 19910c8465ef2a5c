package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/internal/timer/postgres"
	"github.com/firebreak-dev/firebreak/internal/timer/timertest"
)

// engine wraps the adapter for the contract suite.
type engine struct {
	*postgres.Store
	pool *pgxpool.Pool
}

var _ timertest.Engine = (*engine)(nil)

// open migrates a fresh schema and opens n pools on it, as n processes
// would.
func open(t testing.TB, n int) []timertest.Engine {
	t.Helper()
	ctx := context.Background()
	first, schema := dbtest.Postgres(t, "timer")
	if _, err := first.Exec(ctx, `CREATE TABLE fired (id TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	out := []timertest.Engine{&engine{Store: postgres.New(first), pool: first}}
	for range n - 1 {
		pool, err := db.OpenPostgres(ctx, dbtest.PostgresURL(t), schema)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		out = append(out, &engine{Store: postgres.New(pool), pool: pool})
	}
	return out
}

func TestContract(t *testing.T) {
	t.Parallel()
	timertest.Run(t, open)
}

func BenchmarkLag(b *testing.B)       { timertest.BenchLag(b, open) }
func BenchmarkClaimFire(b *testing.B) { timertest.BenchClaimFire(b, open) }

var errRollback = errors.New("roll back")

// inTx runs fn in a transaction that commits, or rolls back when rollback.
func (e *engine) inTx(ctx context.Context, rollback bool, fn func(tx pgx.Tx) error) error {
	err := db.InPgTx(ctx, e.pool, func(tx pgx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if rollback {
			return errRollback
		}
		return nil
	})
	if errors.Is(err, errRollback) {
		return nil
	}
	return err
}

func (e *engine) Schedule(ctx context.Context, rollback bool, ts ...timer.Timer) error {
	return e.inTx(ctx, rollback, func(tx pgx.Tx) error {
		for _, t := range ts {
			if err := postgres.Schedule(ctx, tx, t); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *engine) Cancel(ctx context.Context, rollback bool, kind, key string) (ok bool, err error) {
	err = e.inTx(ctx, rollback, func(tx pgx.Tx) error {
		ok, err = postgres.Cancel(ctx, tx, kind, key)
		return err
	})
	return ok, err
}

func (e *engine) Get(ctx context.Context, kind, key string) (timer.Timer, error) {
	return postgres.Get(ctx, e.pool, kind, key)
}

type firingTx struct{ tx pgx.Tx }

func (f firingTx) Schedule(ctx context.Context, t timer.Timer) error {
	return postgres.Schedule(ctx, f.tx, t)
}

func (e *engine) Fire(ctx context.Context, t timer.Timer, effect func(timertest.Tx) error) error {
	return e.Store.Fire(ctx, t, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO fired (id) VALUES ($1)`, t.ID); err != nil {
			return err
		}
		if effect == nil {
			return nil
		}
		return effect(firingTx{tx})
	})
}

func (e *engine) Fired(ctx context.Context) (n int, err error) {
	err = e.pool.QueryRow(ctx, `SELECT COUNT(*) FROM fired`).Scan(&n)
	return n, err
}

// Load copies ts into fb_timers (COPY), far faster than Schedule one by one.
func (e *engine) Load(ctx context.Context, ts []timer.Timer) error {
	_, err := e.pool.CopyFrom(ctx, pgx.Identifier{"fb_timers"},
		[]string{"id", "kind", "key", "due_at", "payload", "created_at"},
		pgx.CopyFromSlice(len(ts), func(i int) ([]any, error) {
			t := ts[i]
			return []any{t.ID, t.Kind, t.Key, t.DueAt, t.Payload, t.CreatedAt}, nil
		}))
	return err
}

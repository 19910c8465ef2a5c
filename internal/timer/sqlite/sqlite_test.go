package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/internal/timer/sqlite"
	"github.com/firebreak-dev/firebreak/internal/timer/timertest"
)

// engine wraps the adapter for the contract suite.
type engine struct {
	*sqlite.Store
	db *sql.DB
}

var _ timertest.Engine = (*engine)(nil)

// open migrates a fresh file and opens it n times, as n processes would.
func open(t testing.TB, n int) []timertest.Engine {
	t.Helper()
	ctx := context.Background()
	first := dbtest.SQLite(t, "timer")
	if _, err := first.ExecContext(ctx, `CREATE TABLE fired (id TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	var path string
	if err := first.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&path); err != nil {
		t.Fatal(err)
	}
	out := []timertest.Engine{&engine{Store: sqlite.New(first), db: first}}
	for range n - 1 {
		d, err := db.OpenSQLite(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		out = append(out, &engine{Store: sqlite.New(d), db: d})
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
func (e *engine) inTx(ctx context.Context, rollback bool, fn func(tx *sql.Tx) error) error {
	err := db.InTx(ctx, e.db, func(tx *sql.Tx) error {
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
	return e.inTx(ctx, rollback, func(tx *sql.Tx) error {
		for _, t := range ts {
			if err := sqlite.Schedule(ctx, tx, t); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *engine) Cancel(ctx context.Context, rollback bool, kind, key string) (ok bool, err error) {
	err = e.inTx(ctx, rollback, func(tx *sql.Tx) error {
		ok, err = sqlite.Cancel(ctx, tx, kind, key)
		return err
	})
	return ok, err
}

func (e *engine) Get(ctx context.Context, kind, key string) (timer.Timer, error) {
	return sqlite.Get(ctx, e.db, kind, key)
}

type firingTx struct{ tx *sql.Tx }

func (f firingTx) Schedule(ctx context.Context, t timer.Timer) error {
	return sqlite.Schedule(ctx, f.tx, t)
}

func (e *engine) Fire(ctx context.Context, t timer.Timer, effect func(timertest.Tx) error) error {
	return e.Store.Fire(ctx, t, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO fired (id) VALUES (?)`, t.ID); err != nil {
			return err
		}
		if effect == nil {
			return nil
		}
		return effect(firingTx{tx})
	})
}

func (e *engine) Fired(ctx context.Context) (n int, err error) {
	err = e.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM fired`).Scan(&n)
	return n, err
}

func (e *engine) Load(ctx context.Context, ts []timer.Timer) error {
	return e.Schedule(ctx, false, ts...)
}

package db_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
)

// TestWriteLock: one turn per database at a time; waiting ends with the
// context; other databases are not held up.
func TestWriteLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := dbtest.SQLite(t), dbtest.SQLite(t)
	unlock, err := db.WriteLock(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := db.WriteLock(short, a); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second turn while the first is held: %v, want the context's error", err)
	}
	if err := db.InTx(short, a, func(*sql.Tx) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("InTx while the turn is held: %v, want the context's error", err)
	}
	ub, err := db.WriteLock(ctx, b)
	if err != nil {
		t.Fatalf("another database's turn: %v", err)
	}
	ub()
	unlock()
	again, err := db.WriteLock(ctx, a)
	if err != nil {
		t.Fatalf("turn after unlock: %v", err)
	}
	again()
}

// TestInTxConcurrent: many concurrent read-modify-write transactions on one
// SQLite database all commit, none lost.
func TestInTxConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.SQLite(t)
	if _, err := d.ExecContext(ctx, "CREATE TABLE n (v INTEGER NOT NULL); INSERT INTO n VALUES (0)"); err != nil {
		t.Fatal(err)
	}
	const writers = 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			errs <- db.InTx(ctx, d, func(tx *sql.Tx) error {
				var v int
				if err := tx.QueryRowContext(ctx, "SELECT v FROM n").Scan(&v); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, "UPDATE n SET v = ?", v+1)
				return err
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var v int
	if err := d.QueryRowContext(ctx, "SELECT v FROM n").Scan(&v); err != nil || v != writers {
		t.Fatalf("counter %d %v, want %d", v, err, writers)
	}
}

package db_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
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

// TestOpenSQLitePragmas: every connection of the pool runs with the
// settings OpenSQLite documents and its options ask for (a pragma the driver ignored would leave
// SQLite's default).
func TestOpenSQLitePragmas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, err := db.OpenSQLite(ctx, filepath.Join(t.TempDir(), "p.db"), db.CacheKiB(8192))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// Hold several connections at once so that not only the first is asked.
	var conns []*sql.Conn
	for range 3 {
		c, err := d.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	want := map[string]string{"journal_mode": "wal", "synchronous": "1", "foreign_keys": "1", "busy_timeout": "10000",
		"cache_size": "-8192", "wal_autocheckpoint": "10000"}
	for i, c := range conns {
		for p, w := range want {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+p).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != w {
				t.Errorf("connection %d: PRAGMA %s = %s, want %s", i, p, got, w)
			}
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

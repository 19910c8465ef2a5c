package db_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/db"
)

func openKV(t testing.TB) *sql.DB {
	t.Helper()
	d, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Exec(`CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL); CREATE TABLE log (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestStmtCacheReuse: a cached statement runs again and again, with other
// arguments, after a constraint error, inside transactions that commit or
// roll back, and while rows of the same query are still open (the second
// run is unprepared then).
func TestStmtCacheReuse(t *testing.T) {
	t.Parallel()
	d := openKV(t)
	ctx := t.Context()
	const ins = `INSERT INTO kv (k, v) VALUES (?, ?)`
	for i := range 100 {
		if _, err := d.ExecContext(ctx, ins, "k"+strings.Repeat("x", i), i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.ExecContext(ctx, ins, "k", 1); err == nil || !strings.Contains(err.Error(), "UNIQUE") {
		t.Fatalf("duplicate key: %v", err)
	}
	if _, err := d.ExecContext(ctx, ins, "after-error", 7); err != nil {
		t.Fatalf("the statement after a failed run: %v", err)
	}
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, ins, "rolled-back", 1); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	const get = `SELECT v FROM kv WHERE k = ?`
	var v int
	if err := d.QueryRowContext(ctx, get, "rolled-back").Scan(&v); err != sql.ErrNoRows {
		t.Fatalf("rolled back row: %v", err)
	}
	if err := d.QueryRowContext(ctx, get, "after-error").Scan(&v); err != nil || v != 7 {
		t.Fatalf("after-error = %d, %v", v, err)
	}

	if _, err := d.ExecContext(ctx, `DELETE FROM kv WHERE k = ?`, "after-error"); err != nil {
		t.Fatal(err)
	}
	// Rows of a query are open while the same query runs again in the
	// same transaction, and their statement is not disturbed.
	const rng = `SELECT k, v FROM kv WHERE v < ? ORDER BY v`
	tx, err = d.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	outer, err := tx.QueryContext(ctx, rng, 10)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for outer.Next() {
		var k string
		if err := outer.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		if v != n {
			t.Fatalf("outer row %d has v %d", n, v)
		}
		var inner int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM kv WHERE v < ?`, v).Scan(&inner); err != nil || inner != v {
			t.Fatalf("inner count below %d = %d, %v", v, inner, err)
		}
		rows, err := tx.QueryContext(ctx, rng, 3)
		if err != nil {
			t.Fatal(err)
		}
		m := 0
		for rows.Next() {
			m++
		}
		rows.Close()
		if m != 3 {
			t.Fatalf("nested run of the same query: %d rows, want 3", m)
		}
		n++
	}
	if err := outer.Err(); err != nil || n != 10 {
		t.Fatalf("outer rows %d, %v", n, err)
	}
	outer.Close()
}

// BenchmarkStmtCache compares one small write transaction (an upsert and a
// read) through OpenSQLite with the same through the driver as is, on the
// same kind of file, in the same run.
func BenchmarkStmtCache(b *testing.B) {
	run := func(b *testing.B, d *sql.DB) {
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			tx, err := d.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v + kv.v`, "k", i); err != nil {
				b.Fatal(err)
			}
			var v int
			if err := tx.QueryRowContext(ctx, `SELECT v FROM kv WHERE k = ? AND v >= ?`, "k", 0).Scan(&v); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("cached", func(b *testing.B) { run(b, openKV(b)) })
	b.Run("driver", func(b *testing.B) {
		d, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "plain.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		if _, err := d.Exec(`CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
			b.Fatal(err)
		}
		run(b, d)
	})
}

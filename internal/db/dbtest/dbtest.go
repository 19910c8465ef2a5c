// Package dbtest gives tests a fresh SQLite file or a fresh PostgreSQL schema.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firebreak-dev/firebreak/internal/db"
)

// EnvPostgres names the variable that points tests at a PostgreSQL server.
const EnvPostgres = "FIREBREAK_TEST_POSTGRES"

// SQLite opens a new SQLite database in the test's temp dir and migrates the
// given sets (for example "outbox", "incident").
func SQLite(t testing.TB, sets ...string) *sql.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.OpenSQLite(ctx, filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	for _, s := range sets {
		if err := db.Migrate(ctx, d, db.SQLite, s); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// PostgresURL returns FIREBREAK_TEST_POSTGRES, skipping the test with a
// visible reason when it is unset. When it is set the server must answer:
// an unreachable server fails the test rather than skipping it.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvPostgres)
	if u == "" {
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvPostgres)
	}
	return u
}

// Postgres opens a pool on a fresh schema of its own (dropped at cleanup) and
// migrates the given sets into it, so tests run in parallel.
func Postgres(t testing.TB, sets ...string) (*pgxpool.Pool, string) {
	t.Helper()
	u := PostgresURL(t)
	schema := NewSchemaName()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := db.OpenPostgres(ctx, u, schema)
	if err != nil {
		t.Fatalf("PostgreSQL at %s=%q unreachable: %v", EnvPostgres, u, err)
	}
	t.Cleanup(func() {
		pool.Close()
		DropSchema(t, u, schema)
	})
	for _, s := range sets {
		if err := db.MigratePostgres(ctx, pool, s); err != nil {
			t.Fatal(err)
		}
	}
	return pool, schema
}

// NewSchemaName returns a random schema name for a test.
func NewSchemaName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "t_" + hex.EncodeToString(b)
}

// DropSchema removes a test schema and everything in it.
func DropSchema(t testing.TB, dsn, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Logf("drop schema %s: %v", schema, err)
		return
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Logf("drop schema %s: %v", schema, err)
	}
}

// Package db opens firebreak's two storage engines, SQLite (embedded, the
// default) and PostgreSQL (production), runs the embedded goose migrations of
// a service against them, and runs transactions.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"

	"github.com/firebreak-dev/firebreak/schemas"
)

// Engine names a storage engine.
type Engine string

// The supported engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// OpenSQLite opens (creating if needed) the SQLite file at path in WAL mode
// with a busy timeout and IMMEDIATE transactions, so concurrent writers queue
// instead of failing with SQLITE_BUSY on lock upgrade. The WAL is
// checkpointed once it holds 10 000 pages (about 40 MiB) instead of 1 000:
// fewer checkpoints, each writing once a page that changed many times. Each
// connection caches SQLite's default 2 MiB of pages unless CacheKiB says
// otherwise.
func OpenSQLite(ctx context.Context, path string, opts ...SQLiteOption) (*sql.DB, error) {
	var o sqliteOptions
	for _, opt := range opts {
		opt(&o)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)", "wal_autocheckpoint(10000)"} {
		q.Add("_pragma", p)
	}
	if o.cacheKiB > 0 {
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", o.cacheKiB))
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	d := sql.OpenDB(&stmtCacheConnector{dsn: dsn, drv: &sqlite.Driver{}})
	// One writer at a time is SQLite's rule; a small pool lets reads proceed
	// while a write transaction holds its connection.
	d.SetMaxOpenConns(4)
	if err := d.PingContext(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return d, nil
}

// SQLiteOption tunes OpenSQLite.
type SQLiteOption func(*sqliteOptions)

type sqliteOptions struct{ cacheKiB int }

// CacheKiB sets how much of the file each connection keeps in its page
// cache (SQLite's default is 2 048 KiB). A store whose working set is
// larger than that during an alert storm reads the same pages back from
// the file again and again: the incident service's, with 10 000 open dedup
// keys, spends 162 µs per repeated alert with the default and 127–142 µs
// with 8 MiB (BenchmarkHandleAlertsRepeats).
func CacheKiB(n int) SQLiteOption { return func(o *sqliteOptions) { o.cacheKiB = n } }

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// OpenPostgres connects to the PostgreSQL database at dsn with search_path set
// to schema, creating the schema if it does not exist. Each service owns one
// schema.
func OpenPostgres(ctx context.Context, dsn, schema string) (*pgxpool.Pool, error) {
	if !schemaName.MatchString(schema) {
		return nil, fmt.Errorf("invalid postgres schema name %q", schema)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse postgres url: %w", redact(err, dsn))
	}
	boot, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", redact(err, dsn))
	}
	_, err = boot.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
	boot.Close(ctx)
	if err != nil && !isDuplicateSchema(err) {
		return nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", redact(err, dsn))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect postgres: %w", redact(err, dsn))
	}
	return pool, nil
}

// isDuplicateSchema reports the race of two processes creating one schema.
func isDuplicateSchema(err error) bool {
	return strings.Contains(err.Error(), "SQLSTATE 42P06") || strings.Contains(err.Error(), "SQLSTATE 23505")
}

// redact keeps a password in a URL out of an error message.
func redact(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil || u.User == nil {
		return err
	}
	if p, ok := u.User.Password(); ok && p != "" {
		return errors.New(strings.ReplaceAll(err.Error(), p, "xxxxx"))
	}
	return err
}

// Migrate applies the embedded migrations sql/<set>/<engine>/ to db. Each set
// keeps its own version table (fb_migrations_<set>), so the shared outbox
// set and a service's own set live side by side in one database.
func Migrate(ctx context.Context, d *sql.DB, engine Engine, set string) error {
	dialect := goose.DialectSQLite3
	if engine == Postgres {
		dialect = goose.DialectPostgres
	}
	sub, err := fs.Sub(schemas.SQL, "sql/"+set+"/"+string(engine))
	if err != nil {
		return fmt.Errorf("migrations %s/%s: %w", set, engine, err)
	}
	p, err := goose.NewProvider(dialect, d, sub,
		goose.WithTableName("fb_migrations_"+set),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrations %s/%s: %w", set, engine, err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s/%s: %w", set, engine, err)
	}
	return nil
}

// MigratePostgres runs Migrate over a pgx pool.
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool, set string) error {
	d := stdlib.OpenDBFromPool(pool)
	defer d.Close()
	return Migrate(ctx, d, Postgres, set)
}

// InTx runs fn in a database/sql transaction (IMMEDIATE on SQLite), committing
// when fn returns nil and rolling back otherwise. Transactions of one *sql.DB
// take turns in the process (see WriteLock); fn must not start another
// transaction on d.
func InTx(ctx context.Context, d *sql.DB, fn func(*sql.Tx) error) error {
	unlock, err := WriteLock(ctx, d)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer unlock()
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// InPgTx runs fn in a PostgreSQL transaction, committing when fn returns nil.
func InPgTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, fn)
}

// TimeLayout is how SQLite stores times: UTC, fixed width, so text order is
// time order.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// FormatTime renders t for a SQLite TEXT column.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ParseTime reads a time written by FormatTime (or any RFC 3339 time).
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// writeGates holds one gate per SQLite database (*sql.DB) in the process,
// keyed weakly: a gate goes when its database is collected.
var writeGates sync.Map // weak.Pointer[sql.DB] → chan struct{} (capacity 1)

// WriteLock waits for d's turn to write and returns the func that ends it.
// SQLite has one writer at a time; writers of one process that meet on its
// lock back off in sleeps of 1 to 100 ms (the busy handler), which under a
// burst costs far more than waiting in line here. InTx takes the turn
// itself; a store takes it around its single-statement writes. Waiting ends
// early, with ctx's error, when ctx ends.
func WriteLock(ctx context.Context, d *sql.DB) (func(), error) {
	key := weak.Make(d)
	g, ok := writeGates.Load(key)
	if !ok {
		var loaded bool
		if g, loaded = writeGates.LoadOrStore(key, make(chan struct{}, 1)); !loaded {
			runtime.AddCleanup(d, func(k weak.Pointer[sql.DB]) { writeGates.Delete(k) }, key)
		}
	}
	gate := g.(chan struct{})
	select {
	case gate <- struct{}{}:
		return func() { <-gate }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

package db

import (
	"context"
	"database/sql/driver"
	"errors"
	"reflect"

	"modernc.org/sqlite"
)

// maxCachedStmts is the most statements one SQLite connection keeps
// prepared. The queries of the stores are a fixed set (a few hundred at
// most); beyond the cap, statements run unprepared as before.
const maxCachedStmts = 512

// stmtCacheConnector opens SQLite connections that keep each statement
// with arguments prepared once per connection.
//
// The driver prepares (parses and compiles) a statement on every
// ExecContext and QueryContext call that is not on a database/sql Stmt, and
// the stores run sqlc's queries that way: in a profile of `firebreak dev`
// under load, SQLite's parser was a quarter of the CPU. Caching below
// database/sql speeds up every store, the outbox, the inbox and the timers
// without each of them preparing its own statements.
type stmtCacheConnector struct {
	dsn string
	drv *sqlite.Driver
}

func (c *stmtCacheConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &stmtCacheConn{conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

func (c *stmtCacheConnector) Driver() driver.Driver { return c.drv }

// The interfaces of the driver's connection that database/sql uses.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// stmtCacheConn is a connection with its prepared statements by query
// text. database/sql uses a connection from one goroutine at a time (and
// closes its rows under the connection's lock), so the map needs no lock.
type stmtCacheConn struct {
	conn  driver.Conn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	stmt driver.Stmt
	busy bool // its rows are open: the statement cannot run again yet
}

var (
	_ sqliteConn       = (*stmtCacheConn)(nil)
	_ driver.Connector = (*stmtCacheConnector)(nil)
)

func (c *stmtCacheConn) inner() sqliteConn { return c.conn.(sqliteConn) }

// stmt returns the prepared statement of query, nil when query runs
// unprepared: without arguments (scripts, pragmas, savepoints), with the
// cache full, or while the cached statement is busy.
func (c *stmtCacheConn) stmt(ctx context.Context, query string, args []driver.NamedValue) (*cachedStmt, error) {
	if len(args) == 0 {
		return nil, nil
	}
	if cs, ok := c.stmts[query]; ok {
		if cs.busy {
			return nil, nil
		}
		return cs, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil, nil
	}
	s, err := c.inner().PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{stmt: s}
	c.stmts[query] = cs
	return cs, nil
}

func (c *stmtCacheConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.stmt(ctx, query, args)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.inner().ExecContext(ctx, query, args)
	}
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *stmtCacheConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.stmt(ctx, query, args)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.inner().QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs}, nil
}

func (c *stmtCacheConn) Prepare(query string) (driver.Stmt, error) { return c.conn.Prepare(query) }

func (c *stmtCacheConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.inner().PrepareContext(ctx, query)
}

// Begin is required by driver.Conn; database/sql calls BeginTx.
func (c *stmtCacheConn) Begin() (driver.Tx, error) {
	//lint:ignore SA1019 forwarded as is for driver.Conn
	return c.conn.Begin()
}

func (c *stmtCacheConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner().BeginTx(ctx, opts)
}

func (c *stmtCacheConn) Ping(ctx context.Context) error { return c.inner().Ping(ctx) }

func (c *stmtCacheConn) ResetSession(ctx context.Context) error { return c.inner().ResetSession(ctx) }

func (c *stmtCacheConn) IsValid() bool { return c.inner().IsValid() }

// Close closes the cached statements, then the connection.
func (c *stmtCacheConn) Close() error {
	var errs []error
	for q, cs := range c.stmts {
		errs = append(errs, cs.stmt.Close())
		delete(c.stmts, q)
	}
	errs = append(errs, c.conn.Close())
	return errors.Join(errs...)
}

// cachedRows frees its statement for the next call when closed. It
// forwards the column-type interfaces of the driver's rows.
type cachedRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.cs.busy = false
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

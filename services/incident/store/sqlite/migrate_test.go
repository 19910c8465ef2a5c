package sqlite_test

import (
	"database/sql"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/schemas"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/incident/store/sqlite"
)

// TestMigrateLifecycle applies 00002 to a database that already holds an
// incident, checks the new columns' defaults, and takes it down and up
// again: the Down section must reverse the Up section.
func TestMigrateLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := dbtest.SQLite(t, "outbox")
	sub, err := fs.Sub(schemas.SQL, "sql/incident/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	// The table name db.Migrate uses, so the store sees a normal database.
	p, err := goose.NewProvider(goose.DialectSQLite3, d, sub,
		goose.WithTableName("fb_migrations_incident"), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	v1 := schema(t, d)
	now := db.FormatTime(time.Now())
	_, err = d.ExecContext(ctx, `INSERT INTO incidents (id, number, service, dedup_key, title, severity, status,
		alert_count, version, created_at, updated_at, last_alert_at) VALUES ('inc-old', 1, 'checkout', 'disk', 'old', 'SEV3',
		'triggered', 1, 1, ?, ?, ?)`, now, now, now)
	if err != nil {
		t.Fatal(err)
	}
	s := sqlite.New(d, time.Now)
	for _, step := range []string{"up", "down", "up again"} {
		switch step {
		case "up", "up again":
			if _, err := p.Up(ctx); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			got, err := s.IncidentGet(ctx, incident.Ref{ID: "inc-old"})
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			if got.Origin != incident.OriginAlert || got.Assignee != "" || got.EscalationLevel != 0 || got.ReopenCount != 0 ||
				got.SnoozedUntil != nil || got.ClosedAt != nil {
				t.Errorf("%s: pre-existing incident = %+v, want the column defaults", step, got)
			}
		case "down":
			if _, err := p.DownTo(ctx, 1); err != nil {
				t.Fatalf("down: %v", err)
			}
			var n int
			if err := d.QueryRowContext(ctx, "SELECT count(*) FROM incidents WHERE id = 'inc-old'").Scan(&n); err != nil || n != 1 {
				t.Fatalf("after down: %d incidents, %v", n, err)
			}
			if v, err := p.GetDBVersion(ctx); err != nil || v != 1 {
				t.Fatalf("after down: version %d, %v; want 1", v, err)
			}
			if got := schema(t, d); got != v1 {
				t.Errorf("schema after down differs from version 1\n got: %s\nwant: %s", got, v1)
			}
		}
	}
}

// schema renders the database's tables, columns and indexes.
func schema(t *testing.T, d *sql.DB) string {
	t.Helper()
	rows, err := d.QueryContext(t.Context(), `SELECT m.type, m.name, IFNULL(p.name, ''), IFNULL(p.type, ''), IFNULL(p."notnull", 0),
		IFNULL(p.dflt_value, ''), IFNULL(p.pk, 0), CASE WHEN m.type = 'index' THEN IFNULL(m.sql, '') ELSE '' END
		FROM sqlite_master m LEFT JOIN pragma_table_info(m.name) p ON m.type = 'table'
		WHERE m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var typ, name, col, colType, dflt, idx string
		var notNull, pk int
		if err := rows.Scan(&typ, &name, &col, &colType, &notNull, &dflt, &pk, &idx); err != nil {
			t.Fatal(err)
		}
		b.WriteString(strings.Join([]string{typ, name, col, colType, dflt, idx}, " ") + strings.Repeat("!", notNull) + strings.Repeat("*", pk) + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

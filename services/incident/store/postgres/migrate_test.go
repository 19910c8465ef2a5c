package postgres_test

import (
	"database/sql"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/schemas"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/incident/store/postgres"
)

// TestMigrateLifecycle applies 00002 to a schema that already holds an
// incident, checks the new columns' defaults, and takes it down and up
// again: the Down section must reverse the Up section.
func TestMigrateLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := dbtest.Postgres(t, "outbox")
	d := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { d.Close() })
	sub, err := fs.Sub(schemas.SQL, "sql/incident/postgres")
	if err != nil {
		t.Fatal(err)
	}
	// The table name db.Migrate uses, so the store sees a normal schema.
	p, err := goose.NewProvider(goose.DialectPostgres, d, sub,
		goose.WithTableName("fb_migrations_incident"), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	v1 := schema(t, d)
	_, err = d.ExecContext(ctx, `INSERT INTO incidents (id, number, service, dedup_key, title, severity, status,
		alert_count, version, created_at, updated_at, last_alert_at) VALUES ('inc-old', 1, 'checkout', 'disk', 'old', 'SEV3',
		'triggered', 1, 1, now(), now(), now())`)
	if err != nil {
		t.Fatal(err)
	}
	s := postgres.New(pool, time.Now)
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

// schema renders the current schema's columns and indexes.
func schema(t *testing.T, d *sql.DB) string {
	t.Helper()
	rows, err := d.QueryContext(t.Context(), `
		SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
		FROM information_schema.columns WHERE table_schema = current_schema()
		UNION ALL
		SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/postmortem/store/sqlite"
	"github.com/firebreak-dev/firebreak/services/postmortem/storetest"
)

// BenchmarkTimeline: see storetest.BenchTimeline.
func BenchmarkTimeline(b *testing.B) {
	d := dbtest.SQLite(b, "outbox", "timer", "postmortem")
	raw := func(ctx context.Context, id string) (int, error) {
		rows, err := d.QueryContext(ctx, `SELECT event_id, incident_id, at, type, actor_kind, actor_id, actor_name, actor_channel, summary
FROM pm_timeline WHERE incident_id = ? ORDER BY at, event_id`, id)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		n := 0
		var c [9]string
		for rows.Next() {
			if err := rows.Scan(&c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6], &c[7], &c[8]); err != nil {
				return n, err
			}
			n++
		}
		return n, rows.Err()
	}
	storetest.BenchTimeline(b, sqlite.New(d, time.Now), raw)
}

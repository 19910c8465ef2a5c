package incident_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/incident/store/sqlite"
)

// BenchmarkHandleAlertsRepeats applies repeats of 10 000 open dedup keys
// in batches of 500 (what the alert consumer does during a storm of the
// intake benchmark) on SQLite, with SQLite's default page cache and with
// the one `firebreak dev` gives the incident service; ns/op is per alert.
func BenchmarkHandleAlertsRepeats(b *testing.B) {
	for _, c := range []struct {
		name string
		opts []db.SQLiteOption
	}{{"cache=default", nil}, {"cache=8MiB", []db.SQLiteOption{db.CacheKiB(8192)}}} {
		b.Run(c.name, func(b *testing.B) {
			d, err := db.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "incident.db"), c.opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			for _, set := range []string{"outbox", "timer", "incident"} {
				if err := db.Migrate(context.Background(), d, db.SQLite, set); err != nil {
					b.Fatal(err)
				}
			}
			benchRepeats(b, d)
		})
	}
}

func benchRepeats(b *testing.B, d *sql.DB) {
	const keys, batch = 10000, 500
	svc, err := incident.New(sqlite.New(d, time.Now), nil, incident.Config{AutoCreateServices: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	mk := func(k int) events.Envelope {
		return events.MustNew(events.TypeAlertReceived, "intake", "x",
			events.Actor{Kind: events.ActorIntegration, ID: "events-v2"},
			events.AlertReceived{Service: "bench", DedupKey: fmt.Sprintf("bench-%d", k), EventAction: events.ActionTrigger,
				Summary: fmt.Sprintf("bench alert %d", k), Source: fmt.Sprintf("host-%d", k%100), Severity: "critical",
				Integration: "events-v2", ReceivedAt: time.Now()})
	}
	for from := 0; from < keys; from += batch {
		envs := make([]events.Envelope, 0, batch)
		for k := from; k < from+batch; k++ {
			envs = append(envs, mk(k))
		}
		if err := svc.HandleAlerts(ctx, envs); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	envs := make([]events.Envelope, 0, batch)
	b.ResetTimer()
	for i := range b.N {
		envs = append(envs, mk(rng.IntN(keys)))
		if len(envs) == batch || i == b.N-1 {
			if err := svc.HandleAlerts(ctx, envs); err != nil {
				b.Fatal(err)
			}
			envs = envs[:0]
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}

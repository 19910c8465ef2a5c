package incident_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/incident/store/sqlite"
)

// BenchmarkHandleAlertsRepeats applies repeats of 10 000 open dedup keys
// in batches of 500 (what the alert consumer does during a storm of the
// intake benchmark) on SQLite; ns/op is per alert.
func BenchmarkHandleAlertsRepeats(b *testing.B) {
	const keys, batch = 10000, 500
	d := dbtest.SQLite(b, "outbox", "timer", "incident")
	_ = outboxsqlite.New(d)
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
			b.StopTimer()
			b.StartTimer()
			if err := svc.HandleAlerts(ctx, envs); err != nil {
				b.Fatal(err)
			}
			envs = envs[:0]
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}

package sqlite_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/audit"
	"github.com/firebreak-dev/firebreak/services/audit/store/sqlite"
)

func benchEnvs(b *testing.B, n int) []events.Envelope {
	b.Helper()
	envs := make([]events.Envelope, n)
	actor := events.Actor{Kind: events.ActorUser, ID: "alice", Channel: events.ChannelSlack}
	for i := range envs {
		inc := fmt.Sprintf("inc-%d", i%100)
		env, err := events.New(events.TypeIncidentNoteAdded, "incident", inc, actor,
			map[string]any{"incident_id": inc, "note": "rolled back deploy 118", "number": i})
		if err != nil {
			b.Fatal(err)
		}
		envs[i] = env
	}
	return envs
}

// BenchmarkAppend appends one message per transaction (what the consumer
// does with one message in flight), and in batches of 64 and 256 (what it could do
// with several messages available); records/s is the figure to watch.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := sqlite.New(dbtest.SQLite(b, "outbox", "audit"))
			envs := benchEnvs(b, 200_000)
			ctx := b.Context()
			n := 0
			start := time.Now()
			for b.Loop() {
				if n+batch > len(envs) {
					b.Fatal("benchmark ran out of envelopes; lower -benchtime")
				}
				if _, err := s.Append(ctx, "bench", time.Now(), envs[n:n+batch]...); err != nil {
					b.Fatal(err)
				}
				n += batch
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// BenchmarkVerify verifies a chain of 1 000 000 records, written straight
// through the store in the setup (in batches of 1000).
func BenchmarkVerify(b *testing.B) {
	const total, batch = 1_000_000, 1000
	s := sqlite.New(dbtest.SQLite(b, "outbox", "audit"))
	ctx := b.Context()
	envs := benchEnvs(b, batch)
	for i := 0; i < total; i += batch {
		for j := range envs { // fresh ids: the log refuses a message twice
			envs[j].ID = fmt.Sprintf("%08d-%04d", i, j)
		}
		if _, err := s.Append(ctx, "bench", time.Now(), envs...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		rep, err := audit.Verify(ctx, s)
		if err != nil || !rep.OK || rep.Records != total {
			b.Fatalf("verify = %+v, %v", rep, err)
		}
	}
	b.ReportMetric(total, "records")
}

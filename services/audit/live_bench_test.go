package audit_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/audit"
	"github.com/firebreak-dev/firebreak/services/audit/store/sqlite"
)

// liveEnvs returns n envelopes, alternately events (FB_EVT) and commands
// (FB_CMD).
func liveEnvs(b *testing.B, round, n int) []events.Envelope {
	b.Helper()
	envs := make([]events.Envelope, n)
	actor := events.Actor{Kind: events.ActorUser, ID: "alice", Channel: events.ChannelAPI}
	for i := range envs {
		inc := fmt.Sprintf("inc-%d", i%100)
		typ, data := events.TypeIncidentNoteAdded, any(map[string]any{"incident_id": inc, "note": "rolled back deploy 118", "number": i})
		if i%2 == 1 {
			typ, data = events.CmdIncidentAddNote, map[string]any{"note": "rolled back deploy 118", "number": i}
		}
		env, err := events.New(typ, "bench", inc, actor, data)
		if err != nil {
			b.Fatal(err)
		}
		env.ID = fmt.Sprintf("r%03d-%s", round, env.ID[5:])
		envs[i] = env
	}
	return envs
}

// BenchmarkLiveAppend measures the live path of `dev`: n envelopes are
// published on FB_EVT and FB_CMD (half each) while the service consumes
// them, and the clock stops when the last is in the log (SQLite, default
// Settle and CauseWait). Two baselines run in the same run: "bus" is the
// same publishing and batch consumption with a handler that does nothing
// (what the bus costs in this process), and "store" appends the same
// envelopes straight through the store in batches of audit.MaxBatch (what
// the log takes without the bus).
func BenchmarkLiveAppend(b *testing.B) {
	const n = 20_000
	b.Run("live", func(b *testing.B) {
		store := sqlite.New(dbtest.SQLite(b, "outbox", "audit"))
		svc, err := audit.New(store, nil, audit.Config{})
		if err != nil {
			b.Fatal(err)
		}
		benchLive(b, n, svc.Register, func(ctx context.Context) int64 {
			h, err := store.Head(ctx)
			if err != nil {
				b.Fatal(err)
			}
			return h.Seq
		})
	})
	b.Run("baseline=bus", func(b *testing.B) {
		var got atomic.Int64
		count := func(_ context.Context, envs []events.Envelope) error {
			got.Add(int64(len(envs)))
			return nil
		}
		benchLive(b, n, func(r *bus.Router) error {
			for _, c := range []struct{ name, stream string }{{audit.ConsumerCommands, bus.StreamCmd}, {audit.ConsumerEvents, bus.StreamEvt}} {
				if err := r.HandleBatch(bus.BatchConfig{ConsumerConfig: bus.ConsumerConfig{Name: c.name, Stream: c.stream}, Size: audit.MaxBatch}, count); err != nil {
					return err
				}
			}
			return nil
		}, func(context.Context) int64 { return got.Load() })
	})
	b.Run("baseline=store", func(b *testing.B) {
		store := sqlite.New(dbtest.SQLite(b, "outbox", "audit"))
		total, round := 0, 0
		var elapsed time.Duration
		for b.Loop() {
			round++
			envs := liveEnvs(b, round, n)
			start := time.Now()
			for i := 0; i < n; i += audit.MaxBatch {
				if _, err := store.Append(b.Context(), audit.Inbox, time.Now(), envs[i:min(i+audit.MaxBatch, n)]...); err != nil {
					b.Fatal(err)
				}
			}
			elapsed += time.Since(start)
			total += n
		}
		b.ReportMetric(float64(total)/elapsed.Seconds(), "records/s")
	})
}

// benchLive runs an embedded NATS server and a router with register's
// consumers, publishes n envelopes per round and waits until done reports
// them all.
func benchLive(b *testing.B, n int, register func(*bus.Router) error, done func(context.Context) int64) {
	e, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Shutdown)
	nc, err := e.Connect()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(n))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := bus.EnsureStreams(ctx, js, 1); err != nil {
		b.Fatal(err)
	}
	r, err := bus.NewRouter(js, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := register(r); err != nil {
		b.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- r.Run(ctx) }()
	defer func() {
		cancel()
		<-stopped
	}()
	<-r.Running()

	total, round := int64(0), 0
	var elapsed time.Duration
	for b.Loop() {
		round++
		envs := liveEnvs(b, round, n)
		msgs := make([]*nats.Msg, n)
		for i, env := range envs {
			p, err := env.Encode()
			if err != nil {
				b.Fatal(err)
			}
			msgs[i] = &nats.Msg{Subject: events.SubjectFor(env.Type), Data: p, Header: nats.Header{bus.HeaderMsgID: {env.ID}}}
		}
		start := time.Now()
		for _, m := range msgs {
			if _, err := js.PublishMsgAsync(m); err != nil {
				b.Fatal(err)
			}
		}
		total += int64(n)
		deadline := time.Now().Add(5 * time.Minute)
		for done(ctx) < total {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d handled", done(ctx), total)
			}
			time.Sleep(time.Millisecond)
		}
		elapsed += time.Since(start)
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "records/s")
}

package bus

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
)

// TestRouterSharedConsumer runs two routers, each on its own NATS
// connection as two replicas of a service are, handling the same
// ConsumerConfig: the server holds one durable consumer, the messages are
// shared between the two pullers, and each is handled exactly once.
func TestRouterSharedConsumer(t *testing.T) {
	t.Parallel()
	e, err := StartEmbedded(EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	replica := func() jetstream.JetStream {
		nc, err := e.Connect()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	js1, js2 := replica(), replica()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := EnsureStreams(ctx, js1, 1); err != nil {
		t.Fatal(err)
	}
	// Few messages in flight at once across both pullers, so neither can
	// take the whole stream in one pull.
	cfg := ConsumerConfig{Name: "shared", Stream: StreamEvt, FilterSubjects: []string{"fb.evt.>"}, MaxAckPending: 8, Workers: 2}
	seen1, seen2 := newCounter(), newCounter()
	for _, r := range []struct {
		js   jetstream.JetStream
		seen *counter
	}{{js1, seen1}, {js2, seen2}} {
		router, err := NewRouter(r.js, testLogger(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := router.Handle(cfg, func(ctx context.Context, env events.Envelope) error {
			r.seen.add(env.ID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		startRouter(t, router)
	}

	// One durable consumer on the server, whatever the number of replicas.
	st, err := js1.Stream(ctx, StreamEvt)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range st.ListConsumers(ctx).Info() {
		names = append(names, n.Name)
	}
	if len(names) != 1 || names[0] != cfg.Name {
		t.Fatalf("consumers on %s: %v, want only %q", StreamEvt, names, cfg.Name)
	}

	const total = 300
	pub := NewPublisher(js2, testLogger(t))
	ids := make([]string, total)
	for i := range total {
		env := testEnvelope(t, i)
		ids[i] = env.ID
		if err := pub.PublishEnvelope(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every message handled", func() bool { return seen1.distinct()+seen2.distinct() >= total })
	waitSettled(t, js1, StreamEvt, cfg.Name)

	n1, n2 := seen1.snapshot(), seen2.snapshot()
	t.Logf("replica 1 handled %d, replica 2 %d", len(n1), len(n2))
	if len(n1) == 0 || len(n2) == 0 {
		t.Errorf("one replica handled everything (%d and %d): the consumer is not shared", len(n1), len(n2))
	}
	for _, id := range ids {
		if got := n1[id] + n2[id]; got != 1 {
			t.Errorf("%s handled %d times (%d + %d), want once", id, got, n1[id], n2[id])
		}
	}
}

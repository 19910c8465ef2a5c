package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-dev/firebreak/events"
)

// TestRouterResume stops a router mid-stream and resumes the durable
// consumer with a new router: every message is handled, and none that the
// first router acknowledged runs again.
func TestRouterResume(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	const total, stopAfter = 200, 50
	pub := NewPublisher(js, testLogger(t))
	ids := make([]string, total)
	for i := range total {
		env := testEnvelope(t, i)
		ids[i] = env.ID
		if err := pub.PublishEnvelope(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	cfg := ConsumerConfig{
		Name: "resume", Stream: StreamEvt, FilterSubjects: []string{"fb.evt.>"},
		// Messages the server sent toward the first router after it
		// stopped pulling come back after AckWait.
		AckWait: 2 * time.Second,
	}

	first, second := newCounter(), newCounter()
	r1, err := NewRouter(js, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	var stopOnce atomic.Bool
	if err := r1.Handle(cfg, func(ctx context.Context, env events.Envelope) error {
		if first.add(env.ID) >= stopAfter && stopOnce.CompareAndSwap(false, true) {
			close(stopped)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stop1 := startRouter(t, r1)
	select {
	case <-stopped:
	case <-ctx.Done():
		t.Fatal("first router handled too few messages")
	}
	if err := stop1(); err != nil {
		t.Fatalf("first router: %v", err)
	}
	handledByFirst := first.snapshot()
	if n := len(handledByFirst); n >= total {
		t.Fatalf("first router handled all %d messages; the test needs it stopped mid-stream", n)
	}

	r2, err := NewRouter(js, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Handle(cfg, func(ctx context.Context, env events.Envelope) error {
		second.add(env.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	startRouter(t, r2)
	eventually(t, "every message handled", func() bool { return first.distinct()+second.distinct() >= total })
	waitSettled(t, js, StreamEvt, cfg.Name)

	handledBySecond := second.snapshot()
	t.Logf("first router handled %d, second %d", len(handledByFirst), len(handledBySecond))
	for _, id := range ids {
		n1, n2 := handledByFirst[id], handledBySecond[id]
		switch {
		case n1+n2 == 0:
			t.Errorf("%s never handled", id)
		case n1 > 0 && n1+n2 != 1:
			t.Errorf("%s acknowledged by the first router but handled %d+%d times", id, n1, n2)
		case n2 > 1:
			t.Errorf("%s handled %d times by the second router", id, n2)
		}
	}
}

// TestRouterDeadLetter covers the ways a message ends in the dead-letter
// stream, and checks that later messages on the consumer keep flowing.
func TestRouterDeadLetter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		maxDeliver int
		// raw, when set, is published instead of a valid envelope.
		raw            []byte
		poison         func(delivery int) error
		wantDeliveries string
		wantCalls      int
		wantReason     string
	}{
		{
			name:       "transient until max deliver",
			maxDeliver: 3,
			poison:     func(int) error { return errors.New("database unavailable") },
			// handled on deliveries 1, 2 and 3, then dead-lettered
			wantDeliveries: "3", wantCalls: 3, wantReason: "database unavailable",
		},
		{
			name:           "permanent at first delivery",
			maxDeliver:     5,
			poison:         func(int) error { return Permanent(errors.New("unknown incident INC-9")) },
			wantDeliveries: "1", wantCalls: 1, wantReason: "unknown incident INC-9",
		},
		{
			name:           "invalid payload",
			maxDeliver:     5,
			raw:            []byte(`{"id":"x","type":`),
			wantDeliveries: "1", wantCalls: 0, wantReason: "invalid envelope",
		},
		{
			name:       "panic",
			maxDeliver: 2,
			poison: func(delivery int) error {
				panic(fmt.Sprintf("boom on delivery %d", delivery))
			},
			wantDeliveries: "2", wantCalls: 2, wantReason: "handler panic",
		},
		{
			name:       "succeeds on retry",
			maxDeliver: 3,
			poison: func(delivery int) error {
				if delivery < 2 {
					return errors.New("timeout")
				}
				return nil
			},
			wantCalls: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			js := startJetStream(t)
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			const consumer, goodCount = "poison-test", 10
			subject := events.SubjectFor(events.TypeIncidentNoteAdded)

			// The poison message goes first, then the good ones.
			poisonID := "raw-poison-1"
			if tt.raw != nil {
				m := &nats.Msg{Subject: subject, Data: tt.raw, Header: nats.Header{HeaderMsgID: {poisonID}}}
				if _, err := js.PublishMsg(ctx, m); err != nil {
					t.Fatal(err)
				}
			} else {
				env := testEnvelope(t, 0)
				poisonID = env.ID
				if err := NewPublisher(js, nil).PublishEnvelope(ctx, env); err != nil {
					t.Fatal(err)
				}
			}
			var poisonPayload []byte
			if tt.raw != nil {
				poisonPayload = tt.raw
			}
			pub := NewPublisher(js, nil)
			for i := 1; i <= goodCount; i++ {
				if err := pub.PublishEnvelope(ctx, testEnvelope(t, i)); err != nil {
					t.Fatal(err)
				}
			}

			goods, calls := newCounter(), atomic.Int32{}
			allGood := make(chan struct{})
			var blocked atomic.Bool
			reg := prometheus.NewRegistry()
			r, err := NewRouter(js, testLogger(t), reg)
			if err != nil {
				t.Fatal(err)
			}
			err = r.Handle(ConsumerConfig{
				Name: consumer, Stream: StreamEvt, FilterSubjects: []string{subject},
				// The backoff leaves the good messages time to be handled
				// before the poison comes back, even on a loaded machine:
				// its redelivery below waits for them on the one worker.
				MaxDeliver: tt.maxDeliver, Backoff: []time.Duration{time.Second},
				// One worker: the good messages can only be handled while
				// the poison waits for redelivery, not beside it.
				Workers: 1,
			}, func(ctx context.Context, env events.Envelope) error {
				if env.ID != poisonID {
					if goods.add(env.ID) == goodCount {
						close(allGood)
					}
					return nil
				}
				n := int(calls.Add(1))
				if n > 1 {
					// A redelivery: everything behind the poison must
					// have been handled meanwhile. Messages stuck behind
					// the poison could not be: the one worker is here.
					// The wait outlasts a pull request the server lost
					// under load, which stalls the consumer until its
					// missing heartbeat is noticed (pullExpiry, 5 s; seen
					// in CI).
					select {
					case <-allGood:
					case <-time.After(3 * pullExpiry):
						blocked.Store(true)
					}
				}
				return tt.poison(n)
			})
			if err != nil {
				t.Fatal(err)
			}
			startRouter(t, r)

			eventually(t, "good messages handled", func() bool { return goods.distinct() == goodCount })
			waitSettled(t, js, StreamEvt, consumer)
			if blocked.Load() {
				t.Error("good messages waited behind the failing one")
			}
			if got := int(calls.Load()); got != tt.wantCalls {
				t.Errorf("poison handled %d times, want %d", got, tt.wantCalls)
			}
			for id, n := range goods.snapshot() {
				if n != 1 {
					t.Errorf("good message %s handled %d times", id, n)
				}
			}

			dlq, err := js.Stream(ctx, StreamDLQ)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantDeliveries == "" {
				info, err := dlq.Info(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if info.State.Msgs != 0 {
					t.Errorf("dead-letter stream holds %d messages, want none", info.State.Msgs)
				}
				assertCounter(t, reg, consumer, outcomeHandled, goodCount+1)
				return
			}
			dm, err := dlq.GetLastMsgForSubject(ctx, events.DLQSubject(consumer))
			if err != nil {
				t.Fatalf("nothing on %s: %v", events.DLQSubject(consumer), err)
			}
			h := dm.Header
			if got := h.Get(HeaderDLQReason); !strings.Contains(got, tt.wantReason) {
				t.Errorf("%s = %q, want it to contain %q", HeaderDLQReason, got, tt.wantReason)
			}
			for k, want := range map[string]string{
				HeaderDLQConsumer:        consumer,
				HeaderDLQDeliveries:      tt.wantDeliveries,
				HeaderDLQOriginalSubject: subject,
				HeaderMsgID:              "dlq-" + poisonID,
			} {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if poisonPayload != nil && string(dm.Data) != string(poisonPayload) {
				t.Errorf("dead-lettered payload = %q, want the original %q", dm.Data, poisonPayload)
			}
			if poisonPayload == nil {
				env, err := events.Decode(dm.Data)
				if err != nil || env.ID != poisonID {
					t.Errorf("dead-lettered payload is not the original envelope: %v", err)
				}
			}
			assertCounter(t, reg, consumer, outcomeDeadLettered, 1)
			assertCounter(t, reg, consumer, outcomeHandled, goodCount)
		})
	}
}

// TestRouterContext checks what a handler finds in its context and that the
// publisher's headers carry it on.
func TestRouterContext(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	parent := testEnvelope(t, 1)
	if err := NewPublisher(js, nil).PublishEnvelope(WithTraceparent(ctx, tp), parent); err != nil {
		t.Fatal(err)
	}
	type seen struct{ correlation, causation, traceparent string }
	got := make(chan seen, 1)
	r, err := NewRouter(js, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := NewPublisher(js, nil)
	err = r.Handle(ConsumerConfig{Name: "ctx", Stream: StreamEvt}, func(ctx context.Context, env events.Envelope) error {
		if env.ID != parent.ID {
			return nil
		}
		got <- seen{CorrelationID(ctx), CausationID(ctx), Traceparent(ctx)}
		child := events.MustNew(events.TypeIncidentResolved, "bustest", "inc-1", events.System("bustest"),
			events.IncidentTransitioned{From: "triggered", To: "resolved"}, events.CausedBy(env))
		return pub.PublishEnvelope(ctx, child)
	})
	if err != nil {
		t.Fatal(err)
	}
	startRouter(t, r)
	select {
	case s := <-got:
		want := seen{parent.CorrelationID, parent.ID, tp}
		if s != want {
			t.Errorf("handler context = %+v, want %+v", s, want)
		}
	case <-ctx.Done():
		t.Fatal("handler not called")
	}
	evt, err := js.Stream(ctx, StreamEvt)
	if err != nil {
		t.Fatal(err)
	}
	var child *jetstream.RawStreamMsg
	eventually(t, "child event", func() bool {
		child, err = evt.GetLastMsgForSubject(ctx, events.SubjectFor(events.TypeIncidentResolved))
		return err == nil
	})
	for k, want := range map[string]string{
		HeaderType:          events.TypeIncidentResolved,
		HeaderCorrelationID: parent.CorrelationID,
		HeaderCausationID:   parent.ID,
		HeaderTraceparent:   tp,
	} {
		if got := child.Header.Get(k); got != want {
			t.Errorf("child header %s = %q, want %q", k, got, want)
		}
	}
}

func TestRouterSharesMetrics(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	reg := prometheus.NewRegistry()
	for i := range 2 {
		if _, err := NewRouter(js, nil, reg); err != nil {
			t.Fatalf("router %d: %v", i, err)
		}
	}
}

func TestRouterHandleValidates(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	r, err := NewRouter(js, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	noop := func(context.Context, events.Envelope) error { return nil }
	for _, cfg := range []ConsumerConfig{
		{Name: "", Stream: StreamEvt},
		{Name: "a.b", Stream: StreamEvt},
		{Name: "ok"},
	} {
		if err := r.Handle(cfg, noop); err == nil {
			t.Errorf("Handle(%+v) accepted", cfg)
		}
	}
	if err := r.Handle(ConsumerConfig{Name: "ok", Stream: StreamEvt}, noop); err != nil {
		t.Fatal(err)
	}
	if err := r.Handle(ConsumerConfig{Name: "ok", Stream: StreamEvt}, noop); err == nil {
		t.Error("second Handle of one consumer accepted")
	}
}

// assertCounter checks firebreak_bus_messages_total{consumer,outcome}.
func assertCounter(t *testing.T, reg *prometheus.Registry, consumer, outcome string, want float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "firebreak_bus_messages_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["consumer"] == consumer && labels["outcome"] == outcome {
				if got := m.GetCounter().GetValue(); got != want {
					t.Errorf("messages_total{%s,%s} = %v, want %v", consumer, outcome, got, want)
				}
				return
			}
		}
	}
	t.Errorf("no messages_total{%s,%s}", consumer, outcome)
}

// TestRouterConsumerRecreated deletes the durable consumer under a running
// router: the router subscribes again and keeps handling.
func TestRouterConsumerRecreated(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	got := newCounter()
	r, err := NewRouter(js, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const consumer = "recreated"
	if err := r.Handle(ConsumerConfig{Name: consumer, Stream: StreamEvt}, func(_ context.Context, env events.Envelope) error {
		got.add(env.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	startRouter(t, r)
	pub := NewPublisher(js, nil)
	before, after := testEnvelope(t, 1), testEnvelope(t, 2)
	if err := pub.PublishEnvelope(ctx, before); err != nil {
		t.Fatal(err)
	}
	eventually(t, "first message handled", func() bool { return got.get(before.ID) == 1 })
	if err := js.DeleteConsumer(ctx, StreamEvt, consumer); err != nil {
		t.Fatal(err)
	}
	if err := pub.PublishEnvelope(ctx, after); err != nil {
		t.Fatal(err)
	}
	eventually(t, "message after the consumer was deleted handled", func() bool { return got.get(after.ID) >= 1 })
}

// TestRouterStopEarly stops routers right at or before their start; each
// must return promptly.
func TestRouterStopEarly(t *testing.T) {
	t.Parallel()
	noop := func(context.Context, events.Envelope) error { return nil }
	tests := []struct {
		name     string
		handlers int
		// closeWhileStarting calls Close concurrently with Run instead of
		// cancelling Run's context before it starts.
		closeWhileStarting bool
	}{
		{name: "cancelled before run", handlers: 1},
		{name: "cancelled before run, no handlers", handlers: 0},
		{name: "closed while starting", handlers: 2, closeWhileStarting: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			js := startJetStream(t)
			r, err := NewRouter(js, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.handlers {
				if err := r.Handle(ConsumerConfig{Name: fmt.Sprintf("early-%d", i), Stream: StreamEvt}, noop); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if !tt.closeWhileStarting {
				cancel()
			}
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			if tt.closeWhileStarting {
				if err := r.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}
			select {
			case err := <-done:
				// Close may win the race and Run refuse to start.
				if err != nil && !errors.Is(err, ErrRouterStarted) {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("router did not stop")
			}
		})
	}
}

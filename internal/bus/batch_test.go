package bus

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-dev/firebreak/events"
)

// batchLog records what a batch handler was given.
type batchLog struct {
	mu      sync.Mutex
	batches [][]string // ids per call
}

func (l *batchLog) add(envs []events.Envelope) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]string, len(envs))
	for i, e := range envs {
		ids[i] = e.ID
	}
	l.batches = append(l.batches, ids)
	return len(l.batches)
}

func (l *batchLog) snapshot() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]string(nil), l.batches...)
}

// publishN publishes n envelopes and returns their ids in order.
func publishN(t *testing.T, ctx context.Context, pub *Publisher, from, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		env := testEnvelope(t, from+i)
		if err := pub.PublishEnvelope(ctx, env); err != nil {
			t.Fatal(err)
		}
		ids[i] = env.ID
	}
	return ids
}

// TestHandleBatch: a backlog arrives in batches of at most maxBatch, in
// stream order, each message once; messages published while it runs
// arrive too.
func TestHandleBatch(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	pub := NewPublisher(js, nil)
	subject := events.SubjectFor(events.TypeIncidentNoteAdded)
	const maxBatch = 50

	r, err := NewRouter(js, testLogger(t), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var log batchLog
	if err := r.HandleBatch(ConsumerConfig{Name: "batch-test", Stream: StreamEvt, FilterSubjects: []string{subject}}, maxBatch,
		func(ctx context.Context, envs []events.Envelope) error {
			log.add(envs)
			return nil
		}); err != nil {
		t.Fatal(err)
	}
	if err := r.HandleBatch(ConsumerConfig{Name: "batch-test", Stream: StreamEvt}, 1, func(context.Context, []events.Envelope) error { return nil }); err == nil {
		t.Error("a second HandleBatch on the same consumer was accepted")
	}
	want := publishN(t, ctx, pub, 0, 300) // a backlog before Run
	startRouter(t, r)
	want = append(want, publishN(t, ctx, pub, 300, 100)...)

	var got []string
	eventually(t, "all messages handled", func() bool {
		got = got[:0]
		for _, b := range log.snapshot() {
			got = append(got, b...)
		}
		return len(got) >= len(want)
	})
	waitSettled(t, js, StreamEvt, "batch-test")
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("handled %d messages not in stream order (or twice)", len(got))
	}
	batches := log.snapshot()
	if len(batches[0]) < 2 {
		t.Errorf("first batch over a backlog of 300 held %d message(s); want several", len(batches[0]))
	}
	for i, b := range batches {
		if len(b) == 0 || len(b) > maxBatch {
			t.Errorf("batch %d holds %d messages, want 1..%d", i, len(b), maxBatch)
		}
	}
}

// TestHandleBatchRetry: a failing batch is retried, whole and in order,
// before anything after it; PermanentAt dead-letters one message and
// acknowledges the rest; an undecodable message is dead-lettered before the
// handler sees the batch.
func TestHandleBatchRetry(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	pub := NewPublisher(js, nil)
	subject := events.SubjectFor(events.TypeIncidentNoteAdded)
	const consumer = "batch-retry"

	first := publishN(t, ctx, pub, 0, 20)
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: []byte(`{"id":`), Header: nats.Header{HeaderMsgID: {"raw-bad"}}}); err != nil {
		t.Fatal(err)
	}
	later := publishN(t, ctx, pub, 20, 20)
	poison := first[7]

	reg := prometheus.NewRegistry()
	r, err := NewRouter(js, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	var log batchLog
	var mu sync.Mutex
	failures := 0
	if err := r.HandleBatch(ConsumerConfig{Name: consumer, Stream: StreamEvt, FilterSubjects: []string{subject},
		MaxDeliver: 5, Backoff: []time.Duration{50 * time.Millisecond}}, 0,
		func(ctx context.Context, envs []events.Envelope) error {
			log.add(envs)
			mu.Lock()
			defer mu.Unlock()
			if failures < 2 {
				failures++
				return errors.New("database unavailable")
			}
			var errs []error
			for i, e := range envs {
				if e.ID == poison {
					errs = append(errs, PermanentAt(i, errors.New("cannot log this one")))
				}
			}
			return errors.Join(errs...)
		}); err != nil {
		t.Fatal(err)
	}
	startRouter(t, r)
	waitSettled(t, js, StreamEvt, consumer)
	eventually(t, "the poison and the bad payload dead-lettered", func() bool {
		info, err := js.Stream(ctx, StreamDLQ)
		if err != nil {
			return false
		}
		i, err := info.Info(ctx)
		return err == nil && i.State.Msgs == 2
	})

	batches := log.snapshot()
	if len(batches) < 3 {
		t.Fatalf("handler called %d times, want at least 3 (two failures, then success)", len(batches))
	}
	// The retries are the same batch, and nothing after it came first.
	if strings.Join(batches[0], ",") != strings.Join(batches[1], ",") || strings.Join(batches[1], ",") != strings.Join(batches[2], ",") {
		t.Errorf("a failed batch was not retried as it was: %d, %d, %d messages", len(batches[0]), len(batches[1]), len(batches[2]))
	}
	var seen []string
	for _, b := range batches[2:] {
		seen = append(seen, b...)
	}
	if want := append(append([]string(nil), first...), later...); strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("after the retries the handler saw %d messages, want the %d envelopes in order", len(seen), len(want))
	}
	for _, id := range batches[0] {
		if id == "raw-bad" {
			t.Error("the handler was given the undecodable message")
		}
	}

	dlq, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := dlq.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		reasons[m.Header.Get(HeaderMsgID)] = m.Header.Get(HeaderDLQReason) + " deliveries=" + m.Header.Get(HeaderDLQDeliveries)
	}
	if got := reasons["dlq-raw-bad"]; !strings.Contains(got, "decode envelope") {
		t.Errorf("bad payload's dead letter: %q", got)
	}
	if got := reasons["dlq-"+poison]; !strings.Contains(got, "cannot log this one") || !strings.HasSuffix(got, "deliveries=3") {
		t.Errorf("poison's dead letter: %q, want its reason and 3 deliveries", got)
	}
	assertCounter(t, reg, consumer, outcomeDeadLettered, 2)
	assertCounter(t, reg, consumer, outcomeHandled, 39)
}

// TestHandleBatchGivesUp: a batch that fails on its MaxDeliver-th attempt
// is dead-lettered, and the consumer moves on.
func TestHandleBatchGivesUp(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	pub := NewPublisher(js, nil)
	subject := events.SubjectFor(events.TypeIncidentNoteAdded)
	const consumer = "batch-gives-up"
	bad := publishN(t, ctx, pub, 0, 3)

	r, err := NewRouter(js, testLogger(t), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := 0
	good := make(chan []events.Envelope, 10)
	if err := r.HandleBatch(ConsumerConfig{Name: consumer, Stream: StreamEvt, FilterSubjects: []string{subject},
		MaxDeliver: 2, Backoff: []time.Duration{10 * time.Millisecond}}, 0,
		func(ctx context.Context, envs []events.Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if envs[0].ID == bad[0] {
				return errors.New("always fails")
			}
			good <- envs
			return nil
		}); err != nil {
		t.Fatal(err)
	}
	startRouter(t, r)
	eventually(t, "three dead letters", func() bool {
		s, err := js.Stream(ctx, StreamDLQ)
		if err != nil {
			return false
		}
		i, err := s.Info(ctx)
		return err == nil && i.State.Msgs == 3
	})
	after := publishN(t, ctx, pub, 3, 1)
	select {
	case envs := <-good:
		if len(envs) != 1 || envs[0].ID != after[0] {
			t.Errorf("after giving up the handler got %d envelopes, want the one published later", len(envs))
		}
	case <-time.After(testTimeout):
		t.Fatal("the consumer did not move on")
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 3 {
		t.Errorf("handler called %d times, want 2 failing attempts and 1 success", calls)
	}
}

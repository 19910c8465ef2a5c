package bus

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/firebreak-dev/firebreak/events"
)

// TestHandleBatch: a batch consumer hands messages over in stream order,
// in batches; a message that fails permanently (and one that is not an
// envelope) is dead-lettered without losing or reordering the others; a
// transient failure is retried in place, nothing after it overtaking it.
func TestHandleBatch(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	const n, bad, flaky = 300, 77, 200
	subject := events.SubjectFor(events.TypeIncidentNoteAdded)
	var envs []events.Envelope
	for i := range n {
		envs = append(envs, testEnvelope(t, i))
	}
	pub := NewPublisher(js, nil)
	if err := pub.PublishEnvelopes(ctx, envs[:150]); err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: []byte(`not an envelope`), Header: nats.Header{HeaderMsgID: {"raw-1"}}}); err != nil {
		t.Fatal(err)
	}
	if err := pub.PublishEnvelopes(ctx, envs[150:]); err != nil {
		t.Fatal(err)
	}

	var (
		mu        sync.Mutex
		applied   []int64
		sizes     []int
		flakyLeft = 2
	)
	note := func(env events.Envelope) int64 {
		var d events.IncidentNoteAdded
		if err := env.DecodeData(&d); err != nil {
			t.Error(err)
		}
		return d.NoteID
	}
	r, err := NewRouter(js, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = r.HandleBatch(BatchConfig{ConsumerConfig: ConsumerConfig{Name: "batch-test", Stream: StreamEvt,
		FilterSubjects: []string{subject}, Backoff: []time.Duration{10 * time.Millisecond}}, Size: 64},
		func(_ context.Context, batch []events.Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			ids := make([]int64, len(batch))
			for i, env := range batch {
				ids[i] = note(env)
			}
			if slices.Contains(ids, bad) {
				return Permanent(errors.New("note 77 can never apply"))
			}
			if slices.Contains(ids, flaky) && flakyLeft > 0 {
				flakyLeft--
				return errors.New("database busy")
			}
			sizes = append(sizes, len(batch))
			applied = append(applied, ids...)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	// The router also runs an ordinary consumer, as in the app.
	if err := r.Handle(ConsumerConfig{Name: "other", Stream: StreamEvt, FilterSubjects: []string{"fb.evt.other"}},
		func(context.Context, events.Envelope) error { return nil }); err != nil {
		t.Fatal(err)
	}
	dlq, err := js.Conn().SubscribeSync(events.DLQSubject("batch-test"))
	if err != nil {
		t.Fatal(err)
	}
	stop := startRouter(t, r)
	deadline := time.Now().Add(testTimeout)
	for {
		mu.Lock()
		done := len(applied) == n-1
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("applied %d of %d", len(applied), n-1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want := make([]int64, 0, n-1)
	for i := range int64(n) {
		if i != bad {
			want = append(want, i)
		}
	}
	if !slices.Equal(applied, want) {
		t.Fatalf("applied out of order or twice:\n%v", applied)
	}
	if !slices.ContainsFunc(sizes, func(s int) bool { return s > 1 }) {
		t.Errorf("no batch of more than one message: %v", sizes)
	}
	reasons := map[string]bool{}
	for range 2 {
		m, err := dlq.NextMsg(testTimeout)
		if err != nil {
			t.Fatal(err)
		}
		reasons[m.Header.Get(HeaderDLQReason)] = true
	}
	if !reasons["note 77 can never apply"] || len(reasons) != 2 {
		t.Fatalf("dead letters %v", reasons)
	}
}

// TestHandleBatchUpgradesConsumer: a durable consumer created by Handle (one
// message at a time, no priority group) by an earlier version becomes a
// batch consumer, keeping its position.
func TestHandleBatchUpgradesConsumer(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	subject := events.SubjectFor(events.TypeIncidentNoteAdded)
	cfg := ConsumerConfig{Name: "upgrade", Stream: StreamEvt, FilterSubjects: []string{subject}, Workers: 1, MaxAckPending: 1}
	old, err := NewRouter(js, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan int64, 10)
	if err := old.Handle(cfg, func(_ context.Context, env events.Envelope) error {
		var d events.IncidentNoteAdded
		_ = env.DecodeData(&d)
		seen <- d.NoteID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stop := startRouter(t, old)
	if err := NewPublisher(js, nil).PublishEnvelope(ctx, testEnvelope(t, 1)); err != nil {
		t.Fatal(err)
	}
	if n := <-seen; n != 1 {
		t.Fatalf("old consumer saw %d", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	r, err := NewRouter(js, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.HandleBatch(BatchConfig{ConsumerConfig: ConsumerConfig{Name: "upgrade", Stream: StreamEvt, FilterSubjects: []string{subject}}},
		func(_ context.Context, envs []events.Envelope) error {
			for _, env := range envs {
				var d events.IncidentNoteAdded
				_ = env.DecodeData(&d)
				seen <- d.NoteID
			}
			return nil
		}); err != nil {
		t.Fatal(err)
	}
	if err := r.Handle(ConsumerConfig{Name: "other2", Stream: StreamEvt, FilterSubjects: []string{"fb.evt.other"}},
		func(context.Context, events.Envelope) error { return nil }); err != nil {
		t.Fatal(err)
	}
	startRouter(t, r)
	if err := NewPublisher(js, nil).PublishEnvelope(ctx, testEnvelope(t, 2)); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-seen:
		if n != 2 {
			t.Fatalf("batch consumer saw %d first, want 2 (1 was acknowledged before)", n)
		}
	case <-ctx.Done():
		t.Fatal("batch consumer saw nothing")
	}
}

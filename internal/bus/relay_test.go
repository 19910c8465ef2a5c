package bus

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/internal/outbox"
	"github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
)

var errCrash = errors.New("simulated crash")

// crashingStore publishes fine but "crashes" before deleting: the records
// stay in the outbox although the server has stored them.
type crashingStore struct {
	OutboxStore
	deletes atomic.Int32
}

func (c *crashingStore) Delete(ctx context.Context, seqs []int64) error {
	c.deletes.Add(1)
	return errCrash
}

// TestRelayCrash checks that crashing anywhere between the DB commit and the
// outbox delete loses nothing and shows every event downstream once.
func TestRelayCrash(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// crash runs a relay that dies before finishing, or nothing.
		crash func(t *testing.T, js jetstream.JetStream, store *sqlite.Store)
	}{
		{
			name:  "between commit and publish",
			crash: func(*testing.T, jetstream.JetStream, *sqlite.Store) {}, // no relay ran
		},
		{
			name: "between publish and delete",
			crash: func(t *testing.T, js jetstream.JetStream, store *sqlite.Store) {
				cs := &crashingStore{OutboxStore: store}
				err := NewRelay(js, cs, nil, RelayConfig{}).Flush(context.Background())
				if !errors.Is(err, errCrash) {
					t.Fatalf("crashing relay: err = %v, want the crash", err)
				}
				if cs.deletes.Load() == 0 {
					t.Fatal("crashing relay never reached delete")
				}
				assertStreamMsgs(t, js, StreamEvt, 20) // all published before the crash
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			js := startJetStream(t)
			d := dbtest.SQLite(t, "outbox")
			store := sqlite.New(d)
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()

			const total = 20
			envs := make([]events.Envelope, total)
			for i := range envs {
				envs[i] = testEnvelope(t, i)
			}
			if err := db.InTx(ctx, d, func(tx *sql.Tx) error {
				return sqlite.Enqueue(ctx, tx, time.Now(), envs...)
			}); err != nil {
				t.Fatal(err)
			}

			got := newCounter()
			r, err := NewRouter(js, testLogger(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			const consumer = "relay-test"
			if err := r.Handle(ConsumerConfig{Name: consumer, Stream: StreamEvt}, func(_ context.Context, env events.Envelope) error {
				got.add(env.ID)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			startRouter(t, r)

			tt.crash(t, js, store)
			if n, err := store.Count(ctx); err != nil || n != total {
				t.Fatalf("outbox after crash holds %d records (err %v), want all %d", n, err, total)
			}

			// The restarted process: a new relay, running and poked.
			relay := NewRelay(js, store, testLogger(t), RelayConfig{Batch: 7, Interval: time.Hour})
			rctx, rcancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- relay.Run(rctx) }()
			relay.Notify()
			eventually(t, "outbox emptied", func() bool {
				n, err := store.Count(ctx)
				return err == nil && n == 0
			})
			rcancel()
			if err := <-done; err != nil {
				t.Errorf("relay.Run: %v", err)
			}

			eventually(t, "all events handled", func() bool { return got.distinct() == total })
			waitSettled(t, js, StreamEvt, consumer)
			for _, e := range envs {
				if n := got.get(e.ID); n != 1 {
					t.Errorf("%s handled %d times, want once", e.ID, n)
				}
			}
			assertStreamMsgs(t, js, StreamEvt, total)
		})
	}
}

func assertStreamMsgs(t *testing.T, js jetstream.JetStream, stream string, want uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != want {
		t.Errorf("%s holds %d messages, want %d", stream, info.State.Msgs, want)
	}
}

// partialStore is an in-memory outbox that records what was deleted.
type partialStore struct {
	recs    []outbox.Record
	deleted []int64
}

func (p *partialStore) Pending(_ context.Context, limit int) ([]outbox.Record, error) {
	return p.recs[:min(limit, len(p.recs))], nil
}

func (p *partialStore) Delete(_ context.Context, seqs []int64) error {
	p.deleted = append(p.deleted, seqs...)
	return nil
}

// TestRelayDeletesOnlyAcknowledged publishes a batch in which one record
// cannot be stored and checks that only the others are deleted.
func TestRelayDeletesOnlyAcknowledged(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	ok1, err := outbox.FromEnvelope(testEnvelope(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	ok2, err := outbox.FromEnvelope(testEnvelope(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	// No stream captures bad's subject, so the server never stores it.
	bad := ok1
	bad.MsgID, bad.Subject = "orphan", "nowhere.captured"
	ok1.Seq, bad.Seq, ok2.Seq = 1, 2, 3
	store := &partialStore{recs: []outbox.Record{ok1, bad, ok2}}
	err = NewRelay(js, store, nil, RelayConfig{AckTimeout: 5 * time.Second}).Flush(ctx)
	if err == nil {
		t.Fatal("Flush reported success with an unacknowledged record")
	}
	if len(store.deleted) != 2 || store.deleted[0] != 1 || store.deleted[1] != 3 {
		t.Errorf("deleted %v, want [1 3]", store.deleted)
	}
}

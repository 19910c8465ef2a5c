package bus

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
)

const benchSubject = "fb.evt.bench.event"

// benchPayload is an encoded envelope of about 1 KB.
func benchPayload(b *testing.B) []byte {
	b.Helper()
	env, err := events.New(events.TypeIncidentNoteAdded, "bench", "inc-1", events.System("bench"),
		events.IncidentNoteAdded{NoteID: 1, Text: strings.Repeat("x", 700)})
	if err != nil {
		b.Fatal(err)
	}
	p, err := env.Encode()
	if err != nil {
		b.Fatal(err)
	}
	if len(p) < 1000 || len(p) > 1100 {
		b.Fatalf("payload is %d bytes, want about 1 KB", len(p))
	}
	return p
}

// publishAll publishes n copies of payload asynchronously, each with its
// own Nats-Msg-Id, and waits for every acknowledgement.
func publishAll(b *testing.B, js jetstream.JetStream, payload []byte, n int) {
	b.Helper()
	for i := range n {
		m := &nats.Msg{Subject: benchSubject, Data: payload, Header: nats.Header{HeaderMsgID: {strconv.Itoa(i)}}}
		if _, err := js.PublishMsgAsync(m); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publish acks did not arrive")
	}
}

func waitDone(b *testing.B, done <-chan struct{}, n int, got func() int64) {
	b.Helper()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("consumed %d of %d", got(), n)
	}
}

// BenchmarkRawJetStream is the floor: async publish and a pull consumer
// that acks each message, nothing else.
func BenchmarkRawJetStream(b *testing.B) {
	js := startJetStream(b)
	payload := benchPayload(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := js.CreateOrUpdateConsumer(ctx, StreamEvt, jetstream.ConsumerConfig{
		Durable: "raw", FilterSubject: benchSubject, AckPolicy: jetstream.AckExplicitPolicy,
		MaxAckPending: DefaultMaxAckPending,
	})
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	done := make(chan struct{})
	cc, err := c.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		if n.Add(1) == int64(b.N) {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()

	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	publishAll(b, js, payload, b.N)
	waitDone(b, done, b.N, n.Load)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRouterThroughput is the same traffic through the Router with a
// no-op handler: envelope decoding, middleware, metrics, watermill and the
// subscriber's workers included.
func BenchmarkRouterThroughput(b *testing.B) {
	js := startJetStream(b)
	payload := benchPayload(b)
	r, err := NewRouter(js, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	done := make(chan struct{})
	if err := r.Handle(ConsumerConfig{Name: "router", Stream: StreamEvt, FilterSubjects: []string{benchSubject}},
		func(context.Context, events.Envelope) error {
			if n.Add(1) == int64(b.N) {
				close(done)
			}
			return nil
		}); err != nil {
		b.Fatal(err)
	}
	startRouter(b, r)

	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	publishAll(b, js, payload, b.N)
	waitDone(b, done, b.N, n.Load)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

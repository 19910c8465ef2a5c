package bus

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
)

// BatchHandlerFunc handles envelopes in the order the stream holds them.
// Returning nil acknowledges them all; an error has the router retry them
// one at a time (see HandleBatch). Like HandlerFunc it must be idempotent on
// each envelope's id.
type BatchHandlerFunc func(ctx context.Context, envs []events.Envelope) error

// BatchConfig describes an ordered batch consumer: one durable consumer on
// which a single process at a time (the pinned client of a priority group)
// fetches up to Size messages and hands them to the handler together.
type BatchConfig struct {
	ConsumerConfig
	// Size is the most messages handled together. Default 500.
	Size int
	// Linger is how long a fetch waits for more messages once one has
	// arrived. Default 5 ms: a lone alert waits about that long, a storm
	// fills batches.
	Linger time.Duration
}

// Defaults of BatchConfig.
const (
	DefaultBatchSize   = 500
	DefaultBatchLinger = 5 * time.Millisecond
	// batchGroup is the priority group of batch consumers.
	batchGroup = "ordered"
	// batchPoll is how long an idle fetch waits for a first message; it
	// also bounds how long a stop waits for the fetch in progress.
	batchPoll = time.Second
)

type batchConsumer struct {
	cfg      BatchConfig
	consumer jetstream.Consumer
	// check decodes a message, or refuses one that can never be handled
	// (dead-lettered before the batch is handed over); run handles the
	// rest, with what check decoded from each.
	check func(jetstream.Msg) (any, error)
	run   func(ctx context.Context, msgs []jetstream.Msg, decoded []any) error
}

// HandleBatch creates or updates the durable consumer cfg describes and has
// Run feed h with batches of its messages, in stream order. Order holds
// across processes too: the consumer pins one client (JetStream priority
// group, PriorityPolicyPinned) and allows 2 × cfg.Size unacknowledged
// messages (the batch being handled and the next one, fetched meanwhile),
// so a second process only takes over once the first stopped pulling for
// AckWait, and never while one of its batches is unacknowledged.
//
// A batch the handler refuses is handled again one message at a time, in
// order, so that one bad message is dead-lettered (a Permanent error, or
// its MaxDeliver-th failure) without holding up the others; a transient
// failure of message i nacks i and everything after it, keeping the order
// for the redelivery. Envelopes that do not decode are dead-lettered.
func (r *Router) HandleBatch(cfg BatchConfig, h BatchHandlerFunc) error {
	if h == nil {
		return fmt.Errorf("handle %s: nil handler", cfg.Name)
	}
	check := func(jm jetstream.Msg) (any, error) {
		env, err := events.Decode(jm.Data())
		if err != nil {
			return nil, Permanent(fmt.Errorf("decode envelope: %w", err))
		}
		return env, nil
	}
	return r.addBatch(cfg, check, func(ctx context.Context, _ []jetstream.Msg, decoded []any) error {
		envs := make([]events.Envelope, len(decoded))
		for i, d := range decoded {
			envs[i] = d.(events.Envelope)
		}
		if len(envs) == 1 {
			ctx = withEnvelopeIDs(ctx, envs[0].CorrelationID, envs[0].ID)
		}
		return h(ctx, envs)
	})
}

// RawBatchHandlerFunc handles raw messages (see HandleRaw) in stream order,
// with BatchHandlerFunc's contract.
type RawBatchHandlerFunc func(ctx context.Context, msgs []RawMessage) error

// HandleRawBatch is HandleBatch for a stream whose messages are not
// envelopes (the ingest stream).
func (r *Router) HandleRawBatch(cfg BatchConfig, h RawBatchHandlerFunc) error {
	if h == nil {
		return fmt.Errorf("handle %s: nil handler", cfg.Name)
	}
	return r.addBatch(cfg, nil, func(ctx context.Context, msgs []jetstream.Msg, _ []any) error {
		raws := make([]RawMessage, len(msgs))
		for i, jm := range msgs {
			header := make(map[string]string, len(jm.Headers()))
			for k, v := range jm.Headers() {
				if len(v) > 0 {
					header[k] = v[0]
				}
			}
			raws[i] = RawMessage{ID: msgID(jm), Subject: jm.Subject(), Header: header, Data: jm.Data(), Delivered: deliveries(jm)}
		}
		return h(ctx, raws)
	})
}

func (r *Router) addBatch(cfg BatchConfig, check func(jetstream.Msg) (any, error), run func(context.Context, []jetstream.Msg, []any) error) error {
	if cfg.Size <= 0 {
		cfg.Size = DefaultBatchSize
	}
	if cfg.Linger <= 0 {
		cfg.Linger = DefaultBatchLinger
	}
	cfg.Workers = 1
	// One batch being handled and the next one fetched (runBatch).
	cfg.MaxAckPending = 2 * cfg.Size
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.closed {
		return fmt.Errorf("handle %s: %w", cfg.Name, ErrRouterStarted)
	}
	jc := cfg.jetstreamConfig()
	jc.PriorityPolicy = jetstream.PriorityPolicyPinned
	jc.PriorityGroups = []string{batchGroup}
	jc.PinnedTTL = cfg.AckWait
	ctx, cancel := context.WithTimeout(context.Background(), handleTimeout)
	defer cancel()
	c, err := r.js.CreateOrUpdateConsumer(ctx, cfg.Stream, jc)
	if err != nil {
		return fmt.Errorf("create consumer %s on %s: %w", cfg.Name, cfg.Stream, err)
	}
	if check == nil {
		check = func(jetstream.Msg) (any, error) { return nil, nil }
	}
	r.batches = append(r.batches, &batchConsumer{cfg: cfg, consumer: c, check: check, run: run})
	return nil
}

// msgID is a message's Nats-Msg-Id, or "<stream>-<sequence>" when it has
// none; either way the same on every redelivery.
func msgID(jm jetstream.Msg) string {
	if id := jm.Headers().Get(HeaderMsgID); id != "" {
		return id
	}
	if md, err := jm.Metadata(); err == nil {
		return md.Stream + "-" + strconv.FormatUint(md.Sequence.Stream, 10)
	}
	return ""
}

// runBatch fetches and handles batches until ctx ends. The next batch is
// fetched and decoded while the current one is handled (MaxAckPending is
// twice Size),
// so the handler does not wait for a round trip to NATS between batches;
// batches are still handled one after the other, in stream order.
func (r *Router) runBatch(ctx context.Context, b *batchConsumer) {
	type fetched struct {
		msgs    []jetstream.Msg
		checked []checked
		err     error
	}
	next := make(chan fetched)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			msgs, err := b.fetch(ctx)
			// Decoded here, while the previous batch is being handled.
			var cs []checked
			if len(msgs) > 0 {
				cs = make([]checked, len(msgs))
				for i, jm := range msgs {
					cs[i].decoded, cs[i].err = b.check(jm)
				}
			}
			select {
			case next <- fetched{msgs, cs, err}:
			case <-ctx.Done():
				// Not handled: give them back at once rather than after AckWait.
				for _, jm := range msgs {
					_ = jm.Nak()
				}
				return
			}
		}
	}()
	defer func() { <-done }()
	pause := time.Duration(0)
	for {
		var f fetched
		select {
		case <-ctx.Done():
			return
		case f = <-next:
		}
		if f.err != nil {
			if ctx.Err() != nil {
				return
			}
			r.logger.Warn("batch fetch failed", "consumer", b.cfg.Name, "err", f.err)
			pause = min(max(2*pause, 100*time.Millisecond), 5*time.Second)
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			continue
		}
		pause = 0
		if len(f.msgs) > 0 {
			r.settleBatch(ctx, b, f.msgs, f.checked)
		}
	}
}

// fetch waits up to batchPoll for a first message, then up to Linger for
// more, up to Size in all.
func (b *batchConsumer) fetch(ctx context.Context) ([]jetstream.Msg, error) {
	var msgs []jetstream.Msg
	collect := func(n int, wait time.Duration) error {
		mb, err := b.consumer.Fetch(n, jetstream.FetchMaxWait(wait), jetstream.FetchPriorityGroup(batchGroup))
		if err != nil {
			return err
		}
		for m := range mb.Messages() {
			msgs = append(msgs, m)
		}
		if err := mb.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return nil
	}
	if err := collect(1, batchPoll); err != nil || len(msgs) == 0 || ctx.Err() != nil {
		return msgs, err
	}
	if b.cfg.Size > 1 {
		if err := collect(b.cfg.Size-1, b.cfg.Linger); err != nil {
			return msgs, err
		}
	}
	return msgs, nil
}

// checked is what batchConsumer.check made of one message.
type checked struct {
	decoded any
	err     error
}

// settleBatch hands msgs to the handler and settles each; checks[i] is
// what b.check made of msgs[i] (checked by the fetching goroutine, so
// decoding overlaps the handling of the batch before).
func (r *Router) settleBatch(ctx context.Context, b *batchConsumer, msgs []jetstream.Msg, checks []checked) {
	cfg := b.cfg
	m := r.metrics
	handled, failed, dead := m.messages.WithLabelValues(cfg.Name, outcomeHandled),
		m.messages.WithLabelValues(cfg.Name, outcomeFailed), m.messages.WithLabelValues(cfg.Name, outcomeDeadLettered)
	keep := make([]jetstream.Msg, 0, len(msgs))
	decoded := make([]any, 0, len(msgs))
	for i, jm := range msgs {
		if err := checks[i].err; err != nil {
			r.batchDeadLetter(ctx, cfg, jm, err, dead, failed)
			continue
		}
		keep, decoded = append(keep, jm), append(decoded, checks[i].decoded)
	}
	if len(keep) == 0 {
		return
	}
	start := time.Now()
	err := b.call(ctx, keep, decoded)
	m.duration.WithLabelValues(cfg.Name).Observe(time.Since(start).Seconds())
	if err == nil {
		for _, jm := range keep {
			if err := jm.Ack(); err != nil {
				r.logger.Warn("ack failed; the message will be redelivered", "consumer", cfg.Name, "err", err)
			}
		}
		handled.Add(float64(len(keep)))
		return
	}
	if len(keep) > 1 {
		r.logger.Warn("batch failed; handling its messages one at a time", "consumer", cfg.Name, "size", len(keep), "err", err)
	}
	// One at a time, in order, so that a bad message is singled out. A
	// transient failure is retried here, holding the later messages (and
	// the next batch, already fetched) back: nacking would let a newer
	// message overtake the one being retried. Should the retries outlast
	// AckWait, JetStream redelivers the held messages after the originals;
	// handlers are idempotent, so the copies change nothing.
	retries := 0
	for i := 0; i < len(keep); {
		jm := keep[i]
		if len(keep) > 1 || retries > 0 {
			err = b.call(ctx, keep[i:i+1], decoded[i:i+1])
		}
		attempt := deliveries(jm) + retries
		switch {
		case err == nil:
			if aerr := jm.Ack(); aerr != nil {
				r.logger.Warn("ack failed; the message will be redelivered", "consumer", cfg.Name, "err", aerr)
			}
			handled.Inc()
			i, retries = i+1, 0
		case IsPermanent(err) || attempt >= cfg.MaxDeliver:
			r.batchDeadLetter(ctx, cfg, jm, err, dead, failed)
			i, retries = i+1, 0
		default:
			failed.Inc()
			r.logger.Warn("handler failed; retrying in order", "consumer", cfg.Name,
				"id", msgID(jm), "attempt", attempt, "err", err, "held_back", len(keep)-i-1)
			for _, later := range keep[i:] {
				_ = later.InProgress()
			}
			select {
			case <-ctx.Done():
				for _, later := range keep[i:] {
					_ = later.Nak()
				}
				return
			case <-time.After(cfg.backoff(uint64(attempt))):
			}
			retries++
		}
	}
}

// call runs h within AckWait, turning a panic into an error. A batch being
// handled when the router stops is finished, not cut short.
func (b *batchConsumer) call(ctx context.Context, msgs []jetstream.Msg, decoded []any) (err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.cfg.AckWait)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panic: %v\n%s", p, debug.Stack())
		}
	}()
	return b.run(ctx, msgs, decoded)
}

func deliveries(jm jetstream.Msg) int {
	md, err := jm.Metadata()
	if err != nil {
		return 1
	}
	return int(md.NumDelivered)
}

// batchDeadLetter publishes jm to the consumer's dead-letter subject and
// acknowledges it; should that publish fail, jm is nacked and retried.
func (r *Router) batchDeadLetter(ctx context.Context, cfg BatchConfig, jm jetstream.Msg, cause error, dead, failed interface{ Inc() }) {
	h := nats.Header{}
	for _, k := range []string{HeaderType, HeaderCorrelationID, HeaderCausationID, HeaderTraceparent} {
		if v := jm.Headers().Get(k); v != "" {
			h.Set(k, v)
		}
	}
	id := msgID(jm)
	delivered := deliveries(jm)
	h.Set(HeaderMsgID, "dlq-"+id)
	h.Set(HeaderDLQReason, headerValue(cause.Error(), maxReasonLen))
	h.Set(HeaderDLQConsumer, cfg.Name)
	h.Set(HeaderDLQDeliveries, strconv.Itoa(delivered))
	h.Set(HeaderDLQOriginalSubject, jm.Subject())
	subject := events.DLQSubject(cfg.Name)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handleTimeout)
	defer cancel()
	if _, err := r.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: jm.Data(), Header: h}); err != nil {
		failed.Inc()
		r.logger.Error("dead-letter failed; message will be redelivered", "consumer", cfg.Name, "err", cause, "dlq_err", err)
		_ = jm.NakWithDelay(cfg.backoff(uint64(delivered)))
		return
	}
	if err := jm.Ack(); err != nil {
		r.logger.Warn("ack of dead-lettered message failed", "consumer", cfg.Name, "err", err)
	}
	dead.Inc()
	r.logger.Error("message dead-lettered", "consumer", cfg.Name, "id", id, "err", cause, "dlq", subject)
}

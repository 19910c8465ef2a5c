package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
)

// BatchHandlerFunc handles the envelopes a consumer had available, in
// stream order. Returning nil acknowledges them all. An error made only of
// PermanentAt errors (alone or joined with errors.Join) dead-letters those
// envelopes and acknowledges the others. Any other error retries the whole
// batch, in order, after the consumer's backoff, and dead-letters it on its
// MaxDeliver-th attempt. Like HandlerFunc, it must be idempotent on each
// env.ID.
type BatchHandlerFunc func(ctx context.Context, envs []events.Envelope) error

// DefaultMaxBatch is HandleBatch's batch size when given 0.
const DefaultMaxBatch = 1000

// batchIdleWait is how long one wait for a first message lasts before the
// loop looks at its context again.
const batchIdleWait = 5 * time.Second

// batchItemError marks envs[Index] of a batch as never worth retrying.
type batchItemError struct {
	index int
	err   error
}

func (e batchItemError) Error() string { return fmt.Sprintf("batch item %d: %v", e.index, e.err) }
func (e batchItemError) Unwrap() error { return e.err }

// PermanentAt marks the batch's i-th envelope as never worth retrying: a
// BatchHandlerFunc returns it (joined with errors.Join for several) to have
// that envelope dead-lettered and the rest of the batch acknowledged.
// PermanentAt(i, nil) is nil.
func PermanentAt(i int, err error) error {
	if err == nil {
		return nil
	}
	return batchItemError{index: i, err: err}
}

// itemErrors returns err's PermanentAt errors by index, and whether err is
// made of nothing else.
func itemErrors(err error) (map[int]error, bool) {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := make(map[int]error, len(errs))
	for _, e := range errs {
		var it batchItemError
		if e == nil {
			continue
		}
		if !errors.As(e, &it) {
			return nil, false
		}
		out[it.index] = it.err
	}
	return out, len(out) > 0
}

// batchConsumer is one consumer registered with HandleBatch.
type batchConsumer struct {
	cfg      ConsumerConfig
	max      int
	consumer jetstream.Consumer
	h        BatchHandlerFunc
}

// HandleBatch is Handle for a handler that takes many messages at once:
// each round takes every message available (at least one, at most
// maxBatch, DefaultMaxBatch when 0), in stream order, and hands them to h
// together, so h can apply them in one transaction. The consumer's
// MaxAckPending is set to maxBatch and this process runs one batch at a
// time, so a batch that fails is retried in this process, in order, before
// anything after it is taken: nothing overtakes a failed message. Several
// processes sharing the consumer each keep their own batches in order, but
// their batches may interleave.
func (r *Router) HandleBatch(cfg ConsumerConfig, maxBatch int, h BatchHandlerFunc) error {
	if h == nil {
		return fmt.Errorf("handle %s: nil handler", cfg.Name)
	}
	if maxBatch <= 0 {
		maxBatch = DefaultMaxBatch
	}
	cfg.MaxAckPending, cfg.Workers = maxBatch, 1
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.closed {
		return fmt.Errorf("handle %s: %w", cfg.Name, ErrRouterStarted)
	}
	if _, dup := r.wr.Handlers()[cfg.Name]; dup {
		return fmt.Errorf("handle %s: consumer already handled by this router", cfg.Name)
	}
	for _, b := range r.batches {
		if b.cfg.Name == cfg.Name {
			return fmt.Errorf("handle %s: consumer already handled by this router", cfg.Name)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), handleTimeout)
	defer cancel()
	c, err := r.js.CreateOrUpdateConsumer(ctx, cfg.Stream, cfg.jetstreamConfig())
	if err != nil {
		return fmt.Errorf("create consumer %s on %s: %w", cfg.Name, cfg.Stream, err)
	}
	r.batches = append(r.batches, &batchConsumer{cfg: cfg, max: maxBatch, consumer: c, h: h})
	return nil
}

// runBatch consumes b until ctx ends; the batch in hand when it does is
// finished first.
func (r *Router) runBatch(ctx context.Context, b *batchConsumer) {
	log := r.logger.With("consumer", b.cfg.Name)
	for ctx.Err() == nil {
		msgs, err := b.fetch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			log.Warn("fetch messages", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
			continue
		}
		if len(msgs) > 0 {
			r.handleBatch(ctx, b, msgs)
		}
	}
	// Plain acks are buffered by the client; make sure the server has them.
	if nc := r.js.Conn(); !nc.IsClosed() {
		if err := nc.FlushTimeout(5 * time.Second); err != nil {
			log.Warn("flush acks", "err", err)
		}
	}
}

// fetch waits for one message, then takes what else is there at once.
func (b *batchConsumer) fetch(ctx context.Context) ([]jetstream.Msg, error) {
	wctx, cancel := context.WithTimeout(ctx, batchIdleWait)
	defer cancel()
	first, err := b.consumer.Fetch(1, jetstream.FetchContext(wctx))
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for m := range first.Messages() {
		msgs = append(msgs, m)
	}
	if err := first.Error(); err != nil && len(msgs) == 0 && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	if len(msgs) == 0 || b.max == 1 {
		return msgs, nil
	}
	rest, err := b.consumer.FetchNoWait(b.max - len(msgs))
	if err != nil {
		return msgs, nil // handle what we have; the rest comes next round
	}
	for m := range rest.Messages() {
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// handleBatch runs b's handler on msgs until they are all settled: acked,
// dead-lettered, or (only when shutting down) given back.
func (r *Router) handleBatch(ctx context.Context, b *batchConsumer, msgs []jetstream.Msg) {
	cfg := b.cfg
	handled := r.metrics.messages.WithLabelValues(cfg.Name, outcomeHandled)
	failed := r.metrics.messages.WithLabelValues(cfg.Name, outcomeFailed)
	duration := r.metrics.duration.WithLabelValues(cfg.Name)
	log := r.logger.With("consumer", cfg.Name)

	// Messages that are not envelopes never will be: dead-letter them now.
	envs := make([]events.Envelope, 0, len(msgs))
	keep := msgs[:0:0]
	delivered := 0
	for _, m := range msgs {
		env, err := events.Decode(m.Data())
		if err != nil {
			r.deadLetterMsg(log, cfg, m, Permanent(fmt.Errorf("decode envelope: %w", err)), 0)
			continue
		}
		if md, err := m.Metadata(); err == nil {
			delivered = max(delivered, int(md.NumDelivered))
		}
		envs, keep = append(envs, env), append(keep, m)
	}
	for len(keep) > 0 {
		start := time.Now()
		err := r.runBatchHandler(ctx, cfg, b.h, envs)
		// One observation per message, so the histogram's count still
		// counts messages.
		per := time.Since(start).Seconds() / float64(len(keep))
		for range keep {
			duration.Observe(per)
		}
		if err == nil {
			for _, m := range keep {
				if err := m.Ack(); err != nil {
					log.Warn("ack", "err", err)
				}
			}
			handled.Add(float64(len(keep)))
			return
		}
		if items, ok := itemErrors(err); ok {
			for i, m := range keep {
				if ierr, bad := items[i]; bad {
					r.deadLetterMsg(log, cfg, m, ierr, delivered)
					continue
				}
				if err := m.Ack(); err != nil {
					log.Warn("ack", "err", err)
				}
				handled.Inc()
			}
			return
		}
		if delivered >= cfg.MaxDeliver {
			log.Error("batch failed on its last delivery; dead-lettering it", "err", err, "messages", len(keep), "delivery", delivered)
			for _, m := range keep {
				r.deadLetterMsg(log, cfg, m, err, delivered)
			}
			return
		}
		failed.Add(float64(len(keep)))
		wait := cfg.backoff(uint64(delivered))
		log.Warn("batch handler failed; retrying the batch", "err", err, "messages", len(keep), "delivery", delivered, "after", wait)
		select {
		case <-ctx.Done():
			// Shutting down: give the batch back for whoever resumes.
			for _, m := range keep {
				_ = m.NakWithDelay(wait)
			}
			return
		case <-time.After(wait):
		}
		for _, m := range keep {
			_ = m.InProgress() // restart AckWait for the retry
		}
		delivered++
	}
}

// runBatchHandler runs h with a panic turned into an error, in a context
// that outlives a shutdown by at most AckWait.
func (r *Router) runBatchHandler(ctx context.Context, cfg ConsumerConfig, h BatchHandlerFunc, envs []events.Envelope) (err error) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.AckWait)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			r.logger.Error("bus batch handler panicked", "consumer", cfg.Name, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panic: %v", p)
		}
	}()
	return h(hctx, envs)
}

// deadLetterMsg dead-letters m for cause and acks it; should publishing to
// the dead-letter subject fail, m is nacked so the server delivers it again.
// delivered is how many times it was handled (0: as the server counts).
func (r *Router) deadLetterMsg(log *slog.Logger, cfg ConsumerConfig, m jetstream.Msg, cause error, delivered int) {
	md, _ := m.Metadata()
	id, subject := m.Headers().Get(HeaderMsgID), m.Subject()
	if md != nil {
		delivered = max(delivered, int(md.NumDelivered))
		if id == "" {
			id = md.Stream + "-" + strconv.FormatUint(md.Sequence.Stream, 10)
		}
	}
	wm := message.NewMessage(id, m.Data())
	for k, v := range m.Headers() {
		if len(v) > 0 {
			wm.Metadata.Set(k, v[0])
		}
	}
	wm.Metadata.Set(MetaSubject, subject)
	ctx, cancel := context.WithTimeout(context.Background(), handleTimeout)
	defer cancel()
	wm.SetContext(ctx)
	if err := r.deadLetter(wm, cfg, cause, delivered); err != nil {
		r.metrics.messages.WithLabelValues(cfg.Name, outcomeFailed).Inc()
		log.Error("dead-letter failed; message will be redelivered", "id", id, "err", cause, "dlq_err", err)
		_ = m.Nak()
		return
	}
	r.metrics.messages.WithLabelValues(cfg.Name, outcomeDeadLettered).Inc()
	log.Error("message dead-lettered", "id", id, "err", cause, "dlq", events.DLQSubject(cfg.Name))
	if err := m.Ack(); err != nil {
		log.Error("ack dead-lettered message", "id", id, "err", err)
	}
}

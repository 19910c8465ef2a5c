package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-dev/firebreak/events"
)

// HandlerFunc handles one envelope. Returning nil acknowledges the message;
// an error marked with Permanent dead-letters it at once; any other error
// has it redelivered after the consumer's backoff, and dead-lettered when
// it fails on its MaxDeliver-th delivery. Handlers must be idempotent on
// env.ID: every message may arrive more than once.
type HandlerFunc func(ctx context.Context, env events.Envelope) error

// Middleware wraps a HandlerFunc.
type Middleware func(HandlerFunc) HandlerFunc

// ErrRouterStarted is returned by Handle after Run, and by Run when called twice.
var ErrRouterStarted = errors.New("bus router already started")

// routerCloseTimeout bounds how long Close waits for in-flight handlers.
// Handlers' contexts end after their consumer's AckWait, so only a handler
// that ignores its context gets near it.
const routerCloseTimeout = time.Minute

// handleTimeout bounds creating a consumer in Handle.
const handleTimeout = 15 * time.Second

// maxReasonLen caps the dead-letter reason header.
const maxReasonLen = 1024

// Router runs handlers on durable JetStream consumers through a watermill
// message.Router. Per message it recovers panics, puts the envelope's
// correlation and causation ids and the traceparent in the context, logs
// the outcome, counts it in Prometheus, and settles the message: ack on
// success, nack with backoff on a transient error, dead-letter then ack on
// a permanent error or on the last allowed delivery.
type Router struct {
	js      jetstream.JetStream
	logger  *slog.Logger
	wr      *message.Router
	sub     *Subscriber
	metrics *metrics

	mu      sync.Mutex
	batches []*batchConsumer // HandleBatch's, run by Run beside wr
	stop    context.CancelFunc
	started bool
	closed  bool
	// runDone is closed when Run returns.
	runDone chan struct{}
}

// NewRouter returns a router on js. reg receives the router's metrics and
// may be nil; routers sharing one registry share the collectors.
func NewRouter(js jetstream.JetStream, logger *slog.Logger, reg prometheus.Registerer) (*Router, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	// watermill reports every start and stop at Info; keep that at Debug.
	wl := watermill.NewSlogLoggerWithLevelMapping(logger, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	wr, err := message.NewRouter(message.RouterConfig{CloseTimeout: routerCloseTimeout}, wl)
	if err != nil {
		return nil, fmt.Errorf("new bus router: %w", err)
	}
	return &Router{js: js, logger: logger, wr: wr, sub: NewSubscriber(js, logger), metrics: m, runDone: make(chan struct{})}, nil
}

// Handle creates or updates the durable consumer cfg describes, right away
// so that interest exists before anyone publishes, and routes its messages
// to h once Run is called. Call it before Run.
func (r *Router) Handle(cfg ConsumerConfig, h HandlerFunc) error {
	if h == nil {
		return fmt.Errorf("handle %s: nil handler", cfg.Name)
	}
	h = Recoverer(r.logger)(h)
	return r.handle(cfg, func(msg *message.Message) error { return dispatch(msg, h) })
}

// handle registers the consumer cfg with run as what each message does.
func (r *Router) handle(cfg ConsumerConfig, run func(*message.Message) error) error {
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
	ctx, cancel := context.WithTimeout(context.Background(), handleTimeout)
	defer cancel()
	if err := r.sub.AddConsumer(ctx, cfg); err != nil {
		return err
	}
	r.wr.AddConsumerHandler(cfg.Name, cfg.Name, r.sub, r.messageHandler(cfg, run))
	return nil
}

// Run consumes until ctx is done, then stops pulling, lets in-flight
// handlers finish and returns. It returns nil after a clean stop.
func (r *Router) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.started || r.closed {
		r.mu.Unlock()
		return ErrRouterStarted
	}
	r.started = true
	batchCtx, stopBatches := context.WithCancel(ctx)
	r.stop = stopBatches
	batches := r.batches
	r.mu.Unlock()
	defer close(r.runDone)
	var batchWG sync.WaitGroup
	defer batchWG.Wait()
	defer stopBatches()
	for _, b := range batches {
		batchWG.Go(func() { r.runBatch(batchCtx, b) })
	}
	// watermill stops on Close, not on its context alone (not at all with
	// no handlers), so turn the end of ctx into a Close.
	go func() {
		if !r.waitRunning() {
			return
		}
		select {
		case <-ctx.Done():
			if err := r.wr.Close(); err != nil {
				r.logger.Error("close bus router", "err", err)
			}
		case <-r.runDone:
		}
	}()
	if err := r.wr.Run(ctx); err != nil {
		return fmt.Errorf("bus router: %w", err)
	}
	return nil
}

// Running is closed once Run has subscribed every consumer.
func (r *Router) Running() chan struct{} { return r.wr.Running() }

// Close stops the router like cancelling Run's context does, and waits for
// in-flight handlers.
func (r *Router) Close() error {
	r.mu.Lock()
	started, closed, stop := r.started, r.closed, r.stop
	r.closed = true
	r.mu.Unlock()
	if stop != nil {
		stop() // Run waits for the batch consumers to finish
	}
	if closed {
		return nil
	}
	var err error
	if started && r.waitRunning() {
		if err = r.wr.Close(); err != nil {
			err = fmt.Errorf("close bus router: %w", err)
		}
		select { // Run returns once the batch consumers are done too
		case <-r.runDone:
		case <-time.After(routerCloseTimeout):
		}
	}
	return errors.Join(err, r.sub.Close())
}

// waitRunning waits until Run has subscribed every consumer, and reports
// false if Run returned first. Closing watermill's router while it is still
// subscribing would stall until its close timeout.
func (r *Router) waitRunning() bool {
	select {
	case <-r.wr.Running():
		return true
	case <-r.runDone:
		return false
	}
}

// Recoverer turns a panic in a handler into an error (a transient one: the
// message is retried and eventually dead-lettered) and logs the stack.
func Recoverer(logger *slog.Logger) Middleware {
	return func(next HandlerFunc) HandlerFunc {
		return func(ctx context.Context, env events.Envelope) (err error) {
			defer func() {
				if p := recover(); p != nil {
					logger.Error("bus handler panicked", "id", env.ID, "type", env.Type, "panic", p, "stack", string(debug.Stack()))
					err = fmt.Errorf("handler panic: %v", p)
				}
			}()
			return next(ctx, env)
		}
	}
}

// messageHandler is the watermill end of a consumer: it runs run (which
// decodes the envelope and calls the handler), and decides the message's
// fate. It settles the message itself (Nack) and returns nil, so each
// outcome is logged once, here.
func (r *Router) messageHandler(cfg ConsumerConfig, run func(*message.Message) error) message.NoPublishHandlerFunc {
	messages := func(outcome string) prometheus.Counter {
		return r.metrics.messages.WithLabelValues(cfg.Name, outcome)
	}
	handled, failed, deadLettered := messages(outcomeHandled), messages(outcomeFailed), messages(outcomeDeadLettered)
	duration := r.metrics.duration.WithLabelValues(cfg.Name)
	return func(msg *message.Message) error {
		delivered, _ := strconv.Atoi(msg.Metadata.Get(MetaNumDelivered))
		log := r.logger.With("consumer", cfg.Name, "id", msg.UUID, "type", msg.Metadata.Get(HeaderType),
			"subject", msg.Metadata.Get(MetaSubject), "delivery", delivered)

		start := time.Now()
		err := run(msg)
		duration.Observe(time.Since(start).Seconds())

		switch {
		case err == nil:
			handled.Inc()
			return nil
		case IsPermanent(err) || delivered >= cfg.MaxDeliver:
			if dlqErr := r.deadLetter(msg, cfg, err, delivered); dlqErr != nil {
				failed.Inc()
				log.Error("dead-letter failed; message will be redelivered", "err", err, "dlq_err", dlqErr)
				msg.Nack()
				return nil
			}
			deadLettered.Inc()
			log.Error("message dead-lettered", "err", err, "dlq", events.DLQSubject(cfg.Name))
			return nil
		default:
			failed.Inc()
			log.Warn("handler failed; message will be redelivered", "err", err)
			msg.Nack()
			return nil
		}
	}
}

// dispatch decodes msg and runs h with the envelope's ids in the context.
func dispatch(msg *message.Message, h HandlerFunc) error {
	env, err := events.Decode(msg.Payload)
	if err != nil {
		return Permanent(fmt.Errorf("decode envelope: %w", err))
	}
	ctx := withEnvelopeIDs(msg.Context(), env.CorrelationID, env.ID)
	ctx = WithTraceparent(ctx, msg.Metadata.Get(HeaderTraceparent))
	return h(ctx, env)
}

// deadLetter publishes msg's original payload to the consumer's dead-letter
// subject and waits for the server to store it.
func (r *Router) deadLetter(msg *message.Message, cfg ConsumerConfig, cause error, delivered int) error {
	h := nats.Header{}
	for _, k := range []string{HeaderType, HeaderCorrelationID, HeaderCausationID, HeaderTraceparent} {
		if v := msg.Metadata.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	h.Set(HeaderMsgID, "dlq-"+msg.UUID)
	h.Set(HeaderDLQReason, headerValue(cause.Error(), maxReasonLen))
	h.Set(HeaderDLQConsumer, cfg.Name)
	h.Set(HeaderDLQDeliveries, strconv.Itoa(delivered))
	h.Set(HeaderDLQOriginalSubject, msg.Metadata.Get(MetaSubject))
	subject := events.DLQSubject(cfg.Name)
	if _, err := r.js.PublishMsg(msg.Context(), &nats.Msg{Subject: subject, Data: msg.Payload, Header: h}); err != nil {
		return fmt.Errorf("publish to %s: %w", subject, err)
	}
	return nil
}

// headerValue makes s safe as a NATS header value: one line, at most n bytes.
func headerValue(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	return s
}

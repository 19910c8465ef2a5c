package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"
)

// Metadata keys the subscriber adds to every message, beside its headers.
const (
	MetaSubject      = "nats_subject"
	MetaStream       = "nats_stream"
	MetaStreamSeq    = "nats_stream_seq"
	MetaConsumer     = "nats_consumer"
	MetaNumDelivered = "nats_num_delivered"
)

// Subscriber is a watermill message.Subscriber over durable JetStream pull
// consumers. A topic is a consumer name registered with AddConsumer. Each
// subscription runs ConsumerConfig.Workers goroutines; each takes the next
// message, hands it to the router and waits for the handler's verdict:
// Ack acknowledges, Nack asks for redelivery after the consumer's backoff.
// Cancelling the subscription context stops pulling, lets in-flight and
// already buffered messages finish, then closes the channel.
type Subscriber struct {
	js     jetstream.JetStream
	logger *slog.Logger

	mu        sync.Mutex
	consumers map[string]subscription
	closed    bool
	closing   chan struct{}
	wg        sync.WaitGroup
}

type subscription struct {
	cfg      ConsumerConfig
	consumer jetstream.Consumer
}

var _ message.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a subscriber with no consumers yet.
func NewSubscriber(js jetstream.JetStream, logger *slog.Logger) *Subscriber {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Subscriber{js: js, logger: logger, consumers: map[string]subscription{}, closing: make(chan struct{})}
}

// AddConsumer creates the durable consumer cfg describes, or updates it to
// cfg, and makes it available to Subscribe under cfg.Name. Creating it
// before anything is published matters for the interest-retention command
// stream: a message nobody is interested in yet is not kept.
func (s *Subscriber) AddConsumer(ctx context.Context, cfg ConsumerConfig) error {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	c, err := s.js.CreateOrUpdateConsumer(ctx, cfg.Stream, cfg.jetstreamConfig())
	if err != nil {
		return fmt.Errorf("create consumer %s on %s: %w", cfg.Name, cfg.Stream, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.consumers[cfg.Name] = subscription{cfg: cfg, consumer: c}
	return nil
}

// Subscribe implements message.Subscriber; topic is a consumer name given
// to AddConsumer.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	sub, ok := s.consumers[topic]
	closed := s.closed
	if ok && !closed {
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if closed {
		return nil, errors.New("subscriber closed")
	}
	if !ok {
		return nil, fmt.Errorf("subscribe %s: no such consumer (AddConsumer first)", topic)
	}
	iter, err := sub.consumer.Messages(pullOptions(sub.cfg)...)
	if err != nil {
		s.wg.Done()
		return nil, fmt.Errorf("subscribe %s: %w", topic, err)
	}
	out := make(chan *message.Message)
	go s.run(ctx, sub, iter, out)
	return out, nil
}

// run feeds out from the consumer until the subscription is cancelled or
// the subscriber closed, then closes out. Should the server end the
// subscription on its own (consumer deleted, leader change), it recreates
// the consumer and subscribes again.
func (s *Subscriber) run(ctx context.Context, sub subscription, iter jetstream.MessagesContext, out chan<- *message.Message) {
	defer s.wg.Done()
	defer close(out)
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-s.closing:
			stop()
		case <-stopCtx.Done():
		}
	}()
	cfg := sub.cfg
	backoff := time.Duration(0)
	for {
		if iter != nil {
			s.consume(stopCtx, cfg, iter, out)
		}
		if stopCtx.Err() != nil {
			return
		}
		if s.js.Conn().IsClosed() {
			s.logger.Error("consumer stopped: connection closed", "consumer", cfg.Name)
			return
		}
		backoff = min(max(2*backoff, 250*time.Millisecond), 5*time.Second)
		s.logger.Error("consumer subscription ended; subscribing again", "consumer", cfg.Name, "after", backoff)
		select {
		case <-stopCtx.Done():
			return
		case <-time.After(backoff):
		}
		iter = nil
		c, err := s.js.CreateOrUpdateConsumer(stopCtx, cfg.Stream, cfg.jetstreamConfig())
		if err != nil {
			s.logger.Error("recreate consumer", "consumer", cfg.Name, "err", err)
			continue
		}
		if iter, err = c.Messages(pullOptions(cfg)...); err != nil {
			s.logger.Error("subscribe again", "consumer", cfg.Name, "err", err)
			iter = nil
			continue
		}
		backoff = 0
	}
}

// consume runs the workers on iter until it is closed: by the server, or
// drained when ctx ends.
func (s *Subscriber) consume(ctx context.Context, cfg ConsumerConfig, iter jetstream.MessagesContext, out chan<- *message.Message) {
	// Drain, not Stop: messages already pulled into the buffer are handled
	// now instead of waiting out AckWait on the server.
	undrain := context.AfterFunc(ctx, iter.Drain)
	defer undrain()
	var workers sync.WaitGroup
	for range cfg.Workers {
		workers.Go(func() { s.work(ctx, cfg, iter, out) })
	}
	workers.Wait()
	// Plain acks are buffered by the client; make sure the server has them
	// before anyone resumes this consumer.
	if nc := s.js.Conn(); !nc.IsClosed() {
		if err := nc.FlushTimeout(5 * time.Second); err != nil {
			s.logger.Warn("flush acks", "consumer", cfg.Name, "err", err)
		}
	}
}

// work handles messages one at a time until the iterator is closed.
func (s *Subscriber) work(ctx context.Context, cfg ConsumerConfig, iter jetstream.MessagesContext, out chan<- *message.Message) {
	for {
		jm, err := iter.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			s.logger.Warn("pull next message", "consumer", cfg.Name, "err", err)
			select {
			case <-time.After(100 * time.Millisecond):
			case <-s.closing:
			case <-ctx.Done():
			}
			continue
		}
		s.deliver(ctx, cfg, jm, out)
	}
}

// deliver hands one message to the router and settles it with the server.
func (s *Subscriber) deliver(ctx context.Context, cfg ConsumerConfig, jm jetstream.Msg, out chan<- *message.Message) {
	md, err := jm.Metadata()
	if err != nil {
		s.logger.Error("message without jetstream metadata", "consumer", cfg.Name, "subject", jm.Subject(), "err", err)
		_ = jm.Term()
		return
	}
	id := jm.Headers().Get(HeaderMsgID)
	if id == "" {
		// Stable across redeliveries, so the dead-letter id de-duplicates.
		id = md.Stream + "-" + strconv.FormatUint(md.Sequence.Stream, 10)
	}
	msg := message.NewMessage(id, jm.Data())
	for k, v := range jm.Headers() {
		if len(v) > 0 {
			msg.Metadata.Set(k, v[0])
		}
	}
	msg.Metadata.Set(MetaSubject, jm.Subject())
	msg.Metadata.Set(MetaStream, md.Stream)
	msg.Metadata.Set(MetaStreamSeq, strconv.FormatUint(md.Sequence.Stream, 10))
	msg.Metadata.Set(MetaConsumer, md.Consumer)
	msg.Metadata.Set(MetaNumDelivered, strconv.FormatUint(md.NumDelivered, 10))

	// The handler keeps its context when the subscription is cancelled, so
	// shutdown lets it finish; it is bounded by AckWait, after which the
	// server redelivers anyway.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.AckWait)
	defer cancel()
	msg.SetContext(hctx)

	select {
	case out <- msg:
	case <-s.closing:
		// Router closed without taking it: give it back at once.
		_ = jm.Nak()
		return
	}
	select {
	case <-msg.Acked():
		if err := jm.Ack(); err != nil {
			s.logger.Warn("ack", "consumer", cfg.Name, "id", id, "err", err)
		}
	case <-msg.Nacked():
		if err := jm.NakWithDelay(cfg.backoff(md.NumDelivered)); err != nil {
			s.logger.Warn("nak", "consumer", cfg.Name, "id", id, "err", err)
		}
	}
}

// Close stops every subscription and waits until their channels are closed.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// pullExpiry is how long one pull request of a subscription waits at the
// server. nats.go's default is 30 s, with heartbeats at half that: a pull
// request the server loses (seen after a dead-letter ack under load) then
// stalls the consumer for 30 s before the client notices the missing
// heartbeat. 5 s bounds that stall; an idle consumer sends one small pull
// request every 5 s instead of every 30.
const pullExpiry = 5 * time.Second

func pullOptions(cfg ConsumerConfig) []jetstream.PullMessagesOpt {
	return []jetstream.PullMessagesOpt{jetstream.PullMaxMessages(cfg.prefetch()), jetstream.PullExpiry(pullExpiry)}
}

package bus

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
)

// Publisher publishes envelopes to JetStream and returns once the server has
// stored them. It also implements watermill's message.Publisher.
type Publisher struct {
	js     jetstream.JetStream
	logger *slog.Logger
}

var _ message.Publisher = (*Publisher)(nil)

// NewPublisher returns a publisher on js.
func NewPublisher(js jetstream.JetStream, logger *slog.Logger) *Publisher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Publisher{js: js, logger: logger}
}

// PublishEnvelope publishes env on the subject of its type
// (events.SubjectFor) and waits for the server's acknowledgement.
func (p *Publisher) PublishEnvelope(ctx context.Context, env events.Envelope) error {
	return p.PublishEnvelopeTo(ctx, events.SubjectFor(env.Type), env)
}

// PublishEnvelopeTo publishes env on subject and waits for the server's
// acknowledgement. Nats-Msg-Id is the envelope id, so publishing the same
// envelope again within DuplicateWindow stores it once.
func (p *Publisher) PublishEnvelopeTo(ctx context.Context, subject string, env events.Envelope) error {
	if err := env.Validate(); err != nil {
		return fmt.Errorf("publish %s: %w", env.Type, err)
	}
	data, err := env.Encode()
	if err != nil {
		return fmt.Errorf("publish %s: encode: %w", env.Type, err)
	}
	m := &nats.Msg{Subject: subject, Data: data, Header: envelopeHeader(env)}
	if tp := Traceparent(ctx); tp != "" {
		m.Header.Set(HeaderTraceparent, tp)
	}
	if _, err := p.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("publish %s %s to %s: %w", env.Type, env.ID, subject, err)
	}
	return nil
}

// PublishEnvelopes publishes envs, each on the subject of its type, without
// waiting between them (PublishMsgAsync), then waits until the server has
// acknowledged every one. It returns nil only when all were stored; on an
// error some may have been stored, and publishing the same envelopes again
// stores only the missing ones (Nats-Msg-Id de-duplication).
func (p *Publisher) PublishEnvelopes(ctx context.Context, envs []events.Envelope) error {
	futures := make([]jetstream.PubAckFuture, 0, len(envs))
	for _, env := range envs {
		if err := env.Validate(); err != nil {
			return fmt.Errorf("publish %s: %w", env.Type, err)
		}
		data, err := env.Encode()
		if err != nil {
			return fmt.Errorf("publish %s: encode: %w", env.Type, err)
		}
		m := &nats.Msg{Subject: events.SubjectFor(env.Type), Data: data, Header: envelopeHeader(env)}
		if tp := Traceparent(ctx); tp != "" {
			m.Header.Set(HeaderTraceparent, tp)
		}
		f, err := p.js.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("publish %s %s: %w", env.Type, env.ID, err)
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish %s %s: %w", envs[i].Type, envs[i].ID, err)
		case <-ctx.Done():
			return fmt.Errorf("publish %d envelopes: %w", len(envs), ctx.Err())
		}
	}
	return nil
}

// Publish implements message.Publisher: each message is published on topic
// (a NATS subject) with its UUID as Nats-Msg-Id and its metadata as headers,
// waiting for the server's acknowledgement of each in turn.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		ctx := msg.Context()
		h := nats.Header{}
		for k, v := range msg.Metadata {
			h.Set(k, v)
		}
		h.Set(HeaderMsgID, msg.UUID)
		if h.Get(HeaderTraceparent) == "" {
			if tp := Traceparent(ctx); tp != "" {
				h.Set(HeaderTraceparent, tp)
			}
		}
		if _, err := p.js.PublishMsg(ctx, &nats.Msg{Subject: topic, Data: msg.Payload, Header: h}); err != nil {
			return fmt.Errorf("publish %s to %s: %w", msg.UUID, topic, err)
		}
	}
	return nil
}

// Close implements message.Publisher; the publisher owns nothing to close.
func (p *Publisher) Close() error { return nil }

// envelopeHeader returns the headers every firebreak message carries.
func envelopeHeader(env events.Envelope) nats.Header {
	h := nats.Header{}
	h.Set(HeaderMsgID, env.ID)
	h.Set(HeaderType, env.Type)
	h.Set(HeaderCorrelationID, env.CorrelationID)
	h.Set(HeaderCausationID, env.CausationID)
	return h
}

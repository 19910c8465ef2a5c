package bus

import (
	"context"
	"fmt"
	"runtime/debug"
	"strconv"

	"github.com/ThreeDotsLabs/watermill/message"
)

// RawMessage is a message that is not a firebreak envelope: what outside
// producers publish on fb.ingest.<service>.
type RawMessage struct {
	// ID is the producer's Nats-Msg-Id, or "<stream>-<sequence>" when it set
	// none; either way the same on every redelivery.
	ID string
	// Subject is the subject the message was published on.
	Subject string
	// Header holds the message's headers (the first value of each).
	Header map[string]string
	// Data is the payload as published.
	Data []byte
	// Delivered counts deliveries, 1 for the first.
	Delivered int
}

// RawHandlerFunc handles one raw message, with HandlerFunc's contract:
// nil acknowledges, Permanent dead-letters at once (the reason in
// HeaderDLQReason), anything else is redelivered after the backoff.
type RawHandlerFunc func(ctx context.Context, msg RawMessage) error

// HandleRaw is Handle for a stream whose messages are not envelopes (the
// ingest stream): the payload reaches h as published instead of being
// decoded as an envelope (and dead-lettered when it is not one). Delivery,
// retries, dead-lettering, logging and metrics are Handle's.
func (r *Router) HandleRaw(cfg ConsumerConfig, h RawHandlerFunc) error {
	if h == nil {
		return fmt.Errorf("handle %s: nil handler", cfg.Name)
	}
	return r.handle(cfg, func(msg *message.Message) (err error) {
		defer func() {
			if p := recover(); p != nil {
				r.logger.Error("bus handler panicked", "id", msg.UUID, "consumer", cfg.Name, "panic", p, "stack", string(debug.Stack()))
				err = fmt.Errorf("handler panic: %v", p)
			}
		}()
		delivered, _ := strconv.Atoi(msg.Metadata.Get(MetaNumDelivered))
		header := make(map[string]string, len(msg.Metadata))
		for k, v := range msg.Metadata {
			header[k] = v
		}
		ctx := WithTraceparent(msg.Context(), msg.Metadata.Get(HeaderTraceparent))
		return h(ctx, RawMessage{ID: msg.UUID, Subject: msg.Metadata.Get(MetaSubject), Header: header,
			Data: msg.Payload, Delivered: delivered})
	})
}

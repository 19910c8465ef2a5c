// Package bus is firebreak's messaging layer on NATS JetStream: the streams
// every service shares, an embedded server for `firebreak dev` and tests, a
// publisher that waits for the server's acknowledgement, a watermill router
// over durable pull consumers with explicit ack, bounded redelivery and a
// dead-letter subject, and the relay that publishes the transactional outbox.
//
// Delivery is at least once end to end. Publishing is de-duplicated by the
// server on Nats-Msg-Id (the envelope id) within the streams' duplicate
// window; consumers record processed ids in their own transaction (the
// inbox), so a redelivery changes nothing a user can see.
package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names.
const (
	// StreamIngest holds what outside producers publish straight onto NATS (fb.ingest.>).
	StreamIngest = "FB_INGEST"
	// StreamAlerts holds normalized alerts from intake (fb.alert.>).
	StreamAlerts = "FB_ALERTS"
	// StreamCmd holds commands (fb.cmd.>). Interest retention: a command
	// stays until every consumer that filters on it has acknowledged it, so
	// the audit service sees each one too.
	StreamCmd = "FB_CMD"
	// StreamEvt holds events, the facts (fb.evt.>).
	StreamEvt = "FB_EVT"
	// StreamDLQ holds dead-lettered messages (fb.dlq.<consumer>).
	StreamDLQ = "FB_DLQ"
)

// DuplicateWindow is how long the server remembers a Nats-Msg-Id. A message
// re-published within it (an outbox relay that crashed before deleting, a
// producer retrying) is stored once; later duplicates reach consumers, whose
// inbox makes them harmless.
const DuplicateWindow = 2 * time.Minute

// Header names. The first group is set on every message firebreak
// publishes (traceparent when the context carries one); the Fb-Dlq-* and
// Fb-Original-Subject headers only on dead-lettered copies.
const (
	HeaderMsgID         = "Nats-Msg-Id"
	HeaderType          = "Fb-Type"
	HeaderCorrelationID = "Fb-Correlation-Id"
	HeaderCausationID   = "Fb-Causation-Id"
	HeaderTraceparent   = "traceparent"

	HeaderDLQReason          = "Fb-Dlq-Reason"
	HeaderDLQConsumer        = "Fb-Dlq-Consumer"
	HeaderDLQDeliveries      = "Fb-Dlq-Deliveries"
	HeaderDLQOriginalSubject = "Fb-Original-Subject"
)

// StreamConfigs returns the configuration of every firebreak stream with the
// given number of replicas (1 for a single server, 3 in a cluster).
func StreamConfigs(replicas int) []jetstream.StreamConfig {
	if replicas < 1 {
		replicas = 1
	}
	mk := func(name, subject, desc string, retention jetstream.RetentionPolicy) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    []string{subject},
			Retention:   retention,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
			Duplicates:  DuplicateWindow,
		}
	}
	return []jetstream.StreamConfig{
		mk(StreamIngest, "fb.ingest.>", "alerts published straight onto NATS by outside producers", jetstream.LimitsPolicy),
		mk(StreamAlerts, "fb.alert.>", "normalized alerts from intake", jetstream.LimitsPolicy),
		mk(StreamCmd, "fb.cmd.>", "commands; kept until every interested consumer acknowledged them", jetstream.InterestPolicy),
		mk(StreamEvt, "fb.evt.>", "events (facts)", jetstream.LimitsPolicy),
		mk(StreamDLQ, "fb.dlq.>", "dead-lettered messages, one subject per consumer", jetstream.LimitsPolicy),
	}
}

// EnsureStreams creates the firebreak streams or updates them to the
// current configuration. It is idempotent and safe to run at every start-up,
// by every replica at once.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, replicas int) error {
	for _, cfg := range StreamConfigs(replicas) {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

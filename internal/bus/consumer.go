package bus

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
)

// ConsumerConfig describes one durable pull consumer and how this process
// handles its messages.
type ConsumerConfig struct {
	// Name is the durable consumer name, e.g. "incident-alerts"; it is also
	// the dead-letter subject's last token (events.DLQSubject(Name)).
	Name string
	// Stream is the stream the consumer reads, e.g. StreamAlerts.
	Stream string
	// FilterSubjects narrows the stream's subjects; empty takes them all.
	FilterSubjects []string
	// AckWait is how long the server waits for an ack before redelivering,
	// and the longest a handler may run. Default 30s.
	AckWait time.Duration
	// MaxDeliver is how many times a message is handled before it is
	// dead-lettered. Default 5.
	MaxDeliver int
	// Backoff are the redelivery delays after the 1st, 2nd, … failure; the
	// last one repeats. Default 100ms, 500ms, 2s, 5s.
	Backoff []time.Duration
	// MaxAckPending caps unacknowledged messages across all processes
	// sharing the consumer. Default 1000.
	MaxAckPending int
	// Workers is how many messages this process handles at once for this
	// consumer. Default 16.
	Workers int
}

// Defaults of ConsumerConfig.
const (
	DefaultAckWait       = 30 * time.Second
	DefaultMaxDeliver    = 5
	DefaultMaxAckPending = 1000
	DefaultWorkers       = 16
)

// DefaultBackoff returns the default redelivery delays.
func DefaultBackoff() []time.Duration {
	return []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second, 5 * time.Second}
}

// dlqRetryDeliveries are deliveries the server allows beyond MaxDeliver.
// The router dead-letters at delivery MaxDeliver; should publishing to the
// dead-letter stream fail then, the message is nacked and these extra
// deliveries retry the dead-lettering instead of the server dropping it.
const dlqRetryDeliveries = 3

func (c *ConsumerConfig) setDefaults() {
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if len(c.Backoff) == 0 {
		c.Backoff = DefaultBackoff()
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
}

// Validate reports a config that cannot work.
func (c ConsumerConfig) Validate() error {
	var errs []error
	if c.Name == "" || strings.ContainsAny(c.Name, ".*> \t\r\n") {
		errs = append(errs, fmt.Errorf("consumer name %q must be non-empty without '.', '*', '>' or spaces", c.Name))
	}
	if c.Stream == "" {
		errs = append(errs, errors.New("stream is required"))
	}
	for _, f := range c.FilterSubjects {
		if f == "" {
			errs = append(errs, errors.New("empty filter subject"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("consumer config %s: %w", c.Name, err)
	}
	return nil
}

// jetstreamConfig is the server-side consumer.
func (c ConsumerConfig) jetstreamConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        c.Name,
		Description:    "firebreak consumer; dead letters on " + events.DLQSubject(c.Name),
		FilterSubjects: c.FilterSubjects,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        c.AckWait,
		MaxDeliver:     c.MaxDeliver + dlqRetryDeliveries,
		MaxAckPending:  c.MaxAckPending,
	}
}

// prefetch is how many messages the client buffers ahead of the workers.
func (c ConsumerConfig) prefetch() int {
	return min(2*c.Workers, c.MaxAckPending)
}

// backoff is the delay before redelivering a message that failed on its
// delivered-th delivery.
func (c ConsumerConfig) backoff(delivered uint64) time.Duration {
	i := int(min(delivered, uint64(len(c.Backoff)))) - 1
	return c.Backoff[max(i, 0)]
}

package bus

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Handling outcomes, the "outcome" label of firebreak_bus_messages_total.
const (
	outcomeHandled      = "handled"
	outcomeFailed       = "failed"
	outcomeDeadLettered = "dead_lettered"
)

// metrics are the router's Prometheus collectors.
type metrics struct {
	messages *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newMetrics registers the router's collectors with reg (nil: unregistered).
// Several routers in one process share the collectors already registered,
// their series told apart by the consumer label.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_bus_messages_total",
			Help: "Messages taken from JetStream by consumer and outcome (handled, failed and redelivered, dead_lettered).",
		}, []string{"consumer", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "firebreak_bus_handler_duration_seconds",
			Help:    "Time spent handling one message, by consumer.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}, []string{"consumer"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.messages, err = register(reg, m.messages); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the identical collector registered before.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("register bus metrics: %w", err)
}

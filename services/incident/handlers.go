package incident

import (
	"context"
	"errors"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Register subscribes the service's handlers, each on its own durable
// consumer: alerts from FB_ALERTS and incident commands from FB_CMD (both in
// order, in batches), and from FB_EVT the service configuration (in order)
// and postmortem.published.
func (s *Service) Register(r *bus.Router) error {
	// Alerts are applied strictly in the order they were accepted (a
	// resolve must never overtake the trigger it resolves), in batches: one
	// transaction folds the repeats of a storm (ADR 0008). The batch
	// consumer keeps the order across retries and across replicas.
	if err := r.HandleBatch(bus.BatchConfig{
		ConsumerConfig: bus.ConsumerConfig{
			Name: ConsumerAlerts, Stream: bus.StreamAlerts, AckWait: s.cfg.AckWait,
			FilterSubjects: []string{events.SubjectFor(events.TypeAlertReceived)},
		},
		Size: s.cfg.AlertBatch,
	}, func(ctx context.Context, envs []events.Envelope) error {
		return busError(s.HandleAlerts(ctx, envs))
	}); err != nil {
		return err
	}
	// Commands too are applied in order, in batches: one transaction for
	// a burst of clicks (SQLite has one writer; fewer transactions, not
	// more parallel ones, is what helps), and two commands on one incident
	// never overtake each other.
	if err := r.HandleBatch(bus.BatchConfig{
		ConsumerConfig: bus.ConsumerConfig{
			Name: ConsumerCommands, Stream: bus.StreamCmd, AckWait: s.cfg.AckWait,
			FilterSubjects: []string{events.SubjectCmdPrefix + "incident.>"},
		},
	}, func(ctx context.Context, envs []events.Envelope) error {
		return busError(s.ExecuteBatch(ctx, envs))
	}); err != nil {
		return err
	}
	if err := r.Handle(bus.ConsumerConfig{
		Name: ConsumerServices, Stream: bus.StreamEvt, AckWait: s.cfg.AckWait, Workers: 1, MaxAckPending: 1,
		FilterSubjects: []string{events.SubjectFor(events.TypeServiceConfigured), events.SubjectFor(events.TypeServiceRemoved)},
	}, func(ctx context.Context, env events.Envelope) error {
		return busError(s.HandleServiceConfig(ctx, env))
	}); err != nil {
		return err
	}
	return r.Handle(bus.ConsumerConfig{
		Name: ConsumerPostmortems, Stream: bus.StreamEvt, AckWait: s.cfg.AckWait,
		FilterSubjects: []string{events.SubjectFor(events.TypePostmortemPublished)},
	}, func(ctx context.Context, env events.Envelope) error {
		return busError(s.HandlePostmortemPublished(ctx, env))
	})
}

// busError is the one mapping from domain errors to bus outcomes: a refused
// command was answered with command.rejected and is done; input that can
// never apply is dead-lettered; anything else is retried.
func busError(err error) error {
	var rej *Rejection
	switch {
	case err == nil, errors.As(err, &rej):
		return nil
	case fault.KindOf(err) == fault.Invalid, errors.Is(err, ErrUnknownService), errors.Is(err, ErrNotFound):
		return bus.Permanent(err)
	}
	return err
}

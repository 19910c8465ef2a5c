package incident

import (
	"context"
	"errors"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Register subscribes the service's handlers: alerts from FB_ALERTS and
// incident commands from FB_CMD, each on its own durable consumer.
func (s *Service) Register(r *bus.Router) error {
	if err := r.Handle(bus.ConsumerConfig{
		Name: ConsumerAlerts, Stream: bus.StreamAlerts,
		FilterSubjects: []string{events.SubjectFor(events.TypeAlertReceived)},
	}, func(ctx context.Context, env events.Envelope) error {
		return busError(s.HandleAlert(ctx, env))
	}); err != nil {
		return err
	}
	return r.Handle(bus.ConsumerConfig{
		Name: ConsumerCommands, Stream: bus.StreamCmd,
		FilterSubjects: []string{events.SubjectCmdPrefix + "incident.>"},
	}, func(ctx context.Context, env events.Envelope) error {
		_, err := s.Execute(ctx, env, true)
		return busError(err)
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
	case fault.KindOf(err) == fault.Invalid, errors.Is(err, ErrUnknownService):
		return bus.Permanent(err)
	}
	return err
}

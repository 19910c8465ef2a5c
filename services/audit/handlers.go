package audit

import (
	"context"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Register subscribes the service to every command (FB_CMD, whose interest
// retention keeps each command until this consumer has it too), every
// event (FB_EVT) and every alert (FB_ALERTS). Each consumer has one message
// in flight, so the log's order is the order of consumption and a retried
// message is never overtaken.
func (s *Service) Register(r *bus.Router) error {
	for _, c := range []struct{ name, stream, subject string }{
		{ConsumerCommands, bus.StreamCmd, events.SubjectCmdPrefix + ">"},
		{ConsumerEvents, bus.StreamEvt, events.SubjectEvtPrefix + ">"},
		{ConsumerAlerts, bus.StreamAlerts, events.SubjectAlertPrefix + ">"},
	} {
		if err := r.Handle(bus.ConsumerConfig{
			Name: c.name, Stream: c.stream, AckWait: s.cfg.AckWait, Workers: 1, MaxAckPending: 1,
			FilterSubjects: []string{c.subject},
		}, func(ctx context.Context, env events.Envelope) error {
			return busError(s.Record(ctx, env))
		}); err != nil {
			return err
		}
	}
	return nil
}

// busError is the one mapping from the service's errors to bus outcomes:
// an envelope that can never be logged is dead-lettered (where it stays on
// record); anything else, a database hiccup, is retried.
func busError(err error) error {
	if err != nil && fault.KindOf(err) == fault.Invalid {
		return bus.Permanent(err)
	}
	return err
}

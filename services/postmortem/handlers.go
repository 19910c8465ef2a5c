package postmortem

import (
	"context"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Register subscribes the service to every event (FB_EVT) and every alert
// (FB_ALERTS). The events consumer handles one message at a time, so the
// incident projection changes in stream order; the alerts consumer only
// adds timeline rows and counts alerts, which commute with it.
func (s *Service) Register(r *bus.Router) error {
	for _, c := range []struct{ name, stream, subject string }{
		{ConsumerEvents, bus.StreamEvt, events.SubjectEvtPrefix + ">"},
		{ConsumerAlerts, bus.StreamAlerts, events.SubjectAlertPrefix + ">"},
	} {
		if err := r.Handle(bus.ConsumerConfig{
			Name: c.name, Stream: c.stream, AckWait: s.cfg.AckWait, Workers: 1, MaxAckPending: 1,
			FilterSubjects: []string{c.subject},
		}, func(ctx context.Context, env events.Envelope) error {
			return busError(s.Project(ctx, env))
		}); err != nil {
			return err
		}
	}
	return nil
}

// busError is the one mapping from the service's errors to bus outcomes:
// an event that can never be projected is dead-lettered; anything else, a
// database hiccup, is retried.
func busError(err error) error {
	if err != nil && fault.KindOf(err) == fault.Invalid {
		return bus.Permanent(err)
	}
	return err
}

package postmortem

import (
	"context"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Register subscribes the service to every event (FB_EVT) and every alert
// (FB_ALERTS). Both are ordered batch consumers (one process at a time
// pulls, in stream order), so the incident projection changes in stream
// order; a batch is projected in one transaction, and a batch that fails is
// retried one envelope at a time so that a bad one is dead-lettered alone.
func (s *Service) Register(r *bus.Router) error {
	for _, c := range []struct{ name, stream, subject string }{
		{ConsumerEvents, bus.StreamEvt, events.SubjectEvtPrefix + ">"},
		{ConsumerAlerts, bus.StreamAlerts, events.SubjectAlertPrefix + ">"},
	} {
		if err := r.HandleBatch(bus.BatchConfig{ConsumerConfig: bus.ConsumerConfig{
			Name: c.name, Stream: c.stream, AckWait: s.cfg.AckWait, FilterSubjects: []string{c.subject},
		}, Size: 200}, func(ctx context.Context, envs []events.Envelope) error {
			return busError(s.ProjectBatch(ctx, envs))
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

package escalation

import (
	"context"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Register subscribes the service to incident events (FB_EVT,
// fb.evt.incident.>), to overdue action items whose owner is to be paged
// (fb.evt.action_item.page_due) and to failed notifications
// (fb.evt.notification.failed), each on its durable consumer.
func (s *Service) Register(r *bus.Router) error {
	err := r.Handle(bus.ConsumerConfig{
		Name: ConsumerIncidents, Stream: bus.StreamEvt, AckWait: s.opts.AckWait,
		FilterSubjects: []string{events.SubjectEvtPrefix + "incident.>"},
	}, func(ctx context.Context, env events.Envelope) error {
		return busError(s.HandleIncidentEvent(ctx, env))
	})
	if err != nil {
		return err
	}
	err = r.Handle(bus.ConsumerConfig{
		Name: ConsumerActionItems, Stream: bus.StreamEvt, AckWait: s.opts.AckWait,
		FilterSubjects: []string{events.SubjectFor(events.TypeActionItemPageDue)},
	}, func(ctx context.Context, env events.Envelope) error {
		return busError(s.HandleActionItemPageDue(ctx, env))
	})
	if err != nil {
		return err
	}
	return r.Handle(bus.ConsumerConfig{
		Name: ConsumerNotifications, Stream: bus.StreamEvt, AckWait: s.opts.AckWait,
		FilterSubjects: []string{events.SubjectFor(events.TypeNotificationFailed)},
	}, func(ctx context.Context, env events.Envelope) error {
		return busError(s.HandleNotificationFailed(ctx, env))
	})
}

// busError is the one mapping from domain errors to bus outcomes: input
// that can never apply is dead-lettered; anything else is retried.
func busError(err error) error {
	if err != nil && fault.KindOf(err) == fault.Invalid {
		return bus.Permanent(err)
	}
	return err
}

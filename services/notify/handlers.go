package notify

import (
	"context"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Register subscribes the service to page.requested (FB_EVT) on its
// durable consumer, and to the published status updates, notices and
// reporter updates on another.
func (s *Service) Register(r *bus.Router) error {
	err := r.Handle(bus.ConsumerConfig{
		Name: ConsumerPages, Stream: bus.StreamEvt, AckWait: s.cfg.AckWait,
		FilterSubjects: []string{events.SubjectFor(events.TypePageRequested)},
	}, func(ctx context.Context, env events.Envelope) error {
		return busError(s.HandlePage(ctx, env))
	})
	if err != nil {
		return err
	}
	subjects := make([]string, len(PublishedTypes))
	for i, t := range PublishedTypes {
		subjects[i] = events.SubjectFor(t)
	}
	return r.Handle(bus.ConsumerConfig{
		Name: ConsumerPublished, Stream: bus.StreamEvt, AckWait: s.cfg.AckWait, FilterSubjects: subjects,
	}, func(ctx context.Context, env events.Envelope) error {
		return busError(s.HandlePublished(ctx, env))
	})
}

// busError is the one mapping from domain errors to bus outcomes: a page
// that can never be read is dead-lettered; anything else is retried.
func busError(err error) error {
	if err != nil && fault.KindOf(err) == fault.Invalid {
		return bus.Permanent(err)
	}
	return err
}

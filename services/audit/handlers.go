package audit

import (
	"context"
	"errors"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// MaxBatch is how many messages one append takes at most: a consumer
// with a backlog logs them in one transaction, under one chain
// computation, and acknowledges them after it commits.
const MaxBatch = 1000

// Register subscribes the service to every command (FB_CMD, whose interest
// retention keeps each command until this consumer has it too), every
// event (FB_EVT) and every alert (FB_ALERTS). Each consumer takes what is
// available, up to MaxBatch messages in stream order, and appends them in
// one transaction; a batch that fails is retried whole before anything
// after it, so each stream is logged in order and a retried message is
// never overtaken.
func (s *Service) Register(r *bus.Router) error {
	for _, c := range []struct{ name, stream, subject string }{
		{ConsumerCommands, bus.StreamCmd, events.SubjectCmdPrefix + ">"},
		{ConsumerEvents, bus.StreamEvt, events.SubjectEvtPrefix + ">"},
		{ConsumerAlerts, bus.StreamAlerts, events.SubjectAlertPrefix + ">"},
	} {
		if err := r.HandleBatch(bus.ConsumerConfig{
			Name: c.name, Stream: c.stream, AckWait: s.cfg.AckWait,
			FilterSubjects: []string{c.subject},
		}, MaxBatch, s.recordBatch); err != nil {
			return err
		}
	}
	return nil
}

// recordBatch logs envs. Should one of them be impossible to log (it cannot
// be canonicalized), it is told apart and dead-lettered, and the others are
// logged.
func (s *Service) recordBatch(ctx context.Context, envs []events.Envelope) error {
	err := s.Record(ctx, envs...)
	if err == nil || fault.KindOf(err) != fault.Invalid {
		return err
	}
	if len(envs) == 1 {
		return bus.PermanentAt(0, err)
	}
	var bad []error
	good := make([]events.Envelope, 0, len(envs))
	for i, env := range envs {
		if _, err := NewRecord(env, s.cfg.Now()); err != nil {
			bad = append(bad, bus.PermanentAt(i, err))
			continue
		}
		good = append(good, env)
	}
	if len(bad) == 0 {
		return err // not an envelope's fault after all: retry
	}
	if err := s.Record(ctx, good...); err != nil {
		return err
	}
	return errors.Join(bad...)
}

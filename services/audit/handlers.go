package audit

import (
	"context"

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
// event (FB_EVT) and every alert (FB_ALERTS). Each consumer is an ordered
// batch consumer (bus.HandleBatch: one pinned process at a time): it takes
// what is available, up to MaxBatch messages in stream order, and appends
// them in one transaction; a batch that fails is handled again one message
// at a time before anything after it, so each stream is logged in order
// and a retried message is never overtaken, with any number of replicas.
func (s *Service) Register(r *bus.Router) error {
	for _, c := range []struct{ name, stream, subject string }{
		{ConsumerCommands, bus.StreamCmd, events.SubjectCmdPrefix + ">"},
		{ConsumerEvents, bus.StreamEvt, events.SubjectEvtPrefix + ">"},
		{ConsumerAlerts, bus.StreamAlerts, events.SubjectAlertPrefix + ">"},
	} {
		if err := r.HandleBatch(bus.BatchConfig{ConsumerConfig: bus.ConsumerConfig{
			Name: c.name, Stream: c.stream, AckWait: s.cfg.AckWait,
			FilterSubjects: []string{c.subject},
		}, Size: MaxBatch}, s.recordBatch); err != nil {
			return err
		}
	}
	return nil
}

// recordBatch logs envs. When the batch fails the router hands its
// envelopes over again one at a time, in order; an envelope that cannot be
// logged at all (it cannot be canonicalized) is then dead-lettered and the
// others are logged.
func (s *Service) recordBatch(ctx context.Context, envs []events.Envelope) error {
	err := s.Record(ctx, envs...)
	if err != nil && len(envs) == 1 && fault.KindOf(err) == fault.Invalid {
		return bus.Permanent(err)
	}
	return err
}

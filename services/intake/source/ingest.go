package source

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// IngestConsumer is the durable consumer of the ingest stream.
const IngestConsumer = "intake-ingest"

// ingestIntegration names alerts published straight onto NATS.
const ingestIntegration = "nats"

// Register adds the ingest consumer to r: every message on
// fb.ingest.<service> is a generic JSON alert or a CloudEvent for that
// service. Invalid messages are dead-lettered on fb.dlq.intake-ingest with
// the reason. Messages are taken in ordered batches (bus.HandleRawBatch)
// and their alerts re-published as one asynchronous batch, in the order
// producers sent them: a resolve never overtakes its trigger.
func (s *Sources) Register(r *bus.Router) error {
	return r.HandleRawBatch(bus.BatchConfig{ConsumerConfig: bus.ConsumerConfig{
		Name: IngestConsumer, Stream: bus.StreamIngest,
		FilterSubjects: []string{events.SubjectIngestPrefix + ">"}, AckWait: s.cfg.AckWait,
	}}, s.ingest)
}

// ingest re-publishes the alerts of msgs; an invalid message fails the
// batch with a Permanent error, so that the bus retries the messages one
// at a time and dead-letters only that one.
func (s *Sources) ingest(ctx context.Context, msgs []bus.RawMessage) error {
	now := s.svc.Now()
	var items []intake.Received
	for _, m := range msgs {
		service := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		if !intake.ServiceName.MatchString(service) || len(service) > intake.MaxServiceLen {
			return bus.Permanent(fmt.Errorf("subject %s: %q is not a service name", m.Subject, service))
		}
		h := http.Header{}
		for k, v := range m.Header {
			h.Set(k, v)
		}
		d, err := readAlerts(service, h, m.Data)
		if err != nil {
			if fault.KindOf(err) == fault.Invalid {
				return bus.Permanent(fmt.Errorf("invalid alert on %s: %w", m.Subject, err))
			}
			return err
		}
		who := events.Actor{Kind: events.ActorIntegration, ID: "nats:" + service, Name: "NATS ingest", Channel: events.ChannelNATS}
		for i, a := range d.Alerts {
			// Derived from the message's id: a redelivery publishes the
			// same envelope, which JetStream stores once.
			items = append(items, intake.Received{Data: a.Received(ingestIntegration, now), Actor: who,
				ID: intake.DerivedID("ingest", m.ID, strconv.Itoa(i))})
		}
	}
	return s.svc.AcceptAll(ctx, items)
}

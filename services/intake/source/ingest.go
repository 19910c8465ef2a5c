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
// the reason. Like the incident service's alert consumer it keeps one
// message in flight, so alerts are re-published in the order producers sent
// them: a resolve never overtakes its trigger.
func (s *Sources) Register(r *bus.Router) error {
	return r.HandleRaw(bus.ConsumerConfig{
		Name: IngestConsumer, Stream: bus.StreamIngest,
		FilterSubjects: []string{events.SubjectIngestPrefix + ">"}, AckWait: s.cfg.AckWait,
		Workers: 1, MaxAckPending: 1,
	}, s.ingest)
}

func (s *Sources) ingest(ctx context.Context, m bus.RawMessage) error {
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
	now := s.svc.Now()
	who := events.Actor{Kind: events.ActorIntegration, ID: "nats:" + service, Name: "NATS ingest", Channel: events.ChannelNATS}
	for i, a := range d.Alerts {
		// Derived from the message's id: a redelivery publishes the same
		// envelope, which JetStream stores once.
		id := intake.DerivedID("ingest", m.ID, strconv.Itoa(i))
		data := a.Received(ingestIntegration, now)
		if _, err := s.svc.AcceptReceived(ctx, data, who, "", id); err != nil {
			return err
		}
	}
	return nil
}

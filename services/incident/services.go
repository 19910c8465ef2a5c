package incident

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// ConsumerServices is the durable consumer of service configuration events.
const ConsumerServices = "incident-services"

// HandleServiceConfig keeps the service's copy of technical services'
// settings (severity overrides, ack timeout, escalation policy, alert
// grouping rule) in step with
// service.configured and service.removed events from the escalation
// service, which owns that configuration. A removed service keeps its
// incidents and its name; only its settings are cleared.
func (s *Service) HandleServiceConfig(ctx context.Context, env events.Envelope) error {
	var want TechService
	switch env.Type {
	case events.TypeServiceConfigured:
		var c events.ServiceConfigured
		if err := env.DecodeData(&c); err != nil || c.Name == "" {
			return fault.Wrap(ErrInvalid, "service.configured %s: a name is required (%v)", env.ID, err)
		}
		want = TechService{Name: c.Name, Description: c.Description, EscalationPolicy: c.EscalationPolicy,
			AckTimeout: time.Duration(c.AckTimeoutMs) * time.Millisecond, SeverityMap: c.SeverityMap,
			AlertGrouping: c.AlertGrouping}
	case events.TypeServiceRemoved:
		var c events.ServiceRemoved
		if err := env.DecodeData(&c); err != nil || c.Name == "" {
			return fault.Wrap(ErrInvalid, "service.removed %s: a name is required (%v)", env.ID, err)
		}
		want = TechService{Name: c.Name}
	default:
		return nil
	}
	return s.store.InTx(ctx, func(tx Tx) error {
		first, err := tx.MarkProcessed(ctx, ConsumerServices, env.ID)
		if err != nil || !first {
			return err
		}
		cur, err := tx.ServiceGet(ctx, want.Name)
		if errors.Is(err, ErrNotFound) {
			if env.Type == events.TypeServiceRemoved {
				return nil
			}
			cur, err = tx.ServiceCreate(ctx, TechService{ID: uuid.Must(uuid.NewV7()).String(), Name: want.Name, CreatedAt: s.now().UTC()})
		}
		if err != nil {
			return err
		}
		want.ID, want.CreatedAt = cur.ID, cur.CreatedAt
		return tx.ServiceUpdate(ctx, want)
	})
}

// TechService returns the service's copy of a technical service's settings.
// Errors: ErrNotFound.
func (s *Service) TechService(ctx context.Context, name string) (TechService, error) {
	return s.store.ServiceGet(ctx, name)
}

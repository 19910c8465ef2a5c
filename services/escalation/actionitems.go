package escalation

import (
	"context"
	"slices"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// ConsumerActionItems is the durable consumer of action_item.page_due; it
// also names their inbox rows.
const ConsumerActionItems = "escalation-action-items"

// HandleActionItemPageDue pages the owner of an overdue post-mortem action
// item: one page.requested per contact method of the owner's first
// notification rules (those of the smallest delay, sent at once: such a
// page has no acknowledgement that later rules would wait for), every
// contact method for an owner without rules. An owner who is no
// configured user, or has no contact method, is not paged: page.suppressed
// says so. The pages' idempotency keys name the item, its due date, the
// owner and the contact method, so applying the event twice, or two
// events of one item and due date, pages once.
func (s *Service) HandleActionItemPageDue(ctx context.Context, env events.Envelope) error {
	if env.Type != events.TypeActionItemPageDue {
		return nil
	}
	var d events.ActionItemPageDue
	if err := env.DecodeData(&d); err != nil {
		return fault.Wrap(ErrInvalid, "%s %s: %v", env.Type, env.ID, err)
	}
	if d.ActionItemID == "" || d.IncidentID == "" || d.Owner == "" || d.Due == "" {
		return fault.Wrap(ErrInvalid, "%s %s: action_item_id, incident_id, owner and due are required", env.Type, env.ID)
	}
	var r *run
	err := s.store.InTx(ctx, func(tx Tx) error {
		r = s.newRun(tx, &env, "")
		first, err := tx.MarkProcessed(ctx, ConsumerActionItems, env.ID)
		if err != nil || !first {
			return err
		}
		return r.pageOwner(ctx, d)
	})
	if err != nil {
		return err
	}
	s.done(r)
	return nil
}

func (r *run) pageOwner(ctx context.Context, d events.ActionItemPageDue) error {
	cfg, err := r.config(ctx)
	if err != nil {
		return err
	}
	suppress := func(reason string) error {
		r.s.log.Warn("action item owner not paged", "action_item", d.ActionItemID, "owner", d.Owner, "reason", reason)
		return r.emit(ctx, events.TypePageSuppressed, d.IncidentID, events.PageSuppressed{
			IncidentID: d.IncidentID, Number: d.Number, Service: d.Service, Reason: reason, User: d.Owner, ActionItem: d.ActionItemID,
		})
	}
	u, ok := findUser(cfg, d.Owner)
	if !ok {
		return suppress(events.SuppressedUnknownUser)
	}
	var methods []string
	if len(u.NotificationRules) == 0 {
		for _, m := range u.ContactMethods {
			methods = append(methods, m.Name)
		}
	} else {
		first := slices.MinFunc(u.NotificationRules, func(a, b NotificationRule) int { return a.DelayMinutes - b.DelayMinutes }).DelayMinutes
		for _, rule := range u.NotificationRules {
			if rule.DelayMinutes == first && !slices.Contains(methods, rule.ContactMethod) {
				methods = append(methods, rule.ContactMethod)
			}
		}
	}
	base := events.PageRequested{
		IncidentID: d.IncidentID, Number: d.Number, Title: d.IncidentTitle, Severity: d.Severity, Service: d.Service,
		Target: events.PageTarget{Type: TargetUser, ID: u.ID}, User: u.ID,
		ActionItem: &events.PageActionItem{ID: d.ActionItemID, Title: d.Title, Owner: d.Owner, Due: d.Due,
			OverdueHours: d.OverdueHours, TrackerURL: d.TrackerURL},
	}
	sent := false
	for _, name := range methods {
		i := slices.IndexFunc(u.ContactMethods, func(m ContactMethod) bool { return m.Name == name })
		if i < 0 {
			continue
		}
		m := u.ContactMethods[i]
		p := base
		p.ContactMethod = &events.PageContact{Name: m.Name, Type: m.Type, Address: m.Address}
		p.IdempotencyKey = "action-item/" + d.ActionItemID + "/" + d.Due + "/" + u.ID + "/" + m.Name
		if err := r.emitPage(ctx, p); err != nil {
			return err
		}
		sent = true
	}
	if !sent {
		return suppress(events.SuppressedNoContactMethod)
	}
	return nil
}

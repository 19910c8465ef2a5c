package escalation_test

import (
	"context"
	"errors"
	"testing"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/escalation"
)

func pageDue(item, owner, due string) events.Envelope {
	return events.MustNew(events.TypeActionItemPageDue, "postmortem", "inc-9", events.System("postmortem"), events.ActionItemPageDue{
		ActionItemOverdue: events.ActionItemOverdue{ActionItemID: item, IncidentID: "inc-9", Number: 9, Title: "alert on disk growth",
			Owner: owner, Due: due, TrackerURL: "https://tracker.example.com/OPS-118", OverdueDays: 3},
		OverdueHours: 75, IncidentTitle: "Disk 95% full on db1", Service: "checkout", Severity: "SEV2"})
}

// TestActionItemOwnerPaged: the owner of an overdue action item is paged
// through the contact methods of their first notification rules (every
// method without rules), about the item; an event applied twice, or a
// second event of one item and due date, pages once; an owner who is no
// user, or has no contact method, is not paged, and page.suppressed says
// why.
func TestActionItemOwnerPaged(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.apply(escalation.Config{Users: []escalation.User{
			{ID: "bob", ContactMethods: []escalation.ContactMethod{
				{Name: "work-mail", Type: escalation.ContactEmail, Address: "bob@example.com"},
				{Name: "hook", Type: escalation.ContactWebhook, Address: "https://hooks.example.com/bob"},
				{Name: "slack", Type: escalation.ContactSlack, Address: "U024BE7LH"},
			}, NotificationRules: []escalation.NotificationRule{
				{ContactMethod: "slack", DelayMinutes: 10},
				{ContactMethod: "work-mail", DelayMinutes: 2},
				{ContactMethod: "hook", DelayMinutes: 2},
			}},
			{ID: "eve", ContactMethods: []escalation.ContactMethod{
				{Name: "mail", Type: escalation.ContactEmail, Address: "eve@example.com"},
			}},
			{ID: "mute"},
		}})
		h.fresh()
		env := pageDue("ai-1", "bob", "2026-11-20")
		for range 2 {
			if err := h.svc.HandleActionItemPageDue(ctx, env); err != nil {
				t.Fatal(err)
			}
		}
		got := h.fresh()
		if len(got) != 2 {
			t.Fatalf("%d events for one page_due applied twice, want the 2 pages of bob's first rules", len(got))
		}
		keys := map[string]bool{}
		for _, e := range got {
			var p events.PageRequested
			if e.Type != events.TypePageRequested || e.DecodeData(&p) != nil {
				t.Fatalf("emitted %s", e.Type)
			}
			keys[p.IdempotencyKey] = true
			a := p.ActionItem
			if a == nil || a.ID != "ai-1" || a.Title != "alert on disk growth" || a.Due != "2026-11-20" || a.OverdueHours != 75 ||
				a.TrackerURL != "https://tracker.example.com/OPS-118" || p.User != "bob" || p.Target != (events.PageTarget{Type: "user", ID: "bob"}) ||
				p.IncidentID != "inc-9" || p.Number != 9 || p.Title != "Disk 95% full on db1" || p.Level != 0 || p.RuleDelayMinutes != 0 ||
				e.CausationID != env.ID {
				t.Fatalf("page %+v (action item %+v)", p, a)
			}
		}
		if !keys["action-item/ai-1/2026-11-20/bob/work-mail"] || !keys["action-item/ai-1/2026-11-20/bob/hook"] {
			t.Fatalf("page keys %v", keys)
		}
		// Another event of the same item and due date makes the same pages,
		// same ids: the outbox holds them once.
		if err := h.svc.HandleActionItemPageDue(ctx, pageDue("ai-1", "bob", "2026-11-20")); err != nil {
			t.Fatal(err)
		}
		if again := h.fresh(); len(again) != 0 {
			t.Fatalf("second page_due of one item and due date: %d more events", len(again))
		}
		// No rules: every contact method.
		if err := h.svc.HandleActionItemPageDue(ctx, pageDue("ai-2", "eve", "2026-11-21")); err != nil {
			t.Fatal(err)
		}
		if got := h.fresh(); len(got) != 1 || got[0].Type != events.TypePageRequested {
			t.Fatalf("eve: %d events", len(got))
		}
		// Nobody to page.
		for owner, reason := range map[string]string{"Bob Smith": events.SuppressedUnknownUser, "mute": events.SuppressedNoContactMethod} {
			if err := h.svc.HandleActionItemPageDue(ctx, pageDue("ai-3", owner, "2026-11-22")); err != nil {
				t.Fatal(err)
			}
			got := h.fresh()
			var s events.PageSuppressed
			if len(got) != 1 || got[0].Type != events.TypePageSuppressed || got[0].DecodeData(&s) != nil ||
				s.Reason != reason || s.User != owner || s.ActionItem != "ai-3" || s.IncidentID != "inc-9" {
				t.Fatalf("%s: %d events %+v", owner, len(got), s)
			}
		}
		// No escalation was started or timer set for any of it.
		if ts := h.pendingTimers(); len(ts) != 0 {
			t.Fatalf("timers %v", ts)
		}
		bad := events.MustNew(events.TypeActionItemPageDue, "postmortem", "inc-9", events.System("postmortem"), events.ActionItemPageDue{})
		if err := h.svc.HandleActionItemPageDue(ctx, bad); !errors.Is(err, escalation.ErrInvalid) || fault.KindOf(err) != fault.Invalid {
			t.Fatalf("empty page_due: %v", err)
		}
	})
}

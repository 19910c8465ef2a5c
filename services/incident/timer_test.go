package incident_test

import (
	"context"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/services/incident"
)

// fireDue moves the clock to at, then claims and fires every incident timer
// due by then; it returns how many fired.
func (h *harness) fireDue(t *testing.T, at time.Time) int {
	t.Helper()
	ctx := context.Background()
	h.clock.mu.Lock()
	h.clock.t = at // the service sees the time the timers fire at
	h.clock.mu.Unlock()
	ts, err := h.store.Timers().ClaimDue(ctx, at, 100, "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range ts {
		if err := h.svc.HandleTimer(ctx, tm); err != nil {
			t.Fatal(err)
		}
	}
	return len(ts)
}

func (h *harness) now() time.Time {
	h.clock.mu.Lock()
	defer h.clock.mu.Unlock()
	return h.clock.t
}

// TestAckTimeoutAndSnooze: an acknowledged incident not resolved within its
// service's ack timeout re-escalates; a snooze moves that to the snooze's
// end; resolving cancels it. Timers are durable rows fired once.
func TestAckTimeoutAndSnooze(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, true)
		ctx := context.Background()
		if err := h.svc.HandleAlert(ctx, alert(events.ActionTrigger, "k")); err != nil {
			t.Fatal(err)
		}
		err := h.store.InTx(ctx, func(tx incident.Tx) error {
			svc, err := tx.ServiceGet(ctx, "checkout")
			if err != nil {
				return err
			}
			svc.AckTimeout = 10 * time.Minute
			return tx.ServiceUpdate(ctx, svc)
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.Execute(ctx, cmdWith(events.CmdIncidentAcknowledge, "INC-1", nil), false); err != nil {
			t.Fatal(err)
		}
		acked := h.now()
		if n := h.fireDue(t, acked.Add(9*time.Minute)); n != 0 {
			t.Fatalf("%d timers fired before the ack timeout", n)
		}
		if n := h.fireDue(t, acked.Add(11*time.Minute)); n != 1 {
			t.Fatalf("%d timers fired at the ack timeout, want 1", n)
		}
		inc, _ := h.svc.Get(ctx, "INC-1")
		if inc.Status != incident.StatusEscalated || inc.EscalationLevel != 1 {
			t.Fatalf("after ack timeout: %+v", inc)
		}
		if n := h.fireDue(t, h.now().Add(time.Hour)); n != 0 {
			t.Fatalf("the ack timeout fired again (%d)", n)
		}

		// acknowledge again and snooze for 30 minutes: nothing at +11m, escalation at +31m
		if _, err := h.svc.Execute(ctx, cmdWith(events.CmdIncidentAcknowledge, "INC-1", nil), false); err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.Execute(ctx, cmdWith(events.CmdIncidentSnooze, "INC-1", func(c *events.IncidentCommand) { c.Minutes = 30 }), false); err != nil {
			t.Fatal(err)
		}
		snoozed := h.now()
		if n := h.fireDue(t, snoozed.Add(11*time.Minute)); n != 0 {
			t.Fatalf("a snoozed incident re-escalated at its ack timeout (%d)", n)
		}
		if n := h.fireDue(t, snoozed.Add(31*time.Minute)); n != 1 {
			t.Fatalf("%d timers at the snooze's end, want 1", n)
		}
		inc, _ = h.svc.Get(ctx, "INC-1")
		if inc.Status != incident.StatusEscalated || inc.EscalationLevel != 2 || inc.SnoozedUntil != nil {
			t.Fatalf("after the snooze: %+v", inc)
		}

		// acknowledged then resolved: the timer is gone
		if _, err := h.svc.Execute(ctx, cmdWith(events.CmdIncidentAcknowledge, "INC-1", nil), false); err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.Execute(ctx, cmdWith(events.CmdIncidentResolve, "INC-1", nil), false); err != nil {
			t.Fatal(err)
		}
		if n := h.fireDue(t, h.now().Add(24*time.Hour)); n != 0 {
			t.Fatalf("a resolved incident's timer fired (%d)", n)
		}
		got := h.types(t)
		escalations := 0
		for _, typ := range got {
			if typ == events.TypeIncidentEscalated {
				escalations++
			}
		}
		if escalations != 2 {
			t.Fatalf("%d incident.escalated events, want 2: %v", escalations, got)
		}
	})
}

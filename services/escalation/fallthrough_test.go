package escalation_test

import (
	"context"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/services/escalation"
)

func failed(incidentID, pageKey, user, method string, level int) events.Envelope {
	return events.MustNew(events.TypeNotificationFailed, "notify", incidentID, events.System("notify"), events.NotificationFailed{
		NotificationSent: events.NotificationSent{IncidentID: incidentID, Number: 7, DeliveryKey: pageKey + "|x", PageKey: pageKey,
			Provider: "webhook", Level: level, User: user, ContactMethod: method, Attempts: 1},
		Reason: "webhook answered 410 Gone",
	})
}

func (h *harness) fail(env events.Envelope) {
	h.t.Helper()
	if err := h.svc.HandleNotificationFailed(context.Background(), env); err != nil {
		h.t.Fatalf("handle %s: %v", env.Type, err)
	}
}

// TestFailedPageFallsThrough: a failed page sends the user's next
// notification rule at once, not after its delay; once, however often the
// failure is delivered; and not for pages of a stopped escalation or an
// earlier round.
func TestFailedPageFallsThrough(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, h *harness) {
		cfg := twoLevels()
		cfg.Users[0].ContactMethods = append(cfg.Users[0].ContactMethods,
			escalation.ContactMethod{Name: "hook", Type: escalation.ContactWebhook, Address: "https://hooks.example.com/alice"})
		cfg.Users[0].NotificationRules = []escalation.NotificationRule{
			{ContactMethod: "slack", DelayMinutes: 0},
			{ContactMethod: "hook", DelayMinutes: 10},
			{ContactMethod: "email", DelayMinutes: 5},
		}
		cfg.Policies[0].Levels[0].DelayMinutes = 30
		h.apply(cfg)
		h.fresh()
		h.deliver(triggered("inc-1", "checkout"))
		wantPages(t, "at once", h.advance(0), page{"alice", "slack", 1, 0})

		// Slack failed: the next rule by delay (email, 5 min) goes out now.
		slackFailed := failed("inc-1", "inc-1/1/alice/slack", "alice", "slack", 1)
		h.fail(slackFailed)
		wantPages(t, "after the slack failure", h.advance(0), page{"alice", "email", 1, 5})
		h.fail(slackFailed) // redelivered
		wantPages(t, "failure redelivered", h.advance(0))
		wantPages(t, "at 5 minutes", h.advance(5*time.Minute))

		// A failure of another user's or another level's page changes nothing.
		h.fail(failed("inc-1", "inc-1/1/bob/slack", "bob", "slack", 1))
		h.fail(failed("inc-1", "inc-1/2/alice/slack", "alice", "slack", 2))
		h.fail(failed("inc-9", "inc-9/1/alice/slack", "alice", "slack", 1))
		wantPages(t, "unrelated failures", h.advance(0))

		// Email failed too: the webhook rule goes out now instead of at 10.
		h.fail(failed("inc-1", "inc-1/1/alice/email", "alice", "email", 1))
		wantPages(t, "after the email failure", h.advance(0), page{"alice", "hook", 1, 10})
		wantPages(t, "at 10 minutes", h.advance(5*time.Minute))
		// No rule left: nothing.
		h.fail(failed("inc-1", "inc-1/1/alice/hook", "alice", "hook", 1))
		wantPages(t, "no rule left", h.advance(0))

		// A stopped escalation does not fall through.
		h.deliver(triggered("inc-2", "checkout"))
		wantPages(t, "inc-2", h.advance(0), page{"alice", "slack", 1, 0})
		h.deliver(transitioned(events.TypeIncidentAcknowledged, "inc-2", 0))
		h.fail(failed("inc-2", "inc-2/1/alice/slack", "alice", "slack", 1))
		wantPages(t, "acknowledged", h.advance(0))

		// A failure from before a reopen does not touch the new round.
		h.deliver(triggered("inc-3", "checkout"))
		wantPages(t, "inc-3", h.advance(0), page{"alice", "slack", 1, 0})
		h.deliver(transitioned(events.TypeIncidentReopened, "inc-3", 0))
		wantPages(t, "reopened", h.advance(0), page{"alice", "slack", 1, 0})
		h.fail(failed("inc-3", "inc-3/1/alice/slack", "alice", "slack", 1))
		wantPages(t, "old round failure", h.advance(0))
		h.fail(failed("inc-3", "inc-3#2/1/alice/slack", "alice", "slack", 1))
		wantPages(t, "new round failure", h.advance(0), page{"alice", "email", 1, 5})
	})
}

package escalation

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/timer"
)

// ConsumerNotifications is the durable consumer of notification.failed; it
// also names their inbox rows.
const ConsumerNotifications = "escalation-notifications"

// HandleNotificationFailed falls through to the user's next notification
// rule when a page could not be delivered: the user's earliest pending
// notification-rule timer of that level is made due now, so its page goes
// out at once instead of after its delay. A failure of a channel page, of a
// page of an earlier round (the incident was reopened since), or of an
// escalation that stopped (acknowledged, resolved) changes nothing; so does
// a failure when no rule is left. Applying the same event twice changes
// nothing.
func (s *Service) HandleNotificationFailed(ctx context.Context, env events.Envelope) error {
	if env.Type != events.TypeNotificationFailed {
		return nil
	}
	var d events.NotificationFailed
	if err := env.DecodeData(&d); err != nil {
		return fault.Wrap(ErrInvalid, "%s %s: %v", env.Type, env.ID, err)
	}
	if d.User == "" || d.IncidentID == "" {
		return nil
	}
	var r *run
	err := s.store.InTx(ctx, func(tx Tx) error {
		r = s.newRun(tx, &env, "")
		first, err := tx.MarkProcessed(ctx, ConsumerNotifications, env.ID)
		if err != nil || !first {
			return err
		}
		return r.fallThrough(ctx, d)
	})
	if err != nil {
		return err
	}
	s.done(r)
	return nil
}

func (r *run) fallThrough(ctx context.Context, d events.NotificationFailed) error {
	esc, err := r.tx.EscalationGet(ctx, d.IncidentID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if esc.Status != StatusActive || !strings.HasPrefix(d.PageKey, pageKey(&esc, d.Level, d.User, "")+"/") {
		return nil
	}
	// Notify timer keys are incident/level/user/rule-index (pageUser).
	prefix := esc.IncidentID + "/" + strconv.Itoa(d.Level) + "/" + d.User + "/"
	var (
		next  timer.Timer
		found bool
	)
	for _, key := range esc.NotifyTimers {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		t, err := r.tx.TimerGet(ctx, TimerNotify, key)
		if errors.Is(err, timer.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if !found || t.DueAt.Before(next.DueAt) {
			next, found = t, true
		}
	}
	if !found || !next.DueAt.After(r.now) {
		return nil
	}
	r.scheduled = true
	return r.tx.ScheduleTimer(ctx, timer.Timer{Kind: TimerNotify, Key: next.Key, DueAt: r.now, Payload: next.Payload, CreatedAt: r.now})
}

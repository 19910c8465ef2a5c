package postmortem

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/timer"
)

// Timer kinds of the service; their key is the action item's id.
const (
	// TimerOverdue reports an action item overdue.
	TimerOverdue = "postmortem.action_item_overdue"
	// TimerPage pages the owner of an overdue action item.
	TimerPage = "postmortem.action_item_page"
)

const dateLayout = "2006-01-02"

// ActionItemInput creates or changes an action item (nil fields are left
// as they are on a change; Title and Owner are required on creation).
type ActionItemInput struct {
	Title      *string `json:"title,omitempty"`
	Owner      *string `json:"owner,omitempty"`
	Due        *string `json:"due,omitempty"`
	Status     *string `json:"status,omitempty"`
	TrackerURL *string `json:"tracker_url,omitempty"`
}

func (in ActionItemInput) apply(a *ActionItem) error {
	if in.Title != nil {
		t := strings.TrimSpace(*in.Title)
		if t == "" || utf8.RuneCountInString(t) > maxTitle || !utf8.ValidString(t) {
			return fault.Field("title", "must be 1 to %d characters", maxTitle)
		}
		a.Title = t
	}
	if in.Owner != nil {
		o := strings.TrimSpace(*in.Owner)
		if o == "" || len(o) > 100 || !utf8.ValidString(o) {
			return fault.Field("owner", "must be 1 to 100 characters")
		}
		a.Owner = o
	}
	if in.Due != nil {
		if *in.Due != "" {
			if _, err := time.Parse(dateLayout, *in.Due); err != nil {
				return fault.Field("due", "must be a date YYYY-MM-DD, got %q", *in.Due)
			}
		}
		a.Due = *in.Due
	}
	if in.Status != nil {
		switch *in.Status {
		case ItemOpen, ItemDone, ItemWontDo:
			a.Status = *in.Status
		default:
			return fault.Field("status", "must be open, done or wont_do, got %q", *in.Status)
		}
	}
	if in.TrackerURL != nil {
		if *in.TrackerURL != "" {
			u, err := url.Parse(*in.TrackerURL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(*in.TrackerURL) > 2048 {
				return fault.Field("tracker_url", "must be an http(s) URL")
			}
		}
		a.TrackerURL = *in.TrackerURL
	}
	return nil
}

// CreateActionItem adds an action item to an incident.
func (s *Service) CreateActionItem(ctx context.Context, ref string, in ActionItemInput) (ActionItem, error) {
	if in.Title == nil {
		return ActionItem{}, fault.Field("title", "is required")
	}
	if in.Owner == nil {
		return ActionItem{}, fault.Field("owner", "is required")
	}
	var out ActionItem
	scheduled := false
	err := s.store.InTx(ctx, func(tx Tx) error {
		inc, err := resolve(ctx, tx, ref)
		if err != nil {
			return err
		}
		now := s.now()
		a := ActionItem{ID: "ai-" + uuid.Must(uuid.NewV7()).String(), IncidentID: inc.ID, Status: ItemOpen, CreatedAt: now, UpdatedAt: now}
		if err := in.apply(&a); err != nil {
			return err
		}
		if err := tx.ActionItemInsert(ctx, a); err != nil {
			return fmt.Errorf("add action item: %w", err)
		}
		scheduled, err = s.scheduleOverdue(ctx, tx, a)
		out = a
		return err
	})
	if err == nil && scheduled {
		s.cfg.OnTimer()
	}
	return out, err
}

// UpdateActionItem changes an action item.
func (s *Service) UpdateActionItem(ctx context.Context, id string, in ActionItemInput) (ActionItem, error) {
	var out ActionItem
	scheduled := false
	err := s.store.InTx(ctx, func(tx Tx) error {
		a, err := tx.ActionItemGet(ctx, id)
		if err != nil {
			return err
		}
		due := a.Due
		if err := in.apply(&a); err != nil {
			return err
		}
		if a.Due != due {
			a.OverdueAt, a.PagedAt = nil, nil // a new due date may be missed again
		}
		a.UpdatedAt = s.now()
		if err := tx.ActionItemUpdate(ctx, a); err != nil {
			return err
		}
		scheduled, err = s.scheduleOverdue(ctx, tx, a)
		out = a
		return err
	})
	if err == nil && scheduled {
		s.cfg.OnTimer()
	}
	return out, err
}

// overdueAt is when an item is reported: OverdueAfter past the end of
// its due day (UTC).
func (s *Service) overdueAt(a ActionItem) (time.Time, bool) {
	if a.Due == "" || a.Status != ItemOpen || a.OverdueAt != nil || s.cfg.OverdueAfter < 0 {
		return time.Time{}, false
	}
	d, err := time.Parse(dateLayout, a.Due)
	if err != nil {
		return time.Time{}, false
	}
	return d.Add(24 * time.Hour).Add(s.cfg.OverdueAfter), true
}

// pageAt is when an item's owner is paged: PageOverdueAfter past the end
// of its due day (UTC), unless paging is off or the owner was paged for
// this due date.
func (s *Service) pageAt(a ActionItem) (time.Time, bool) {
	if a.Due == "" || a.Status != ItemOpen || a.PagedAt != nil || s.cfg.PageOverdueAfter <= 0 {
		return time.Time{}, false
	}
	d, err := time.Parse(dateLayout, a.Due)
	if err != nil {
		return time.Time{}, false
	}
	return d.Add(24 * time.Hour).Add(s.cfg.PageOverdueAfter), true
}

// scheduleOverdue keeps the item's timers in line with it: the overdue
// timer pending while it is open, has a due date and was not reported
// yet; the page timer likewise while its owner was not paged. A timer that
// no longer applies (done, won't do, no due date) is cancelled; a moved
// due date moves it.
func (s *Service) scheduleOverdue(ctx context.Context, tx Tx, a ActionItem) (bool, error) {
	scheduled := false
	for _, k := range []struct {
		kind string
		at   func(ActionItem) (time.Time, bool)
	}{{TimerOverdue, s.overdueAt}, {TimerPage, s.pageAt}} {
		at, ok := k.at(a)
		if !ok {
			if _, err := tx.CancelTimer(ctx, k.kind, a.ID); err != nil {
				return false, err
			}
			continue
		}
		if err := tx.ScheduleTimer(ctx, timer.Timer{Kind: k.kind, Key: a.ID, DueAt: at, CreatedAt: s.now()}); err != nil {
			return false, err
		}
		scheduled = true
	}
	return scheduled, nil
}

// HandleTimer fires a durable timer: an action item that is still open and
// past due is reported with action_item.overdue (once), and its owner
// paged with action_item.page_due (once per due date).
func (s *Service) HandleTimer(ctx context.Context, t timer.Timer) error {
	switch t.Kind {
	case TimerOverdue:
		return s.fireOverdue(ctx, t)
	case TimerPage:
		return s.firePage(ctx, t)
	}
	return fmt.Errorf("postmortem: unknown timer kind %q", t.Kind)
}

// firePage emits action_item.page_due for an item still open, past its
// page time and not paged for its due date; the timer is gone with it in
// one transaction, so a timer fired again (a crash before its ack) finds
// nothing to do.
func (s *Service) firePage(ctx context.Context, t timer.Timer) error {
	return s.fireItemTimer(ctx, t, s.pageAt, func(a *ActionItem, inc Incident, now time.Time) (events.Envelope, error) {
		due, _ := time.Parse(dateLayout, a.Due)
		late := now.Sub(due.Add(24 * time.Hour))
		a.PagedAt = &now
		return events.New(events.TypeActionItemPageDue, Name, a.IncidentID, events.System(Name), events.ActionItemPageDue{
			ActionItemOverdue: events.ActionItemOverdue{ActionItemID: a.ID, IncidentID: a.IncidentID, Number: inc.Number, Title: a.Title,
				Owner: a.Owner, Due: a.Due, TrackerURL: a.TrackerURL, OverdueDays: int(late / (24 * time.Hour))},
			OverdueHours: int(late / time.Hour), IncidentTitle: inc.Title, Service: inc.Service, Severity: inc.Severity,
		}, events.At(now))
	}, s.cfg.Metrics.actionItemPaged)
}

func (s *Service) fireOverdue(ctx context.Context, t timer.Timer) error {
	return s.fireItemTimer(ctx, t, s.overdueAt, func(a *ActionItem, inc Incident, now time.Time) (events.Envelope, error) {
		due, _ := time.Parse(dateLayout, a.Due)
		a.OverdueAt = &now
		return events.New(events.TypeActionItemOverdue, Name, a.IncidentID, events.System(Name), events.ActionItemOverdue{
			ActionItemID: a.ID, IncidentID: a.IncidentID, Number: inc.Number, Title: a.Title, Owner: a.Owner, Due: a.Due,
			TrackerURL: a.TrackerURL, OverdueDays: int(now.Sub(due.Add(24*time.Hour)) / (24 * time.Hour)),
		}, events.At(now))
	}, s.cfg.Metrics.actionItemOverdue)
}

// fireItemTimer runs an action item's timer in the transaction that deletes
// it: when the item is still due at its time (dueAt reports it; done, won't
// do, already reported or moved since the timer was set is not), event
// builds the event and marks the item, which is saved and the event
// emitted; counted then counts it after the commit.
func (s *Service) fireItemTimer(ctx context.Context, t timer.Timer, dueAt func(ActionItem) (time.Time, bool),
	event func(a *ActionItem, inc Incident, now time.Time) (events.Envelope, error), counted func()) error {
	emitted := false
	err := s.store.FireTimer(ctx, t, func(tx Tx) error {
		a, err := tx.ActionItemGet(ctx, t.Key)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		at, ok := dueAt(a)
		now := s.now()
		if !ok || now.Before(at) {
			return nil
		}
		inc, err := tx.IncidentGet(ctx, a.IncidentID)
		if err != nil {
			return err
		}
		ev, err := event(&a, inc, now)
		if err != nil {
			return err
		}
		if err := tx.ActionItemUpdate(ctx, a); err != nil {
			return err
		}
		emitted = true
		return tx.Emit(ctx, ev)
	})
	if errors.Is(err, timer.ErrGone) {
		return nil
	}
	if err == nil && emitted {
		counted()
		s.cfg.OnCommit()
	}
	return err
}

// ActionItems lists action items; overdue keeps the open ones whose due
// date has passed (by the service's clock, UTC).
func (s *Service) ActionItems(ctx context.Context, incidentRef, status string, overdue bool) ([]ActionItem, error) {
	f := ActionItemFilter{Status: status}
	if status != "" && status != ItemOpen && status != ItemDone && status != ItemWontDo {
		return nil, fault.Field("status", "must be open, done or wont_do, got %q", status)
	}
	if incidentRef != "" {
		inc, err := s.ResolveIncident(ctx, incidentRef)
		if err != nil {
			return nil, err
		}
		f.IncidentID = inc.ID
	}
	if overdue {
		if status != "" && status != ItemOpen {
			return nil, fault.Field("status", "overdue items are open; drop status or use status=open")
		}
		f.Status = ItemOpen
		f.DueBefore = s.now().Format(dateLayout)
	}
	return s.store.ActionItems(ctx, f)
}

package postmortem

import (
	"context"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// ErrSelfApproval refuses the approval of a status update by the person
// who drafted it: customer communication needs a second person (four-eyes
// rule). It maps to 403.
var ErrSelfApproval = fault.New(fault.Forbidden, "self_approval", "the author of a status update cannot approve it")

// maxUpdateBody caps a status update's text.
const maxUpdateBody = 16 << 10

// StatusUpdateInput drafts a status update.
type StatusUpdateInput struct {
	Audience string `json:"audience"`
	Status   string `json:"status"`
	Title    string `json:"title"`
	Body     string `json:"body"`
}

func (in StatusUpdateInput) validate() error {
	if in.Audience != AudienceInternal && in.Audience != AudienceExternal {
		return fault.Field("audience", "must be internal or external, got %q", in.Audience)
	}
	if !slices.Contains(updateStatuses, in.Status) {
		return fault.Field("status", "must be one of %s, got %q", strings.Join(updateStatuses, ", "), in.Status)
	}
	if t := strings.TrimSpace(in.Title); t == "" || utf8.RuneCountInString(t) > maxTitle || !utf8.ValidString(t) {
		return fault.Field("title", "must be 1 to %d characters", maxTitle)
	}
	if strings.TrimSpace(in.Body) == "" || len(in.Body) > maxUpdateBody || !utf8.ValidString(in.Body) {
		return fault.Field("body", "must be 1 to %d bytes of text", maxUpdateBody)
	}
	return nil
}

// DraftStatusUpdate drafts an update on an incident. Nothing is published
// before a person with the comms:approve scope approves it.
func (s *Service) DraftStatusUpdate(ctx context.Context, actor events.Actor, ref string, in StatusUpdateInput) (StatusUpdate, error) {
	if err := in.validate(); err != nil {
		return StatusUpdate{}, err
	}
	var out StatusUpdate
	err := s.store.InTx(ctx, func(tx Tx) error {
		inc, err := resolve(ctx, tx, ref)
		if err != nil {
			return err
		}
		u := StatusUpdate{ID: "su-" + uuid.Must(uuid.NewV7()).String(), IncidentID: inc.ID, Audience: in.Audience, Status: in.Status,
			Title: strings.TrimSpace(in.Title), Body: in.Body, State: UpdateDraft, DraftedBy: actorName(actor), CreatedAt: s.now()}
		out = u
		return tx.StatusUpdateInsert(ctx, u)
	})
	return out, err
}

// ApproveStatusUpdate approves a draft. The HTTP route requires the
// comms:approve scope; the approver is recorded and must not be the
// author (ErrSelfApproval).
func (s *Service) ApproveStatusUpdate(ctx context.Context, actor events.Actor, id string) (StatusUpdate, error) {
	return s.moveUpdate(ctx, id, UpdateDraft, func(u *StatusUpdate) {
		now := s.now()
		u.State, u.ApprovedBy, u.ApprovedAt = UpdateApproved, actorName(actor), &now
	}, func(_ context.Context, _ Tx, u StatusUpdate) error {
		// Checked after the write so the state checks come first; the
		// error rolls the approval back.
		if u.DraftedBy != "" && u.DraftedBy == u.ApprovedBy {
			return fault.Wrap(ErrSelfApproval, "%s drafted status update %s and cannot approve it; another holder of comms:approve must (four-eyes rule)", u.DraftedBy, u.ID)
		}
		return nil
	})
}

// PublishStatusUpdate publishes an approved update: an external one joins
// the public status feed, and status_update.published is emitted for
// notify to deliver. A draft cannot be published (ErrIllegalState).
func (s *Service) PublishStatusUpdate(ctx context.Context, actor events.Actor, id string) (StatusUpdate, error) {
	u, err := s.moveUpdate(ctx, id, UpdateApproved, func(u *StatusUpdate) {
		now := s.now()
		u.State, u.PublishedAt = UpdatePublished, &now
	}, func(ctx context.Context, tx Tx, u StatusUpdate) error {
		inc, err := tx.IncidentGet(ctx, u.IncidentID)
		if err != nil {
			return err
		}
		ev, err := events.New(events.TypeStatusUpdatePublished, Name, u.IncidentID, actor, events.StatusUpdatePublished{
			UpdateID: u.ID, IncidentID: u.IncidentID, Number: inc.Number, Service: inc.Service, Audience: u.Audience, Status: u.Status,
			Title: u.Title, Body: u.Body, ApprovedBy: u.ApprovedBy, PublishedAt: *u.PublishedAt,
		}, events.At(*u.PublishedAt))
		if err != nil {
			return err
		}
		return tx.Emit(ctx, ev)
	})
	if err == nil {
		s.cfg.Metrics.statusUpdatePublished(u.Audience)
		s.cfg.OnCommit()
	}
	return u, err
}

func (s *Service) moveUpdate(ctx context.Context, id, from string, fn func(*StatusUpdate), after func(context.Context, Tx, StatusUpdate) error) (StatusUpdate, error) {
	var out StatusUpdate
	err := s.store.InTx(ctx, func(tx Tx) error {
		u, err := tx.StatusUpdateGet(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return fault.Wrap(ErrNotFound, "no status update %s", id)
		}
		if err != nil {
			return err
		}
		if u.State != from {
			return fault.Wrap(ErrIllegalState, "status update %s is %s; it must be %s for this", id, u.State, from)
		}
		fn(&u)
		if err := tx.StatusUpdateUpdate(ctx, u, from); err != nil {
			return err
		}
		if after != nil {
			if err := after(ctx, tx, u); err != nil {
				return err
			}
		}
		out = u
		return nil
	})
	return out, err
}

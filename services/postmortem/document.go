package postmortem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Limits on document text.
const (
	maxTitle   = 200
	maxSection = 64 << 10
)

// SectionPatch changes the sections it names (nil leaves one as it is).
type SectionPatch struct {
	Summary             *string `json:"summary,omitempty"`
	Impact              *string `json:"impact,omitempty"`
	Detection           *string `json:"detection,omitempty"`
	Response            *string `json:"response,omitempty"`
	RootCause           *string `json:"root_cause,omitempty"`
	ContributingFactors *string `json:"contributing_factors,omitempty"`
	WentWell            *string `json:"went_well,omitempty"`
	WentPoorly          *string `json:"went_poorly,omitempty"`
	GotLucky            *string `json:"got_lucky,omitempty"`
}

func (p SectionPatch) apply(s *Sections) error {
	for _, f := range []struct {
		name string
		src  *string
		dst  *string
	}{
		{"sections.summary", p.Summary, &s.Summary}, {"sections.impact", p.Impact, &s.Impact},
		{"sections.detection", p.Detection, &s.Detection}, {"sections.response", p.Response, &s.Response},
		{"sections.root_cause", p.RootCause, &s.RootCause}, {"sections.contributing_factors", p.ContributingFactors, &s.ContributingFactors},
		{"sections.went_well", p.WentWell, &s.WentWell}, {"sections.went_poorly", p.WentPoorly, &s.WentPoorly},
		{"sections.got_lucky", p.GotLucky, &s.GotLucky},
	} {
		if f.src == nil {
			continue
		}
		if len(*f.src) > maxSection || !utf8.ValidString(*f.src) {
			return fault.Field(f.name, "must be valid UTF-8 of at most %d bytes", maxSection)
		}
		*f.dst = *f.src
	}
	return nil
}

// Edit is a change to a post-mortem, based on the revision its author read.
type Edit struct {
	// BaseRevision is the revision the edit was made on; required.
	BaseRevision int64
	Title        *string
	Sections     SectionPatch
}

func checkTitle(t string) error {
	t = strings.TrimSpace(t)
	if t == "" || utf8.RuneCountInString(t) > maxTitle || !utf8.ValidString(t) {
		return fault.Field("title", "must be 1 to %d characters", maxTitle)
	}
	return nil
}

func actorName(a events.Actor) string {
	if a.Name != "" {
		return a.Name
	}
	return a.ID
}

// CreatePostmortem starts the incident's post-mortem from the template
// (ErrExists when it has one) and emits postmortem.created.
func (s *Service) CreatePostmortem(ctx context.Context, actor events.Actor, ref, title string) (Postmortem, error) {
	var out Postmortem
	err := s.store.InTx(ctx, func(tx Tx) error {
		inc, err := resolve(ctx, tx, ref)
		if err != nil {
			return err
		}
		if title == "" {
			title = "Post-mortem: " + inc.Title
		}
		if err := checkTitle(title); err != nil {
			return err
		}
		if p, err := tx.PostmortemByIncident(ctx, inc.ID); err == nil {
			return fault.Wrap(ErrExists, "%s already has post-mortem %s", inc.Key(), p.ID)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		now := s.now()
		p := Postmortem{ID: "pm-" + uuid.Must(uuid.NewV7()).String(), IncidentID: inc.ID, State: StateDraft, Revision: 1,
			Title: strings.TrimSpace(title), Sections: Template(inc), CreatedBy: actorName(actor), CreatedAt: now, UpdatedAt: now}
		if err := tx.PostmortemInsert(ctx, p); err != nil {
			return err
		}
		if err := tx.RevisionAdd(ctx, revisionOf(p, actor)); err != nil {
			return err
		}
		ev, err := events.New(events.TypePostmortemCreated, Name, inc.ID, actor,
			events.PostmortemCreated{IncidentID: inc.ID, Number: inc.Number, PostmortemID: p.ID, Title: p.Title}, events.At(now))
		if err != nil {
			return err
		}
		if err := tx.Emit(ctx, ev); err != nil {
			return err
		}
		out = p
		return nil
	})
	if err == nil {
		s.cfg.OnCommit()
	}
	return out, err
}

func revisionOf(p Postmortem, actor events.Actor) Revision {
	return Revision{PostmortemID: p.ID, Revision: p.Revision, State: p.State, Title: p.Title, Sections: p.Sections,
		Author: actorName(actor), At: p.UpdatedAt}
}

// GetPostmortem returns a post-mortem by id, or the post-mortem of an
// incident reference (INC-42).
func (s *Service) GetPostmortem(ctx context.Context, ref string) (Postmortem, error) {
	p, err := s.store.PostmortemGet(ctx, ref)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return p, err
	}
	inc, ierr := s.ResolveIncident(ctx, ref)
	if ierr != nil {
		return Postmortem{}, fault.Wrap(ErrNotFound, "no post-mortem %s", ref)
	}
	p, err = s.store.PostmortemByIncident(ctx, inc.ID)
	if errors.Is(err, ErrNotFound) {
		return Postmortem{}, fault.Wrap(ErrNotFound, "%s has no post-mortem yet", inc.Key())
	}
	return p, err
}

// EditPostmortem applies an edit made on e.BaseRevision. An edit based on
// an older revision is refused with ErrStaleRevision (HTTP 409) and
// changes nothing; a published post-mortem is final.
func (s *Service) EditPostmortem(ctx context.Context, actor events.Actor, id string, e Edit) (Postmortem, error) {
	if e.BaseRevision <= 0 {
		return Postmortem{}, fault.Field("base_revision", "is required: the revision this edit was made on")
	}
	if e.Title != nil {
		if err := checkTitle(*e.Title); err != nil {
			return Postmortem{}, err
		}
	}
	return s.change(ctx, actor, id, e.BaseRevision, func(p *Postmortem) error {
		if p.State == StatePublished {
			return fault.Wrap(ErrIllegalState, "post-mortem %s is published; it can no longer be edited", p.ID)
		}
		if e.Title != nil {
			p.Title = strings.TrimSpace(*e.Title)
		}
		return e.Sections.apply(&p.Sections)
	}, nil)
}

// ParseState reads a post-mortem state.
func ParseState(s string) (State, error) {
	st := State(s)
	if st != StateDraft && st != StateInReview && st != StatePublished {
		return "", fault.Field("state", "must be draft, in_review or published, got %q", s)
	}
	return st, nil
}

// SetState moves a post-mortem through draft → in_review → published (or
// back from in_review to draft). Publishing emits postmortem.published,
// which opens the close gate of SEV1/SEV2 incidents.
func (s *Service) SetState(ctx context.Context, actor events.Actor, id string, base int64, to State) (Postmortem, error) {
	if base <= 0 {
		return Postmortem{}, fault.Field("base_revision", "is required: the revision this change was made on")
	}
	var published bool
	p, err := s.change(ctx, actor, id, base, func(p *Postmortem) error {
		if !slices.Contains(next[p.State], to) {
			return fault.Wrap(ErrIllegalState, "post-mortem %s cannot go from %s to %s", p.ID, p.State, to)
		}
		p.State = to
		if to == StatePublished {
			now := s.now()
			p.PublishedAt = &now
		}
		return nil
	}, func(ctx context.Context, tx Tx, p Postmortem) error {
		if to != StatePublished {
			return nil
		}
		published = true
		ev, err := events.New(events.TypePostmortemPublished, Name, p.IncidentID, actor,
			events.PostmortemPublished{IncidentID: p.IncidentID, PostmortemID: p.ID, URL: s.postmortemURL(p.ID)}, events.At(s.now()))
		if err != nil {
			return err
		}
		return tx.Emit(ctx, ev)
	})
	if err == nil && published {
		s.cfg.Metrics.postmortemPublished()
	}
	return p, err
}

func (s *Service) postmortemURL(id string) string {
	if s.cfg.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(s.cfg.PublicURL, "/") + "/api/v1/postmortems/" + id + "?format=md"
}

// change applies fn to the post-mortem if it is still at base, saves it as
// the next revision, and runs after in the same transaction.
func (s *Service) change(ctx context.Context, actor events.Actor, id string, base int64, fn func(*Postmortem) error,
	after func(context.Context, Tx, Postmortem) error) (Postmortem, error) {
	var out Postmortem
	emitted := false
	err := s.store.InTx(ctx, func(tx Tx) error {
		p, err := tx.PostmortemGet(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return fault.Wrap(ErrNotFound, "no post-mortem %s", id)
		}
		if err != nil {
			return err
		}
		if p.Revision != base {
			return &fault.Error{Kind: fault.Conflict, Code: ErrStaleRevision.Code, Err: ErrStaleRevision,
				Message: fmt.Sprintf("post-mortem %s is at revision %d, the edit was based on %d; reload and edit again", id, p.Revision, base),
				Details: map[string]any{"field": "base_revision", "current_revision": p.Revision}}
		}
		if err := fn(&p); err != nil {
			return err
		}
		p.Revision = base + 1
		p.UpdatedAt = s.now()
		if err := tx.PostmortemUpdate(ctx, p, base); err != nil {
			return err
		}
		if err := tx.RevisionAdd(ctx, revisionOf(p, actor)); err != nil {
			return err
		}
		if after != nil {
			if err := after(ctx, tx, p); err != nil {
				return err
			}
			emitted = true
		}
		out = p
		return nil
	})
	if err == nil && emitted {
		s.cfg.OnCommit()
	}
	return out, err
}

// PostmortemMarkdown renders a post-mortem with its action items and the
// incident's timeline.
func (s *Service) PostmortemMarkdown(ctx context.Context, w io.Writer, p Postmortem, loc *time.Location) error {
	inc, es, err := s.Timeline(ctx, p.IncidentID, false)
	if err != nil {
		return err
	}
	items, err := s.store.ActionItems(ctx, ActionItemFilter{IncidentID: p.IncidentID})
	if err != nil {
		return err
	}
	return WritePostmortemMarkdown(w, p, inc, items, es, loc)
}

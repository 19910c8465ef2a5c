package incident

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Name is the service's name: the source of its events and the prefix of its
// durable consumers.
const Name = "incident"

// Durable consumer names; they also name the inbox rows of each.
const (
	ConsumerAlerts   = "incident-alerts"
	ConsumerCommands = "incident-commands"
)

// Limits on what people type.
const (
	MaxNoteLen  = 8192
	MaxTitleLen = 1024
)

// Config tunes the service.
type Config struct {
	// AutoCreateServices creates a technical service the first time an alert
	// names it. Off, alerts for unknown services are dead-lettered with the
	// reason. On in `firebreak dev`.
	AutoCreateServices bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnCommit is called after each transaction that wrote to the outbox,
	// so the relay publishes without waiting for its next poll.
	OnCommit func()
}

// Service decides every change to incidents.
type Service struct {
	store  Store
	log    *slog.Logger
	cfg    Config
	now    func() time.Time
	commit func()
}

// New returns the incident service over store.
func New(store Store, logger *slog.Logger, cfg Config) (*Service, error) {
	if store == nil {
		return nil, errors.New("incident: nil store")
	}
	s := &Service{store: store, log: logger, cfg: cfg, now: cfg.Now, commit: cfg.OnCommit}
	if s.now == nil {
		s.now = time.Now
	}
	if s.commit == nil {
		s.commit = func() {}
	}
	return s, nil
}

// Get returns an incident by reference ("INC-42", "42" or an id).
func (s *Service) Get(ctx context.Context, ref string) (Incident, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return Incident{}, err
	}
	return s.store.IncidentGet(ctx, r)
}

// List returns incidents matching f.
func (s *Service) List(ctx context.Context, f ListFilter) ([]Incident, error) {
	return s.store.IncidentList(ctx, f)
}

// Notes returns an incident's notes.
func (s *Service) Notes(ctx context.Context, incidentID string) ([]Note, error) {
	return s.store.NoteList(ctx, incidentID)
}

// HandleAlert applies an alert.received event: a trigger opens an incident
// or counts a repeat on the open one; acknowledge and resolve move the open
// incident of the dedup key, and are ignored when there is none. Applying
// the same alert twice changes nothing.
func (s *Service) HandleAlert(ctx context.Context, env events.Envelope) error {
	var a events.AlertReceived
	if err := env.DecodeData(&a); err != nil {
		return fault.Wrap(ErrInvalid, "alert %s: %v", env.ID, err)
	}
	if a.Service == "" || a.DedupKey == "" {
		return fault.Wrap(ErrInvalid, "alert %s: service and dedup_key are required", env.ID)
	}
	wrote := false
	err := s.store.InTx(ctx, func(tx Tx) error {
		wrote = false
		first, err := tx.MarkProcessed(ctx, ConsumerAlerts, env.ID)
		if err != nil || !first {
			return err
		}
		if _, err := s.ensureService(ctx, tx, a.Service); err != nil {
			return err
		}
		now := s.now().UTC()
		open, err := tx.IncidentOpenByDedup(ctx, a.Service, a.DedupKey)
		switch {
		case errors.Is(err, ErrNotFound):
			if a.EventAction != events.ActionTrigger {
				return nil // nothing open to acknowledge or resolve
			}
			wrote = true
			return s.open(ctx, tx, env, a, now)
		case err != nil:
			return err
		}
		actor := env.Actor
		switch a.EventAction {
		case events.ActionTrigger:
			open.AlertCount++
			open.LastAlertAt = now
			open.UpdatedAt = now
			open.Version++
			return tx.IncidentUpdate(ctx, open, open.Version-1)
		case events.ActionAcknowledge:
			if open.Status != StatusTriggered {
				return nil
			}
			wrote = true
			return s.move(ctx, tx, env, open, StatusAcknowledged, actor, "acknowledged by "+a.Integration, now)
		case events.ActionResolve:
			wrote = true
			return s.move(ctx, tx, env, open, StatusResolved, actor, "resolved by "+a.Integration, now)
		}
		return fault.Wrap(ErrInvalid, "alert %s: unknown event_action %q", env.ID, a.EventAction)
	})
	if err == nil && wrote {
		s.commit()
	}
	return err
}

func (s *Service) ensureService(ctx context.Context, tx Tx, name string) (TechService, error) {
	svc, err := tx.ServiceGet(ctx, name)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return svc, err
	}
	if !s.cfg.AutoCreateServices {
		return TechService{}, fault.Wrap(ErrUnknownService, "unknown service %q (create it first, or enable auto-creation)", name)
	}
	return tx.ServiceCreate(ctx, TechService{ID: uuid.Must(uuid.NewV7()).String(), Name: name, CreatedAt: s.now().UTC()})
}

func (s *Service) open(ctx context.Context, tx Tx, cause events.Envelope, a events.AlertReceived, now time.Time) error {
	title := a.Summary
	if title == "" {
		title = a.DedupKey
	}
	if len(title) > MaxTitleLen {
		title = title[:MaxTitleLen]
	}
	inc := Incident{
		ID: uuid.Must(uuid.NewV7()).String(), Service: a.Service, DedupKey: a.DedupKey, Title: title,
		Severity: SeverityFromAlert(a.Severity), AlertSeverity: a.Severity, Status: StatusTriggered,
		AlertCount: 1, Version: 1, CreatedAt: now, UpdatedAt: now, LastAlertAt: now,
	}
	n, err := tx.IncidentCreate(ctx, inc)
	if err != nil {
		return err
	}
	inc.Number = n
	ev, err := events.New(events.TypeIncidentTriggered, Name, inc.ID, cause.Actor, events.IncidentTriggered{
		IncidentRef: ref(inc), Service: inc.Service, DedupKey: inc.DedupKey, Title: inc.Title,
		Severity: inc.Severity, AlertSeverity: inc.AlertSeverity, AlertID: cause.ID,
	}, events.CausedBy(cause), events.At(now))
	if err != nil {
		return err
	}
	return tx.Emit(ctx, ev)
}

func ref(inc Incident) events.IncidentRef {
	return events.IncidentRef{IncidentID: inc.ID, Number: inc.Number, Version: inc.Version}
}

// move applies a transition and emits its event.
func (s *Service) move(ctx context.Context, tx Tx, cause events.Envelope, inc Incident, to Status, actor events.Actor, note string, now time.Time) error {
	if err := transition(inc, to); err != nil {
		return err
	}
	from := inc.Status
	inc.Status = to
	inc.UpdatedAt = now
	inc.Version++
	who := actor.ID
	if actor.Name != "" {
		who = actor.Name
	}
	typ := events.TypeIncidentAcknowledged
	switch to {
	case StatusAcknowledged:
		inc.AcknowledgedAt, inc.AcknowledgedBy = &now, who
	case StatusResolved:
		inc.ResolvedAt, inc.ResolvedBy = &now, who
		typ = events.TypeIncidentResolved
	}
	if err := tx.IncidentUpdate(ctx, inc, inc.Version-1); err != nil {
		return err
	}
	ev, err := events.New(typ, Name, inc.ID, actor, events.IncidentTransitioned{
		IncidentRef: ref(inc), From: string(from), To: string(to), Note: note,
	}, events.CausedBy(cause), events.At(now))
	if err != nil {
		return err
	}
	return tx.Emit(ctx, ev)
}

// Rejection is a command the service refused. It wraps the domain error
// (ErrNotFound, ErrIllegalTransition, ErrStaleVersion) and has been
// recorded as a command.rejected event.
type Rejection struct {
	Code string
	Err  error
}

func (r *Rejection) Error() string { return r.Err.Error() }

// Unwrap exposes the domain error.
func (r *Rejection) Unwrap() error { return r.Err }

// ValidateCommand checks a command's data before it is executed or
// published; it returns an Invalid error naming the field.
func ValidateCommand(typ string, c events.IncidentCommand) error {
	switch typ {
	case events.CmdIncidentAcknowledge, events.CmdIncidentResolve, events.CmdIncidentAddNote:
	default:
		return fault.Wrap(ErrInvalid, "unknown command type %q", typ)
	}
	if _, err := ParseRef(c.Incident); err != nil {
		return fault.Field("incident", "%v", err)
	}
	if typ == events.CmdIncidentAddNote && strings.TrimSpace(c.Note) == "" {
		return fault.Field("note", "a note needs text")
	}
	if len(c.Note) > MaxNoteLen {
		return fault.Field("note", "longer than %d bytes", MaxNoteLen)
	}
	if c.ExpectedVersion < 0 {
		return fault.Field("expected_version", "must not be negative")
	}
	return nil
}

// Execute runs a command and returns the incident as it is afterwards.
// fromBus says the command arrived on FB_CMD; otherwise (the HTTP API) the
// command itself is written to the outbox too, so every command is on the
// bus for the audit log. A refused command commits its command.rejected
// event and returns a *Rejection. Executing the same command id twice
// applies it once.
func (s *Service) Execute(ctx context.Context, cmd events.Envelope, fromBus bool) (Incident, error) {
	var c events.IncidentCommand
	if err := cmd.DecodeData(&c); err != nil {
		return Incident{}, fault.Wrap(ErrInvalid, "command %s: %v", cmd.ID, err)
	}
	if err := ValidateCommand(cmd.Type, c); err != nil {
		return Incident{}, err
	}
	r, _ := ParseRef(c.Incident)
	var (
		result   Incident
		rejected *Rejection
	)
	err := s.store.InTx(ctx, func(tx Tx) error {
		result, rejected = Incident{}, nil
		first, err := tx.MarkProcessed(ctx, ConsumerCommands, cmd.ID)
		if err != nil {
			return err
		}
		if !first {
			result, err = tx.IncidentGet(ctx, r)
			return err
		}
		if !fromBus {
			if err := tx.Emit(ctx, cmd); err != nil {
				return err
			}
		}
		inc, err := tx.IncidentGet(ctx, r)
		if err == nil && c.ExpectedVersion > 0 && c.ExpectedVersion != inc.Version {
			err = fault.Wrap(ErrStaleVersion, "%s is at version %d, not %d; reload and retry", inc.Key(), inc.Version, c.ExpectedVersion)
		}
		if err == nil {
			result, err = s.apply(ctx, tx, cmd, c, inc)
		}
		if isRejection(err) {
			rejected = &Rejection{Code: fault.CodeOf(err), Err: err}
			return s.reject(ctx, tx, cmd, inc.ID, rejected)
		}
		return err
	})
	if err != nil {
		return Incident{}, err
	}
	s.commit()
	if rejected != nil {
		return Incident{}, rejected
	}
	return result, nil
}

// isRejection tells refusals (recorded as command.rejected) from failures
// (rolled back and retried).
func isRejection(err error) bool {
	if err == nil {
		return false
	}
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrIllegalTransition) || errors.Is(err, ErrStaleVersion)
}

func (s *Service) apply(ctx context.Context, tx Tx, cmd events.Envelope, c events.IncidentCommand, inc Incident) (Incident, error) {
	now := s.now().UTC()
	switch cmd.Type {
	case events.CmdIncidentAcknowledge:
		if err := s.move(ctx, tx, cmd, inc, StatusAcknowledged, cmd.Actor, c.Note, now); err != nil {
			return Incident{}, err
		}
	case events.CmdIncidentResolve:
		if err := s.move(ctx, tx, cmd, inc, StatusResolved, cmd.Actor, c.Note, now); err != nil {
			return Incident{}, err
		}
	case events.CmdIncidentAddNote:
		id, err := tx.NoteAdd(ctx, Note{IncidentID: inc.ID, Text: c.Note, Author: cmd.Actor, CreatedAt: now})
		if err != nil {
			return Incident{}, err
		}
		inc.UpdatedAt = now
		inc.Version++
		if err := tx.IncidentUpdate(ctx, inc, inc.Version-1); err != nil {
			return Incident{}, err
		}
		ev, err := events.New(events.TypeIncidentNoteAdded, Name, inc.ID, cmd.Actor,
			events.IncidentNoteAdded{IncidentRef: ref(inc), NoteID: id, Text: c.Note}, events.CausedBy(cmd), events.At(now))
		if err != nil {
			return Incident{}, err
		}
		if err := tx.Emit(ctx, ev); err != nil {
			return Incident{}, err
		}
	}
	return tx.IncidentGet(ctx, Ref{ID: inc.ID})
}

func (s *Service) reject(ctx context.Context, tx Tx, cmd events.Envelope, incidentID string, r *Rejection) error {
	ev, err := events.New(events.TypeCommandRejected, Name, incidentID, events.System(Name), events.CommandRejected{
		CommandID: cmd.ID, CommandType: cmd.Type, IncidentID: incidentID, Code: r.Code, Reason: r.Err.Error(),
	}, events.CausedBy(cmd), events.At(s.now()))
	if err != nil {
		return err
	}
	if err := tx.Emit(ctx, ev); err != nil {
		return fmt.Errorf("emit rejection: %w", err)
	}
	return nil
}

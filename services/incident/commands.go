package incident

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/timer"
)

// Limits on command inputs.
const (
	MaxUserLen       = 100
	MaxSnoozeMinutes = 7 * 24 * 60
	MaxSummaryLen    = 8192
)

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

// severityFor maps an alert severity to SEV1–SEV4, honouring the service's
// overrides.
func severityFor(svc TechService, alertSeverity string) string {
	if sev, ok := svc.SeverityMap[alertSeverity]; ok && ValidSeverity(sev) {
		return sev
	}
	return SeverityFromAlert(alertSeverity)
}

// open opens an incident for trigger a; groupKey is a's group key under
// the service's grouping rule ("" for none).
func (s *Service) open(ctx context.Context, tx Tx, cause events.Envelope, a events.AlertReceived, svc TechService, groupKey string, now time.Time) (Incident, error) {
	title := a.Summary
	if title == "" {
		title = a.DedupKey
	}
	if len(title) > MaxTitleLen {
		title = title[:MaxTitleLen]
	}
	inc := Incident{
		ID: uuid.Must(uuid.NewV7()).String(), Service: a.Service, DedupKey: a.DedupKey, Title: title,
		Severity: severityFor(svc, a.Severity), AlertSeverity: a.Severity, Status: StatusTriggered,
		AlertCount: 1, Version: 1, CreatedAt: now, UpdatedAt: now, LastAlertAt: now, Origin: OriginAlert,
		GroupKey: groupKey,
	}
	n, err := tx.IncidentCreate(ctx, inc)
	if err != nil {
		return Incident{}, err
	}
	inc.Number = n
	return inc, s.emit(ctx, tx, events.TypeIncidentTriggered, inc, cause.Actor, cause, now, events.IncidentTriggered{
		IncidentRef: ref(inc), Service: inc.Service, DedupKey: inc.DedupKey, Title: inc.Title,
		Severity: inc.Severity, AlertSeverity: inc.AlertSeverity, AlertID: cause.ID, Origin: OriginAlert,
	})
}

func ref(inc Incident) events.IncidentRef {
	return events.IncidentRef{IncidentID: inc.ID, Number: inc.Number, Version: inc.Version}
}

// emit writes one event about inc to the outbox.
func (s *Service) emit(ctx context.Context, tx Tx, typ string, inc Incident, actor events.Actor, cause events.Envelope, now time.Time, data any) error {
	ev, err := events.New(typ, Name, inc.ID, actor, data, events.CausedBy(cause), events.At(now))
	if err != nil {
		return err
	}
	return tx.Emit(ctx, ev)
}

// save writes inc as its next version.
func save(ctx context.Context, tx Tx, inc *Incident, now time.Time) error {
	inc.UpdatedAt = now
	inc.Version++
	return tx.IncidentUpdate(ctx, *inc, inc.Version-1)
}

// change describes a status change and what comes with it.
type change struct {
	to       Status
	note     string
	action   string
	actionID int64
	level    int
}

var transitionEvent = map[Status]string{
	StatusAcknowledged: events.TypeIncidentAcknowledged,
	StatusEscalated:    events.TypeIncidentEscalated,
	StatusContained:    events.TypeIncidentContained,
	StatusMitigated:    events.TypeIncidentMitigated,
	StatusResolved:     events.TypeIncidentResolved,
	StatusTriggered:    events.TypeIncidentReopened,
	StatusPostmortem:   events.TypeIncidentPostmortem,
	StatusClosed:       events.TypeIncidentClosed,
}

// move applies a status change and emits its event. Recording another
// containment (mitigation) action on a contained (mitigated) incident is a
// change to the same status.
func (s *Service) move(ctx context.Context, tx Tx, cause events.Envelope, inc Incident, ch change, actor events.Actor, now time.Time) (Incident, error) {
	from := inc.Status
	again := from == ch.to && (ch.to == StatusContained || ch.to == StatusMitigated)
	if !again {
		if err := transition(inc, ch.to); err != nil {
			return Incident{}, err
		}
	}
	who := actor.ID
	if actor.Name != "" {
		who = actor.Name
	}
	inc.Status = ch.to
	switch ch.to {
	case StatusAcknowledged:
		inc.AcknowledgedAt, inc.AcknowledgedBy = &now, who
	case StatusEscalated:
		if ch.level <= inc.EscalationLevel {
			ch.level = inc.EscalationLevel + 1
		}
		inc.EscalationLevel = ch.level
		inc.SnoozedUntil = nil
	case StatusContained:
		if inc.ContainedAt == nil {
			inc.ContainedAt = &now
		}
	case StatusMitigated:
		if inc.MitigatedAt == nil {
			inc.MitigatedAt = &now
		}
	case StatusResolved:
		inc.ResolvedAt, inc.ResolvedBy, inc.SnoozedUntil = &now, who, nil
	case StatusTriggered: // reopen
		inc.ReopenCount++
		inc.ResolvedAt, inc.ResolvedBy = nil, ""
		inc.AcknowledgedAt, inc.AcknowledgedBy = nil, ""
		inc.ContainedAt, inc.MitigatedAt = nil, nil
		inc.EscalationLevel = 0
	case StatusClosed:
		inc.ClosedAt = &now
	}
	if err := save(ctx, tx, &inc, now); err != nil {
		return Incident{}, err
	}
	if err := s.ackTimer(ctx, tx, inc, now); err != nil {
		return Incident{}, err
	}
	err := s.emit(ctx, tx, transitionEvent[ch.to], inc, actor, cause, now, events.IncidentTransitioned{
		IncidentRef: ref(inc), From: string(from), To: string(ch.to), Note: ch.note,
		Level: ch.level, Action: ch.action, ActionID: ch.actionID,
	})
	return inc, err
}

// Rejection is a command the service refused. It wraps the domain error
// (ErrNotFound, ErrIllegalTransition, ErrStaleVersion, …) and has been
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
	if _, err := ParseRef(c.Incident); err != nil {
		return fault.Field("incident", "%v", err)
	}
	if len(c.Note) > MaxNoteLen {
		return fault.Field("note", "longer than %d bytes", MaxNoteLen)
	}
	if c.ExpectedVersion < 0 {
		return fault.Field("expected_version", "must not be negative")
	}
	user := func() error {
		switch u := strings.TrimSpace(c.User); {
		case u == "":
			return fault.Field("user", "is required")
		case len(u) > MaxUserLen:
			return fault.Field("user", "longer than %d characters", MaxUserLen)
		}
		return nil
	}
	switch typ {
	case events.CmdIncidentAcknowledge, events.CmdIncidentResolve, events.CmdIncidentReopen,
		events.CmdIncidentPostmortem, events.CmdIncidentClose:
	case events.CmdIncidentAddNote:
		if strings.TrimSpace(c.Note) == "" {
			return fault.Field("note", "a note needs text")
		}
	case events.CmdIncidentEscalate:
		if c.Level < 0 {
			return fault.Field("level", "must not be negative")
		}
	case events.CmdIncidentContain, events.CmdIncidentMitigate:
		if strings.TrimSpace(c.Action) == "" {
			return fault.Field("action", "say what was done")
		}
		if len(c.Action) > MaxNoteLen {
			return fault.Field("action", "longer than %d bytes", MaxNoteLen)
		}
	case events.CmdIncidentAssign, events.CmdIncidentResponder:
		return user()
	case events.CmdIncidentSeverity:
		if !ValidSeverity(c.Severity) {
			return fault.Field("severity", "must be SEV1, SEV2, SEV3 or SEV4, got %q", c.Severity)
		}
	case events.CmdIncidentSnooze:
		if c.Minutes < 1 || c.Minutes > MaxSnoozeMinutes {
			return fault.Field("minutes", "must be from 1 to %d", MaxSnoozeMinutes)
		}
	case events.CmdIncidentMerge:
		if _, err := ParseRef(c.Into); err != nil {
			return fault.Field("into", "%v", err)
		}
	default:
		return fault.Wrap(ErrInvalid, "unknown command type %q", typ)
	}
	return nil
}

// ValidateDeclare checks the data of incident.declare.
func ValidateDeclare(d events.DeclareIncident) error {
	switch {
	case strings.TrimSpace(d.Title) == "":
		return fault.Field("title", "is required")
	case len(d.Title) > MaxTitleLen:
		return fault.Field("title", "longer than %d characters", MaxTitleLen)
	case d.Service == "":
		return fault.Field("service", "is required")
	case !serviceName.MatchString(d.Service):
		return fault.Field("service", "may contain only letters, digits, '-' and '_', starting with a letter or digit (at most 100)")
	case !ValidSeverity(d.Severity):
		return fault.Field("severity", "must be SEV1, SEV2, SEV3 or SEV4, got %q", d.Severity)
	case len(d.Summary) > MaxSummaryLen:
		return fault.Field("summary", "longer than %d bytes", MaxSummaryLen)
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
	do, replay, err := s.command(ctx, cmd)
	if err != nil {
		return Incident{}, err
	}
	return s.inTx(ctx, cmd, fromBus, do, replay)
}

// ExecuteBatch runs commands that arrived on FB_CMD in one transaction,
// in order, each as Execute(ctx, cmd, true) runs it: inbox check, then the
// change or its command.rejected event. Refusals do not fail the batch. An
// invalid command, or any failure, fails it all and nothing is committed;
// the bus then runs the commands one at a time (HandleBatch), singling
// out the bad one.
func (s *Service) ExecuteBatch(ctx context.Context, cmds []events.Envelope) error {
	type step struct {
		cmd events.Envelope
		do  func(Tx) (Incident, error)
	}
	steps := make([]step, 0, len(cmds))
	for _, cmd := range cmds {
		do, _, err := s.command(ctx, cmd)
		if err != nil {
			return err
		}
		steps = append(steps, step{cmd, do})
	}
	err := s.store.InTx(ctx, func(tx Tx) error {
		for _, st := range steps {
			// No replay: a repeated command has nothing to return here.
			if _, _, err := s.execTx(ctx, tx, st.cmd, true, st.do, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.commit()
	return nil
}

// command checks a command and returns what it does in a transaction
// (do), and what a repeat of an applied command returns (replay).
func (s *Service) command(ctx context.Context, cmd events.Envelope) (do, replay func(Tx) (Incident, error), err error) {
	if cmd.Type == events.CmdIncidentDeclare {
		return s.declare(ctx, cmd)
	}
	var c events.IncidentCommand
	if err := cmd.DecodeData(&c); err != nil {
		return nil, nil, fault.Wrap(ErrInvalid, "command %s: %v", cmd.ID, err)
	}
	if err := ValidateCommand(cmd.Type, c); err != nil {
		return nil, nil, err
	}
	r, _ := ParseRef(c.Incident)
	return func(tx Tx) (Incident, error) {
		inc, err := tx.IncidentGet(ctx, r)
		if err != nil {
			return Incident{ID: ""}, err
		}
		if c.ExpectedVersion > 0 && c.ExpectedVersion != inc.Version {
			return inc, fault.Wrap(ErrStaleVersion, "%s is at version %d, not %d; reload and retry", inc.Key(), inc.Version, c.ExpectedVersion)
		}
		return s.apply(ctx, tx, cmd, c, inc)
	}, func(tx Tx) (Incident, error) { return tx.IncidentGet(ctx, r) }, nil
}

// inTx runs one command in one transaction (execTx).
func (s *Service) inTx(ctx context.Context, cmd events.Envelope, fromBus bool, do, replay func(Tx) (Incident, error)) (Incident, error) {
	var (
		result   Incident
		rejected *Rejection
	)
	err := s.store.InTx(ctx, func(tx Tx) error {
		var err error
		result, rejected, err = s.execTx(ctx, tx, cmd, fromBus, do, replay)
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

// execTx runs one command in tx: inbox check, the command itself on the
// outbox (API commands), the change, and a command.rejected event instead
// when the change is refused. A command applied before returns what replay
// reads (nothing when replay is nil).
func (s *Service) execTx(ctx context.Context, tx Tx, cmd events.Envelope, fromBus bool, do, replay func(Tx) (Incident, error)) (Incident, *Rejection, error) {
	first, err := tx.MarkProcessed(ctx, ConsumerCommands, cmd.ID)
	if err != nil {
		return Incident{}, nil, err
	}
	if !first {
		if replay == nil {
			return Incident{}, nil, nil
		}
		inc, err := replay(tx)
		return inc, nil, err
	}
	if !fromBus {
		if err := tx.Emit(ctx, cmd); err != nil {
			return Incident{}, nil, err
		}
	}
	inc, err := do(tx)
	if isRejection(err) {
		rejected := &Rejection{Code: fault.CodeOf(err), Err: err}
		return Incident{}, rejected, s.reject(ctx, tx, cmd, inc.ID, rejected)
	}
	return inc, nil, err
}

// isRejection tells refusals (recorded as command.rejected) from failures
// (rolled back and retried).
func isRejection(err error) bool {
	for _, e := range []error{ErrNotFound, ErrIllegalTransition, ErrStaleVersion, ErrPostmortemRequired,
		ErrReopenWindow, ErrUnknownService} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (s *Service) apply(ctx context.Context, tx Tx, cmd events.Envelope, c events.IncidentCommand, inc Incident) (Incident, error) {
	now := s.now().UTC()
	actor := cmd.Actor
	if inc.Status == StatusClosed && cmd.Type != events.CmdIncidentAddNote {
		return inc, fault.Wrap(ErrIllegalTransition, "%s is closed", inc.Key())
	}
	var err error
	switch cmd.Type {
	case events.CmdIncidentAcknowledge:
		inc, err = s.move(ctx, tx, cmd, inc, change{to: StatusAcknowledged, note: c.Note}, actor, now)
	case events.CmdIncidentEscalate:
		if c.OnlyUnacknowledged && inc.Status != StatusTriggered && inc.Status != StatusEscalated {
			return inc, fault.Wrap(ErrIllegalTransition, "%s is %s: not escalating an incident someone took", inc.Key(), inc.Status)
		}
		inc, err = s.move(ctx, tx, cmd, inc, change{to: StatusEscalated, note: c.Note, level: c.Level}, actor, now)
	case events.CmdIncidentResolve:
		inc, err = s.move(ctx, tx, cmd, inc, change{to: StatusResolved, note: c.Note}, actor, now)
	case events.CmdIncidentPostmortem:
		inc, err = s.move(ctx, tx, cmd, inc, change{to: StatusPostmortem, note: c.Note}, actor, now)
	case events.CmdIncidentContain, events.CmdIncidentMitigate:
		to, kind := StatusContained, ActionContainment
		if cmd.Type == events.CmdIncidentMitigate {
			to, kind = StatusMitigated, ActionMitigation
		}
		if inc.Status != to {
			if err := transition(inc, to); err != nil {
				return inc, err
			}
		}
		id, err := tx.ActionAdd(ctx, Action{IncidentID: inc.ID, Kind: kind, Text: c.Action, Actor: actor, CreatedAt: now})
		if err != nil {
			return inc, err
		}
		inc, err = s.move(ctx, tx, cmd, inc, change{to: to, note: c.Note, action: c.Action, actionID: id}, actor, now)
		if err != nil {
			return inc, err
		}
	case events.CmdIncidentReopen:
		inc, err = s.reopen(ctx, tx, cmd, c, inc, now)
	case events.CmdIncidentClose:
		if err := transition(inc, StatusClosed); err != nil {
			return inc, err
		}
		if NeedsPostmortem(inc.Severity) && inc.PostmortemPublishedAt == nil {
			return inc, fault.Wrap(ErrPostmortemRequired, "%s is %s: publish its post-mortem before closing it", inc.Key(), inc.Severity)
		}
		inc, err = s.move(ctx, tx, cmd, inc, change{to: StatusClosed, note: c.Note}, actor, now)
	case events.CmdIncidentSnooze:
		if inc.Status != StatusAcknowledged && inc.Status != StatusContained && inc.Status != StatusMitigated {
			return inc, fault.Wrap(ErrIllegalTransition, "%s is %s; only an acknowledged incident can be snoozed", inc.Key(), inc.Status)
		}
		until := now.Add(time.Duration(c.Minutes) * time.Minute)
		inc.SnoozedUntil = &until
		if err := save(ctx, tx, &inc, now); err != nil {
			return inc, err
		}
		if err := s.ackTimer(ctx, tx, inc, now); err != nil {
			return inc, err
		}
		err = s.emit(ctx, tx, events.TypeIncidentSnoozed, inc, actor, cmd, now,
			events.IncidentSnoozed{IncidentRef: ref(inc), Minutes: c.Minutes, Until: until, Note: c.Note})
	case events.CmdIncidentAssign:
		user := strings.TrimSpace(c.User)
		if inc.Assignee == user {
			return inc, fault.Wrap(ErrIllegalTransition, "%s is already assigned to %s", inc.Key(), user)
		}
		prev := inc.Assignee
		inc.Assignee = user
		if _, err := tx.ResponderAdd(ctx, Responder{IncidentID: inc.ID, User: user, AddedBy: actor, AddedAt: now}); err != nil {
			return inc, err
		}
		if err := save(ctx, tx, &inc, now); err != nil {
			return inc, err
		}
		err = s.emit(ctx, tx, events.TypeIncidentAssigned, inc, actor, cmd, now,
			events.IncidentAssigned{IncidentRef: ref(inc), Assignee: user, Previous: prev, Note: c.Note})
	case events.CmdIncidentResponder:
		user := strings.TrimSpace(c.User)
		added, err := tx.ResponderAdd(ctx, Responder{IncidentID: inc.ID, User: user, AddedBy: actor, AddedAt: now})
		if err != nil || !added {
			return inc, err // already a responder: nothing changes
		}
		if err := save(ctx, tx, &inc, now); err != nil {
			return inc, err
		}
		err = s.emit(ctx, tx, events.TypeIncidentResponder, inc, actor, cmd, now,
			events.IncidentResponderAdded{IncidentRef: ref(inc), User: user})
		if err != nil {
			return inc, err
		}
	case events.CmdIncidentSeverity:
		if inc.Severity == c.Severity {
			return inc, fault.Wrap(ErrIllegalTransition, "%s is already %s", inc.Key(), c.Severity)
		}
		from := inc.Severity
		inc.Severity = c.Severity
		if err := save(ctx, tx, &inc, now); err != nil {
			return inc, err
		}
		err = s.emit(ctx, tx, events.TypeIncidentSeverity, inc, actor, cmd, now,
			events.IncidentSeverityChanged{IncidentRef: ref(inc), From: from, To: c.Severity, Reason: c.Note})
	case events.CmdIncidentMerge:
		inc, err = s.merge(ctx, tx, cmd, c, inc, now)
	case events.CmdIncidentAddNote:
		id, err := tx.NoteAdd(ctx, Note{IncidentID: inc.ID, Text: c.Note, Author: actor, CreatedAt: now})
		if err != nil {
			return inc, err
		}
		if err := save(ctx, tx, &inc, now); err != nil {
			return inc, err
		}
		err = s.emit(ctx, tx, events.TypeIncidentNoteAdded, inc, actor, cmd, now,
			events.IncidentNoteAdded{IncidentRef: ref(inc), NoteID: id, Text: c.Note})
		if err != nil {
			return inc, err
		}
	}
	if err != nil {
		return inc, err
	}
	return tx.IncidentGet(ctx, Ref{ID: inc.ID})
}

func (s *Service) reopen(ctx context.Context, tx Tx, cmd events.Envelope, c events.IncidentCommand, inc Incident, now time.Time) (Incident, error) {
	if inc.Status != StatusResolved {
		return inc, fault.Wrap(ErrIllegalTransition, "%s is %s; only a resolved incident can be reopened%s", inc.Key(), inc.Status, hint(inc.Status, StatusTriggered))
	}
	if inc.MergedInto != "" {
		return inc, fault.Wrap(ErrIllegalTransition, "%s was merged into another incident; reopen that one", inc.Key())
	}
	if s.cfg.ReopenWindow < 0 || (inc.ResolvedAt != nil && now.Sub(*inc.ResolvedAt) > s.cfg.ReopenWindow) {
		return inc, fault.Wrap(ErrReopenWindow, "%s was resolved more than %s ago; declare a new incident instead", inc.Key(), s.cfg.ReopenWindow)
	}
	if other, err := tx.IncidentOpenByDedup(ctx, inc.Service, inc.DedupKey); err == nil {
		return inc, fault.Wrap(ErrIllegalTransition, "%s is already open for the same alert; work on it instead", other.Key())
	} else if !errors.Is(err, ErrNotFound) {
		return inc, err
	}
	return s.move(ctx, tx, cmd, inc, change{to: StatusTriggered, note: c.Note}, cmd.Actor, now)
}

func (s *Service) merge(ctx context.Context, tx Tx, cmd events.Envelope, c events.IncidentCommand, child Incident, now time.Time) (Incident, error) {
	pr, _ := ParseRef(c.Into)
	parent, err := tx.IncidentGet(ctx, pr)
	if err != nil {
		return child, err
	}
	switch {
	case parent.ID == child.ID:
		return child, fault.Wrap(ErrIllegalTransition, "%s cannot be merged into itself", child.Key())
	case child.MergedInto != "":
		return child, fault.Wrap(ErrIllegalTransition, "%s is already merged", child.Key())
	case child.Status == StatusPostmortem:
		return child, fault.Wrap(ErrIllegalTransition, "%s is in its post-mortem and cannot be merged", child.Key())
	case !parent.Status.Open():
		return child, fault.Wrap(ErrIllegalTransition, "%s is %s; merge into an open incident", parent.Key(), parent.Status)
	}
	moved := child.AlertCount
	parent.AlertCount += moved
	if child.LastAlertAt.After(parent.LastAlertAt) {
		parent.LastAlertAt = child.LastAlertAt
	}
	if err := save(ctx, tx, &parent, now); err != nil {
		return child, err
	}
	// The child's alerts and dedup keys go to the parent: the parent lists
	// them, and their later events (repeats, resolves) find the parent.
	if _, err := tx.AlertsMove(ctx, child.ID, parent.ID, s.cfg.MaxAlerts); err != nil {
		return child, err
	}
	if err := tx.MemberAdd(ctx, child.Service, child.DedupKey, parent.ID, now); err != nil {
		return child, err
	}
	if err := tx.MembersCopy(ctx, child.ID, parent.ID, now); err != nil {
		return child, err
	}
	from := child.Status
	who := cmd.Actor.ID
	if cmd.Actor.Name != "" {
		who = cmd.Actor.Name
	}
	child.MergedInto = parent.ID
	child.AlertCount = 0
	if child.Status.Open() {
		child.Status, child.ResolvedAt, child.ResolvedBy, child.SnoozedUntil = StatusResolved, &now, who, nil
	}
	if err := save(ctx, tx, &child, now); err != nil {
		return child, err
	}
	if err := s.ackTimer(ctx, tx, child, now); err != nil {
		return child, err
	}
	return child, s.emit(ctx, tx, events.TypeIncidentMerged, child, cmd.Actor, cmd, now, events.IncidentMerged{
		IncidentRef: ref(child), From: string(from), Into: ref(parent), AlertsMoved: moved,
		ParentAlerts: parent.AlertCount, Note: c.Note,
	})
}

// declare opens an incident a person declared. The command's id becomes the
// incident's id, so a redelivered declare finds what it created.
func (s *Service) declare(ctx context.Context, cmd events.Envelope) (do, replay func(Tx) (Incident, error), err error) {
	var d events.DeclareIncident
	if err := cmd.DecodeData(&d); err != nil {
		return nil, nil, fault.Wrap(ErrInvalid, "command %s: %v", cmd.ID, err)
	}
	if err := ValidateDeclare(d); err != nil {
		return nil, nil, err
	}
	return func(tx Tx) (Incident, error) {
		if _, err := s.ensureService(ctx, tx, d.Service); err != nil {
			return Incident{}, err
		}
		now := s.now().UTC()
		inc := Incident{
			ID: cmd.ID, Service: d.Service, DedupKey: "declared-" + cmd.ID, Title: strings.TrimSpace(d.Title),
			Summary: d.Summary, Severity: d.Severity, Status: StatusTriggered, Version: 1,
			CreatedAt: now, UpdatedAt: now, LastAlertAt: now, Origin: OriginDeclared,
		}
		n, err := tx.IncidentCreate(ctx, inc)
		if err != nil {
			return Incident{}, err
		}
		inc.Number = n
		if cmd.Actor.Kind == events.ActorUser {
			if _, err := tx.ResponderAdd(ctx, Responder{IncidentID: inc.ID, User: cmd.Actor.ID, AddedBy: cmd.Actor, AddedAt: now}); err != nil {
				return Incident{}, err
			}
		}
		if err := s.emit(ctx, tx, events.TypeIncidentTriggered, inc, cmd.Actor, cmd, now, events.IncidentTriggered{
			IncidentRef: ref(inc), Service: inc.Service, DedupKey: inc.DedupKey, Title: inc.Title,
			Severity: inc.Severity, Origin: OriginDeclared, Summary: inc.Summary,
		}); err != nil {
			return Incident{}, err
		}
		return tx.IncidentGet(ctx, Ref{ID: inc.ID})
	}, func(tx Tx) (Incident, error) { return tx.IncidentGet(ctx, Ref{ID: cmd.ID}) }, nil
}

// HandlePostmortemPublished records that an incident's post-mortem was
// published, which opens the close gate of SEV1/SEV2 incidents.
func (s *Service) HandlePostmortemPublished(ctx context.Context, env events.Envelope) error {
	var p events.PostmortemPublished
	if err := env.DecodeData(&p); err != nil || p.IncidentID == "" {
		return fault.Wrap(ErrInvalid, "postmortem.published %s: incident_id required (%v)", env.ID, err)
	}
	err := s.store.InTx(ctx, func(tx Tx) error {
		first, err := tx.MarkProcessed(ctx, ConsumerPostmortems, env.ID)
		if err != nil || !first {
			return err
		}
		inc, err := tx.IncidentGet(ctx, Ref{ID: p.IncidentID})
		if err != nil {
			return fmt.Errorf("postmortem for incident %s: %w", p.IncidentID, err)
		}
		if inc.PostmortemPublishedAt != nil {
			return nil
		}
		now := s.now().UTC()
		inc.PostmortemPublishedAt = &now
		return save(ctx, tx, &inc, now)
	})
	return err
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

// TimerAckTimeout is the kind of the timer that re-escalates an acknowledged
// incident when its service's ack timeout, or its snooze, runs out.
const TimerAckTimeout = "ack_timeout"

// ackTimer keeps an incident's ack-timeout timer in step with its state:
// pending while it is acknowledged (due at the end of its snooze, or the
// service's ack timeout after now), gone otherwise.
func (s *Service) ackTimer(ctx context.Context, tx Tx, inc Incident, now time.Time) error {
	due := time.Time{}
	if inc.Status == StatusAcknowledged {
		if inc.SnoozedUntil != nil {
			due = *inc.SnoozedUntil
		} else if svc, err := tx.ServiceGet(ctx, inc.Service); err == nil && svc.AckTimeout > 0 {
			due = now.Add(svc.AckTimeout)
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if due.IsZero() {
		_, err := tx.TimerCancel(ctx, TimerAckTimeout, inc.ID)
		return err
	}
	return tx.TimerSchedule(ctx, timer.Timer{ID: timer.NewID(), Kind: TimerAckTimeout, Key: inc.ID, DueAt: due, CreatedAt: now})
}

// HandleTimer fires one of the service's timers (a timer.Handler). An
// ack-timeout timer re-escalates the incident if it is still acknowledged
// and not snoozed (the escalation service pages the next level); a heartbeat
// timer opens the monitor's incident if no ping came in time.
func (s *Service) HandleTimer(ctx context.Context, t timer.Timer) error {
	if t.Kind != TimerAckTimeout && t.Kind != TimerHeartbeat && t.Kind != TimerCoalesce {
		return fmt.Errorf("incident: unknown timer kind %q", t.Kind)
	}
	fired := false
	err := s.store.FireTimer(ctx, t, func(tx Tx) error {
		fired = false
		switch t.Kind {
		case TimerHeartbeat:
			var err error
			fired, err = s.fireHeartbeat(ctx, tx, t)
			return err
		case TimerCoalesce:
			var err error
			fired, err = s.fireCoalesce(ctx, tx, t)
			return err
		}
		inc, err := tx.IncidentGet(ctx, Ref{ID: t.Key})
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		now := s.now().UTC()
		if inc.Status != StatusAcknowledged || (inc.SnoozedUntil != nil && inc.SnoozedUntil.After(now)) {
			return nil
		}
		note := "acknowledgement timed out"
		if inc.SnoozedUntil != nil {
			note = "snooze ended"
		}
		cause, err := events.New("timer.fired", Name, inc.ID, events.System(Name), map[string]string{"kind": t.Kind, "timer_id": t.ID})
		if err != nil {
			return err
		}
		_, err = s.move(ctx, tx, cause, inc, change{to: StatusEscalated, note: note}, events.System(Name), now)
		fired = err == nil
		return err
	})
	if errors.Is(err, timer.ErrGone) {
		return nil
	}
	if err == nil && fired {
		s.commit()
	}
	return err
}

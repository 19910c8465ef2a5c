package escalation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/services/escalation/schedule"
)

// Timer kinds of the service.
const (
	// TimerStep, keyed by incident id, asks the incident service to
	// escalate when a level's delay passes without an acknowledgement.
	TimerStep = "step"
	// TimerNotify, keyed incident/level/user/rule-index, sends a delayed
	// notification rule's page.
	TimerNotify = "notify"
)

// stepPayload is a step timer's payload: the level and round it ends. A
// timer of an older level or round (the escalation moved on) does nothing.
type stepPayload struct {
	Level int `json:"level"`
	Round int `json:"round"`
	// Delay is the level's delay in minutes, for the escalation note.
	Delay       int    `json:"delay"`
	Correlation string `json:"correlation,omitempty"`
}

// notifyPayload is a notify timer's payload: the page to send.
type notifyPayload struct {
	Round       int                  `json:"round"`
	Page        events.PageRequested `json:"page"`
	Correlation string               `json:"correlation,omitempty"`
}

// pageNamespace derives deterministic envelope ids (UUIDv5) from page and
// command keys, so a page or command produced twice is one message.
var pageNamespace = uuid.MustParse("6f1c58b4-3b0e-4d4e-9a53-2f7d0c1e8a10")

func deterministicID(key string) string { return uuid.NewSHA1(pageNamespace, []byte(key)).String() }

// run is the work of one transaction: what it emitted and scheduled, so the
// service pokes the relay and the timer runner after the commit.
type run struct {
	s     *Service
	tx    Tx
	now   time.Time
	actor events.Actor
	// cause is the event being handled (nil for a timer); corr is the
	// correlation id everything emitted carries.
	cause     *events.Envelope
	corr      string
	emitted   bool
	scheduled bool
	cfg       *Config
}

func (s *Service) newRun(tx Tx, cause *events.Envelope, corr string) *run {
	if cause != nil {
		corr = cause.CorrelationID
	}
	return &run{s: s, tx: tx, now: s.now().UTC(), actor: events.System(Name), cause: cause, corr: corr}
}

// done pokes the relay and the timer runner after a commit.
func (s *Service) done(r *run) {
	if r == nil {
		return
	}
	if r.emitted {
		s.commit()
	}
	if r.scheduled {
		s.onTimer()
	}
}

// config returns the paging configuration, read once per run and, while
// its version stays the same, once per service (Service.configs). The
// engine must not modify it: runs share it.
func (r *run) config(ctx context.Context) (Config, error) {
	if r.cfg == nil {
		v, err := r.tx.ConfigVersion(ctx)
		if err != nil {
			return Config{}, err
		}
		c, ok := r.s.configs.get(v)
		if !ok {
			if c, err = r.tx.ConfigGet(ctx); err != nil {
				return Config{}, err
			}
			r.s.configs.put(v, c)
		}
		r.cfg = &c
	}
	return *r.cfg, nil
}

func (r *run) emit(ctx context.Context, typ, subject string, data any, extra ...events.Option) error {
	opts := []events.Option{events.At(r.now), events.WithCorrelation(r.corr)}
	if r.cause != nil {
		opts = append(opts, events.CausedBy(*r.cause))
	}
	opts = append(opts, extra...)
	env, err := events.New(typ, Name, subject, r.actor, data, opts...)
	if err != nil {
		return err
	}
	r.emitted = true
	return r.tx.Emit(ctx, env)
}

func (r *run) schedule(ctx context.Context, kind, key string, due time.Time, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode %s timer payload: %w", kind, err)
	}
	r.scheduled = true
	return r.tx.ScheduleTimer(ctx, timer.Timer{Kind: kind, Key: key, DueAt: due, Payload: b, CreatedAt: r.now})
}

// HandleIncidentEvent applies one incident event: a trigger starts paging,
// an escalation pages the level it names, an acknowledgement, resolve,
// merge, post-mortem or close stops paging, a reopen starts over at level
// 1, and a severity change shows in later pages. Other incident events are
// ignored. Applying the same event twice
// changes nothing.
func (s *Service) HandleIncidentEvent(ctx context.Context, env events.Envelope) error {
	var r *run
	err := s.store.InTx(ctx, func(tx Tx) error {
		r = s.newRun(tx, &env, "")
		first, err := tx.MarkProcessed(ctx, ConsumerIncidents, env.ID)
		if err != nil || !first {
			return err
		}
		return r.apply(ctx, env)
	})
	if err != nil {
		return err
	}
	s.done(r)
	return nil
}

func (r *run) apply(ctx context.Context, env events.Envelope) error {
	switch env.Type {
	case events.TypeIncidentTriggered:
		var d events.IncidentTriggered
		if err := env.DecodeData(&d); err != nil {
			return fault.Wrap(ErrInvalid, "%s %s: %v", env.Type, env.ID, err)
		}
		return r.triggered(ctx, d)
	case events.TypeIncidentEscalated:
		var d events.IncidentTransitioned
		if err := env.DecodeData(&d); err != nil {
			return fault.Wrap(ErrInvalid, "%s %s: %v", env.Type, env.ID, err)
		}
		return r.escalated(ctx, d)
	case events.TypeIncidentAcknowledged, events.TypeIncidentResolved, events.TypeIncidentMerged,
		events.TypeIncidentClosed, events.TypeIncidentPostmortem:
		var d events.IncidentRef
		if err := env.DecodeData(&d); err != nil {
			return fault.Wrap(ErrInvalid, "%s %s: %v", env.Type, env.ID, err)
		}
		esc, err := r.tx.EscalationGet(ctx, d.IncidentID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return r.stop(ctx, &esc)
	case events.TypeIncidentSeverity:
		// Later pages carry the new severity.
		var d events.IncidentSeverityChanged
		if err := env.DecodeData(&d); err != nil {
			return fault.Wrap(ErrInvalid, "%s %s: %v", env.Type, env.ID, err)
		}
		esc, err := r.tx.EscalationGet(ctx, d.IncidentID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		esc.Severity, esc.UpdatedAt = d.To, r.now
		return r.tx.EscalationPut(ctx, esc)
	case events.TypeIncidentReopened:
		var d events.IncidentRef
		if err := env.DecodeData(&d); err != nil {
			return fault.Wrap(ErrInvalid, "%s %s: %v", env.Type, env.ID, err)
		}
		return r.reopened(ctx, d)
	}
	return nil
}

func (r *run) triggered(ctx context.Context, d events.IncidentTriggered) error {
	if d.IncidentID == "" {
		return fault.Wrap(ErrInvalid, "incident.triggered without incident_id")
	}
	cfg, err := r.config(ctx)
	if err != nil {
		return err
	}
	svc, ok := findService(cfg, d.Service)
	if !ok || svc.EscalationPolicy == "" {
		return nil
	}
	pol, ok := findPolicy(cfg, svc.EscalationPolicy)
	if !ok || len(pol.Levels) == 0 {
		r.s.log.Warn("service names a missing or empty escalation policy; paging nobody", "service", svc.Name, "policy", svc.EscalationPolicy)
		return nil
	}
	if w, ok, err := r.tx.MaintenanceActive(ctx, d.Service, r.now); err != nil {
		return err
	} else if ok {
		return r.emit(ctx, events.TypePageSuppressed, d.IncidentID, events.PageSuppressed{
			IncidentID: d.IncidentID, Number: d.Number, Service: d.Service, Reason: events.SuppressedMaintenance, WindowID: w.ID,
		})
	}
	esc := Escalation{
		IncidentID: d.IncidentID, Number: d.Number, Service: d.Service, Title: d.Title, Severity: d.Severity,
		Policy: pol.Name, Status: StatusActive, Round: 1, StartedAt: r.now, UpdatedAt: r.now,
	}
	// A second trigger of one incident does not happen; if it did, it
	// starts a new round rather than reusing the old round's page keys.
	if old, err := r.tx.EscalationGet(ctx, d.IncidentID); err == nil {
		if err := r.cancelTimers(ctx, &old); err != nil {
			return err
		}
		esc.Round = old.Round + 1
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	return r.page(ctx, &esc, pol, 1)
}

func (r *run) escalated(ctx context.Context, d events.IncidentTransitioned) error {
	esc, err := r.tx.EscalationGet(ctx, d.IncidentID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	cfg, err := r.config(ctx)
	if err != nil {
		return err
	}
	pol, ok := findPolicy(cfg, esc.Policy)
	if !ok || len(pol.Levels) == 0 {
		r.s.log.Warn("escalation policy removed; paging stops", "incident", esc.IncidentID, "policy", esc.Policy)
		return r.stop(ctx, &esc)
	}
	// The incident service counts levels from 0 (triggered) and escalates
	// to its own level + 1 when no level is given, while level 1 was paged
	// at the trigger: an escalation never pages a level at or below the
	// one paged last.
	level := max(d.Level, esc.Level+1)
	if loop := (level - 1) / len(pol.Levels); loop > pol.Repeat {
		return r.exhaust(ctx, &esc, pol, level)
	}
	esc.Status = StatusActive
	return r.page(ctx, &esc, pol, level)
}

func (r *run) reopened(ctx context.Context, d events.IncidentRef) error {
	esc, err := r.tx.EscalationGet(ctx, d.IncidentID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := r.cancelTimers(ctx, &esc); err != nil {
		return err
	}
	esc.Round++
	esc.Level = 0
	esc.Status = StatusStopped
	esc.StartedAt, esc.UpdatedAt = r.now, r.now
	cfg, err := r.config(ctx)
	if err != nil {
		return err
	}
	// The service's policy now, which may have changed since the first round.
	svc, ok := findService(cfg, esc.Service)
	pol, pok := findPolicy(cfg, svc.EscalationPolicy)
	if !ok || !pok || len(pol.Levels) == 0 {
		return r.tx.EscalationPut(ctx, esc)
	}
	if w, ok, err := r.tx.MaintenanceActive(ctx, esc.Service, r.now); err != nil {
		return err
	} else if ok {
		if err := r.tx.EscalationPut(ctx, esc); err != nil {
			return err
		}
		return r.emit(ctx, events.TypePageSuppressed, esc.IncidentID, events.PageSuppressed{
			IncidentID: esc.IncidentID, Number: esc.Number, Service: esc.Service, Reason: events.SuppressedMaintenance, WindowID: w.ID,
		})
	}
	esc.Policy = pol.Name
	esc.Status = StatusActive
	return r.page(ctx, &esc, pol, 1)
}

// stop ends paging: no step or notification timer stays pending.
func (r *run) stop(ctx context.Context, esc *Escalation) error {
	if err := r.cancelTimers(ctx, esc); err != nil {
		return err
	}
	esc.Status = StatusStopped
	esc.UpdatedAt = r.now
	return r.tx.EscalationPut(ctx, *esc)
}

func (r *run) cancelTimers(ctx context.Context, esc *Escalation) error {
	if _, err := r.tx.CancelTimer(ctx, TimerStep, esc.IncidentID); err != nil {
		return err
	}
	for _, key := range esc.NotifyTimers {
		if _, err := r.tx.CancelTimer(ctx, TimerNotify, key); err != nil {
			return err
		}
	}
	esc.NotifyTimers = nil
	return nil
}

// exhaust stops an escalation whose policy has no level left to page.
func (r *run) exhaust(ctx context.Context, esc *Escalation, pol Policy, level int) error {
	if err := r.stop(ctx, esc); err != nil {
		return err
	}
	return r.emit(ctx, events.TypeEscalationExhausted, esc.IncidentID, events.EscalationExhausted{
		IncidentID: esc.IncidentID, Number: esc.Number, Service: esc.Service, Policy: pol.Name, Level: level, Repeat: pol.Repeat,
	})
}

// page pages level (counted from 1 across repeats) of pol and schedules the
// step to the next level. While the service is in a maintenance window the
// level's pages are suppressed, but the escalation goes on.
func (r *run) page(ctx context.Context, esc *Escalation, pol Policy, level int) error {
	lvl := pol.Levels[(level-1)%len(pol.Levels)]
	esc.Level = level
	esc.UpdatedAt = r.now
	if w, ok, err := r.tx.MaintenanceActive(ctx, esc.Service, r.now); err != nil {
		return err
	} else if ok {
		err := r.emit(ctx, events.TypePageSuppressed, esc.IncidentID, events.PageSuppressed{
			IncidentID: esc.IncidentID, Number: esc.Number, Service: esc.Service, Reason: events.SuppressedMaintenance,
			WindowID: w.ID, Level: level, Policy: pol.Name,
		})
		if err != nil {
			return err
		}
	} else if err := r.pageTargets(ctx, esc, pol, level, lvl); err != nil {
		return err
	}
	due := r.now.Add(time.Duration(lvl.DelayMinutes) * time.Minute)
	err := r.schedule(ctx, TimerStep, esc.IncidentID, due, stepPayload{Level: level, Round: esc.Round, Delay: lvl.DelayMinutes, Correlation: r.corr})
	if err != nil {
		return err
	}
	return r.tx.EscalationPut(ctx, *esc)
}

func (r *run) pageTargets(ctx context.Context, esc *Escalation, pol Policy, level int, lvl Level) error {
	cfg, err := r.config(ctx)
	if err != nil {
		return err
	}
	paged := map[string]bool{}
	base := events.PageRequested{
		IncidentID: esc.IncidentID, Number: esc.Number, Title: esc.Title, Severity: esc.Severity, Service: esc.Service,
		Level: level, Policy: pol.Name,
	}
	suppress := func(reason, sched, user string) error {
		return r.emit(ctx, events.TypePageSuppressed, esc.IncidentID, events.PageSuppressed{
			IncidentID: esc.IncidentID, Number: esc.Number, Service: esc.Service, Reason: reason,
			Schedule: sched, User: user, Level: level, Policy: pol.Name,
		})
	}
	for _, tg := range lvl.Targets {
		page := base
		page.Target = events.PageTarget{Type: tg.Type, ID: tg.ID}
		switch tg.Type {
		case TargetUser:
			if err := r.pageUser(ctx, cfg, esc, page, tg.ID, paged, suppress); err != nil {
				return err
			}
		case TargetSchedule:
			sc, ok := findSchedule(cfg, tg.ID)
			if !ok {
				if err := suppress(events.SuppressedUnknownSchedule, tg.ID, ""); err != nil {
					return err
				}
				continue
			}
			c, err := schedule.Compile(sc)
			if err != nil {
				// Validate compiles every schedule before it is stored.
				return fmt.Errorf("compile schedule %s: %w", sc.Name, err)
			}
			shift, ok := c.OnCall(r.now)
			if !ok {
				if err := suppress(events.SuppressedNobodyOnCall, sc.Name, ""); err != nil {
					return err
				}
				continue
			}
			if err := r.pageUser(ctx, cfg, esc, page, shift.User, paged, suppress); err != nil {
				return err
			}
		case TargetSlackChannel:
			if paged["#"+tg.ID] {
				continue
			}
			paged["#"+tg.ID] = true
			page.Channel = tg.ID
			page.IdempotencyKey = pageKey(esc, level, "channel:"+tg.ID, "")
			err := r.emitPage(ctx, page)
			page.Channel = "" // the targets after this one are not channel pages
			if err != nil {
				return err
			}
		case TargetSlackUserGroup:
			if paged["@"+tg.ID] {
				continue
			}
			paged["@"+tg.ID] = true
			page.UserGroup = tg.ID
			page.IdempotencyKey = pageKey(esc, level, "usergroup:"+tg.ID, "")
			err := r.emitPage(ctx, page)
			page.UserGroup = ""
			if err != nil {
				return err
			}
		default:
			r.s.log.Warn("unknown target type; skipped", "policy", pol.Name, "type", tg.Type)
		}
	}
	return nil
}

// pageUser pages a user by their notification rules: at once for delay 0,
// through a notify timer otherwise. A user without rules gets every contact
// method at once. A user is paged once per level, however many targets
// name them.
func (r *run) pageUser(ctx context.Context, cfg Config, esc *Escalation, page events.PageRequested, userID string,
	paged map[string]bool, suppress func(reason, sched, user string) error) error {
	if paged[userID] {
		return nil
	}
	paged[userID] = true
	u, ok := findUser(cfg, userID)
	if !ok {
		return suppress(events.SuppressedUnknownUser, "", userID)
	}
	page.User = u.ID
	rules := u.NotificationRules
	if len(rules) == 0 {
		for _, m := range u.ContactMethods {
			rules = append(rules, NotificationRule{ContactMethod: m.Name})
		}
	}
	sent := false
	for i, rule := range rules {
		idx := slices.IndexFunc(u.ContactMethods, func(m ContactMethod) bool { return m.Name == rule.ContactMethod })
		if idx < 0 {
			continue
		}
		m := u.ContactMethods[idx]
		p := page
		p.ContactMethod = &events.PageContact{Name: m.Name, Type: m.Type, Address: m.Address}
		p.RuleDelayMinutes = rule.DelayMinutes
		p.IdempotencyKey = pageKey(esc, page.Level, u.ID, m.Name)
		sent = true
		if rule.DelayMinutes <= 0 {
			if err := r.emitPage(ctx, p); err != nil {
				return err
			}
			continue
		}
		key := esc.IncidentID + "/" + strconv.Itoa(page.Level) + "/" + u.ID + "/" + strconv.Itoa(i)
		due := r.now.Add(time.Duration(rule.DelayMinutes) * time.Minute)
		if err := r.schedule(ctx, TimerNotify, key, due, notifyPayload{Round: esc.Round, Page: p, Correlation: r.corr}); err != nil {
			return err
		}
		if !slices.Contains(esc.NotifyTimers, key) {
			esc.NotifyTimers = append(esc.NotifyTimers, key)
		}
	}
	if !sent {
		return suppress(events.SuppressedNoContactMethod, "", u.ID)
	}
	return nil
}

// pageKey is a page's idempotency key: incident/level/user/contact method,
// with "#<round>" after the incident id from the second round (a reopened
// incident) on.
func pageKey(esc *Escalation, level int, who, method string) string {
	inc := esc.IncidentID
	if esc.Round > 1 {
		inc += "#" + strconv.Itoa(esc.Round)
	}
	key := inc + "/" + strconv.Itoa(level) + "/" + who
	if method != "" {
		key += "/" + method
	}
	return key
}

func (r *run) emitPage(ctx context.Context, p events.PageRequested) error {
	return r.emit(ctx, events.TypePageRequested, p.IncidentID, p, events.WithID(deterministicID("page:"+p.IdempotencyKey)))
}

// HandleTimer fires one of the service's timers (a timer.Handler): a step
// timer asks the incident service to escalate to the next level, or ends the
// escalation when the policy has no level left; a notify timer sends a
// delayed notification rule's page. Either does nothing once the
// escalation stopped or moved on.
func (s *Service) HandleTimer(ctx context.Context, t timer.Timer) error {
	var (
		fire func(r *run) error
		corr string
	)
	switch t.Kind {
	case TimerStep:
		var p stepPayload
		if err := json.Unmarshal(t.Payload, &p); err != nil {
			return fmt.Errorf("step timer %s: %w", t.Key, err)
		}
		fire, corr = func(r *run) error { return r.step(ctx, t.Key, p) }, p.Correlation
	case TimerNotify:
		var p notifyPayload
		if err := json.Unmarshal(t.Payload, &p); err != nil {
			return fmt.Errorf("notify timer %s: %w", t.Key, err)
		}
		fire, corr = func(r *run) error { return r.notify(ctx, t.Key, p) }, p.Correlation
	default:
		return fmt.Errorf("escalation: unknown timer kind %q", t.Kind)
	}
	var r *run
	err := s.store.FireTimer(ctx, t, func(tx Tx) error {
		r = s.newRun(tx, nil, corr)
		return fire(r)
	})
	if errors.Is(err, timer.ErrGone) {
		return nil
	}
	if err != nil {
		return err
	}
	s.done(r)
	return nil
}

func (r *run) step(ctx context.Context, incidentID string, p stepPayload) error {
	esc, err := r.tx.EscalationGet(ctx, incidentID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if esc.Status != StatusActive || esc.Round != p.Round || esc.Level != p.Level {
		return nil
	}
	cfg, err := r.config(ctx)
	if err != nil {
		return err
	}
	pol, ok := findPolicy(cfg, esc.Policy)
	if !ok || len(pol.Levels) == 0 {
		return r.stop(ctx, &esc)
	}
	next := esc.Level + 1
	if (next-1)/len(pol.Levels) > pol.Repeat {
		return r.exhaust(ctx, &esc, pol, next)
	}
	cmd := events.IncidentCommand{Incident: incidentID, Level: next, OnlyUnacknowledged: true,
		Note: fmt.Sprintf("no acknowledgement within %d min", p.Delay)}
	key := fmt.Sprintf("escalate:%s/%d/%d", incidentID, esc.Round, next)
	return r.emit(ctx, events.CmdIncidentEscalate, incidentID, cmd, events.WithID(deterministicID(key)))
}

func (r *run) notify(ctx context.Context, key string, p notifyPayload) error {
	esc, err := r.tx.EscalationGet(ctx, p.Page.IncidentID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if i := slices.Index(esc.NotifyTimers, key); i >= 0 {
		esc.NotifyTimers = slices.Delete(esc.NotifyTimers, i, i+1)
		if len(esc.NotifyTimers) == 0 {
			esc.NotifyTimers = nil
		}
		if err := r.tx.EscalationPut(ctx, esc); err != nil {
			return err
		}
	}
	if esc.Status != StatusActive || esc.Round != p.Round {
		return nil
	}
	return r.emitPage(ctx, p.Page)
}

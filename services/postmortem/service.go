package postmortem

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Consumer names. Both consumers record into one inbox name, Inbox.
const (
	ConsumerEvents = "postmortem-events"
	ConsumerAlerts = "postmortem-alerts"
	Inbox          = "postmortem"
)

// alertLead is how long before its incident's trigger an alert may have
// been received and still belong to it (the alert that opens an incident
// is received moments before incident.triggered).
const alertLead = time.Minute

// Config tunes the service. Zero values take the defaults in the comments.
type Config struct {
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// OnCommit is called after a transaction that wrote to the outbox
	// (the relay's Notify).
	OnCommit func()
	// OnTimer is called after a transaction that scheduled a timer (the
	// timer runner's Notify).
	OnTimer func()
	// AckWait is the consumers' ack wait. Default: the bus default.
	AckWait time.Duration
	// OverdueAfter is how long past its due date an open action item is
	// reported with an action_item.overdue event (which escalation or
	// notify can page on). Default 24h; negative: never.
	OverdueAfter time.Duration
	// PageOverdueAfter is how long past its due date (the end of the due
	// day, UTC) an open action item pages its owner, once per due date:
	// action_item.page_due, on which the escalation service pages the
	// owner by their notification rules. 0 or negative: never (the
	// default; follow-ups are reported, not paged, unless asked for).
	PageOverdueAfter time.Duration
	// TimeZone is the zone of people whose own zone the service does not
	// know (no event carries a user's time zone), for night pages.
	// Default UTC.
	TimeZone *time.Location
	// PublicURL is the server's public base URL, for links in the status
	// feed. Default "".
	PublicURL string
	// Metrics receives the Prometheus observations; nil: none.
	Metrics *Metrics
}

// DefaultOverdueAfter is the default Config.OverdueAfter.
const DefaultOverdueAfter = 24 * time.Hour

// Service is the post-mortem service.
type Service struct {
	store Store
	log   *slog.Logger
	cfg   Config
}

// New returns the service on store.
func New(store Store, logger *slog.Logger, cfg Config) (*Service, error) {
	if store == nil {
		return nil, errors.New("postmortem: nil store")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnCommit == nil {
		cfg.OnCommit = func() {}
	}
	if cfg.OnTimer == nil {
		cfg.OnTimer = func() {}
	}
	if cfg.OverdueAfter == 0 {
		cfg.OverdueAfter = DefaultOverdueAfter
	}
	if cfg.TimeZone == nil {
		cfg.TimeZone = time.UTC
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, log: logger, cfg: cfg}, nil
}

// Store is the service's store.
func (s *Service) Store() Store { return s.store }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

var numberRef = regexp.MustCompile(`^(?i:inc-)?([0-9]{1,18})$`)

// parseNumber reads "INC-42" or "42".
func parseNumber(s string) (int64, bool) {
	m := numberRef.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	return n, err == nil && n > 0
}

// ResolveIncident finds an incident by id or by "INC-42"/"42", as the
// incident service reads references; ErrUnknownIncident when this service
// has not seen it triggered.
func (s *Service) ResolveIncident(ctx context.Context, ref string) (Incident, error) {
	return resolve(ctx, s.store, ref)
}

func resolve(ctx context.Context, r Reader, ref string) (Incident, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" || len(ref) > 64 {
		return Incident{}, fault.Field("incident", "must be an incident id or a reference such as INC-42")
	}
	var (
		inc Incident
		err error
	)
	if n, ok := parseNumber(ref); ok {
		inc, err = r.IncidentByNumber(ctx, n)
	} else {
		inc, err = r.IncidentGet(ctx, ref)
	}
	if errors.Is(err, ErrNotFound) {
		return Incident{}, fault.Wrap(ErrUnknownIncident, "unknown incident %s", ref)
	}
	return inc, err
}

// Project applies one event or alert: it adds it to its incident's
// timeline and updates the incident projection, page log and metrics. A
// redelivered event changes nothing.
func (s *Service) Project(ctx context.Context, env events.Envelope) error {
	return s.ProjectBatch(ctx, []events.Envelope{env})
}

// ProjectBatch projects envs, in order, in one transaction; each envelope
// already projected (by its id) is skipped.
func (s *Service) ProjectBatch(ctx context.Context, envs []events.Envelope) error {
	var observe []func()
	err := s.store.InTx(ctx, func(tx Tx) error {
		observe = observe[:0]
		for _, env := range envs {
			first, err := tx.MarkProcessed(ctx, Inbox, env.ID)
			if err != nil {
				return err
			}
			if !first {
				continue
			}
			o, err := s.apply(ctx, tx, env)
			if err != nil {
				return err
			}
			observe = append(observe, o...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, o := range observe {
		o()
	}
	return nil
}

func (s *Service) apply(ctx context.Context, tx Tx, env events.Envelope) ([]func(), error) {
	m := s.cfg.Metrics
	var observe []func()
	e := Entry{EventID: env.ID, At: env.Time.UTC(), Type: env.Type, Actor: env.Actor, Summary: Summarize(env), Details: env.Data}
	switch env.Type {
	case events.TypeAlertReceived:
		var d events.AlertReceived
		if err := env.DecodeData(&d); err != nil {
			return nil, fault.Wrap(ErrInvalid, "alert %s: %v", env.ID, err)
		}
		if !d.ReceivedAt.IsZero() {
			e.At = d.ReceivedAt.UTC()
		}
		e.AlertService, e.AlertKey = d.Service, d.DedupKey
		inc, err := tx.IncidentAtKey(ctx, d.Service, d.DedupKey, e.At)
		switch {
		case err == nil:
			e.IncidentID = inc.ID
			if err := tx.IncidentAlertsAdd(ctx, inc.ID, 1); err != nil {
				return nil, err
			}
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
		_, err = tx.EntryAdd(ctx, e)
		return nil, err
	case events.TypeIncidentTriggered:
		var d events.IncidentTriggered
		if err := env.DecodeData(&d); err != nil || d.IncidentID == "" {
			return nil, fault.Wrap(ErrInvalid, "incident.triggered %s: incident_id required (%v)", env.ID, err)
		}
		inc := Incident{ID: d.IncidentID, Number: d.Number, Title: d.Title, Service: d.Service, Severity: d.Severity,
			DedupKey: d.DedupKey, Status: "triggered", TriggeredAt: e.At}
		added, err := tx.IncidentInsert(ctx, inc)
		if err != nil {
			return nil, err
		}
		if added {
			n, err := tx.AlertsAttach(ctx, d.Service, d.DedupKey, d.IncidentID, e.At.Add(-alertLead))
			if err != nil {
				return nil, err
			}
			if n > 0 {
				if err := tx.IncidentAlertsAdd(ctx, inc.ID, n); err != nil {
					return nil, err
				}
			}
			observe = append(observe, func() { m.triggered(inc) })
		}
		e.IncidentID = d.IncidentID
		_, err = tx.EntryAdd(ctx, e)
		return observe, err
	}

	id, number := incidentRef(env)
	if id == "" && number > 0 {
		inc, err := tx.IncidentByNumber(ctx, number)
		if errors.Is(err, ErrNotFound) {
			s.log.DebugContext(ctx, "event names an incident number not seen triggered", "event", env.ID, "type", env.Type, "number", number)
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		id = inc.ID
	}
	if id == "" {
		return nil, nil // not about an incident
	}
	e.IncidentID = id
	if err := s.joinKey(ctx, tx, env, e.At); err != nil {
		return nil, err
	}
	inc, err := tx.IncidentGet(ctx, id)
	known := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if known {
		o, changed := s.track(&inc, env, e.At)
		if changed {
			if err := tx.IncidentUpdate(ctx, inc); err != nil {
				return nil, err
			}
		}
		observe = append(observe, o...)
	}
	if env.Type == events.TypePageRequested {
		var d events.PageRequested
		if env.DecodeData(&d) == nil && d.User != "" {
			p := Page{EventID: env.ID, IncidentID: id, User: d.User, Service: d.Service, Severity: d.Severity, At: e.At}
			if err := tx.PageAdd(ctx, p); err != nil {
				return nil, err
			}
			observe = append(observe, func() { m.paged(p, s.cfg.TimeZone) })
		}
	}
	if _, err := tx.EntryAdd(ctx, e); err != nil {
		return nil, err
	}
	return observe, nil
}

// joinKey makes a dedup key that joined another incident (the service's
// grouping rule put it there, or its incident was merged) that incident's:
// its alerts waiting for an incident are attached, and its later alerts
// find it (Tx.IncidentAtKey).
func (s *Service) joinKey(ctx context.Context, tx Tx, env events.Envelope, at time.Time) error {
	var service, key, into string
	switch env.Type {
	case events.TypeIncidentAlertGrouped:
		var d events.IncidentAlertGrouped
		if env.DecodeData(&d) != nil {
			return nil
		}
		service, key, into = d.Service, d.DedupKey, d.IncidentID
	case events.TypeIncidentMerged:
		var d events.IncidentMerged
		if env.DecodeData(&d) != nil || d.Into.IncidentID == "" {
			return nil
		}
		child, err := tx.IncidentGet(ctx, d.IncidentID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		service, key, into = child.Service, child.DedupKey, d.Into.IncidentID
	default:
		return nil
	}
	if service == "" || key == "" || into == "" {
		return nil
	}
	if err := tx.KeyJoin(ctx, service, key, into, at); err != nil {
		return err
	}
	n, err := tx.AlertsAttach(ctx, service, key, into, at.Add(-alertLead))
	if err != nil || n == 0 {
		return err
	}
	return tx.IncidentAlertsAdd(ctx, into, n)
}

// track applies a lifecycle event to the incident projection and returns
// the metric observations it makes.
func (s *Service) track(inc *Incident, env events.Envelope, at time.Time) (observe []func(), changed bool) {
	m := s.cfg.Metrics
	var d events.IncidentTransitioned
	_ = env.DecodeData(&d)
	setStatus := func() {
		if d.To != "" && d.To != inc.Status {
			inc.Status, changed = d.To, true
		}
	}
	first := func(p **time.Time, metric func(Incident, time.Duration)) {
		if *p == nil {
			t := at
			*p, changed = &t, true
			snap := *inc
			observe = append(observe, func() { metric(snap, at.Sub(snap.TriggeredAt)) })
		}
	}
	switch env.Type {
	case events.TypeIncidentAcknowledged:
		setStatus()
		first(&inc.AcknowledgedAt, m.acknowledged)
	case events.TypeIncidentContained:
		setStatus()
		first(&inc.ContainedAt, m.contained)
	case events.TypeIncidentMitigated:
		setStatus()
		first(&inc.MitigatedAt, m.mitigated)
	case events.TypeIncidentResolved, events.TypeIncidentMerged:
		setStatus()
		if inc.ResolvedAt == nil {
			t := at
			inc.ResolvedAt, changed = &t, true
			snap := *inc
			observe = append(observe, func() { m.resolved(snap, at.Sub(snap.TriggeredAt)) })
		}
	case events.TypeIncidentReopened:
		setStatus()
		if inc.ResolvedAt != nil {
			inc.ResolvedAt, changed = nil, true
		}
	case events.TypeIncidentEscalated, events.TypeIncidentPostmortem, events.TypeIncidentClosed:
		setStatus()
	case events.TypeIncidentSeverity:
		var sd events.IncidentSeverityChanged
		if env.DecodeData(&sd) == nil && sd.To != "" && sd.To != inc.Severity {
			inc.Severity, changed = sd.To, true
		}
	}
	if env.Type == events.TypeIncidentMerged {
		inc.Status, changed = "resolved", true
	}
	return observe, changed
}

// Timeline returns an incident and its timeline.
func (s *Service) Timeline(ctx context.Context, ref string, details bool) (Incident, []Entry, error) {
	inc, err := s.ResolveIncident(ctx, ref)
	if err != nil {
		return Incident{}, nil, err
	}
	es, err := s.store.Timeline(ctx, inc.ID, details)
	if err != nil {
		return Incident{}, nil, fmt.Errorf("timeline of %s: %w", inc.Key(), err)
	}
	// The projection again, read after the entries: an event's entry and
	// its change to the incident are committed together, so the incident
	// shown is never older than the entries (its durations cover every
	// state change listed).
	if inc, err = s.store.IncidentGet(ctx, inc.ID); err != nil {
		return Incident{}, nil, err
	}
	return inc, es, nil
}

package incident

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/firebreak-dev/firebreak/events"
)

// Name is the service's name: the source of its events and the prefix of its
// durable consumers.
const Name = "incident"

// Durable consumer names; they also name the inbox rows of each.
const (
	ConsumerAlerts      = "incident-alerts"
	ConsumerCommands    = "incident-commands"
	ConsumerPostmortems = "incident-postmortems"
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
	// ReopenWindow is how long after resolving an incident may be reopened;
	// later, a new incident must be declared. 0 means 24 hours; negative
	// means reopening is never allowed.
	ReopenWindow time.Duration
	// CoalesceInterval is how often an incident whose alert keeps repeating
	// reports its alert count (incident.alerts_coalesced): at most once per
	// interval, at the interval's end. 0 means 10 seconds.
	CoalesceInterval time.Duration
	// AlertBatch is the most alerts applied in one transaction. 0 means
	// bus.DefaultBatchSize.
	AlertBatch int
	// AckWait is how long JetStream waits for this service to acknowledge a
	// message before redelivering it; after a crash, messages that were in
	// flight come back after this long. 0 means the bus default (30 s).
	AckWait time.Duration
	// MaxAlerts is the most distinct alerts one incident keeps (each
	// fingerprint of a group, or the dedup key); receipts of further alerts
	// are only counted. 0 means DefaultMaxAlerts.
	MaxAlerts int
}

// DefaultCoalesceInterval applies when Config.CoalesceInterval is 0.
const DefaultCoalesceInterval = 10 * time.Second

// DefaultReopenWindow applies when Config.ReopenWindow is 0.
const DefaultReopenWindow = 24 * time.Hour

// Service decides every change to incidents.
type Service struct {
	store  Store
	log    *slog.Logger
	cfg    Config
	now    func() time.Time
	commit func()
	// coalesce remembers the coalescing timers this process scheduled.
	coalesce coalesceTimers
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
	if s.cfg.CoalesceInterval <= 0 {
		s.cfg.CoalesceInterval = DefaultCoalesceInterval
	}
	if s.cfg.MaxAlerts <= 0 {
		s.cfg.MaxAlerts = DefaultMaxAlerts
	}
	if s.cfg.ReopenWindow == 0 {
		s.cfg.ReopenWindow = DefaultReopenWindow
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
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

// Actions returns an incident's containment and mitigation actions.
func (s *Service) Actions(ctx context.Context, incidentID string) ([]Action, error) {
	return s.store.ActionList(ctx, incidentID)
}

// Responders returns an incident's responders.
func (s *Service) Responders(ctx context.Context, incidentID string) ([]Responder, error) {
	return s.store.ResponderList(ctx, incidentID)
}

// HandleAlert applies one alert.received event (HandleAlerts with one).
func (s *Service) HandleAlert(ctx context.Context, env events.Envelope) error {
	return s.HandleAlerts(ctx, []events.Envelope{env})
}

package escalation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/escalation/schedule"
)

// ConsumerIncidents is the durable consumer of incident events; it also
// names their inbox rows.
const ConsumerIncidents = "escalation-incidents"

// Options tune the service.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnCommit is called after each transaction that wrote to the outbox,
	// so the relay publishes without waiting for its next poll.
	OnCommit func()
	// OnTimer is called after each transaction that scheduled a timer, so
	// the timer runner looks for due timers without waiting for its poll.
	OnTimer func()
	// AckWait is how long JetStream waits for this service to acknowledge a
	// message before redelivering it. 0 means the bus default (30 s).
	AckWait time.Duration
}

// Service runs escalations and owns the paging configuration.
type Service struct {
	store   Store
	log     *slog.Logger
	opts    Options
	now     func() time.Time
	commit  func()
	onTimer func()
	// configs is the configuration the engine read last, by version.
	configs configCache
}

// configCache holds one paging configuration and its version. Every
// incident event needs the configuration; reading all of it from the store
// each time was a tenth of the CPU of `firebreak dev` under load, while
// reading its version is one row. The engine only reads what it gets.
type configCache struct {
	mu      sync.Mutex
	ok      bool
	version int64
	cfg     Config
}

func (c *configCache) get(version int64) (Config, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg, c.ok && c.version == version
}

func (c *configCache) put(version int64, cfg Config) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ok, c.version, c.cfg = true, version, cfg
}

// New returns the escalation service over store. logger may be nil.
func New(store Store, logger *slog.Logger, opts Options) (*Service, error) {
	if store == nil {
		return nil, errors.New("escalation: nil store")
	}
	s := &Service{store: store, log: logger, opts: opts, now: opts.Now, commit: opts.OnCommit, onTimer: opts.OnTimer}
	if s.now == nil {
		s.now = time.Now
	}
	if s.commit == nil {
		s.commit = func() {}
	}
	if s.onTimer == nil {
		s.onTimer = func() {}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Config returns the paging configuration.
func (s *Service) Config(ctx context.Context) (Config, error) {
	return s.store.ConfigGet(ctx)
}

// Escalation returns the escalation of an incident. Errors: ErrNotFound.
func (s *Service) Escalation(ctx context.Context, incidentID string) (Escalation, error) {
	return s.store.EscalationGet(ctx, incidentID)
}

// ApplyConfig replaces the paging configuration with desired and returns
// what changed. An invalid configuration changes nothing and fails with an
// Invalid error (code invalid_config) whose details list every problem as
// {"errors": [{"field", "problem"}, …]}. With dryRun it only computes the
// changes. Otherwise, in the same transaction, it stores desired and emits
// service.configured for each created or updated service, service.removed
// for each deleted one, and config.applied.
func (s *Service) ApplyConfig(ctx context.Context, desired Config, actor events.Actor, dryRun bool) ([]Change, error) {
	desired = normalize(desired)
	if errs := Validate(desired); len(errs) > 0 {
		return nil, invalidConfig(errs)
	}
	var changes []Change
	err := s.store.InTx(ctx, func(tx Tx) error {
		current, err := tx.ConfigGet(ctx)
		if err != nil {
			return err
		}
		changes = Diff(current, desired)
		if dryRun {
			return nil
		}
		if err := tx.ConfigReplace(ctx, desired); err != nil {
			return err
		}
		envs, err := s.configEvents(desired, changes, actor)
		if err != nil {
			return err
		}
		return tx.Emit(ctx, envs...)
	})
	if err != nil {
		return nil, err
	}
	if !dryRun {
		s.commit()
	}
	return changes, nil
}

func (s *Service) configEvents(desired Config, changes []Change, actor events.Actor) ([]events.Envelope, error) {
	now := s.now().UTC()
	applied, err := events.New(events.TypeConfigApplied, Name, "config", actor, events.ConfigApplied{Changes: changeEvents(changes)}, events.At(now))
	if err != nil {
		return nil, err
	}
	var out []events.Envelope
	for _, c := range changes {
		if c.Kind != KindService {
			continue
		}
		var (
			typ  string
			data any
		)
		switch c.Op {
		case OpCreate, OpUpdate:
			svc, ok := findService(desired, c.Name)
			if !ok {
				return nil, fmt.Errorf("diff reports %s of service %s, which the configuration lacks", c.Op, c.Name)
			}
			typ = events.TypeServiceConfigured
			data = events.ServiceConfigured{Name: svc.Name, Description: svc.Description, EscalationPolicy: svc.EscalationPolicy,
				AckTimeoutMs: svc.AckTimeout.Milliseconds(), SeverityMap: svc.SeverityMap,
				AlertGrouping: svc.AlertGrouping.Event()}
		case OpDelete:
			typ, data = events.TypeServiceRemoved, events.ServiceRemoved{Name: c.Name}
		default:
			continue
		}
		env, err := events.New(typ, Name, c.Name, actor, data, events.At(now), events.CausedBy(applied))
		if err != nil {
			return nil, err
		}
		out = append(out, env)
	}
	return append(out, applied), nil
}

func changeEvents(changes []Change) []events.ConfigChange {
	out := make([]events.ConfigChange, 0, len(changes))
	for _, c := range changes {
		out = append(out, events.ConfigChange{Kind: c.Kind, Name: c.Name, Op: c.Op, Fields: c.Fields})
	}
	return out
}

// invalidConfig is the one error of an invalid configuration: every
// problem, each naming its field.
func invalidConfig(errs []FieldError) error {
	list := make([]map[string]string, len(errs))
	for i, e := range errs {
		list[i] = map[string]string{"field": e.Field, "problem": e.Problem}
	}
	msg := fmt.Sprintf("invalid configuration: %s", errs[0].Error())
	if len(errs) > 1 {
		msg += fmt.Sprintf(" (and %d more problems)", len(errs)-1)
	}
	return &fault.Error{Kind: fault.Invalid, Code: ErrInvalid.Code, Message: msg,
		Details: map[string]any{"errors": list}, Err: ErrInvalid}
}

// normalize brings desired to the form stores give back (UTC times at
// microsecond precision, ack timeouts in whole milliseconds, nil for empty
// maps), so that applying a configuration exported from the store shows no
// changes.
func normalize(c Config) Config {
	out := c
	out.Services = append([]ServiceConfig(nil), c.Services...)
	for i := range out.Services {
		s := &out.Services[i]
		s.AckTimeout = s.AckTimeout.Truncate(time.Millisecond)
		if len(s.SeverityMap) == 0 {
			s.SeverityMap = nil
		}
		if g := s.AlertGrouping; g != nil {
			s.AlertGrouping = &AlertGrouping{By: append([]string(nil), g.By...), Window: g.Window.Truncate(time.Millisecond)}
		}
	}
	out.MaintenanceWindows = append([]MaintenanceWindow(nil), c.MaintenanceWindows...)
	for i := range out.MaintenanceWindows {
		w := &out.MaintenanceWindows[i]
		w.Start = w.Start.UTC().Truncate(time.Microsecond)
		w.End = w.End.UTC().Truncate(time.Microsecond)
	}
	return out
}

// ScheduleGet returns a schedule of the configuration by name.
// Errors: ErrNotFound.
func (s *Service) ScheduleGet(ctx context.Context, name string) (schedule.Schedule, error) {
	cfg, err := s.store.ConfigGet(ctx)
	if err != nil {
		return schedule.Schedule{}, err
	}
	for _, sc := range cfg.Schedules {
		if sc.Name == name {
			return sc, nil
		}
	}
	return schedule.Schedule{}, fault.Wrap(ErrNotFound, "schedule %q not found", name)
}

func (s *Service) compiled(ctx context.Context, name string) (*schedule.Compiled, error) {
	sc, err := s.ScheduleGet(ctx, name)
	if err != nil {
		return nil, err
	}
	c, err := schedule.Compile(sc)
	if err != nil {
		return nil, fmt.Errorf("compile schedule %s: %w", name, err)
	}
	return c, nil
}

// OnCall returns who is on call on a schedule at t; the bool is false when
// nobody is (the Shift then describes the gap). Errors: ErrNotFound.
func (s *Service) OnCall(ctx context.Context, name string, t time.Time) (schedule.Shift, bool, error) {
	c, err := s.compiled(ctx, name)
	if err != nil {
		return schedule.Shift{}, false, err
	}
	sh, ok := c.OnCall(t)
	return sh, ok, nil
}

// Render returns a schedule's final shifts over [from, to), gaps included.
// Errors: ErrNotFound.
func (s *Service) Render(ctx context.Context, name string, from, to time.Time) ([]schedule.Shift, error) {
	c, err := s.compiled(ctx, name)
	if err != nil {
		return nil, err
	}
	return c.Render(from, to), nil
}

func findService(c Config, name string) (ServiceConfig, bool) {
	for _, s := range c.Services {
		if s.Name == name {
			return s, true
		}
	}
	return ServiceConfig{}, false
}

func findPolicy(c Config, name string) (Policy, bool) {
	for _, p := range c.Policies {
		if p.Name == name {
			return p, true
		}
	}
	return Policy{}, false
}

func findUser(c Config, id string) (User, bool) {
	for _, u := range c.Users {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}

func findSchedule(c Config, name string) (schedule.Schedule, bool) {
	for _, sc := range c.Schedules {
		if sc.Name == name {
			return sc, true
		}
	}
	return schedule.Schedule{}, false
}

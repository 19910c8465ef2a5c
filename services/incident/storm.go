package incident

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/timer"
)

// TimerCoalesce is the kind of the timer that reports an incident's alert
// count once its alert repeated (incident.alerts_coalesced).
const TimerCoalesce = "alerts_coalesced"

// HandleAlerts applies alert.received events, in order, in one transaction
// that also records every event id as processed (ADR 0008). A trigger opens
// an incident or counts a repeat on the open one; acknowledge and resolve
// move the open incident of the dedup key and are ignored when there is
// none; a trigger after a resolve opens a new incident. When the service
// has an alert grouping rule, a trigger whose dedup key has no open
// incident first looks for the open incident of its group (same values of
// the rule's fields, opened within the window) and joins it
// (incident.alert_grouped). An incident that other dedup keys joined (by
// grouping or a merge) resolves when its last firing alert resolves. Only those changes
// emit events: repeats raise the alert count in memory, each repeated
// incident is written once at the end, and a coalescing timer reports its
// count at the end of the current interval. Applying an event twice changes
// nothing.
//
// An event that can never apply makes the whole call fail with an Invalid
// error; the bus then applies the events one at a time, so that only that
// one is dead-lettered.
func (s *Service) HandleAlerts(ctx context.Context, envs []events.Envelope) error {
	alerts := make([]events.AlertReceived, len(envs))
	for i, env := range envs {
		if err := env.DecodeData(&alerts[i]); err != nil {
			return fault.Wrap(ErrInvalid, "alert %s: %v", env.ID, err)
		}
		if alerts[i].Service == "" || alerts[i].DedupKey == "" {
			return fault.Wrap(ErrInvalid, "alert %s: service and dedup_key are required", env.ID)
		}
	}
	var done *fold
	err := s.store.InTx(ctx, func(tx Tx) error {
		f := s.newFold(tx)
		for i, env := range envs {
			first, err := tx.MarkProcessed(ctx, ConsumerAlerts, env.ID)
			if err != nil {
				return err
			}
			if !first {
				continue
			}
			if err := f.apply(ctx, env, alerts[i]); err != nil {
				return err
			}
		}
		if err := f.flush(ctx); err != nil {
			return err
		}
		done = f
		return nil
	})
	if err != nil {
		return err
	}
	s.coalesce.add(done.scheduled, done.due)
	if done.wrote {
		s.commit()
	}
	return nil
}

// applyAlert applies one alert inside tx and reports whether it emitted
// events.
func (s *Service) applyAlert(ctx context.Context, tx Tx, cause events.Envelope, a events.AlertReceived) (bool, error) {
	f := s.newFold(tx)
	if err := f.apply(ctx, cause, a); err != nil {
		return false, err
	}
	return f.wrote, f.flush(ctx)
}

func (s *Service) newFold(tx Tx) *fold {
	return &fold{s: s, tx: tx, now: s.now().UTC(), services: map[string]TechService{},
		open: map[dedupRef]*folded{}, byID: map[string]*folded{}, groups: map[dedupRef]*folded{}, counted: map[string]bool{}}
}

type dedupRef struct{ service, key string }

// folded is what a batch knows about the open incident of one dedup key.
type folded struct {
	inc   Incident
	found bool // an open incident exists (inc is it)
	dirty bool // inc has repeats not written yet
}

// fold applies a batch of alerts inside one transaction, reading each dedup
// key's open incident once and writing repeats once.
type fold struct {
	s        *Service
	tx       Tx
	now      time.Time
	services map[string]TechService
	open     map[dedupRef]*folded
	// byID holds each open incident the batch read once, whichever dedup
	// key found it (its own, or one that joined it), so that its changes
	// are made to one copy.
	byID map[string]*folded
	// groups are open incidents by (service, group key).
	groups   map[dedupRef]*folded
	order    []dedupRef // first-seen order, for a deterministic flush
	repeated []string   // incidents that counted repeats, once each
	counted  map[string]bool
	wrote    bool // events were emitted
	// scheduled are the incidents whose coalescing timer flush scheduled
	// (due at due), for Service.coalesce once the transaction commits.
	scheduled []string
	due       time.Time
	alerts    alertFold
}

func (f *fold) service(ctx context.Context, name string) (TechService, error) {
	if svc, ok := f.services[name]; ok {
		return svc, nil
	}
	svc, err := f.s.ensureService(ctx, f.tx, name)
	if err != nil {
		return TechService{}, err
	}
	f.services[name] = svc
	return svc, nil
}

func (f *fold) lookup(ctx context.Context, k dedupRef) (*folded, error) {
	if e, ok := f.open[k]; ok {
		return e, nil
	}
	e := &folded{}
	inc, err := f.tx.IncidentOpenByDedup(ctx, k.service, k.key)
	switch {
	case err == nil:
		e = f.known(inc)
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	f.open[k] = e
	f.order = append(f.order, k)
	return e, nil
}

// known returns the batch's copy of the open incident inc just read from
// the store: the one read or opened before, else inc.
func (f *fold) known(inc Incident) *folded {
	if e, ok := f.byID[inc.ID]; ok && e.found && e.inc.ID == inc.ID {
		return e
	}
	e := &folded{inc: inc, found: true}
	f.byID[inc.ID] = e
	return e
}

// group returns the open incident of service's group key opened at or
// after since, nil for none.
func (f *fold) group(ctx context.Context, service, key string, since time.Time) (*folded, error) {
	gk := dedupRef{service, key}
	if e, ok := f.groups[gk]; ok && e.found && e.inc.GroupKey == key && !e.inc.CreatedAt.Before(since) {
		return e, nil
	}
	inc, err := f.tx.IncidentOpenByGroup(ctx, service, key, since)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	e := f.known(inc)
	f.groups[gk] = e
	return e, nil
}

// join adds a trigger whose dedup key has no open incident to the open
// incident of its group under the service's grouping rule, and reports
// whether it did. The dedup key becomes a member of the incident, so its
// later events find it. It also returns the trigger's group key ("" when
// the service has no rule or the alert lacks a field), which an incident
// the trigger opens keeps.
func (f *fold) join(ctx context.Context, cause events.Envelope, a events.AlertReceived, svc TechService, k dedupRef) (string, bool, error) {
	if svc.AlertGrouping == nil {
		return "", false, nil
	}
	key, fields, ok := events.GroupKeyOf(*svc.AlertGrouping, a)
	if !ok {
		return "", false, nil
	}
	since := time.Time{}
	if w := svc.AlertGrouping.WindowMs; w > 0 {
		since = f.now.Add(-time.Duration(w) * time.Millisecond)
	}
	g, err := f.group(ctx, a.Service, key, since)
	if err != nil || g == nil {
		return key, false, err
	}
	if err := f.tx.MemberAdd(ctx, a.Service, a.DedupKey, g.inc.ID, f.now); err != nil {
		return key, false, err
	}
	f.open[k] = g
	g.inc.AlertCount++
	g.inc.LastAlertAt = f.now
	if err := save(ctx, f.tx, &g.inc, f.now); err != nil {
		return key, false, err
	}
	g.dirty, f.wrote = false, true
	f.record(g.inc.ID, a)
	return key, true, f.s.emit(ctx, f.tx, events.TypeIncidentAlertGrouped, g.inc, cause.Actor, cause, f.now, events.IncidentAlertGrouped{
		IncidentRef: ref(g.inc), Service: a.Service, DedupKey: a.DedupKey, Summary: cut(a.Summary, MaxTitleLen),
		Severity: a.Severity, GroupKey: key, Fields: fields, AlertCount: g.inc.AlertCount,
	})
}

func (f *fold) apply(ctx context.Context, cause events.Envelope, a events.AlertReceived) error {
	svc, err := f.service(ctx, a.Service)
	if err != nil {
		return err
	}
	k := dedupRef{a.Service, a.DedupKey}
	e, err := f.lookup(ctx, k)
	if err != nil {
		return err
	}
	if !e.found {
		if a.EventAction != events.ActionTrigger {
			return nil // nothing open to acknowledge or resolve
		}
		groupKey, joined, err := f.join(ctx, cause, a, svc, k)
		if err != nil || joined {
			return err
		}
		inc, err := f.s.open(ctx, f.tx, cause, a, svc, groupKey, f.now)
		if err != nil {
			return err
		}
		e = &folded{inc: inc, found: true}
		f.open[k], f.byID[inc.ID] = e, e
		if inc.GroupKey != "" {
			f.groups[dedupRef{a.Service, inc.GroupKey}] = e
		}
		f.wrote = true
		f.record(inc.ID, a)
		return nil
	}
	switch a.EventAction {
	case events.ActionTrigger:
		if !f.counted[e.inc.ID] {
			f.counted[e.inc.ID] = true
			f.repeated = append(f.repeated, e.inc.ID)
		}
		e.inc.AlertCount++
		e.inc.LastAlertAt = f.now
		e.dirty = true
		f.record(e.inc.ID, a)
		return nil
	case events.ActionAcknowledge:
		if e.inc.Status != StatusTriggered && e.inc.Status != StatusEscalated {
			return nil
		}
		inc, err := f.s.move(ctx, f.tx, cause, e.inc, change{to: StatusAcknowledged, note: "acknowledged by " + a.Integration}, cause.Actor, f.now)
		if err != nil {
			return err
		}
		e.inc, e.dirty, f.wrote = inc, false, true
		return nil
	case events.ActionResolve:
		f.record(e.inc.ID, a)
		if last, err := f.lastFiring(ctx, e.inc); err != nil || !last {
			return err
		}
		if _, err := f.s.move(ctx, f.tx, cause, e.inc, change{to: StatusResolved, note: "resolved by " + a.Integration}, cause.Actor, f.now); err != nil {
			return err
		}
		*e = folded{}
		f.wrote = true
		return nil
	}
	return fault.Wrap(ErrInvalid, "alert %s: unknown event_action %q", cause.ID, a.EventAction)
}

// lastFiring reports whether a resolve of one of inc's alerts (recorded
// already) resolves inc. An incident of one dedup key resolves with it; one
// that other dedup keys joined (by grouping or a merge) resolves when none
// of its alerts fires any more.
func (f *fold) lastFiring(ctx context.Context, inc Incident) (bool, error) {
	if n, err := f.tx.MemberCount(ctx, inc.ID); err != nil || n == 0 {
		return true, err
	}
	if err := f.alerts.flush(ctx, f.tx, f.s.cfg.MaxAlerts); err != nil {
		return false, err
	}
	firing, err := f.tx.AlertFiringCount(ctx, inc.ID)
	return firing == 0, err
}

// record adds the alerts a carries to the batch's receipts for incident
// incidentID (written by flush).
func (f *fold) record(incidentID string, a events.AlertReceived) {
	as, truncated, grouped := alertsOf(incidentID, a, f.now)
	f.alerts.add(as, incidentID, truncated, grouped)
}

// flush writes every incident whose repeats are only in memory, and
// schedules the coalescing report of every incident that counted repeats.
// The report is due at the end of the current interval: rescheduling within
// an interval keeps its due time, so a storm reports once per interval.
func (f *fold) flush(ctx context.Context) error {
	if err := f.alerts.flush(ctx, f.tx, f.s.cfg.MaxAlerts); err != nil {
		return err
	}
	for _, k := range f.order {
		e := f.open[k]
		if !e.found || !e.dirty {
			continue
		}
		if err := save(ctx, f.tx, &e.inc, f.now); err != nil {
			return err
		}
		e.dirty = false
	}
	every := f.s.cfg.CoalesceInterval
	f.due = f.now.Truncate(every).Add(every)
	for _, id := range f.repeated {
		if f.s.coalesce.has(id, f.due) {
			continue // this process scheduled it for this interval already
		}
		if err := f.tx.TimerSchedule(ctx, timer.Timer{ID: timer.NewID(), Kind: TimerCoalesce, Key: id, DueAt: f.due, CreatedAt: f.now}); err != nil {
			return err
		}
		f.scheduled = append(f.scheduled, id)
	}
	return nil
}

// coalesceTimers remembers, per incident, the due time of the coalescing
// timer this process last scheduled, so that further repeats within the
// same interval skip rescheduling it (which would keep its due time
// anyway). A timer is due at the end of its interval and fires no earlier,
// so one remembered with a due time still ahead is still scheduled. It
// forgets timers already due once it holds coalesceRemember of them.
type coalesceTimers struct {
	mu  sync.Mutex
	due map[string]time.Time
}

const coalesceRemember = 100_000

func (c *coalesceTimers) has(id string, due time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.due[id]
	return ok && d.Equal(due)
}

func (c *coalesceTimers) add(ids []string, due time.Time) {
	if len(ids) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.due == nil {
		c.due = map[string]time.Time{}
	}
	if len(c.due)+len(ids) > coalesceRemember {
		for id, d := range c.due {
			if d.Before(due) {
				delete(c.due, id)
			}
		}
	}
	for _, id := range ids {
		c.due[id] = due
	}
}

// fireCoalesce reports an incident's alert count (a TimerCoalesce timer).
func (s *Service) fireCoalesce(ctx context.Context, tx Tx, t timer.Timer) (bool, error) {
	inc, err := tx.IncidentGet(ctx, Ref{ID: t.Key})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	cause, err := events.New("timer.fired", Name, inc.ID, events.System(Name), map[string]string{"kind": t.Kind, "timer_id": t.ID})
	if err != nil {
		return false, err
	}
	err = s.emit(ctx, tx, events.TypeIncidentAlertsCoalesced, inc, events.System(Name), cause, s.now().UTC(), events.IncidentAlertsCoalesced{
		IncidentRef: ref(inc), Service: inc.Service, DedupKey: inc.DedupKey, AlertCount: inc.AlertCount, LastAlertAt: inc.LastAlertAt.UTC(),
	})
	return err == nil, err
}

package escalation_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/outbox"
	outboxpg "github.com/firebreak-dev/firebreak/internal/outbox/postgres"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/schemas"
	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/escalation/schedule"
	"github.com/firebreak-dev/firebreak/services/escalation/store/postgres"
	"github.com/firebreak-dev/firebreak/services/escalation/store/sqlite"
)

// pending reads what a service wrote to its outbox.
type pending interface {
	Pending(ctx context.Context, limit int) ([]outbox.Record, error)
}

// clock is a fake clock that only moves when a test moves it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// t0 is a Monday morning.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type engine struct {
	name string
	open func(t *testing.T, now func() time.Time) (escalation.Store, pending)
}

var engines = []engine{
	{"sqlite", func(t *testing.T, now func() time.Time) (escalation.Store, pending) {
		d := dbtest.SQLite(t, "outbox", "timer", "escalation")
		return sqlite.New(d, now), outboxsqlite.New(d)
	}},
	{"postgres", func(t *testing.T, now func() time.Time) (escalation.Store, pending) {
		pool, _ := dbtest.Postgres(t, "outbox", "timer", "escalation")
		return postgres.New(pool, now), outboxpg.New(pool)
	}},
}

// each runs f on every engine, in parallel.
func each(t *testing.T, f func(t *testing.T, h *harness)) {
	t.Helper()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			c := &clock{t: t0}
			store, out := e.open(t, c.Now)
			h := newHarness(t, store, out, c)
			f(t, h)
		})
	}
}

type harness struct {
	t      *testing.T
	store  escalation.Store
	svc    *escalation.Service
	outbox pending
	clock  *clock
	seen   int // outbox rows already returned by fresh
}

func newHarness(t *testing.T, store escalation.Store, out pending, c *clock) *harness {
	t.Helper()
	svc, err := escalation.New(store, nil, escalation.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: store, svc: svc, outbox: out, clock: c}
	t.Cleanup(h.validate)
	return h
}

// all returns every envelope in the outbox (tests never relay it).
func (h *harness) all() []events.Envelope {
	h.t.Helper()
	recs, err := h.outbox.Pending(context.Background(), 100000)
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]events.Envelope, len(recs))
	for i, r := range recs {
		if out[i], err = events.Decode(r.Payload); err != nil {
			h.t.Fatal(err)
		}
	}
	return out
}

// fresh returns the envelopes written since the last call.
func (h *harness) fresh() []events.Envelope {
	h.t.Helper()
	all := h.all()
	out := all[h.seen:]
	h.seen = len(all)
	return out
}

// validate checks every emitted envelope against its JSON Schema.
func (h *harness) validate() {
	v, err := schemas.NewValidator()
	if err != nil {
		h.t.Fatal(err)
	}
	recs, err := h.outbox.Pending(context.Background(), 100000)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range recs {
		if err := v.Validate(r.Payload); err != nil {
			h.t.Errorf("emitted event does not match its schema: %v\n%s", err, r.Payload)
		}
	}
}

func (h *harness) apply(c escalation.Config) []escalation.Change {
	h.t.Helper()
	changes, err := h.svc.ApplyConfig(context.Background(), c, events.Actor{Kind: events.ActorUser, ID: "admin"}, false)
	if err != nil {
		h.t.Fatal(err)
	}
	return changes
}

// deliver hands an incident event to the service as the bus would.
func (h *harness) deliver(env events.Envelope) {
	h.t.Helper()
	if err := h.svc.HandleIncidentEvent(context.Background(), env); err != nil {
		h.t.Fatalf("handle %s: %v", env.Type, err)
	}
}

func incidentEvent(typ, id string, data any) events.Envelope {
	return events.MustNew(typ, "incident", id, events.System("incident"), data)
}

func triggered(id, service string) events.Envelope {
	return incidentEvent(events.TypeIncidentTriggered, id, events.IncidentTriggered{
		IncidentRef: events.IncidentRef{IncidentID: id, Number: 7, Version: 1},
		Service:     service, DedupKey: "k-" + id, Title: "checkout is down", Severity: "SEV1",
	})
}

func transitioned(typ, id string, level int) events.Envelope {
	return incidentEvent(typ, id, events.IncidentTransitioned{
		IncidentRef: events.IncidentRef{IncidentID: id, Number: 7, Version: 2}, Level: level,
	})
}

// fireDue fires every timer due by the fake clock, as a runner would,
// including timers that firing scheduled.
func (h *harness) fireDue() {
	h.t.Helper()
	for range 100 {
		ts, err := h.store.Timers().ClaimDue(context.Background(), h.clock.Now(), 100, "test", time.Minute)
		if err != nil {
			h.t.Fatal(err)
		}
		if len(ts) == 0 {
			return
		}
		for _, tm := range ts {
			if err := h.svc.HandleTimer(context.Background(), tm); err != nil {
				h.t.Fatalf("fire %s/%s: %v", tm.Kind, tm.Key, err)
			}
		}
	}
	h.t.Fatal("timers keep coming due")
}

// advance moves the clock, fires what is due and plays the incident
// service: each incident.escalate command comes back as incident.escalated.
// It returns what the service emitted meanwhile, commands included.
func (h *harness) advance(d time.Duration) []events.Envelope {
	h.t.Helper()
	h.clock.Add(d)
	h.fireDue()
	var out []events.Envelope
	for {
		got := h.fresh()
		if len(got) == 0 {
			return out
		}
		out = append(out, got...)
		for _, e := range got {
			if e.Type != events.CmdIncidentEscalate {
				continue
			}
			var c events.IncidentCommand
			if err := e.DecodeData(&c); err != nil {
				h.t.Fatal(err)
			}
			h.deliver(transitioned(events.TypeIncidentEscalated, c.Incident, c.Level))
		}
	}
}

// pendingTimers returns the kinds/keys of every pending timer.
func (h *harness) pendingTimers() []string {
	h.t.Helper()
	ts, err := h.store.Timers().ClaimDue(context.Background(), h.clock.Now().Add(1000*time.Hour), 1000, "peek", time.Nanosecond)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.Timers().Release(context.Background(), ts); err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, tm := range ts {
		out = append(out, tm.Kind+"/"+tm.Key)
	}
	return out
}

// page is a page.requested in short: who, how, which level.
type page struct {
	user, method string
	level, delay int
}

func (p page) String() string { return fmt.Sprintf("%s/%s@L%d+%d", p.user, p.method, p.level, p.delay) }

func pages(t *testing.T, envs []events.Envelope) []page {
	t.Helper()
	var out []page
	for _, e := range envs {
		if e.Type != events.TypePageRequested {
			continue
		}
		var p events.PageRequested
		if err := e.DecodeData(&p); err != nil {
			t.Fatal(err)
		}
		pg := page{user: p.User, level: p.Level, delay: p.RuleDelayMinutes}
		if p.ContactMethod != nil {
			pg.method = p.ContactMethod.Name
		}
		if p.Channel != "" {
			pg.user = p.Channel
		}
		if p.UserGroup != "" {
			pg.user = p.UserGroup
		}
		if (p.Channel != "" || p.UserGroup != "") && (p.User != "" || p.ContactMethod != nil) {
			t.Fatalf("a Slack channel/user group page also names a user: %+v", p)
		}
		if p.User != "" && (p.Channel != "" || p.UserGroup != "") {
			t.Fatalf("a user page also names a Slack channel/user group: %+v", p)
		}
		out = append(out, pg)
	}
	return out
}

func types(envs []events.Envelope) []string {
	var out []string
	for _, e := range envs {
		out = append(out, e.Type)
	}
	return out
}

func wantPages(t *testing.T, what string, envs []events.Envelope, want ...page) {
	t.Helper()
	got := pages(t, envs)
	if !slices.Equal(got, want) {
		t.Fatalf("%s: pages %v, want %v (events %v)", what, got, want, types(envs))
	}
}

func user(id string, rules ...escalation.NotificationRule) escalation.User {
	return escalation.User{ID: id, Name: id,
		ContactMethods: []escalation.ContactMethod{
			{Name: "slack", Type: escalation.ContactSlack, Address: "U-" + id},
			{Name: "email", Type: escalation.ContactEmail, Address: id + "@example.com"},
		},
		NotificationRules: rules}
}

func userTarget(id string) escalation.Target {
	return escalation.Target{Type: escalation.TargetUser, ID: id}
}

// twoLevels is a 2-level policy, repeated once: alice for 5 minutes, then
// bob for 10; alice is paged by Slack only, bob by Slack and email.
func twoLevels() escalation.Config {
	return escalation.Config{
		Services: []escalation.ServiceConfig{{Name: "checkout", EscalationPolicy: "web"}, {Name: "quiet"}},
		Users: []escalation.User{
			user("alice", escalation.NotificationRule{ContactMethod: "slack"}),
			user("bob"),
		},
		Policies: []escalation.Policy{{Name: "web", Repeat: 1, Levels: []escalation.Level{
			{DelayMinutes: 5, Targets: []escalation.Target{userTarget("alice")}},
			{DelayMinutes: 10, Targets: []escalation.Target{userTarget("bob")}},
		}}},
	}
}

func TestPolicyLoopsThenExhausts(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, h *harness) {
		h.apply(twoLevels())
		h.fresh()
		h.deliver(triggered("inc-1", "checkout"))
		wantPages(t, "trigger", h.advance(0), page{"alice", "slack", 1, 0})
		wantPages(t, "4 minutes", h.advance(4*time.Minute))
		got := h.advance(time.Minute)
		wantPages(t, "level 2 after 5 minutes", got, page{"bob", "slack", 2, 0}, page{"bob", "email", 2, 0})
		if got[0].Type != events.CmdIncidentEscalate {
			t.Fatalf("first event %s, want the escalate command", got[0].Type)
		}
		var cmd events.IncidentCommand
		_ = got[0].DecodeData(&cmd)
		if cmd.Incident != "inc-1" || cmd.Level != 2 || cmd.Note != "no acknowledgement within 5 min" {
			t.Fatalf("command %+v", cmd)
		}
		wantPages(t, "9 more minutes", h.advance(9*time.Minute))
		wantPages(t, "loop: level 1 again", h.advance(time.Minute), page{"alice", "slack", 3, 0})
		wantPages(t, "loop: level 2 again", h.advance(5*time.Minute), page{"bob", "slack", 4, 0}, page{"bob", "email", 4, 0})
		got = h.advance(10 * time.Minute)
		if !slices.Equal(types(got), []string{events.TypeEscalationExhausted}) {
			t.Fatalf("after the last level: %v, want escalation.exhausted only", types(got))
		}
		var ex events.EscalationExhausted
		_ = got[0].DecodeData(&ex)
		if ex.Level != 5 || ex.Repeat != 1 || ex.Policy != "web" || ex.IncidentID != "inc-1" {
			t.Fatalf("exhausted %+v", ex)
		}
		esc, err := h.svc.Escalation(context.Background(), "inc-1")
		if err != nil || esc.Status != escalation.StatusStopped || esc.Level != 4 {
			t.Fatalf("escalation %+v %v", esc, err)
		}
		if p := h.pendingTimers(); len(p) != 0 {
			t.Fatalf("timers left: %v", p)
		}
		wantPages(t, "an hour later", h.advance(time.Hour))
	})
}

func TestStopStopsPaging(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{events.TypeIncidentAcknowledged, events.TypeIncidentResolved, events.TypeIncidentMerged,
		events.TypeIncidentClosed, events.TypeIncidentPostmortem} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			each(t, func(t *testing.T, h *harness) {
				cfg := twoLevels()
				cfg.Users[0].NotificationRules = append(cfg.Users[0].NotificationRules, escalation.NotificationRule{ContactMethod: "email", DelayMinutes: 3})
				h.apply(cfg)
				h.fresh()
				h.deliver(triggered("inc-1", "checkout"))
				wantPages(t, "trigger", h.advance(time.Minute), page{"alice", "slack", 1, 0})
				if p := h.pendingTimers(); len(p) != 2 {
					t.Fatalf("pending timers %v, want step and notify", p)
				}
				// The step timer is claimed by a runner just before the stop
				// event arrives.
				h.clock.Add(4 * time.Minute)
				claimed, err := h.store.Timers().ClaimDue(context.Background(), h.clock.Now(), 10, "slow-runner", time.Minute)
				if err != nil || len(claimed) != 2 {
					t.Fatalf("claim: %v %v", claimed, err)
				}
				h.deliver(transitioned(typ, "inc-1", 0))
				for _, tm := range claimed {
					if err := h.svc.HandleTimer(context.Background(), tm); err != nil {
						t.Fatalf("late fire of %s: %v", tm.Kind, err)
					}
				}
				if got := h.advance(2 * time.Hour); len(got) != 0 {
					t.Fatalf("after %s: %v, want nothing", typ, types(got))
				}
				if p := h.pendingTimers(); len(p) != 0 {
					t.Fatalf("timers left after %s: %v", typ, p)
				}
				esc, err := h.svc.Escalation(context.Background(), "inc-1")
				if err != nil || esc.Status != escalation.StatusStopped || len(esc.NotifyTimers) != 0 {
					t.Fatalf("escalation %+v %v", esc, err)
				}
			})
		})
	}
}

// TestAckTimeoutReescalates: after an acknowledgement the incident service
// may escalate again (ack timeout, a person); paging resumes at the next
// level.
func TestAckTimeoutReescalates(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, h *harness) {
		h.apply(twoLevels())
		h.deliver(triggered("inc-1", "checkout"))
		h.deliver(transitioned(events.TypeIncidentAcknowledged, "inc-1", 0))
		h.fresh()
		// The incident service names no level for an ack timeout; its
		// level is still 0, so the event says 1.
		h.deliver(incidentEvent(events.TypeIncidentSeverity, "inc-1", events.IncidentSeverityChanged{
			IncidentRef: events.IncidentRef{IncidentID: "inc-1", Number: 7, Version: 3}, From: "SEV1", To: "SEV3"}))
		h.deliver(transitioned(events.TypeIncidentEscalated, "inc-1", 1))
		got := h.advance(0)
		wantPages(t, "re-escalation", got, page{"bob", "slack", 2, 0}, page{"bob", "email", 2, 0})
		var p events.PageRequested
		_ = got[0].DecodeData(&p)
		if p.Severity != "SEV3" {
			t.Fatalf("page severity %s after the change to SEV3", p.Severity)
		}
		wantPages(t, "and on", h.advance(10*time.Minute), page{"alice", "slack", 3, 0})
	})
}

func TestReopenStartsOver(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, h *harness) {
		h.apply(twoLevels())
		h.deliver(triggered("inc-1", "checkout"))
		h.advance(5 * time.Minute)
		h.deliver(transitioned(events.TypeIncidentResolved, "inc-1", 0))
		first := h.all()
		h.deliver(transitioned(events.TypeIncidentReopened, "inc-1", 0))
		got := h.advance(0)
		wantPages(t, "reopen", got, page{"alice", "slack", 1, 0})
		var p events.PageRequested
		_ = got[0].DecodeData(&p)
		for _, e := range first {
			if e.ID == got[0].ID {
				t.Fatalf("the reopened round's page reuses id %s of the first round", e.ID)
			}
		}
		if p.IdempotencyKey != "inc-1#2/1/alice/slack" {
			t.Fatalf("idempotency key %q", p.IdempotencyKey)
		}
		wantPages(t, "level 2 again", h.advance(5*time.Minute), page{"bob", "slack", 2, 0}, page{"bob", "email", 2, 0})
	})
}

func TestScheduleTargetPagesWhoIsOnCall(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, h *harness) {
		cfg := twoLevels()
		cfg.Users = append(cfg.Users, user("carol"))
		cfg.Schedules = []schedule.Schedule{{
			Name: "primary", TimeZone: "UTC",
			Layers: []schedule.Layer{{Participants: []string{"alice", "bob"}, Start: t0.Add(-time.Hour),
				Shift: schedule.ShiftLength{Count: 1, Unit: schedule.Days}}},
			Overrides: []schedule.Override{{ID: "swap", User: "carol", Start: t0.Add(24 * time.Hour), End: t0.Add(26 * time.Hour)}},
		}, {
			Name: "nights", TimeZone: "UTC",
			Layers: []schedule.Layer{{Participants: []string{"bob"}, Start: t0.Add(24 * time.Hour),
				Shift: schedule.ShiftLength{Count: 1, Unit: schedule.Days}}},
		}}
		cfg.Policies[0].Levels[0].Targets = []escalation.Target{
			{Type: escalation.TargetSchedule, ID: "primary"},
			{Type: escalation.TargetSchedule, ID: "nights"},
			{Type: escalation.TargetSlackChannel, ID: "#web-oncall"},
		}
		h.apply(cfg)
		h.fresh()

		h.deliver(triggered("inc-1", "checkout"))
		got := h.advance(0)
		wantPages(t, "day 1", got, page{"alice", "slack", 1, 0}, page{"#web-oncall", "", 1, 0})
		if !slices.Contains(types(got), events.TypePageSuppressed) {
			t.Fatalf("nobody on call on nights: %v, want page.suppressed", types(got))
		}
		for _, e := range got {
			if e.Type == events.TypePageSuppressed {
				var s events.PageSuppressed
				_ = e.DecodeData(&s)
				if s.Reason != events.SuppressedNobodyOnCall || s.Schedule != "nights" {
					t.Fatalf("suppressed %+v", s)
				}
			}
		}
		var p events.PageRequested
		_ = got[0].DecodeData(&p)
		if p.Target != (events.PageTarget{Type: "schedule", ID: "primary"}) || p.Title != "checkout is down" || p.Severity != "SEV1" ||
			p.Service != "checkout" || p.Policy != "web" || p.Number != 7 || p.ContactMethod.Address != "U-alice" {
			t.Fatalf("page %+v", p)
		}

		// A day later the override puts carol on call over bob, and bob is
		// on nights.
		h.deliver(transitioned(events.TypeIncidentAcknowledged, "inc-1", 0))
		h.clock.Add(24*time.Hour + 30*time.Minute)
		h.deliver(triggered("inc-2", "checkout"))
		got = h.advance(0)
		wantPages(t, "day 2 override", got[:4],
			page{"carol", "slack", 1, 0}, page{"carol", "email", 1, 0}, page{"bob", "slack", 1, 0}, page{"bob", "email", 1, 0})
		_ = got[0].DecodeData(&p)
		if p.IncidentID != "inc-2" {
			t.Fatalf("page of %s", p.IncidentID)
		}
	})
}

func TestNotificationRules(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, h *harness) {
		cfg := twoLevels()
		cfg.Users[0].NotificationRules = []escalation.NotificationRule{
			{ContactMethod: "slack", DelayMinutes: 0},
			{ContactMethod: "email", DelayMinutes: 5},
		}
		cfg.Policies[0].Levels[0].DelayMinutes = 15
		h.apply(cfg)
		h.fresh()
		h.deliver(triggered("inc-1", "checkout"))
		wantPages(t, "at once", h.advance(0), page{"alice", "slack", 1, 0})
		wantPages(t, "4 minutes", h.advance(4*time.Minute))
		got := h.advance(time.Minute)
		wantPages(t, "5 minutes", got, page{"alice", "email", 1, 5})
		var p events.PageRequested
		_ = got[0].DecodeData(&p)
		if p.IdempotencyKey != "inc-1/1/alice/email" || p.ContactMethod.Type != escalation.ContactEmail {
			t.Fatalf("page %+v", p)
		}
		esc, _ := h.svc.Escalation(context.Background(), "inc-1")
		if len(esc.NotifyTimers) != 0 {
			t.Fatalf("fired notify timer still listed: %v", esc.NotifyTimers)
		}
	})
}

func TestMaintenanceSuppresses(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, h *harness) {
		cfg := twoLevels()
		cfg.MaintenanceWindows = []escalation.MaintenanceWindow{
			{ID: "upgrade", Service: "checkout", Start: t0.Add(-time.Hour), End: t0.Add(time.Hour), Reason: "db upgrade"},
		}
		h.apply(cfg)
		h.fresh()
		h.deliver(triggered("inc-1", "checkout"))
		got := h.advance(0)
		if !slices.Equal(types(got), []string{events.TypePageSuppressed}) {
			t.Fatalf("in maintenance: %v", types(got))
		}
		var s events.PageSuppressed
		_ = got[0].DecodeData(&s)
		if s.Reason != "maintenance" || s.WindowID != "upgrade" || s.Service != "checkout" || s.IncidentID != "inc-1" {
			t.Fatalf("suppressed %+v", s)
		}
		if _, err := h.svc.Escalation(context.Background(), "inc-1"); !errors.Is(err, escalation.ErrNotFound) {
			t.Fatalf("escalation recorded in maintenance: %v", err)
		}
		wantPages(t, "later", h.advance(3*time.Hour))

		// A service without a policy records nothing and pages nobody.
		h.deliver(triggered("inc-2", "quiet"))
		h.deliver(triggered("inc-3", "unknown"))
		if got := h.advance(0); len(got) != 0 {
			t.Fatalf("no policy: %v", types(got))
		}
		// After the window, paging works.
		h.deliver(triggered("inc-4", "checkout"))
		wantPages(t, "after the window", h.advance(0), page{"alice", "slack", 1, 0})
	})
}

func TestRedeliveryPagesOnce(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, h *harness) {
		h.apply(twoLevels())
		h.fresh()
		trig := triggered("inc-1", "checkout")
		h.deliver(trig)
		h.deliver(trig)
		wantPages(t, "trigger twice", h.advance(0), page{"alice", "slack", 1, 0})
		esc := transitioned(events.TypeIncidentEscalated, "inc-1", 2)
		h.deliver(esc)
		h.deliver(esc)
		h.deliver(trig)
		wantPages(t, "escalated twice", h.advance(0), page{"bob", "slack", 2, 0}, page{"bob", "email", 2, 0})
		if p := h.pendingTimers(); !slices.Equal(p, []string{"step/inc-1"}) {
			t.Fatalf("timers %v", p)
		}
	})
}

func TestApplyConfig(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		admin := events.Actor{Kind: events.ActorUser, ID: "admin"}
		desired := twoLevels()
		changes, err := h.svc.ApplyConfig(ctx, desired, admin, true)
		if err != nil || len(changes) == 0 {
			t.Fatalf("dry run: %v %v", changes, err)
		}
		if c, _ := h.svc.Config(ctx); len(c.Services) != 0 || len(h.all()) != 0 {
			t.Fatalf("dry run changed something: %+v, %d events", c, len(h.all()))
		}

		if again := h.apply(desired); !slices.EqualFunc(again, changes, func(a, b escalation.Change) bool {
			return a.Kind == b.Kind && a.Name == b.Name && a.Op == b.Op && slices.Equal(a.Fields, b.Fields)
		}) {
			t.Fatalf("apply changes %v, dry run said %v", again, changes)
		}
		got := h.fresh()
		configured := map[string]events.ServiceConfigured{}
		for _, e := range got {
			if e.Type == events.TypeServiceConfigured {
				var sc events.ServiceConfigured
				_ = e.DecodeData(&sc)
				configured[sc.Name] = sc
			}
		}
		if len(configured) != 2 || configured["checkout"].EscalationPolicy != "web" || got[len(got)-1].Type != events.TypeConfigApplied {
			t.Fatalf("apply emitted %v (%+v)", types(got), configured)
		}
		if c, _ := h.svc.Config(ctx); len(c.Services) != 2 || len(c.Policies) != 1 {
			t.Fatalf("stored %+v", c)
		}
		// The same configuration again changes nothing.
		if again := h.apply(desired); len(again) != 0 {
			t.Fatalf("re-apply: %v", again)
		}
		h.fresh()

		// Removing a service and changing another.
		next := twoLevels()
		next.Services = []escalation.ServiceConfig{{Name: "checkout", EscalationPolicy: "web", AckTimeout: time.Hour}}
		h.apply(next)
		byType := map[string]int{}
		for _, e := range h.fresh() {
			byType[e.Type]++
			if e.Type == events.TypeServiceRemoved {
				var r events.ServiceRemoved
				_ = e.DecodeData(&r)
				if r.Name != "quiet" {
					t.Fatalf("removed %q", r.Name)
				}
			}
			if e.Type == events.TypeServiceConfigured {
				var sc events.ServiceConfigured
				_ = e.DecodeData(&sc)
				if sc.Name != "checkout" || sc.AckTimeoutMs != 3600000 {
					t.Fatalf("configured %+v", sc)
				}
			}
		}
		if byType[events.TypeServiceRemoved] != 1 || byType[events.TypeServiceConfigured] != 1 || byType[events.TypeConfigApplied] != 1 {
			t.Fatalf("second apply emitted %v", byType)
		}

		// An invalid configuration changes nothing and names every problem.
		bad := twoLevels()
		bad.Services = append(bad.Services, escalation.ServiceConfig{Name: "x", EscalationPolicy: "nope"})
		bad.Users = append(bad.Users, escalation.User{})
		want := escalation.Validate(bad)
		if len(want) < 2 {
			t.Fatalf("Validate found %v; the test needs two problems", want)
		}
		_, err = h.svc.ApplyConfig(ctx, bad, admin, false)
		if fault.KindOf(err) != fault.Invalid || fault.CodeOf(err) != "invalid_config" || !errors.Is(err, escalation.ErrInvalid) {
			t.Fatalf("invalid apply: %v", err)
		}
		list, _ := fault.DetailsOf(err)["errors"].([]map[string]string)
		if len(list) != len(want) {
			t.Fatalf("details %v, want %d errors", fault.DetailsOf(err), len(want))
		}
		for i, fe := range want {
			if list[i]["field"] != fe.Field || list[i]["problem"] != fe.Problem {
				t.Fatalf("error %d = %v, want %+v", i, list[i], fe)
			}
		}
		if c, _ := h.svc.Config(ctx); len(c.Services) != 1 || c.Services[0].AckTimeout != time.Hour {
			t.Fatalf("invalid apply changed the config: %+v", c)
		}
		if got := h.fresh(); len(got) != 0 {
			t.Fatalf("invalid apply emitted %v", types(got))
		}
	})
}

// countingStore counts the timer firings that committed.
type countingStore struct {
	escalation.Store
	fired *atomic.Int64
}

func (c countingStore) FireTimer(ctx context.Context, t timer.Timer, fn func(escalation.Tx) error) error {
	err := c.Store.FireTimer(ctx, t, fn)
	if err == nil {
		c.fired.Add(1)
	}
	return err
}

// TestTwoReplicasFireOnce runs two engine replicas (service and timer
// runner each) on one PostgreSQL schema: every step and notification timer
// fires once, so every page is requested once.
func TestTwoReplicasFireOnce(t *testing.T) {
	t.Parallel()
	pool, schema := dbtest.Postgres(t, "outbox", "timer", "escalation")
	pool2, err := db.OpenPostgres(context.Background(), dbtest.PostgresURL(t), schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool2.Close)
	c := &clock{t: t0}
	var fired atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var svcs []*escalation.Service
	for i, p := range []*pgxpool.Pool{pool, pool2} {
		store := countingStore{Store: postgres.New(p, c.Now), fired: &fired}
		svc, err := escalation.New(store, nil, escalation.Options{Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		r, err := timer.New(store.Timers(), svc.HandleTimer, nil, timer.Config{
			Owner: fmt.Sprintf("replica-%d", i), Now: c.Now, Poll: 5 * time.Millisecond, Batch: 3, Concurrency: 4,
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { _ = r.Run(ctx) })
		svcs = append(svcs, svc)
	}
	h := newHarness(t, postgres.New(pool, c.Now), outboxpg.New(pool), c)
	cfg := twoLevels()
	cfg.Users[0].NotificationRules = append(cfg.Users[0].NotificationRules, escalation.NotificationRule{ContactMethod: "email", DelayMinutes: 2})
	h.apply(cfg)
	h.fresh()
	const n = 20
	for i := range n {
		env := triggered(fmt.Sprintf("inc-%02d", i), "checkout")
		// Both replicas see every event, as after a redelivery.
		for _, svc := range svcs {
			if err := svc.HandleIncidentEvent(context.Background(), env); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func(typ string) int {
		k := 0
		for _, e := range h.all() {
			if e.Type == typ {
				k++
			}
		}
		return k
	}
	waitFor := func(what string, f func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !f() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if got := count(events.TypePageRequested); got != n {
		t.Fatalf("%d pages at trigger, want %d", got, n)
	}
	c.Add(2 * time.Minute) // the email rule
	waitFor("email pages", func() bool { return count(events.TypePageRequested) >= 2*n })
	c.Add(3 * time.Minute) // the level's delay
	waitFor("escalate commands", func() bool { return count(events.CmdIncidentEscalate) >= n })
	time.Sleep(100 * time.Millisecond) // room for a double firing to show
	if got := count(events.TypePageRequested); got != 2*n {
		t.Fatalf("%d pages, want %d", got, 2*n)
	}
	if got := count(events.CmdIncidentEscalate); got != n {
		t.Fatalf("%d escalate commands, want %d", got, n)
	}
	if got := fired.Load(); got != 2*n {
		t.Fatalf("%d timer firings committed, want %d", got, 2*n)
	}
}

// TestSlackTargets: a level can page a Slack channel and a user group beside
// people; each page names exactly one recipient.
func TestSlackTargets(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, h *harness) {
		cfg := twoLevels()
		cfg.Policies[0].Levels[0].Targets = []escalation.Target{
			{Type: escalation.TargetSlackChannel, ID: "#checkout"},
			userTarget("alice"),
			{Type: escalation.TargetSlackUserGroup, ID: "@oncall-web"},
		}
		h.apply(cfg)
		h.fresh()
		h.deliver(triggered("inc-1", "checkout"))
		wantPages(t, "trigger", h.advance(0),
			page{"#checkout", "", 1, 0}, page{"alice", "slack", 1, 0}, page{"@oncall-web", "", 1, 0})
		h.validate()
	})
}

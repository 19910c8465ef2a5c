// Package storetest is the contract every escalation.Store adapter passes.
// Each adapter's tests call Run with a function that opens a fresh, migrated
// store ("outbox", "timer" and "escalation" sets).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/escalation/schedule"
)

// OutboxCounter is implemented by adapters that can count unpublished
// outbox rows; the suite uses it to check Emit and rollbacks.
type OutboxCounter interface {
	OutboxCount(ctx context.Context) (int64, error)
}

// Run runs the contract against stores from open.
func Run(t *testing.T, open func(t *testing.T) escalation.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s escalation.Store)
	}{
		{"config empty", testConfigEmpty},
		{"config round trip", testConfigRoundTrip},
		{"config replace removes", testConfigReplaceRemoves},
		{"config concurrent replace", testConfigConcurrentReplace},
		{"config stale read conflicts", testConfigStaleRead},
		{"maintenance active", testMaintenanceActive},
		{"escalation get put", testEscalation},
		{"inbox and outbox", testInboxOutbox},
		{"rollback", testRollback},
		{"timers fire once", testTimers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Sample is a configuration using every field, with times in UTC at
// microsecond precision so that it round-trips exactly.
func Sample() escalation.Config {
	return escalation.Config{
		Services: []escalation.ServiceConfig{
			{Name: "checkout", Description: "the shop", EscalationPolicy: "web", AckTimeout: 30 * time.Minute,
				SeverityMap:   map[string]string{"warning": "SEV2"},
				AlertGrouping: &escalation.AlertGrouping{By: []string{"labels.cluster", "source"}, Window: 30 * time.Minute}},
			{Name: "batch", AlertGrouping: &escalation.AlertGrouping{By: []string{"component"}}},
		},
		Users: []escalation.User{
			{ID: "alice", Name: "Alice", Email: "alice@example.com", TimeZone: "Europe/Berlin",
				ContactMethods: []escalation.ContactMethod{
					{Name: "work-slack", Type: escalation.ContactSlack, Address: "U123"},
					{Name: "mail", Type: escalation.ContactEmail, Address: "alice@example.com"},
				},
				NotificationRules: []escalation.NotificationRule{
					{ContactMethod: "work-slack", DelayMinutes: 0},
					{ContactMethod: "mail", DelayMinutes: 5},
				}},
			{ID: "bob", ContactMethods: []escalation.ContactMethod{{Name: "hook", Type: escalation.ContactWebhook, Address: "https://example.com/h"}}},
		},
		Schedules: []schedule.Schedule{{
			Name: "primary", TimeZone: "Europe/Berlin",
			Layers: []schedule.Layer{{Name: "weekly", Participants: []string{"alice", "bob"},
				Start: t0, Shift: schedule.ShiftLength{Count: 1, Unit: schedule.Weeks}}},
			Overrides: []schedule.Override{{ID: "ov1", User: "bob", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)}},
		}},
		Policies: []escalation.Policy{{
			Name: "web", Description: "web on-call", Repeat: 1,
			Levels: []escalation.Level{
				{DelayMinutes: 10, Targets: []escalation.Target{{Type: escalation.TargetSchedule, ID: "primary"}, {Type: escalation.TargetSlackChannel, ID: "#web"}}},
				{DelayMinutes: 15, Targets: []escalation.Target{{Type: escalation.TargetUser, ID: "bob"}}},
			},
		}},
		MaintenanceWindows: []escalation.MaintenanceWindow{
			{ID: "mw1", Service: "checkout", Start: t0, End: t0.Add(time.Hour), Reason: "upgrade"},
		},
	}
}

func replace(t *testing.T, s escalation.Store, c escalation.Config) {
	t.Helper()
	if err := s.InTx(t.Context(), func(tx escalation.Tx) error { return tx.ConfigReplace(t.Context(), c) }); err != nil {
		t.Fatal(err)
	}
}

func testConfigEmpty(t *testing.T, s escalation.Store) {
	got, err := s.ConfigGet(t.Context())
	if err != nil || !reflect.DeepEqual(got, escalation.Config{}) {
		t.Fatalf("ConfigGet on a new store = %+v, %v; want the zero Config", got, err)
	}
}

func configVersion(t *testing.T, s escalation.Store) int64 {
	t.Helper()
	var v int64
	if err := s.InTx(t.Context(), func(tx escalation.Tx) (err error) { v, err = tx.ConfigVersion(t.Context()); return err }); err != nil {
		t.Fatal(err)
	}
	return v
}

func testConfigRoundTrip(t *testing.T, s escalation.Store) {
	want := Sample()
	before := configVersion(t, s)
	replace(t, s, want)
	if after := configVersion(t, s); after <= before {
		t.Fatalf("version %d after a replace, was %d: want it raised", after, before)
	}
	got, err := s.ConfigGet(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	// The same inside a transaction.
	err = s.InTx(t.Context(), func(tx escalation.Tx) error {
		got, err := tx.ConfigGet(t.Context())
		if err == nil && !reflect.DeepEqual(got, want) {
			err = fmt.Errorf("tx round trip:\n got %+v\nwant %+v", got, want)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testConfigReplaceRemoves(t *testing.T, s escalation.Store) {
	replace(t, s, Sample())
	// Order is kept, removed things are gone, children are replaced.
	want := escalation.Config{
		Services: []escalation.ServiceConfig{{Name: "zeta"}, {Name: "alpha", EscalationPolicy: "p"}},
		Users:    []escalation.User{{ID: "bob", ContactMethods: []escalation.ContactMethod{{Name: "m", Type: escalation.ContactEmail, Address: "b@example.com"}}}},
		Policies: []escalation.Policy{{Name: "p", Levels: []escalation.Level{{DelayMinutes: 1, Targets: []escalation.Target{{Type: escalation.TargetUser, ID: "bob"}}}}}},
	}
	replace(t, s, want)
	got, err := s.ConfigGet(t.Context())
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after second replace:\n got %+v (%v)\nwant %+v", got, err, want)
	}
	replace(t, s, escalation.Config{})
	if got, err := s.ConfigGet(t.Context()); err != nil || !reflect.DeepEqual(got, escalation.Config{}) {
		t.Fatalf("after emptying: %+v %v", got, err)
	}
	if _, ok, err := s.MaintenanceActive(t.Context(), "checkout", t0.Add(time.Minute)); err != nil || ok {
		t.Fatalf("removed maintenance window still active: %v %v", ok, err)
	}
}

// testConfigConcurrentReplace: read-diff-replace transactions racing each
// other end with exactly one writer's configuration, never a mixture.
func testConfigConcurrentReplace(t *testing.T, s escalation.Store) {
	const n = 4
	configs := make([]escalation.Config, n)
	for i := range configs {
		configs[i] = escalation.Config{Services: []escalation.ServiceConfig{{Name: fmt.Sprintf("svc-%d", i)}, {Name: fmt.Sprintf("other-%d", i)}}}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.InTx(context.Background(), func(tx escalation.Tx) error {
				if _, err := tx.ConfigGet(context.Background()); err != nil {
					return err
				}
				return tx.ConfigReplace(context.Background(), configs[i])
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, escalation.ErrConflict) {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	got, err := s.ConfigGet(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range configs {
		if reflect.DeepEqual(got, c) {
			return
		}
	}
	t.Fatalf("concurrent replaces left a mixture: %+v", got)
}

// testConfigStaleRead: a replace in a transaction that read the
// configuration before another transaction replaced it is refused.
func testConfigStaleRead(t *testing.T, s escalation.Store) {
	replace(t, s, Sample())
	calls := 0
	err := s.InTx(t.Context(), func(tx escalation.Tx) error {
		calls++
		if _, err := tx.ConfigGet(t.Context()); err != nil {
			return err
		}
		if err := tx.ConfigReplace(t.Context(), escalation.Config{Services: []escalation.ServiceConfig{{Name: "one"}}}); err != nil {
			return err
		}
		// A second replace in the same transaction is fine: it read its
		// own write.
		return tx.ConfigReplace(t.Context(), escalation.Config{Services: []escalation.ServiceConfig{{Name: "two"}}})
	})
	if err != nil || calls != 1 {
		t.Fatalf("replace twice in one tx: %v (calls %d)", err, calls)
	}
	got, _ := s.ConfigGet(t.Context())
	if len(got.Services) != 1 || got.Services[0].Name != "two" {
		t.Fatalf("got %+v", got)
	}
}

func testMaintenanceActive(t *testing.T, s escalation.Store) {
	c := Sample()
	c.MaintenanceWindows = append(c.MaintenanceWindows,
		escalation.MaintenanceWindow{ID: "mw0", Service: "checkout", Start: t0.Add(-time.Hour), End: t0.Add(30 * time.Minute)},
		escalation.MaintenanceWindow{ID: "other", Service: "batch", Start: t0.Add(-time.Hour), End: t0.Add(24 * time.Hour)})
	replace(t, s, c)
	tests := []struct {
		name    string
		service string
		at      time.Time
		want    string
	}{
		{"before", "checkout", t0.Add(-2 * time.Hour), ""},
		{"earliest start wins", "checkout", t0, "mw0"},
		{"second window", "checkout", t0.Add(45 * time.Minute), "mw1"},
		{"end is exclusive", "checkout", t0.Add(time.Hour), ""},
		{"other service", "batch", t0, "other"},
		{"unknown service", "nope", t0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, ok, err := s.MaintenanceActive(t.Context(), tt.service, tt.at)
			if err != nil || ok != (tt.want != "") || w.ID != tt.want {
				t.Fatalf("MaintenanceActive(%s, %s) = %+v %v %v; want %q", tt.service, tt.at, w, ok, err, tt.want)
			}
			if ok && !w.Active(tt.at) {
				t.Fatalf("window %+v not active at %s", w, tt.at)
			}
		})
	}
	err := s.InTx(t.Context(), func(tx escalation.Tx) error {
		w, ok, err := tx.MaintenanceActive(t.Context(), "checkout", t0.Add(45*time.Minute))
		if err == nil && (!ok || w != c.MaintenanceWindows[0]) {
			err = fmt.Errorf("tx MaintenanceActive = %+v %v", w, ok)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testEscalation(t *testing.T, s escalation.Store) {
	ctx := t.Context()
	if _, err := s.EscalationGet(ctx, "inc-1"); !errors.Is(err, escalation.ErrNotFound) {
		t.Fatalf("get unknown: %v, want ErrNotFound", err)
	}
	e := escalation.Escalation{
		IncidentID: "inc-1", Number: 7, Service: "checkout", Title: "down", Severity: "SEV1", Policy: "web",
		Level: 1, Status: escalation.StatusActive, Round: 1, NotifyTimers: []string{"inc-1/1/1/alice/1"},
		StartedAt: t0.Add(123456789 * time.Nanosecond).Truncate(time.Microsecond), UpdatedAt: t0.Add(time.Second),
	}
	put := func(e escalation.Escalation) {
		t.Helper()
		if err := s.InTx(ctx, func(tx escalation.Tx) error { return tx.EscalationPut(ctx, e) }); err != nil {
			t.Fatal(err)
		}
	}
	put(e)
	got, err := s.EscalationGet(ctx, "inc-1")
	if err != nil || !reflect.DeepEqual(got, e) {
		t.Fatalf("get:\n got %+v (%v)\nwant %+v", got, err, e)
	}
	e.Level, e.Status, e.NotifyTimers, e.UpdatedAt = 3, escalation.StatusStopped, nil, t0.Add(time.Minute)
	put(e)
	e2 := escalation.Escalation{IncidentID: "inc-2", Number: 8, Service: "batch", Policy: "p", Level: 1,
		Status: escalation.StatusActive, Round: 2, StartedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(time.Hour)}
	put(e2)
	err = s.InTx(ctx, func(tx escalation.Tx) error {
		got, err := tx.EscalationGet(ctx, "inc-1")
		if err == nil && !reflect.DeepEqual(got, e) {
			err = fmt.Errorf("tx get after update:\n got %+v\nwant %+v", got, e)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.EscalationList(ctx)
	if err != nil || !reflect.DeepEqual(list, []escalation.Escalation{e, e2}) {
		t.Fatalf("list = %+v %v", list, err)
	}
}

func outboxCount(t *testing.T, s escalation.Store) int64 {
	t.Helper()
	oc, ok := s.(OutboxCounter)
	if !ok {
		t.Skip("adapter cannot count its outbox")
	}
	n, err := oc.OutboxCount(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func testInboxOutbox(t *testing.T, s escalation.Store) {
	ctx := t.Context()
	env := events.MustNew(events.TypeIncidentTriggered, "test", "inc-1", events.System("test"), map[string]string{"a": "b"})
	for i, wantFirst := range []bool{true, false} {
		err := s.InTx(ctx, func(tx escalation.Tx) error {
			first, err := tx.MarkProcessed(ctx, "c", env.ID)
			if err != nil {
				return err
			}
			if first != wantFirst {
				return fmt.Errorf("round %d: first = %v", i, first)
			}
			// The same envelope twice is one outbox row.
			return tx.Emit(ctx, env, env)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := outboxCount(t, s); n != 1 {
		t.Fatalf("outbox has %d rows, want 1", n)
	}
}

func testRollback(t *testing.T, s escalation.Store) {
	ctx := t.Context()
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx escalation.Tx) error {
		if err := tx.ConfigReplace(ctx, Sample()); err != nil {
			return err
		}
		if err := tx.EscalationPut(ctx, escalation.Escalation{IncidentID: "x", Policy: "p", Level: 1, Status: escalation.StatusActive,
			Round: 1, StartedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		if err := tx.ScheduleTimer(ctx, timer.Timer{Kind: "step", Key: "x", DueAt: t0}); err != nil {
			return err
		}
		if err := tx.Emit(ctx, events.MustNew(events.TypeIncidentTriggered, "test", "x", events.System("test"), map[string]int{"n": 1})); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	if c, err := s.ConfigGet(ctx); err != nil || !reflect.DeepEqual(c, escalation.Config{}) {
		t.Fatalf("config after rollback: %+v %v", c, err)
	}
	if _, err := s.EscalationGet(ctx, "x"); !errors.Is(err, escalation.ErrNotFound) {
		t.Fatalf("escalation after rollback: %v", err)
	}
	if ts, err := s.Timers().ClaimDue(ctx, t0.Add(time.Hour), 10, "r", time.Minute); err != nil || len(ts) != 0 {
		t.Fatalf("timers after rollback: %v %v", ts, err)
	}
	if n := outboxCount(t, s); n != 0 {
		t.Fatalf("outbox after rollback: %d", n)
	}
}

func testTimers(t *testing.T, s escalation.Store) {
	ctx := t.Context()
	err := s.InTx(ctx, func(tx escalation.Tx) error {
		for _, key := range []string{"a", "b", "c"} {
			if err := tx.ScheduleTimer(ctx, timer.Timer{Kind: "step", Key: key, DueAt: t0, CreatedAt: t0}); err != nil {
				return err
			}
		}
		ok, err := tx.CancelTimer(ctx, "step", "c")
		if err == nil && !ok {
			err = errors.New("cancel of a pending timer reported none")
		}
		if err != nil {
			return err
		}
		if got, err := tx.TimerGet(ctx, "step", "a"); err != nil || got.Key != "a" || !got.DueAt.Equal(t0) {
			return fmt.Errorf("TimerGet of a pending timer: %+v %v", got, err)
		}
		if _, err := tx.TimerGet(ctx, "step", "c"); !errors.Is(err, timer.ErrNotFound) {
			return fmt.Errorf("TimerGet of a cancelled timer: %v, want timer.ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := s.Timers().ClaimDue(ctx, t0, 10, "runner", time.Minute)
	if err != nil || len(ts) != 2 {
		t.Fatalf("claimed %v %v, want a and b", ts, err)
	}
	fired := 0
	fire := func(tm timer.Timer) error {
		return s.FireTimer(ctx, tm, func(tx escalation.Tx) error {
			fired++
			return tx.Emit(ctx, events.MustNew(events.TypeIncidentTriggered, "test", tm.Key, events.System("test"), map[string]string{"k": tm.Key}))
		})
	}
	byKey := map[string]timer.Timer{}
	for _, tm := range ts {
		byKey[tm.Key] = tm
	}
	if err := fire(byKey["a"]); err != nil {
		t.Fatal(err)
	}
	if err := fire(byKey["a"]); !errors.Is(err, timer.ErrGone) {
		t.Fatalf("second fire: %v, want ErrGone", err)
	}
	// A timer cancelled after it was claimed does not fire.
	if err := s.InTx(ctx, func(tx escalation.Tx) error { _, err := tx.CancelTimer(ctx, "step", "b"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := fire(byKey["b"]); !errors.Is(err, timer.ErrGone) {
		t.Fatalf("fire of a cancelled timer: %v, want ErrGone", err)
	}
	if fired != 1 {
		t.Fatalf("effect ran %d times, want 1", fired)
	}
	if n := outboxCount(t, s); n != 1 {
		t.Fatalf("outbox has %d rows, want 1", n)
	}
}

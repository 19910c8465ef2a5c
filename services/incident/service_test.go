package incident_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/outbox"
	outboxpg "github.com/firebreak-dev/firebreak/internal/outbox/postgres"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/schemas"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/incident/store/postgres"
	"github.com/firebreak-dev/firebreak/services/incident/store/sqlite"
)

// pending reads what a service wrote to its outbox.
type pending interface {
	Pending(ctx context.Context, limit int) ([]outbox.Record, error)
}

type harness struct {
	store  incident.Store
	svc    *incident.Service
	outbox pending
	clock  *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

type engine struct {
	name string
	open func(t *testing.T, now func() time.Time) (incident.Store, pending)
}

var engines = []engine{
	{"sqlite", func(t *testing.T, now func() time.Time) (incident.Store, pending) {
		d := dbtest.SQLite(t, "outbox", "timer", "incident")
		return sqlite.New(d, now), outboxsqlite.New(d)
	}},
	{"postgres", func(t *testing.T, now func() time.Time) (incident.Store, pending) {
		pool, _ := dbtest.Postgres(t, "outbox", "timer", "incident")
		return postgres.New(pool, now), outboxpg.New(pool)
	}},
}

func newHarness(t *testing.T, e engine, autoCreate bool) *harness {
	c := &clock{t: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)}
	store, ob := e.open(t, c.Now)
	svc, err := incident.New(store, nil, incident.Config{AutoCreateServices: autoCreate, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{store: store, svc: svc, outbox: ob, clock: c}
}

func (h *harness) types(t *testing.T) []string {
	t.Helper()
	recs, err := h.outbox.Pending(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		// every event the service emits must match its published schema
		if err := v.Validate(r.Payload); err != nil {
			t.Errorf("emitted event does not match its schema: %v\n%s", err, r.Payload)
		}
		e, err := events.Decode(r.Payload)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Type)
	}
	return out
}

func alert(action, key string) events.Envelope {
	return events.MustNew(events.TypeAlertReceived, "intake", "x",
		events.Actor{Kind: events.ActorIntegration, ID: "generic"},
		events.AlertReceived{Service: "checkout", DedupKey: key, EventAction: action, Summary: "errors", Severity: "error",
			Integration: "generic", ReceivedAt: time.Now()})
}

func command(typ, ref, note string) events.Envelope {
	return events.MustNew(typ, "api", ref, events.Actor{Kind: events.ActorUser, ID: "alice", Channel: events.ChannelAPI},
		events.IncidentCommand{Incident: ref, Note: note})
}

func forEachEngine(t *testing.T, f func(t *testing.T, e engine)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			f(t, e)
		})
	}
}

func TestAlertsOpenCountAndClose(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, true)
		ctx := context.Background()
		// acknowledge/resolve of an unknown key create nothing
		for _, a := range []string{events.ActionAcknowledge, events.ActionResolve} {
			if err := h.svc.HandleAlert(ctx, alert(a, "k")); err != nil {
				t.Fatal(err)
			}
		}
		first := alert(events.ActionTrigger, "k")
		for range 2 { // the same alert delivered twice is applied once
			if err := h.svc.HandleAlert(ctx, first); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.svc.HandleAlert(ctx, alert(events.ActionTrigger, "k")); err != nil {
			t.Fatal(err)
		}
		inc, err := h.svc.Get(ctx, "INC-1")
		if err != nil {
			t.Fatal(err)
		}
		if inc.AlertCount != 2 || inc.Status != incident.StatusTriggered || inc.Severity != "SEV2" || inc.Version != 2 {
			t.Fatalf("after trigger+repeat: %+v", inc)
		}
		if err := h.svc.HandleAlert(ctx, alert(events.ActionAcknowledge, "k")); err != nil {
			t.Fatal(err)
		}
		if err := h.svc.HandleAlert(ctx, alert(events.ActionResolve, "k")); err != nil {
			t.Fatal(err)
		}
		if inc, _ = h.svc.Get(ctx, "INC-1"); inc.Status != incident.StatusResolved || inc.ResolvedBy != "generic" {
			t.Fatalf("after resolve from source: %+v", inc)
		}
		if err := h.svc.HandleAlert(ctx, alert(events.ActionTrigger, "k")); err != nil {
			t.Fatal(err)
		}
		if inc, err = h.svc.Get(ctx, "INC-2"); err != nil || inc.Status != incident.StatusTriggered {
			t.Fatalf("trigger after resolve must open INC-2: %+v %v", inc, err)
		}
		want := []string{events.TypeIncidentTriggered, events.TypeIncidentAcknowledged, events.TypeIncidentResolved, events.TypeIncidentTriggered}
		if got := h.types(t); !equal(got, want) {
			t.Fatalf("outbox %v, want %v", got, want)
		}
	})
}

func TestUnknownServiceIsPermanent(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, false)
		err := h.svc.HandleAlert(context.Background(), alert(events.ActionTrigger, "k"))
		if !errors.Is(err, incident.ErrUnknownService) {
			t.Fatalf("got %v, want ErrUnknownService", err)
		}
		if got := h.types(t); len(got) != 0 {
			t.Fatalf("rolled-back alert left events %v", got)
		}
	})
}

func TestCommands(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, true)
		ctx := context.Background()
		if err := h.svc.HandleAlert(ctx, alert(events.ActionTrigger, "k")); err != nil {
			t.Fatal(err)
		}
		ack := command(events.CmdIncidentAcknowledge, "INC-1", "looking")
		inc, err := h.svc.Execute(ctx, ack, false)
		if err != nil || inc.Status != incident.StatusAcknowledged || inc.AcknowledgedBy != "alice" {
			t.Fatalf("ack: %+v %v", inc, err)
		}
		// The same command redelivered from the bus is not applied again.
		if inc, err = h.svc.Execute(ctx, ack, true); err != nil || inc.Version != 2 {
			t.Fatalf("redelivered ack: %+v %v", inc, err)
		}
		// Acknowledging again is an illegal transition: rejected and recorded.
		_, err = h.svc.Execute(ctx, command(events.CmdIncidentAcknowledge, "INC-1", ""), true)
		var rej *incident.Rejection
		if !errors.As(err, &rej) || rej.Code != "illegal_transition" || !errors.Is(err, incident.ErrIllegalTransition) || fault.KindOf(err) != fault.Conflict {
			t.Fatalf("second ack: %v", err)
		}
		_, err = h.svc.Execute(ctx, command(events.CmdIncidentResolve, "INC-77", ""), true)
		if !errors.As(err, &rej) || !errors.Is(err, incident.ErrNotFound) {
			t.Fatalf("resolve unknown: %v", err)
		}
		stale := events.MustNew(events.CmdIncidentResolve, "api", "INC-1", events.System("t"), events.IncidentCommand{Incident: "INC-1", ExpectedVersion: 1})
		if _, err = h.svc.Execute(ctx, stale, true); !errors.Is(err, incident.ErrStaleVersion) {
			t.Fatalf("stale version: %v", err)
		}
		if _, err = h.svc.Execute(ctx, command(events.CmdIncidentAddNote, "INC-1", ""), true); fault.KindOf(err) != fault.Invalid {
			t.Fatalf("empty note: %v", err)
		}
		if inc, err = h.svc.Execute(ctx, command(events.CmdIncidentAddNote, "1", "rolled back"), true); err != nil || inc.Version != 3 {
			t.Fatalf("note: %+v %v", inc, err)
		}
		if inc, err = h.svc.Execute(ctx, command(events.CmdIncidentResolve, inc.ID, "fixed"), true); err != nil || inc.Status != incident.StatusResolved {
			t.Fatalf("resolve by id: %+v %v", inc, err)
		}
		notes, err := h.svc.Notes(ctx, inc.ID)
		if err != nil || len(notes) != 1 || notes[0].Author.ID != "alice" {
			t.Fatalf("notes: %+v %v", notes, err)
		}
		want := []string{
			events.TypeIncidentTriggered,
			events.CmdIncidentAcknowledge, events.TypeIncidentAcknowledged, // from the API: the command is on the bus too
			events.TypeCommandRejected, events.TypeCommandRejected, events.TypeCommandRejected,
			events.TypeIncidentNoteAdded, events.TypeIncidentResolved,
		}
		if got := h.types(t); !equal(got, want) {
			t.Fatalf("outbox\n got %v\nwant %v", got, want)
		}
	})
}

// TestExecuteBatch: commands from the bus applied together in one
// transaction do what applying them one at a time does, in order, refusals
// included; an invalid command fails the batch and nothing is committed.
func TestExecuteBatch(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, true)
		ctx := context.Background()
		for _, k := range []string{"a", "b"} {
			if err := h.svc.HandleAlert(ctx, alert(events.ActionTrigger, k)); err != nil {
				t.Fatal(err)
			}
		}
		ack1 := command(events.CmdIncidentAcknowledge, "INC-1", "")
		bad := []events.Envelope{command(events.CmdIncidentAcknowledge, "INC-2", ""), command(events.CmdIncidentAddNote, "INC-2", "")}
		if err := h.svc.ExecuteBatch(ctx, bad); fault.KindOf(err) != fault.Invalid {
			t.Fatalf("batch with an empty note: %v, want invalid", err)
		}
		batch := []events.Envelope{
			ack1,
			command(events.CmdIncidentAcknowledge, "INC-1", ""), // after ack1: refused
			command(events.CmdIncidentAcknowledge, "INC-2", ""),
			command(events.CmdIncidentResolve, "INC-2", "fixed"), // sees the ack before it
			command(events.CmdIncidentResolve, "INC-9", ""),      // no such incident: refused
			ack1, // a repeat within the batch changes nothing
		}
		if err := h.svc.ExecuteBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		// Redelivered, the whole batch changes nothing.
		if err := h.svc.ExecuteBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		for ref, want := range map[string]incident.Status{"INC-1": incident.StatusAcknowledged, "INC-2": incident.StatusResolved} {
			r, _ := incident.ParseRef(ref)
			if inc, err := h.store.IncidentGet(ctx, r); err != nil || inc.Status != want {
				t.Errorf("%s: %+v %v, want %s", ref, inc.Status, err, want)
			}
		}
		want := []string{
			events.TypeIncidentTriggered, events.TypeIncidentTriggered,
			events.TypeIncidentAcknowledged, events.TypeCommandRejected,
			events.TypeIncidentAcknowledged, events.TypeIncidentResolved, events.TypeCommandRejected,
		}
		if got := h.types(t); !equal(got, want) {
			t.Fatalf("outbox\n got %v\nwant %v", got, want)
		}
	})
}

// TestConcurrentAcknowledge: many writers race on one incident; optimistic
// concurrency lets exactly one win and the others are rejected.
func TestConcurrentAcknowledge(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, true)
		ctx := context.Background()
		if err := h.svc.HandleAlert(ctx, alert(events.ActionTrigger, "k")); err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := h.svc.Execute(ctx, command(events.CmdIncidentAcknowledge, "INC-1", ""), true)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		ok, rejected := 0, 0
		for err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, incident.ErrIllegalTransition):
				rejected++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 || rejected != n-1 {
			t.Fatalf("%d succeeded, %d rejected; want 1 and %d", ok, rejected, n-1)
		}
		inc, _ := h.svc.Get(ctx, "INC-1")
		if inc.Version != 2 {
			t.Fatalf("version %d after one ack, want 2", inc.Version)
		}
	})
}

func TestParseRef(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want incident.Ref
		bad  bool
	}{
		{"INC-42", incident.Ref{Number: 42}, false},
		{"inc-7", incident.Ref{Number: 7}, false},
		{"12", incident.Ref{Number: 12}, false},
		{"0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d5e", incident.Ref{ID: "0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d5e"}, false},
		{"", incident.Ref{}, true},
		{"INC-0", incident.Ref{}, true},
		{"INC-99999999999999999999", incident.Ref{ID: "INC-99999999999999999999"}, false},
	}
	for _, tt := range tests {
		got, err := incident.ParseRef(tt.in)
		if (err != nil) != tt.bad || (!tt.bad && got != tt.want) {
			t.Errorf("ParseRef(%q) = %+v, %v", tt.in, got, err)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestServiceConfig: service.configured sets a service's severity overrides
// and ack timeout; service.removed clears them; redelivery changes nothing.
func TestServiceConfig(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, false)
		ctx := context.Background()
		conf := events.MustNew(events.TypeServiceConfigured, "escalation", "checkout", events.System("escalation"),
			events.ServiceConfigured{Name: "checkout", Description: "shop", EscalationPolicy: "web", AckTimeoutMs: 600000,
				SeverityMap: map[string]string{"error": "SEV1"}})
		for range 2 {
			if err := h.svc.HandleServiceConfig(ctx, conf); err != nil {
				t.Fatal(err)
			}
		}
		// the service now exists (auto-creation is off) and maps error → SEV1
		if err := h.svc.HandleAlert(ctx, alert(events.ActionTrigger, "k")); err != nil {
			t.Fatal(err)
		}
		inc, err := h.svc.Get(ctx, "INC-1")
		if err != nil || inc.Severity != "SEV1" {
			t.Fatalf("severity override: %+v %v", inc, err)
		}
		svc, err := h.store.ServiceGet(ctx, "checkout")
		if err != nil || svc.AckTimeout != 10*time.Minute || svc.EscalationPolicy != "web" || svc.Description != "shop" {
			t.Fatalf("settings: %+v %v", svc, err)
		}
		rm := events.MustNew(events.TypeServiceRemoved, "escalation", "checkout", events.System("escalation"), events.ServiceRemoved{Name: "checkout"})
		if err := h.svc.HandleServiceConfig(ctx, rm); err != nil {
			t.Fatal(err)
		}
		if svc, _ = h.store.ServiceGet(ctx, "checkout"); svc.AckTimeout != 0 || svc.EscalationPolicy != "" || len(svc.SeverityMap) != 0 {
			t.Fatalf("after removal: %+v", svc)
		}
	})
}

package incident_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/incident"
)

// TestHandleAlertsFoldsABatch: one batch with repeats, an acknowledge, a
// resolve and a trigger after the resolve gives the same incidents as
// applying the alerts one by one, emits only the changes, and a second
// delivery of the batch changes nothing. The repeats are reported once, by
// the coalescing timer, with the final counts.
func TestHandleAlertsFoldsABatch(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, true)
		ctx := context.Background()
		batch := []events.Envelope{
			alert(events.ActionTrigger, "a"), // opens INC-1
			alert(events.ActionTrigger, "a"),
			alert(events.ActionTrigger, "a"),
			alert(events.ActionTrigger, "b"), // opens INC-2
			alert(events.ActionTrigger, "a"),
			alert(events.ActionAcknowledge, "a"),
			alert(events.ActionTrigger, "a"),
			alert(events.ActionResolve, "a"),
			alert(events.ActionTrigger, "a"), // opens INC-3
			alert(events.ActionTrigger, "b"),
			alert(events.ActionResolve, "nothing-open"),
		}
		for range 2 {
			if err := h.svc.HandleAlerts(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		want := map[string]struct {
			status incident.Status
			count  int64
		}{"INC-1": {incident.StatusResolved, 5}, "INC-2": {incident.StatusTriggered, 2}, "INC-3": {incident.StatusTriggered, 1}}
		for ref, w := range want {
			inc, err := h.svc.Get(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			if inc.Status != w.status || inc.AlertCount != w.count {
				t.Errorf("%s: %s with %d alerts, want %s with %d", ref, inc.Status, inc.AlertCount, w.status, w.count)
			}
		}
		if _, err := h.svc.Get(ctx, "INC-4"); !errors.Is(err, incident.ErrNotFound) {
			t.Fatalf("INC-4: %v", err)
		}
		wantTypes := []string{events.TypeIncidentTriggered, events.TypeIncidentTriggered, events.TypeIncidentAcknowledged,
			events.TypeIncidentResolved, events.TypeIncidentTriggered}
		if got := h.types(t); !slices.Equal(got, wantTypes) {
			t.Fatalf("events %v, want %v", got, wantTypes)
		}

		// The coalescing timers fire at the end of the interval: one report
		// per incident that repeated, with its final count.
		if n := h.fireDue(t, h.now().Add(incident.DefaultCoalesceInterval)); n != 2 {
			t.Fatalf("%d timers fired, want 2 (INC-1 and INC-2)", n)
		}
		got := h.types(t)
		if len(got) != len(wantTypes)+2 || got[len(got)-1] != events.TypeIncidentAlertsCoalesced || got[len(got)-2] != events.TypeIncidentAlertsCoalesced {
			t.Fatalf("events after the timers %v", got)
		}
		counts := map[int64]int64{}
		for _, d := range h.coalesced(t) {
			counts[d.Number] = d.AlertCount
		}
		if counts[1] != 5 || counts[2] != 2 || len(counts) != 2 {
			t.Fatalf("reported counts %v, want INC-1: 5, INC-2: 2", counts)
		}
		if n := h.fireDue(t, h.now().Add(time.Hour)); n != 0 {
			t.Fatalf("%d more timers fired", n)
		}
	})
}

// TestHandleAlertsInvalidBatch: an alert that can never apply fails the
// whole batch with an Invalid error (the bus then applies the alerts one at
// a time), and nothing of the batch is applied.
func TestHandleAlertsInvalidBatch(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, true)
		ctx := context.Background()
		bad := events.MustNew(events.TypeAlertReceived, "intake", "x", events.Actor{Kind: events.ActorIntegration, ID: "generic"},
			events.AlertReceived{Service: "checkout", EventAction: events.ActionTrigger, Integration: "generic", ReceivedAt: time.Now()})
		err := h.svc.HandleAlerts(ctx, []events.Envelope{alert(events.ActionTrigger, "a"), bad})
		if fault.KindOf(err) != fault.Invalid {
			t.Fatalf("want Invalid, got %v", err)
		}
		if _, err := h.svc.Get(ctx, "INC-1"); !errors.Is(err, incident.ErrNotFound) {
			t.Fatalf("INC-1 after a refused batch: %v", err)
		}
	})
}

// TestCoalesceReportEachInterval: an incident whose alert keeps repeating
// over several intervals, in several batches per interval, is reported
// once per interval with its count so far (the service remembers the
// timers it scheduled, and must not skip the next interval's).
func TestCoalesceReportEachInterval(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, true)
		ctx := context.Background()
		if err := h.svc.HandleAlerts(ctx, []events.Envelope{alert(events.ActionTrigger, "a")}); err != nil {
			t.Fatal(err)
		}
		count := int64(1)
		for interval := range 3 {
			for range 3 {
				if err := h.svc.HandleAlerts(ctx, []events.Envelope{alert(events.ActionTrigger, "a"), alert(events.ActionTrigger, "a")}); err != nil {
					t.Fatal(err)
				}
				count += 2
			}
			if n := h.fireDue(t, h.now().Add(incident.DefaultCoalesceInterval)); n != 1 {
				t.Fatalf("interval %d: %d timers fired, want 1", interval, n)
			}
			var reports []int64
			for _, d := range h.coalesced(t) {
				reports = append(reports, d.AlertCount)
			}
			if len(reports) != interval+1 || reports[interval] != count {
				t.Fatalf("interval %d: reports %v, want %d of them, the last %d", interval, reports, interval+1, count)
			}
		}
	})
}

// coalesced returns the incident.alerts_coalesced reports in the outbox,
// in order.
func (h *harness) coalesced(t *testing.T) []events.IncidentAlertsCoalesced {
	t.Helper()
	recs, err := h.outbox.Pending(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.IncidentAlertsCoalesced
	for _, r := range recs {
		env, err := events.Decode(r.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if env.Type == events.TypeIncidentAlertsCoalesced {
			var d events.IncidentAlertsCoalesced
			if err := env.DecodeData(&d); err != nil {
				t.Fatal(err)
			}
			out = append(out, d)
		}
	}
	return out
}

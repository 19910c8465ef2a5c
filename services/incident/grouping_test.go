package incident_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/services/incident"
)

// clusterAlert is a trigger, acknowledge or resolve of dedup key key whose
// details carry the label cluster ("" for none).
func clusterAlert(action, key, cluster string) events.Envelope {
	a := events.AlertReceived{Service: "checkout", DedupKey: key, EventAction: action, Summary: "errors on " + key,
		Severity: "error", Integration: "generic", ReceivedAt: time.Now()}
	if cluster != "" {
		a.Details = json.RawMessage(`{"labels":{"cluster":"` + cluster + `"}}`)
	}
	return events.MustNew(events.TypeAlertReceived, "intake", key, events.Actor{Kind: events.ActorIntegration, ID: "generic"}, a)
}

func configureGrouping(t *testing.T, h *harness, g *events.AlertGrouping) {
	t.Helper()
	conf := events.MustNew(events.TypeServiceConfigured, "escalation", "checkout", events.System("escalation"),
		events.ServiceConfigured{Name: "checkout", AlertGrouping: g})
	if err := h.svc.HandleServiceConfig(context.Background(), conf); err != nil {
		t.Fatal(err)
	}
}

type incState struct {
	status incident.Status
	count  int64
	keys   []string // its alerts' keys, first seen first
}

func (h *harness) state(t *testing.T, ref string) incState {
	t.Helper()
	inc, alerts, _, err := h.svc.Alerts(context.Background(), ref, incident.AlertFilter{Limit: 100})
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	st := incState{status: inc.Status, count: inc.AlertCount}
	for _, a := range alerts {
		st.keys = append(st.keys, a.Key)
	}
	return st
}

func (h *harness) expect(t *testing.T, want map[string]incState) {
	t.Helper()
	for ref, w := range want {
		got := h.state(t, ref)
		if got.status != w.status || got.count != w.count || !slices.Equal(got.keys, w.keys) {
			t.Errorf("%s = %+v, want %+v", ref, got, w)
		}
	}
}

func (h *harness) apply(t *testing.T, envs ...events.Envelope) {
	t.Helper()
	if err := h.svc.HandleAlerts(context.Background(), envs); err != nil {
		t.Fatal(err)
	}
}

// TestAlertGrouping: with a rule on labels.cluster, triggers of new dedup
// keys join the open incident of their cluster (within a batch and across
// batches), alerts without the label and other clusters open their own,
// acknowledging any grouped key acknowledges the incident, the incident
// resolves with its last firing alert, and a redelivered batch changes
// nothing.
func TestAlertGrouping(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, true)
		configureGrouping(t, h, &events.AlertGrouping{By: []string{"labels.cluster"}, WindowMs: int64(30 * time.Minute / time.Millisecond)})
		first := []events.Envelope{
			clusterAlert(events.ActionTrigger, "k1", "eu-1"), // opens INC-1
			clusterAlert(events.ActionTrigger, "k2", "eu-1"), // joins INC-1
			clusterAlert(events.ActionTrigger, "k3", "eu-2"), // opens INC-2
			clusterAlert(events.ActionTrigger, "k4", ""),     // opens INC-3: no label, no group
			clusterAlert(events.ActionTrigger, "k2", "eu-1"), // repeat on INC-1
		}
		h.apply(t, first...)
		h.apply(t, first...) // redelivered: nothing changes
		h.expect(t, map[string]incState{
			"INC-1": {incident.StatusTriggered, 3, []string{"k1", "k2"}},
			"INC-2": {incident.StatusTriggered, 1, []string{"k3"}},
			"INC-3": {incident.StatusTriggered, 1, []string{"k4"}},
		})
		want := []string{events.TypeIncidentTriggered, events.TypeIncidentAlertGrouped, events.TypeIncidentTriggered, events.TypeIncidentTriggered}
		if got := h.types(t); !slices.Equal(got, want) {
			t.Fatalf("events %v, want %v", got, want)
		}

		// A later batch: a new key of eu-1 joins from the store; its
		// acknowledge acknowledges INC-1.
		h.apply(t, clusterAlert(events.ActionTrigger, "k5", "eu-1"), clusterAlert(events.ActionAcknowledge, "k5", "eu-1"))
		h.expect(t, map[string]incState{"INC-1": {incident.StatusAcknowledged, 4, []string{"k1", "k2", "k5"}}})

		// Resolving two of three keys leaves INC-1 open; the last resolves it.
		h.apply(t, clusterAlert(events.ActionResolve, "k1", "eu-1"))
		h.apply(t, clusterAlert(events.ActionResolve, "k5", "eu-1"))
		if st := h.state(t, "INC-1"); st.status != incident.StatusAcknowledged {
			t.Fatalf("INC-1 with k2 firing: %s", st.status)
		}
		h.apply(t, clusterAlert(events.ActionResolve, "k2", "eu-1"))
		if st := h.state(t, "INC-1"); st.status != incident.StatusResolved {
			t.Fatalf("INC-1 after its last alert resolved: %s", st.status)
		}
		// The group is free again: k2 opens INC-4, k1 joins it.
		h.apply(t, clusterAlert(events.ActionTrigger, "k2", "eu-1"), clusterAlert(events.ActionTrigger, "k1", "eu-1"))
		h.expect(t, map[string]incState{"INC-4": {incident.StatusTriggered, 2, []string{"k2", "k1"}}})

		// Past the window (30 min after INC-4 opened), a new key opens its
		// own incident; the keys that joined INC-4 still count there.
		h.clock.mu.Lock()
		h.clock.t = h.clock.t.Add(31 * time.Minute)
		h.clock.mu.Unlock()
		h.apply(t, clusterAlert(events.ActionTrigger, "k6", "eu-1"), clusterAlert(events.ActionTrigger, "k1", "eu-1"))
		h.expect(t, map[string]incState{
			"INC-4": {incident.StatusTriggered, 3, []string{"k2", "k1"}},
			"INC-5": {incident.StatusTriggered, 1, []string{"k6"}},
		})

		// Without a window an incident takes its group's alerts while open.
		configureGrouping(t, h, &events.AlertGrouping{By: []string{"labels.cluster"}})
		h.apply(t, clusterAlert(events.ActionTrigger, "k7", "eu-2"))
		h.expect(t, map[string]incState{"INC-2": {incident.StatusTriggered, 2, []string{"k3", "k7"}}})

		// Removing the rule stops grouping.
		configureGrouping(t, h, nil)
		h.apply(t, clusterAlert(events.ActionTrigger, "k8", "eu-2"))
		h.expect(t, map[string]incState{"INC-6": {incident.StatusTriggered, 1, []string{"k8"}}})
	})
}

// TestMergeMovesAlerts: merging INC-2 into INC-1 moves INC-2's alerts to
// INC-1, later events of INC-2's dedup key apply to INC-1, and INC-1
// resolves only when both keys have resolved.
func TestMergeMovesAlerts(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, true)
		ctx := context.Background()
		h.apply(t, alert(events.ActionTrigger, "a"), alert(events.ActionTrigger, "b"), alert(events.ActionTrigger, "b"))
		merge := events.MustNew(events.CmdIncidentMerge, "api", "INC-2", events.Actor{Kind: events.ActorUser, ID: "alice", Channel: events.ChannelAPI},
			events.IncidentCommand{Incident: "INC-2", Into: "INC-1"})
		if _, err := h.svc.Execute(ctx, merge, false); err != nil {
			t.Fatal(err)
		}
		h.expect(t, map[string]incState{
			"INC-1": {incident.StatusTriggered, 3, []string{"a", "b"}},
			"INC-2": {incident.StatusResolved, 0, nil},
		})
		h.apply(t, alert(events.ActionTrigger, "b"))
		h.expect(t, map[string]incState{"INC-1": {incident.StatusTriggered, 4, []string{"a", "b"}}})
		h.apply(t, alert(events.ActionResolve, "a"))
		if st := h.state(t, "INC-1"); st.status != incident.StatusTriggered {
			t.Fatalf("INC-1 with b firing: %s", st.status)
		}
		h.apply(t, alert(events.ActionResolve, "b"))
		if st := h.state(t, "INC-1"); st.status != incident.StatusResolved {
			t.Fatalf("INC-1 after both resolved: %s", st.status)
		}
		// Nothing was opened on the way.
		if _, err := h.svc.Get(ctx, "INC-3"); err == nil {
			t.Fatal("INC-3 exists")
		}
	})
}

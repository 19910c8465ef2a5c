package postmortem_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/postmortem"
	"github.com/firebreak-dev/firebreak/services/postmortem/store/sqlite"
	"github.com/firebreak-dev/firebreak/services/postmortem/storetest"
)

// TestGroupedAndMergedKeysJoinTheTimeline: alerts of a dedup key that the
// grouping rule put into INC-1 (received before and after the
// incident.alert_grouped was projected) are INC-1's, with a sentence for
// the join; after INC-2 is merged into INC-1, INC-2's key's alerts are
// INC-1's too.
func TestGroupedAndMergedKeysJoinTheTimeline(t *testing.T) {
	t.Parallel()
	c := &clock{t: storetest.T0.Add(time.Hour)}
	svc, err := postmortem.New(sqlite.New(dbtest.SQLite(t, "outbox", "timer", "postmortem"), c.Now), nil, postmortem.Config{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t0 := storetest.T0
	sys := events.System("incident")
	ref1 := events.IncidentRef{IncidentID: "inc-1", Number: 1, Version: 1}
	ref2 := events.IncidentRef{IncidentID: "inc-2", Number: 2, Version: 1}
	alert := func(id, key string, at time.Time) events.Envelope {
		return events.MustNew(events.TypeAlertReceived, "intake", key, events.Actor{Kind: events.ActorIntegration, ID: "generic"},
			events.AlertReceived{Service: "checkout", DedupKey: key, EventAction: events.ActionTrigger, Summary: key + " failing",
				Integration: "generic", ReceivedAt: at}, events.WithID(id), events.At(at))
	}
	ev := func(id, typ, subject string, at time.Time, data any) events.Envelope {
		return events.MustNew(typ, "incident", subject, sys, data, events.WithID(id), events.At(at))
	}
	storetest.Project(t, svc,
		alert("a1", "k1", t0.Add(-time.Second)),
		ev("t1", events.TypeIncidentTriggered, "inc-1", t0, events.IncidentTriggered{IncidentRef: ref1, Service: "checkout", DedupKey: "k1", Title: "k1 failing", Severity: "SEV2"}),
		alert("a2", "k2", t0.Add(time.Minute)), // before its join is projected
		ev("g1", events.TypeIncidentAlertGrouped, "inc-1", t0.Add(time.Minute), events.IncidentAlertGrouped{IncidentRef: ref1, Service: "checkout",
			DedupKey: "k2", Summary: "k2 failing", GroupKey: "gk", Fields: map[string]string{"labels.cluster": "eu-1"}, AlertCount: 2}),
		alert("a3", "k2", t0.Add(2*time.Minute)), // after
		alert("a4", "k3", t0.Add(3*time.Minute)),
		ev("t2", events.TypeIncidentTriggered, "inc-2", t0.Add(3*time.Minute), events.IncidentTriggered{IncidentRef: ref2, Service: "checkout", DedupKey: "k3", Title: "k3 failing", Severity: "SEV3"}),
		ev("m1", events.TypeIncidentMerged, "inc-2", t0.Add(4*time.Minute), events.IncidentMerged{IncidentRef: ref2, From: "triggered", Into: ref1, AlertsMoved: 1, ParentAlerts: 3}),
		alert("a5", "k3", t0.Add(5*time.Minute)),
	)
	_, entries, err := svc.Timeline(context.Background(), "INC-1", false)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	summary := ""
	for _, e := range entries {
		ids = append(ids, e.EventID)
		if e.EventID == "g1" {
			summary = e.Summary
		}
	}
	if want := []string{"a1", "t1", "a2", "g1", "a3", "a5"}; !slices.Equal(ids, want) {
		t.Fatalf("INC-1 timeline %v, want %v", ids, want)
	}
	if want := "Alert k2 joined (same labels.cluster=eu-1): k2 failing"; summary != want {
		t.Fatalf("summary %q, want %q", summary, want)
	}
	_, entries, err = svc.Timeline(context.Background(), "INC-2", false)
	if err != nil {
		t.Fatal(err)
	}
	ids = ids[:0]
	for _, e := range entries {
		ids = append(ids, e.EventID)
	}
	if want := []string{"a4", "t2", "m1"}; !slices.Equal(ids, want) {
		t.Fatalf("INC-2 timeline %v, want %v", ids, want)
	}
}

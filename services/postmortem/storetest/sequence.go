package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/services/postmortem"
)

// IncidentID is the incident of Sequence.
const IncidentID = "0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d5e"

// Actors of Sequence.
var (
	Prometheus = events.Actor{Kind: events.ActorIntegration, ID: "prometheus", Name: "Prometheus prod", Channel: events.ChannelAPI}
	Alice      = events.Actor{Kind: events.ActorUser, ID: "alice", Name: "Alice Liddell", Channel: events.ChannelSlack}
	Bob        = events.Actor{Kind: events.ActorUser, ID: "bob", Name: "Bob", Channel: events.ChannelCLI}
)

func env(n int, typ, subject string, actor events.Actor, at time.Time, data any) events.Envelope {
	return events.MustNew(typ, "test", subject, actor, data, events.At(at),
		events.WithID(fmt.Sprintf("0195f3a2-0000-7000-8000-%012d", n)))
}

// Sequence is a realistic incident as its events reach the post-mortem
// service, in the order of their streams: INC-42 on checkout opens from an
// alert at 21:30 UTC (22:30 in Berlin, a night page), pages Alice, escalates
// to Bob, who acknowledges from the CLI; the alert repeats; Alice adds a
// note from Slack, contains and mitigates; Bob resolves. Between them: an
// event of another incident, one about no incident, and an event type
// this service does not know (notify's), which must still be on the
// timeline. The alerts come last, as if the alerts consumer lagged.
func Sequence() (evts []events.Envelope, alerts []events.Envelope) {
	ref := func(v int64) events.IncidentRef {
		return events.IncidentRef{IncidentID: IncidentID, Number: 42, Version: v}
	}
	sys := events.System("incident")
	esc := events.System("escalation")
	t := T0
	page := func(user string, level int) events.PageRequested {
		return events.PageRequested{IncidentID: IncidentID, Number: 42, Title: "5xx above 5%", Severity: "SEV1", Service: "checkout",
			Level: level, Policy: "web", Target: events.PageTarget{Type: "schedule", ID: "web-primary"}, User: user,
			ContactMethod: &events.PageContact{Name: "phone", Type: "sms", Address: "+4915100000"}, IdempotencyKey: fmt.Sprintf("%s/%d/%s", IncidentID, level, user)}
	}
	evts = []events.Envelope{
		env(2, events.TypeIncidentTriggered, IncidentID, sys, t.Add(2*time.Second), events.IncidentTriggered{IncidentRef: ref(1),
			Service: "checkout", DedupKey: "5xx", Title: "5xx above 5%", Severity: "SEV1", AlertSeverity: "critical"}),
		env(3, events.TypePageRequested, IncidentID, esc, t.Add(3*time.Second), page("alice", 1)),
		env(4, events.TypeIncidentTriggered, "other", sys, t.Add(4*time.Second), events.IncidentTriggered{
			IncidentRef: events.IncidentRef{IncidentID: "other", Number: 43, Version: 1}, Service: "search", DedupKey: "lat", Title: "slow", Severity: "SEV3"}),
		env(5, events.TypeIncidentEscalated, IncidentID, esc, t.Add(5*time.Minute+2*time.Second), events.IncidentTransitioned{IncidentRef: ref(2),
			From: "triggered", To: "escalated", Level: 2}),
		env(6, events.TypePageRequested, IncidentID, esc, t.Add(5*time.Minute+3*time.Second), page("bob", 2)),
		env(7, events.TypeIncidentAcknowledged, IncidentID, Bob, t.Add(6*time.Minute+2*time.Second), events.IncidentTransitioned{IncidentRef: ref(3),
			From: "escalated", To: "acknowledged", Note: "looking | at it"}),
		env(8, events.TypeConfigApplied, "", Bob, t.Add(7*time.Minute), events.ConfigApplied{Changes: []events.ConfigChange{{Kind: "user", Name: "carol", Op: "create"}}}),
		env(10, events.TypeIncidentNoteAdded, IncidentID, Alice, t.Add(10*time.Minute), events.IncidentNoteAdded{IncidentRef: ref(4), NoteID: 1,
			Text: "deploy 118 went out at 21:25"}),
		env(11, events.TypeIncidentContained, IncidentID, Alice, t.Add(15*time.Minute+2*time.Second), events.IncidentTransitioned{IncidentRef: ref(5),
			From: "acknowledged", To: "contained", Action: "=blocked the bad client at the edge", ActionID: 1}),
		env(12, events.TypeIncidentMitigated, IncidentID, Alice, t.Add(25*time.Minute+2*time.Second), events.IncidentTransitioned{IncidentRef: ref(6),
			From: "contained", To: "mitigated", Action: "rolled back deploy 118", ActionID: 2}),
		env(13, events.TypeIncidentResolved, IncidentID, Bob, t.Add(40*time.Minute+2*time.Second), events.IncidentTransitioned{IncidentRef: ref(7),
			From: "mitigated", To: "resolved", Note: "error rate normal"}),
		env(14, "notification.sent", IncidentID, events.System("notify"), t.Add(40*time.Minute+3*time.Second),
			json.RawMessage(`{"incident_id":"`+IncidentID+`","user":"alice","channel":"sms","status":"delivered","attempt":1}`)),
	}
	alerts = []events.Envelope{
		env(1, events.TypeAlertReceived, "", Prometheus, t, events.AlertReceived{Service: "checkout", DedupKey: "5xx", EventAction: events.ActionTrigger,
			Summary: "5xx above 5%", Severity: events.SeverityCritical, Source: "lb-1", Integration: "alertmanager", ReceivedAt: t}),
		env(9, events.TypeAlertReceived, "", Prometheus, t.Add(8*time.Minute), events.AlertReceived{Service: "checkout", DedupKey: "5xx", EventAction: events.ActionTrigger,
			Summary: "5xx above 5%", Severity: events.SeverityCritical, Source: "lb-2", Integration: "alertmanager", ReceivedAt: t.Add(8 * time.Minute)}),
	}
	return evts, alerts
}

// WantTypes is the timeline of Sequence, in order.
var WantTypes = []string{
	events.TypeAlertReceived, events.TypeIncidentTriggered, events.TypePageRequested, events.TypeIncidentEscalated,
	events.TypePageRequested, events.TypeIncidentAcknowledged, events.TypeAlertReceived, events.TypeIncidentNoteAdded,
	events.TypeIncidentContained, events.TypeIncidentMitigated, events.TypeIncidentResolved, "notification.sent",
}

// Project projects envs in order with svc, failing the test on an error.
func Project(t testing.TB, svc *postmortem.Service, envs ...events.Envelope) {
	t.Helper()
	for _, e := range envs {
		if err := svc.Project(context.Background(), e); err != nil {
			t.Fatalf("project %s %s: %v", e.Type, e.ID, err)
		}
	}
}

func testProjection(t *testing.T, open Opener) {
	evts, alerts := Sequence()
	for _, c := range []struct {
		name  string
		order []events.Envelope
	}{
		// The alerts consumer lags the events consumer…
		{"alerts after events", append(slices.Clone(evts), alerts...)},
		// …or runs ahead of it; redelivery projects nothing twice.
		{"alerts first, redelivered", append(append(slices.Clone(alerts), evts...), append(slices.Clone(evts), alerts...)...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			svc, err := postmortem.New(open(t), nil, postmortem.Config{})
			if err != nil {
				t.Fatal(err)
			}
			Project(t, svc, c.order...)
			inc, es, err := svc.Timeline(context.Background(), "INC-42", true)
			if err != nil {
				t.Fatal(err)
			}
			// Without details: the same entries, none with its event data.
			_, brief, err := svc.Timeline(context.Background(), "INC-42", false)
			if err != nil || len(brief) != len(es) {
				t.Fatalf("brief timeline: %d entries, %v", len(brief), err)
			}
			for i := range es {
				if len(es[i].Details) == 0 {
					t.Errorf("entry %d (%s) has no details", i, es[i].Type)
				}
				full, b := es[i], brief[i]
				full.Details = nil
				if len(b.Details) != 0 {
					t.Errorf("brief entry %d has details %s", i, b.Details)
				}
				b.Details = nil
				if !reflect.DeepEqual(full, b) {
					t.Errorf("brief entry %d: %+v, want %+v without details", i, brief[i], full)
				}
			}
			var types []string
			for _, e := range es {
				types = append(types, e.Type)
			}
			if !slices.Equal(types, WantTypes) {
				t.Fatalf("timeline types\n got %v\nwant %v", types, WantTypes)
			}
			if a := es[5].Actor; a != Bob || es[5].Summary != "Acknowledged: looking | at it" {
				t.Errorf("acknowledgement entry %+v", es[5])
			}
			if es[0].Actor != Prometheus || es[0].Summary != "Alert trigger (critical) from lb-1 via alertmanager: 5xx above 5%" {
				t.Errorf("alert entry %+v", es[0])
			}
			if es[11].Summary != "notification.sent: status=delivered, user=alice, channel=sms, attempt=1" {
				t.Errorf("unknown type entry %q", es[11].Summary)
			}
			if inc.Key() != "INC-42" || inc.AlertCount != 2 || inc.Status != "resolved" || inc.Severity != "SEV1" {
				t.Errorf("incident %+v", inc)
			}
			d := postmortem.DurationsOf(inc)
			for name, c := range map[string]struct {
				got  *time.Duration
				want time.Duration
			}{
				"ack": {d.ToAcknowledge, 6 * time.Minute}, "contain": {d.ToContain, 15 * time.Minute},
				"mitigate": {d.ToMitigate, 25 * time.Minute}, "resolve": {d.ToResolve, 40 * time.Minute},
			} {
				if c.got == nil || *c.got != c.want {
					t.Errorf("time to %s %v, want %v", name, c.got, c.want)
				}
			}
			// The default JSON answer, assembled from each entry's stored
			// JSON (the alerts' rendered when they were attached).
			CheckTimelineJSON(t, svc, "INC-42")
			CheckTimelineJSON(t, svc, "other")
			if _, other, err := svc.Timeline(context.Background(), "other", false); err != nil || len(other) != 1 {
				t.Errorf("other incident's timeline %v %v", other, err)
			}
			pages, err := svc.Store().Pages(context.Background(), T0.Add(-time.Hour), T0.Add(time.Hour))
			if err != nil || len(pages) != 2 {
				t.Errorf("pages %+v %v", pages, err)
			}
		})
	}
}

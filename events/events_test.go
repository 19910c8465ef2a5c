package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/firebreak-dev/firebreak/events"
)

func TestNewFillsEnvelope(t *testing.T) {
	t.Parallel()
	actor := events.Actor{Kind: events.ActorUser, ID: "alice", Channel: events.ChannelCLI}
	e, err := events.New(events.CmdIncidentAcknowledge, "api", "INC-1", actor, events.IncidentCommand{Incident: "INC-1"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := uuid.Parse(e.ID)
	if err != nil || id.Version() != 7 {
		t.Fatalf("id %q is not a UUIDv7 (%v)", e.ID, err)
	}
	if e.CorrelationID != e.ID || e.CausationID != "" || e.Version != 1 || e.Time.IsZero() {
		t.Fatalf("defaults wrong: %+v", e)
	}
	child := events.MustNew(events.TypeIncidentAcknowledged, "incident", "x", events.System("incident"),
		map[string]int{"n": 1}, events.CausedBy(e))
	if child.CorrelationID != e.CorrelationID || child.CausationID != e.ID {
		t.Fatalf("CausedBy: got correlation %q causation %q", child.CorrelationID, child.CausationID)
	}
}

func TestValidateAndDecode(t *testing.T) {
	t.Parallel()
	good := events.MustNew(events.TypeIncidentResolved, "incident", "x", events.System("incident"), map[string]string{"a": "b"})
	b, err := good.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := events.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != good.ID || !back.Time.Equal(good.Time) || string(back.Data) != string(good.Data) {
		t.Fatalf("round trip changed the envelope: %+v vs %+v", back, good)
	}
	tests := []struct {
		name, json, want string
	}{
		{"malformed", `{"id":`, "invalid envelope"},
		{"missing all", `{}`, "missing [id type version source time actor data]"},
		{"no actor", `{"id":"1","type":"a.b","version":1,"source":"s","time":"2026-01-01T00:00:00Z","data":{}}`, "missing [actor]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := events.Decode([]byte(tt.json))
			if !errors.Is(err, events.ErrInvalidEnvelope) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode(%s) = %v, want %q", tt.json, err, tt.want)
			}
		})
	}
}

func TestSubjects(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		events.TypeAlertReceived:        "fb.alert.received",
		events.TypeIncidentTriggered:    "fb.evt.incident.triggered",
		events.TypeCommandRejected:      "fb.evt.command.rejected",
		events.CmdIncidentAcknowledge:   "fb.cmd.incident.acknowledge",
		events.CmdIncidentAddNote:       "fb.cmd.incident.add_note",
		events.TypeIncidentAcknowledged: "fb.evt.incident.acknowledged",
	}
	for typ, want := range tests {
		if got := events.SubjectFor(typ); got != want {
			t.Errorf("SubjectFor(%s) = %s, want %s", typ, got, want)
		}
	}
	if got := events.DLQSubject("incident-alerts"); got != "fb.dlq.incident-alerts" {
		t.Errorf("DLQSubject = %s", got)
	}
}

func TestCloudEventsRoundTrip(t *testing.T) {
	t.Parallel()
	for _, spec := range events.Catalog() {
		t.Run(spec.Type, func(t *testing.T) {
			e := events.MustNew(spec.Type, "incident", "sub", events.Actor{Kind: events.ActorUser, ID: "bob", Name: "Bob", Channel: events.ChannelSlack},
				spec.Example(), events.At(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)))
			ce := events.ToCloudEvent(e)
			b, err := json.Marshal(ce)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"specversion", "id", "source", "type", "time", "datacontenttype", "data", "correlationid"} {
				if _, ok := m[k]; !ok {
					t.Errorf("CloudEvent lacks %s: %s", k, b)
				}
			}
			var ce2 events.CloudEvent
			if err := json.Unmarshal(b, &ce2); err != nil {
				t.Fatal(err)
			}
			back, err := events.FromCloudEvent(ce2)
			if err != nil {
				t.Fatal(err)
			}
			eb, _ := e.Encode()
			bb, _ := back.Encode()
			if string(eb) != string(bb) {
				t.Fatalf("round trip:\n got %s\nwant %s", bb, eb)
			}
		})
	}
}

func TestFromCloudEventRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ce   events.CloudEvent
		want string
	}{
		{"spec 0.3", events.CloudEvent{SpecVersion: "0.3", ID: "1", Source: "s", Type: "t"}, "specversion"},
		{"no id", events.CloudEvent{SpecVersion: "1.0", Source: "s", Type: "t"}, "required"},
		{"xml", events.CloudEvent{SpecVersion: "1.0", ID: "1", Source: "s", Type: "t", DataContentType: "application/xml"}, "not JSON"},
		{"bad time", events.CloudEvent{SpecVersion: "1.0", ID: "1", Source: "s", Type: "t", Time: "yesterday"}, "RFC 3339"},
		{"bad version", events.CloudEvent{SpecVersion: "1.0", ID: "1", Source: "s", Type: "t", TypeVersion: "x"}, "typeversion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := events.FromCloudEvent(tt.ce)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	e, err := events.FromCloudEvent(events.CloudEvent{SpecVersion: "1.0", ID: "1", Source: "prometheus", Type: "alert.received", Time: "2026-01-01T00:00:00Z", Data: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if e.Actor.Kind != events.ActorIntegration || e.Actor.ID != "prometheus" || e.CorrelationID != "1" {
		t.Fatalf("defaults for outside producers: %+v", e)
	}
}

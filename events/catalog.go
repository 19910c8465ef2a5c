package events

import (
	"encoding/json"
	"strings"
	"time"
)

// Event types (facts). The part before the first dot names the aggregate.
const (
	TypeAlertReceived        = "alert.received"
	TypeIncidentTriggered    = "incident.triggered"
	TypeIncidentAcknowledged = "incident.acknowledged"
	TypeIncidentResolved     = "incident.resolved"
	TypeIncidentNoteAdded    = "incident.note_added"
	TypeCommandRejected      = "command.rejected"
)

// Command types (requests). Only the owner of the state handles them and
// answers with events or a command.rejected event.
const (
	CmdIncidentAcknowledge = "incident.acknowledge"
	CmdIncidentResolve     = "incident.resolve"
	CmdIncidentAddNote     = "incident.add_note"
)

// Kind tells events from commands.
type Kind string

// The two kinds of catalog entries.
const (
	KindEvent   Kind = "event"
	KindCommand Kind = "command"
)

// Spec describes one catalog entry.
type Spec struct {
	Type    string
	Kind    Kind
	Version int
	// Example returns a valid data payload; the golden examples and the
	// schema tests are built from it.
	Example func() any
}

// Alert severities, as PagerDuty Events v2 names them.
const (
	SeverityCritical = "critical"
	SeverityError    = "error"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Alert actions, as PagerDuty Events v2 names them.
const (
	ActionTrigger     = "trigger"
	ActionAcknowledge = "acknowledge"
	ActionResolve     = "resolve"
)

// AlertReceived is a normalized alert accepted by intake.
type AlertReceived struct {
	Service     string          `json:"service"`
	DedupKey    string          `json:"dedup_key"`
	EventAction string          `json:"event_action"`
	Summary     string          `json:"summary,omitempty"`
	Severity    string          `json:"severity,omitempty"`
	Source      string          `json:"source,omitempty"`
	Details     json.RawMessage `json:"details,omitempty"`
	Integration string          `json:"integration"`
	ReceivedAt  time.Time       `json:"received_at"`
}

// IncidentRef identifies an incident in event data.
type IncidentRef struct {
	IncidentID string `json:"incident_id"`
	Number     int64  `json:"number"`
	// Version is the incident's version after the change.
	Version int64 `json:"version"`
}

// IncidentTriggered says an incident was opened.
type IncidentTriggered struct {
	IncidentRef
	Service       string `json:"service"`
	DedupKey      string `json:"dedup_key"`
	Title         string `json:"title"`
	Severity      string `json:"severity"`
	AlertSeverity string `json:"alert_severity,omitempty"`
	AlertID       string `json:"alert_id,omitempty"`
}

// IncidentTransitioned is the data of acknowledged and resolved events.
type IncidentTransitioned struct {
	IncidentRef
	From string `json:"from"`
	To   string `json:"to"`
	Note string `json:"note,omitempty"`
}

// IncidentNoteAdded says a note was attached to an incident.
type IncidentNoteAdded struct {
	IncidentRef
	NoteID int64  `json:"note_id"`
	Text   string `json:"text"`
}

// CommandRejected says a command was refused, and why.
type CommandRejected struct {
	CommandID   string `json:"command_id"`
	CommandType string `json:"command_type"`
	IncidentID  string `json:"incident_id,omitempty"`
	Code        string `json:"code"`
	Reason      string `json:"reason"`
}

// IncidentCommand is the data of acknowledge, resolve and add-note commands.
// Incident may be an id or a number such as "INC-42".
type IncidentCommand struct {
	Incident string `json:"incident"`
	Note     string `json:"note,omitempty"`
	// ExpectedVersion, when set, makes the command fail if the incident has
	// changed since the issuer read it.
	ExpectedVersion int64 `json:"expected_version,omitempty"`
}

var exampleTime = time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)

var exampleRef = IncidentRef{IncidentID: "0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d5e", Number: 42, Version: 2}

// Catalog lists every event and command type firebreak emits or accepts.
func Catalog() []Spec {
	return []Spec{
		{TypeAlertReceived, KindEvent, 1, func() any {
			return AlertReceived{Service: "checkout", DedupKey: "disk-full-db1", EventAction: ActionTrigger,
				Summary: "Disk 95% full on db1", Severity: SeverityCritical, Source: "db1",
				Details: json.RawMessage(`{"mount":"/var"}`), Integration: "generic", ReceivedAt: exampleTime}
		}},
		{TypeIncidentTriggered, KindEvent, 1, func() any {
			r := exampleRef
			r.Version = 1
			return IncidentTriggered{IncidentRef: r, Service: "checkout", DedupKey: "disk-full-db1",
				Title: "Disk 95% full on db1", Severity: "SEV1", AlertSeverity: SeverityCritical,
				AlertID: "0195f3a2-7c4e-7b3a-9d2e-000000000001"}
		}},
		{TypeIncidentAcknowledged, KindEvent, 1, func() any {
			return IncidentTransitioned{IncidentRef: exampleRef, From: "triggered", To: "acknowledged", Note: "looking"}
		}},
		{TypeIncidentResolved, KindEvent, 1, func() any {
			r := exampleRef
			r.Version = 3
			return IncidentTransitioned{IncidentRef: r, From: "acknowledged", To: "resolved", Note: "disk cleaned"}
		}},
		{TypeIncidentNoteAdded, KindEvent, 1, func() any {
			return IncidentNoteAdded{IncidentRef: exampleRef, NoteID: 7, Text: "rotated logs"}
		}},
		{TypeCommandRejected, KindEvent, 1, func() any {
			return CommandRejected{CommandID: "0195f3a2-7c4e-7b3a-9d2e-000000000003", CommandType: CmdIncidentResolve,
				IncidentID: exampleRef.IncidentID, Code: "illegal_transition", Reason: "incident INC-42 is already resolved"}
		}},
		{CmdIncidentAcknowledge, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42"} }},
		{CmdIncidentResolve, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42", Note: "fixed"} }},
		{CmdIncidentAddNote, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42", Note: "rolled back deploy 118"} }},
	}
}

// Lookup returns the catalog entry for typ.
func Lookup(typ string) (Spec, bool) {
	for _, s := range Catalog() {
		if s.Type == typ {
			return s, true
		}
	}
	return Spec{}, false
}

// CurrentVersion is the catalog version of typ, 1 for unknown types.
func CurrentVersion(typ string) int {
	if s, ok := Lookup(typ); ok {
		return s.Version
	}
	return 1
}

// NATS subject scheme. Streams capture these prefixes.
const (
	SubjectIngestPrefix = "fb.ingest."
	SubjectAlertPrefix  = "fb.alert."
	SubjectCmdPrefix    = "fb.cmd."
	SubjectEvtPrefix    = "fb.evt."
	SubjectDLQPrefix    = "fb.dlq."
)

// SubjectFor returns the NATS subject an envelope of type typ is published on:
// alerts on fb.alert.<rest>, commands on fb.cmd.<type>, other events on
// fb.evt.<type>.
func SubjectFor(typ string) string {
	if s, ok := Lookup(typ); ok && s.Kind == KindCommand {
		return SubjectCmdPrefix + typ
	}
	if rest, ok := strings.CutPrefix(typ, "alert."); ok {
		return SubjectAlertPrefix + rest
	}
	return SubjectEvtPrefix + typ
}

// DLQSubject is where a consumer's poison messages go.
func DLQSubject(consumer string) string { return SubjectDLQPrefix + consumer }

// IngestSubject is where outside producers publish alerts for a service.
func IngestSubject(service string) string { return SubjectIngestPrefix + service }

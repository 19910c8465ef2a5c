package events

import (
	"encoding/json"
	"strings"
	"sync"
	"time"
)

// Event types (facts). The part before the first dot names the aggregate.
const (
	TypeAlertReceived        = "alert.received"
	TypeIncidentTriggered    = "incident.triggered"
	TypeIncidentAcknowledged = "incident.acknowledged"
	TypeIncidentResolved     = "incident.resolved"
	TypeIncidentNoteAdded    = "incident.note_added"
	TypeIncidentEscalated    = "incident.escalated"
	TypeIncidentContained    = "incident.contained"
	TypeIncidentMitigated    = "incident.mitigated"
	TypeIncidentReopened     = "incident.reopened"
	TypeIncidentPostmortem   = "incident.postmortem_started"
	TypeIncidentClosed       = "incident.closed"
	TypeIncidentSnoozed      = "incident.snoozed"
	TypeIncidentAssigned     = "incident.assigned"
	TypeIncidentSeverity     = "incident.severity_changed"
	TypeIncidentMerged       = "incident.merged"
	TypeIncidentResponder    = "incident.responder_added"
	TypeCommandRejected      = "command.rejected"
	// TypePostmortemPublished comes from the post-mortem service; it opens
	// the close gate of SEV1/SEV2 incidents.
	TypePostmortemPublished = "postmortem.published"
)

// Scoped API token event types: an admin created or revoked a token.
const (
	TypeTokenCreated = "token.created"
	TypeTokenRevoked = "token.revoked"
)

// Integration event types: an admin created or revoked an integration key.
const (
	TypeIntegrationCreated = "integration.created"
	TypeIntegrationRevoked = "integration.revoked"
)

// TypeChangeReceived is a change event (a deploy, a config change) accepted
// by intake: context for responders, never an incident.
const TypeChangeReceived = "change.received"

// Command types (requests). Only the owner of the state handles them and
// answers with events or a command.rejected event.
const (
	CmdIncidentAcknowledge = "incident.acknowledge"
	CmdIncidentResolve     = "incident.resolve"
	CmdIncidentAddNote     = "incident.add_note"
	CmdIncidentDeclare     = "incident.declare"
	CmdIncidentEscalate    = "incident.escalate"
	CmdIncidentContain     = "incident.contain"
	CmdIncidentMitigate    = "incident.mitigate"
	CmdIncidentReopen      = "incident.reopen"
	CmdIncidentPostmortem  = "incident.start_postmortem"
	CmdIncidentClose       = "incident.close"
	CmdIncidentSnooze      = "incident.snooze"
	CmdIncidentAssign      = "incident.assign"
	CmdIncidentSeverity    = "incident.set_severity"
	CmdIncidentMerge       = "incident.merge"
	CmdIncidentResponder   = "incident.add_responder"
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

// SeverityOfLabel maps a monitoring system's severity label (Prometheus
// and Grafana alerts' "severity") to an alert severity; ok is false for a
// value it does not know.
func SeverityOfLabel(label string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "critical":
		return SeverityCritical, true
	case "error", "page", "high":
		return SeverityError, true
	case "warning":
		return SeverityWarning, true
	case "info":
		return SeverityInfo, true
	}
	return "", false
}

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

// IncidentTriggered says an incident was opened, from an alert or declared
// by a person (origin "declared").
type IncidentTriggered struct {
	IncidentRef
	Service       string `json:"service"`
	DedupKey      string `json:"dedup_key"`
	Title         string `json:"title"`
	Severity      string `json:"severity"`
	AlertSeverity string `json:"alert_severity,omitempty"`
	AlertID       string `json:"alert_id,omitempty"`
	Origin        string `json:"origin,omitempty"`
	Summary       string `json:"summary,omitempty"`
}

// IncidentTransitioned is the data of every status change (acknowledged,
// escalated, contained, mitigated, resolved, reopened, postmortem_started,
// closed). From equals To when a containment or mitigation action is
// recorded on an incident already in that state.
type IncidentTransitioned struct {
	IncidentRef
	From string `json:"from"`
	To   string `json:"to"`
	Note string `json:"note,omitempty"`
	// Level is the escalation level reached (escalated).
	Level int `json:"level,omitempty"`
	// Action says what was done (contained, mitigated).
	Action string `json:"action,omitempty"`
	// ActionID numbers the recorded action (contained, mitigated).
	ActionID int64 `json:"action_id,omitempty"`
}

// IncidentSnoozed says re-escalation is held off until Until.
type IncidentSnoozed struct {
	IncidentRef
	Minutes int       `json:"minutes"`
	Until   time.Time `json:"until"`
	Note    string    `json:"note,omitempty"`
}

// IncidentAssigned says who owns an incident now.
type IncidentAssigned struct {
	IncidentRef
	Assignee string `json:"assignee"`
	Previous string `json:"previous,omitempty"`
	Note     string `json:"note,omitempty"`
}

// IncidentSeverityChanged says a person or rule changed the severity.
type IncidentSeverityChanged struct {
	IncidentRef
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason,omitempty"`
}

// IncidentMerged says the subject incident was merged into another: it is
// resolved and its alerts count toward the parent.
type IncidentMerged struct {
	IncidentRef
	From         string      `json:"from"`
	Into         IncidentRef `json:"into"`
	AlertsMoved  int64       `json:"alerts_moved"`
	ParentAlerts int64       `json:"parent_alert_count"`
	Note         string      `json:"note,omitempty"`
}

// IncidentResponderAdded says a person joined the response.
type IncidentResponderAdded struct {
	IncidentRef
	User string `json:"user"`
}

// PostmortemPublished is emitted by the post-mortem service when a review
// is published.
type PostmortemPublished struct {
	IncidentID   string `json:"incident_id"`
	PostmortemID string `json:"postmortem_id"`
	URL          string `json:"url,omitempty"`
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

// IncidentCommand is the data of every command on an existing incident.
// Incident may be an id or a number such as "INC-42". Which other fields a
// command needs depends on its type (see the JSON Schemas).
type IncidentCommand struct {
	Incident string `json:"incident"`
	Note     string `json:"note,omitempty"`
	// ExpectedVersion, when set, makes the command fail if the incident has
	// changed since the issuer read it.
	ExpectedVersion int64 `json:"expected_version,omitempty"`
	// Action is what was done (contain, mitigate).
	Action string `json:"action,omitempty"`
	// User is the assignee or responder (assign, add_responder).
	User string `json:"user,omitempty"`
	// Severity is SEV1..SEV4 (set_severity).
	Severity string `json:"severity,omitempty"`
	// Minutes is the snooze length (snooze).
	Minutes int `json:"minutes,omitempty"`
	// Into is the parent incident (merge).
	Into string `json:"into,omitempty"`
	// Level is the escalation level reached (escalate; 0 = next level).
	Level int `json:"level,omitempty"`
	// OnlyUnacknowledged makes an escalate command a no-op refusal when the
	// incident was acknowledged in the meantime (the escalation service's
	// step timer racing a person's acknowledgement).
	OnlyUnacknowledged bool `json:"only_unacknowledged,omitempty"`
}

// DeclareIncident is the data of incident.declare: a person opens an
// incident without an alert.
type DeclareIncident struct {
	Title    string `json:"title"`
	Service  string `json:"service"`
	Severity string `json:"severity"`
	Summary  string `json:"summary,omitempty"`
}

// TokenCreated says an admin created a scoped API token. It never carries
// the token's secret or hash.
type TokenCreated struct {
	TokenID string    `json:"token_id"`
	User    string    `json:"user"`
	Name    string    `json:"name,omitempty"`
	Kind    ActorKind `json:"kind"`
	Scopes  []string  `json:"scopes"`
}

// TokenRevoked says an admin revoked a scoped API token; it no longer
// authenticates.
type TokenRevoked TokenCreated

// IntegrationCreated says an admin created an integration key for a
// service. It never carries the key, its hash or a signing secret.
type IntegrationCreated struct {
	IntegrationID string `json:"integration_id"`
	Service       string `json:"service"`
	Type          string `json:"type"`
	Name          string `json:"name,omitempty"`
}

// IntegrationRevoked says an admin revoked an integration key; it no
// longer authenticates.
type IntegrationRevoked IntegrationCreated

// ChangeReceived is a change event accepted by intake (PagerDuty's change
// events): what changed on a service, for responders' context.
type ChangeReceived struct {
	Service       string          `json:"service"`
	Summary       string          `json:"summary"`
	Source        string          `json:"source,omitempty"`
	Timestamp     *time.Time      `json:"timestamp,omitempty"`
	CustomDetails json.RawMessage `json:"custom_details,omitempty"`
	Links         []ChangeLink    `json:"links,omitempty"`
	Integration   string          `json:"integration"`
	ReceivedAt    time.Time       `json:"received_at"`
}

// ChangeLink is a link attached to a change event.
type ChangeLink struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

var exampleTime = time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)

var exampleRef = IncidentRef{IncidentID: "0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d5e", Number: 42, Version: 2}

// Catalog lists every event and command type firebreak emits or accepts.
func Catalog() []Spec {
	return append([]Spec{
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
		{TypeIncidentEscalated, KindEvent, 1, func() any {
			return IncidentTransitioned{IncidentRef: exampleRef, From: "triggered", To: "escalated", Level: 2}
		}},
		{TypeIncidentContained, KindEvent, 1, func() any {
			return IncidentTransitioned{IncidentRef: exampleRef, From: "acknowledged", To: "contained", Action: "blocked 10.0.0.0/8 at the edge", ActionID: 1}
		}},
		{TypeIncidentMitigated, KindEvent, 1, func() any {
			return IncidentTransitioned{IncidentRef: exampleRef, From: "contained", To: "mitigated", Action: "rolled back deploy 118", ActionID: 2}
		}},
		{TypeIncidentReopened, KindEvent, 1, func() any {
			return IncidentTransitioned{IncidentRef: exampleRef, From: "resolved", To: "triggered", Note: "errors are back"}
		}},
		{TypeIncidentPostmortem, KindEvent, 1, func() any {
			return IncidentTransitioned{IncidentRef: exampleRef, From: "resolved", To: "postmortem"}
		}},
		{TypeIncidentClosed, KindEvent, 1, func() any {
			return IncidentTransitioned{IncidentRef: exampleRef, From: "postmortem", To: "closed"}
		}},
		{TypeIncidentSnoozed, KindEvent, 1, func() any {
			return IncidentSnoozed{IncidentRef: exampleRef, Minutes: 30, Until: exampleTime.Add(30 * time.Minute)}
		}},
		{TypeIncidentAssigned, KindEvent, 1, func() any {
			return IncidentAssigned{IncidentRef: exampleRef, Assignee: "bob", Previous: "alice"}
		}},
		{TypeIncidentSeverity, KindEvent, 1, func() any {
			return IncidentSeverityChanged{IncidentRef: exampleRef, From: "SEV3", To: "SEV1", Reason: "checkout is down for everyone"}
		}},
		{TypeIncidentMerged, KindEvent, 1, func() any {
			return IncidentMerged{IncidentRef: exampleRef, From: "triggered", Into: IncidentRef{IncidentID: "0195f3a2-7c4e-7b3a-9d2e-000000000041", Number: 41, Version: 5}, AlertsMoved: 3, ParentAlerts: 9}
		}},
		{TypeIncidentResponder, KindEvent, 1, func() any {
			return IncidentResponderAdded{IncidentRef: exampleRef, User: "carol"}
		}},
		{TypePostmortemPublished, KindEvent, 1, func() any {
			return PostmortemPublished{IncidentID: exampleRef.IncidentID, PostmortemID: "pm-7"}
		}},
		{TypeCommandRejected, KindEvent, 1, func() any {
			return CommandRejected{CommandID: "0195f3a2-7c4e-7b3a-9d2e-000000000003", CommandType: CmdIncidentResolve,
				IncidentID: exampleRef.IncidentID, Code: "illegal_transition", Reason: "incident INC-42 is already resolved"}
		}},
		{TypePageRequested, KindEvent, 1, func() any {
			return PageRequested{IncidentID: exampleRef.IncidentID, Number: 42, Title: "Disk 95% full on db1", Severity: "SEV1",
				Service: "checkout", Level: 1, Policy: "web", Target: PageTarget{Type: "schedule", ID: "web-primary"}, User: "alice",
				ContactMethod:  &PageContact{Name: "work-slack", Type: "slack", Address: "U024BE7LH"},
				IdempotencyKey: exampleRef.IncidentID + "/1/1/alice/work-slack"}
		}},
		{TypePageSuppressed, KindEvent, 1, func() any {
			return PageSuppressed{IncidentID: exampleRef.IncidentID, Number: 42, Service: "checkout", Reason: "maintenance", WindowID: "db-upgrade"}
		}},
		{TypeEscalationExhausted, KindEvent, 1, func() any {
			return EscalationExhausted{IncidentID: exampleRef.IncidentID, Number: 42, Service: "checkout", Policy: "web", Level: 5, Repeat: 1}
		}},
		{TypeServiceConfigured, KindEvent, 1, func() any {
			return ServiceConfigured{Name: "checkout", Description: "the web shop", EscalationPolicy: "web", AckTimeoutMs: 1800000,
				SeverityMap: map[string]string{"warning": "SEV2"}, AlertGrouping: &AlertGrouping{By: []string{"labels.cluster"}, WindowMs: 1800000}}
		}},
		{TypeServiceRemoved, KindEvent, 1, func() any { return ServiceRemoved{Name: "legacy-batch"} }},
		{TypeConfigApplied, KindEvent, 1, func() any {
			return ConfigApplied{Changes: []ConfigChange{{Kind: "service", Name: "checkout", Op: "update", Fields: []string{"escalation_policy"}},
				{Kind: "user", Name: "carol", Op: "create"}, {Kind: "service", Name: "legacy-batch", Op: "delete"}}}
		}},
		{CmdIncidentAcknowledge, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42"} }},
		{CmdIncidentResolve, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42", Note: "fixed"} }},
		{CmdIncidentAddNote, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42", Note: "rolled back deploy 118"} }},
		{CmdIncidentDeclare, KindCommand, 1, func() any {
			return DeclareIncident{Title: "Checkout latency", Service: "checkout", Severity: "SEV2", Summary: "p99 above 2 s since 09:10"}
		}},
		{CmdIncidentEscalate, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42", Note: "no answer"} }},
		{CmdIncidentContain, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42", Action: "blocked 10.0.0.0/8 at the edge"} }},
		{CmdIncidentMitigate, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42", Action: "rolled back deploy 118"} }},
		{CmdIncidentReopen, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42", Note: "errors are back"} }},
		{CmdIncidentPostmortem, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42"} }},
		{CmdIncidentClose, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42"} }},
		{CmdIncidentSnooze, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42", Minutes: 30} }},
		{CmdIncidentAssign, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42", User: "bob"} }},
		{CmdIncidentSeverity, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42", Severity: "SEV1", Note: "all customers"} }},
		{CmdIncidentMerge, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42", Into: "INC-41"} }},
		{CmdIncidentResponder, KindCommand, 1, func() any { return IncidentCommand{Incident: "INC-42", User: "carol"} }},
		{TypeTokenCreated, KindEvent, 1, func() any {
			return TokenCreated{TokenID: "9f86d081884c7d65", User: "grafana", Name: "grafana on prod", Kind: ActorIntegration, Scopes: []string{"incidents:read", "incidents:write"}}
		}},
		{TypeTokenRevoked, KindEvent, 1, func() any {
			return TokenRevoked{TokenID: "9f86d081884c7d65", User: "grafana", Name: "grafana on prod", Kind: ActorIntegration, Scopes: []string{"incidents:read", "incidents:write"}}
		}},
		{TypeAuthDenied, KindEvent, 1, exampleAuthDenied},
		{TypeTokenUsed, KindEvent, 1, exampleTokenUsed},
		{TypeIntegrationCreated, KindEvent, 1, func() any {
			return IntegrationCreated{IntegrationID: "4e07408562bedb8b", Service: "checkout", Type: "alertmanager", Name: "prometheus prod"}
		}},
		{TypeIntegrationRevoked, KindEvent, 1, func() any {
			return IntegrationRevoked{IntegrationID: "4e07408562bedb8b", Service: "checkout", Type: "alertmanager", Name: "prometheus prod"}
		}},
		{TypeChangeReceived, KindEvent, 1, func() any {
			ts := exampleTime.Add(-5 * time.Minute)
			return ChangeReceived{Service: "checkout", Summary: "Deployed checkout v2.4.1", Source: "ci.example.com",
				Timestamp: &ts, CustomDetails: json.RawMessage(`{"commit":"8c1f2e0"}`),
				Links:       []ChangeLink{{Href: "https://ci.example.com/builds/1234", Text: "build 1234"}},
				Integration: "ci deploys", ReceivedAt: exampleTime}
		}},
		{TypeNotificationSent, KindEvent, 1, func() any {
			return NotificationSent{IncidentID: exampleRef.IncidentID, Number: 42,
				DeliveryKey: exampleRef.IncidentID + "/1/alice/work-slack|slack", PageKey: exampleRef.IncidentID + "/1/alice/work-slack",
				Provider: ProviderSlack, Level: 1, User: "alice", ContactMethod: "work-slack", Attempts: 1}
		}},
		{TypeNotificationFailed, KindEvent, 1, func() any {
			return NotificationFailed{NotificationSent: NotificationSent{IncidentID: exampleRef.IncidentID, Number: 42,
				DeliveryKey: exampleRef.IncidentID + "/1/alice/pager-hook|webhook", PageKey: exampleRef.IncidentID + "/1/alice/pager-hook",
				Provider: ProviderWebhook, Level: 1, User: "alice", ContactMethod: "pager-hook", Attempts: 5},
				Reason: "webhook answered 503 Service Unavailable (5 attempts)"}
		}},
		{TypePostmortemCreated, KindEvent, 1, func() any {
			return PostmortemCreated{IncidentID: exampleRef.IncidentID, Number: 42, PostmortemID: "pm-7", Title: "Post-mortem: Disk 95% full on db1"}
		}},
		{TypeActionItemOverdue, KindEvent, 1, func() any {
			return ActionItemOverdue{ActionItemID: "ai-3", IncidentID: exampleRef.IncidentID, Number: 42, Title: "Alert on disk growth rate",
				Owner: "bob", Due: "2026-11-20", TrackerURL: "https://tracker.example.com/OPS-118", OverdueDays: 8}
		}},
		{TypeActionItemPageDue, KindEvent, 1, func() any {
			return ActionItemPageDue{ActionItemOverdue: ActionItemOverdue{ActionItemID: "ai-3", IncidentID: exampleRef.IncidentID, Number: 42,
				Title: "Alert on disk growth rate", Owner: "bob", Due: "2026-11-20", TrackerURL: "https://tracker.example.com/OPS-118", OverdueDays: 7},
				OverdueHours: 177, IncidentTitle: "Disk 95% full on db1", Service: "checkout", Severity: "SEV1"}
		}},
		{TypeStatusUpdatePublished, KindEvent, 1, func() any {
			return StatusUpdatePublished{UpdateID: "su-2", IncidentID: exampleRef.IncidentID, Number: 42, Service: "checkout", Audience: "external",
				Status: "monitoring", Title: "Checkout errors", Body: "A fix is in place; we are watching the error rate.",
				ApprovedBy: "carol", PublishedAt: exampleTime}
		}},
		{TypeIncidentAlertsCoalesced, KindEvent, 1, func() any {
			r := exampleRef
			r.Version = 1
			return IncidentAlertsCoalesced{IncidentRef: r, Service: "checkout", DedupKey: "disk-full-db1",
				AlertCount: 2500, LastAlertAt: exampleTime}
		}},
		{TypeIncidentAlertGrouped, KindEvent, 1, func() any {
			return IncidentAlertGrouped{IncidentRef: exampleRef, Service: "checkout", DedupKey: "disk-full-db2",
				Summary: "Disk 96% full on db2", Severity: "critical", GroupKey: "5d41402abc4b2a76b9719d911017c592",
				Fields: map[string]string{"labels.cluster": "eu-1"}, AlertCount: 4}
		}},
	}, VulnCatalog()...)
}

// catalogIndex is the catalog by type, built once: every event created or
// decoded looks its type up.
var catalogIndex = sync.OnceValue(func() map[string]Spec {
	m := map[string]Spec{}
	for _, s := range Catalog() {
		if _, dup := m[s.Type]; !dup {
			m[s.Type] = s
		}
	}
	return m
})

// Lookup returns the catalog entry for typ.
func Lookup(typ string) (Spec, bool) {
	s, ok := catalogIndex()[typ]
	return s, ok
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

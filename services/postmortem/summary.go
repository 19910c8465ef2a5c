package postmortem

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/firebreak-dev/firebreak/events"
)

// maxSummary caps a summary line (runes); the details keep everything.
const maxSummary = 300

// Summarize renders one event as a timeline line. Known types get a
// sentence; any other type (events added after this service, such as
// notify's or Slack's) gets its type and the data fields a person reads
// first, so nothing about an incident is left out of its timeline.
func Summarize(env events.Envelope) string {
	s := summarize(env)
	if r := []rune(s); len(r) > maxSummary {
		s = string(r[:maxSummary-1]) + "…"
	}
	return s
}

func summarize(env events.Envelope) string {
	switch env.Type {
	case events.TypeAlertReceived:
		var d events.AlertReceived
		if env.DecodeData(&d) == nil {
			s := "Alert " + d.EventAction
			if d.Severity != "" {
				s += " (" + d.Severity + ")"
			}
			if d.Source != "" {
				s += " from " + d.Source
			}
			if d.Integration != "" {
				s += " via " + d.Integration
			}
			return withText(s, d.Summary)
		}
	case events.TypeIncidentTriggered:
		var d events.IncidentTriggered
		if env.DecodeData(&d) == nil {
			how := "triggered"
			if d.Origin == "declared" {
				how = "declared"
			}
			return fmt.Sprintf("INC-%d %s on %s (%s): %s", d.Number, how, d.Service, d.Severity, d.Title)
		}
	case events.TypeIncidentAcknowledged, events.TypeIncidentResolved, events.TypeIncidentReopened,
		events.TypeIncidentPostmortem, events.TypeIncidentClosed, events.TypeIncidentEscalated,
		events.TypeIncidentContained, events.TypeIncidentMitigated:
		var d events.IncidentTransitioned
		if env.DecodeData(&d) == nil {
			return transition(env, d)
		}
	case events.TypeIncidentNoteAdded:
		var d events.IncidentNoteAdded
		if env.DecodeData(&d) == nil {
			return withText("Note", d.Text)
		}
	case events.TypeIncidentSnoozed:
		var d events.IncidentSnoozed
		if env.DecodeData(&d) == nil {
			return withText(fmt.Sprintf("Snoozed for %d min", d.Minutes), d.Note)
		}
	case events.TypeIncidentAssigned:
		var d events.IncidentAssigned
		if env.DecodeData(&d) == nil {
			s := "Assigned to " + d.Assignee
			if d.Previous != "" {
				s += " (was " + d.Previous + ")"
			}
			return withText(s, d.Note)
		}
	case events.TypeIncidentSeverity:
		var d events.IncidentSeverityChanged
		if env.DecodeData(&d) == nil {
			return withText(fmt.Sprintf("Severity %s → %s", d.From, d.To), d.Reason)
		}
	case events.TypeIncidentMerged:
		var d events.IncidentMerged
		if env.DecodeData(&d) == nil {
			return withText(fmt.Sprintf("Merged into INC-%d (%d alerts moved)", d.Into.Number, d.AlertsMoved), d.Note)
		}
	case events.TypeIncidentAlertGrouped:
		var d events.IncidentAlertGrouped
		if env.DecodeData(&d) == nil {
			fields := make([]string, 0, len(d.Fields))
			for _, k := range slices.Sorted(maps.Keys(d.Fields)) {
				fields = append(fields, k+"="+d.Fields[k])
			}
			s := fmt.Sprintf("Alert %s joined (same %s)", d.DedupKey, strings.Join(fields, ", "))
			if d.Summary != "" {
				s += ": " + d.Summary
			}
			return s
		}
	case events.TypeIncidentResponder:
		var d events.IncidentResponderAdded
		if env.DecodeData(&d) == nil {
			return d.User + " joined the response"
		}
	case events.TypeCommandRejected:
		var d events.CommandRejected
		if env.DecodeData(&d) == nil {
			return fmt.Sprintf("Rejected %s: %s", d.CommandType, d.Reason)
		}
	case events.TypePageRequested:
		var d events.PageRequested
		if env.DecodeData(&d) == nil {
			return page(d)
		}
	case events.TypePageSuppressed:
		var d events.PageSuppressed
		if env.DecodeData(&d) == nil {
			s := "Page suppressed: " + d.Reason
			if d.User != "" {
				s += " (" + d.User + ")"
			}
			if d.WindowID != "" {
				s += ", window " + d.WindowID
			}
			if d.ActionItem != "" {
				s += ", action item " + d.ActionItem
			}
			return s
		}
	case events.TypeEscalationExhausted:
		var d events.EscalationExhausted
		if env.DecodeData(&d) == nil {
			return fmt.Sprintf("Escalation exhausted: policy %s ran through its levels (%d repeats) without an acknowledgement", d.Policy, d.Repeat)
		}
	case events.TypePostmortemCreated:
		var d events.PostmortemCreated
		if env.DecodeData(&d) == nil {
			return "Post-mortem started: " + d.Title
		}
	case events.TypePostmortemPublished:
		return "Post-mortem published"
	case events.TypeActionItemOverdue:
		var d events.ActionItemOverdue
		if env.DecodeData(&d) == nil {
			return fmt.Sprintf("Action item overdue (%s, due %s): %s", d.Owner, d.Due, d.Title)
		}
	case events.TypeActionItemPageDue:
		var d events.ActionItemPageDue
		if env.DecodeData(&d) == nil {
			return fmt.Sprintf("Action item owner to be paged (%s, due %s, %d h overdue): %s", d.Owner, d.Due, d.OverdueHours, d.Title)
		}
	case events.TypeStatusUpdatePublished:
		var d events.StatusUpdatePublished
		if env.DecodeData(&d) == nil {
			return fmt.Sprintf("Status update published (%s, %s, approved by %s): %s", d.Audience, d.Status, d.ApprovedBy, d.Title)
		}
	}
	return generic(env)
}

func transition(env events.Envelope, d events.IncidentTransitioned) string {
	var s string
	switch env.Type {
	case events.TypeIncidentAcknowledged:
		s = "Acknowledged"
	case events.TypeIncidentResolved:
		s = "Resolved"
	case events.TypeIncidentReopened:
		s = "Reopened"
	case events.TypeIncidentPostmortem:
		s = "Post-mortem started"
	case events.TypeIncidentClosed:
		s = "Closed"
	case events.TypeIncidentEscalated:
		s = fmt.Sprintf("Escalated to level %d", d.Level)
	case events.TypeIncidentContained:
		s = "Contained"
	case events.TypeIncidentMitigated:
		s = "Mitigated"
	}
	if d.Action != "" {
		s = withText(s, d.Action)
	}
	return withText(s, d.Note)
}

func page(d events.PageRequested) string {
	var s string
	switch {
	case d.User != "":
		s = "Paged " + d.User
		if d.ContactMethod != nil {
			s += " via " + d.ContactMethod.Type
			if d.ContactMethod.Name != "" && d.ContactMethod.Name != d.ContactMethod.Type {
				s += " (" + d.ContactMethod.Name + ")"
			}
		}
	case d.Channel != "":
		s = "Posted to Slack channel " + d.Channel
	case d.UserGroup != "":
		s = "Paged Slack user group " + d.UserGroup
	default:
		s = "Page requested"
	}
	if a := d.ActionItem; a != nil {
		return s + fmt.Sprintf(" about action item %q, overdue by %s", a.Title, a.Overdue())
	}
	s += fmt.Sprintf(", level %d", d.Level)
	if d.Policy != "" {
		s += " of policy " + d.Policy
	}
	if d.Target.Type == "schedule" {
		s += ", on call on " + d.Target.ID
	}
	return s
}

// genericFields are the data fields a generic summary shows, in order.
var genericFields = []string{"summary", "title", "text", "status", "user", "channel", "contact_method", "attempt", "reason", "error"}

func generic(env events.Envelope) string {
	var m map[string]any
	_ = json.Unmarshal(env.Data, &m)
	var parts []string
	for _, k := range genericFields {
		v, ok := m[k]
		if !ok {
			continue
		}
		switch x := v.(type) {
		case string:
			if x != "" {
				parts = append(parts, k+"="+x)
			}
		case float64, bool:
			parts = append(parts, fmt.Sprintf("%s=%v", k, x))
		case map[string]any:
			if t, ok := x["type"].(string); ok {
				parts = append(parts, k+"="+t)
			}
		}
	}
	if len(parts) == 0 {
		return env.Type
	}
	return env.Type + ": " + strings.Join(parts, ", ")
}

func withText(s, text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return s
	}
	return s + ": " + text
}

// incidentRef finds the incident an event is about: data.incident_id,
// or data.incident (an id or INC-n reference, as commands carry), else
// an incident.* event's subject. A number is returned as number.
func incidentRef(env events.Envelope) (id string, number int64) {
	var d struct {
		IncidentID string          `json:"incident_id"`
		Incident   json.RawMessage `json:"incident"`
		Number     int64           `json:"number"`
	}
	_ = json.Unmarshal(env.Data, &d)
	if d.IncidentID != "" {
		return d.IncidentID, 0
	}
	if len(d.Incident) > 0 {
		var s string
		if json.Unmarshal(d.Incident, &s) == nil && s != "" {
			if n, ok := parseNumber(s); ok {
				return "", n
			}
			return s, 0
		}
	}
	if strings.HasPrefix(env.Type, "incident.") && env.Subject != "" {
		return env.Subject, 0
	}
	return "", 0
}

// knownTypes are rendered with a sentence (the rest generically).
var knownTypes = []string{
	events.TypeAlertReceived, events.TypeIncidentTriggered, events.TypeIncidentAcknowledged, events.TypeIncidentResolved,
	events.TypeIncidentReopened, events.TypeIncidentPostmortem, events.TypeIncidentClosed, events.TypeIncidentEscalated,
	events.TypeIncidentContained, events.TypeIncidentMitigated, events.TypeIncidentNoteAdded, events.TypeIncidentSnoozed,
	events.TypeIncidentAssigned, events.TypeIncidentSeverity, events.TypeIncidentMerged, events.TypeIncidentResponder, events.TypeIncidentAlertGrouped,
	events.TypeCommandRejected, events.TypePageRequested, events.TypePageSuppressed, events.TypeEscalationExhausted,
	events.TypePostmortemCreated, events.TypePostmortemPublished, events.TypeActionItemOverdue, events.TypeActionItemPageDue, events.TypeStatusUpdatePublished,
}

// Known reports whether typ gets a rich summary.
func Known(typ string) bool { return slices.Contains(knownTypes, typ) }

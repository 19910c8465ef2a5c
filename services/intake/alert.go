package intake

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
)

// Limits of the generic alert format (PagerDuty Events v2's where it has one).
const (
	MaxServiceLen  = 100
	MaxDedupKeyLen = 255
	MaxSummaryLen  = 1024
	MaxSourceLen   = 255
)

// Alert is the generic JSON alert of POST /api/v1/alerts.
type Alert struct {
	Service     string          `json:"service"`
	DedupKey    string          `json:"dedup_key"`
	Summary     string          `json:"summary"`
	Severity    string          `json:"severity"`
	Source      string          `json:"source"`
	Details     json.RawMessage `json:"details"`
	EventAction string          `json:"event_action"`
}

// ServiceName is the shape of a technical service's name: it must also be a
// valid NATS subject token (fb.ingest.<service>).
var ServiceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// DecodeAlert parses and validates a generic alert. It fills in the defaults
// (event_action trigger, a generated dedup_key for a trigger without one) and
// returns an Invalid error naming the first bad field.
func DecodeAlert(body []byte) (Alert, error) {
	var a Alert
	if err := httpapi.DecodeJSON(body, &a); err != nil {
		return Alert{}, err
	}
	if err := a.normalize(); err != nil {
		return Alert{}, err
	}
	return a, nil
}

func (a *Alert) normalize() error {
	for name, v := range map[string]string{"service": a.Service, "dedup_key": a.DedupKey, "summary": a.Summary, "severity": a.Severity, "source": a.Source, "event_action": a.EventAction} {
		if !utf8.ValidString(v) {
			return fault.Field(name, "is not valid UTF-8")
		}
	}
	switch {
	case a.Service == "":
		return fault.Field("service", "is required")
	case len(a.Service) > MaxServiceLen:
		return fault.Field("service", "longer than %d characters", MaxServiceLen)
	case !ServiceName.MatchString(a.Service):
		return fault.Field("service", "may contain only letters, digits, '-' and '_', starting with a letter or digit")
	}
	if a.EventAction == "" {
		a.EventAction = events.ActionTrigger
	}
	switch a.EventAction {
	case events.ActionTrigger, events.ActionAcknowledge, events.ActionResolve:
	default:
		return fault.Field("event_action", "must be trigger, acknowledge or resolve, got %q", a.EventAction)
	}
	if len(a.DedupKey) > MaxDedupKeyLen {
		return fault.Field("dedup_key", "longer than %d characters", MaxDedupKeyLen)
	}
	if strings.TrimSpace(a.DedupKey) == "" {
		if a.EventAction != events.ActionTrigger {
			return fault.Field("dedup_key", "is required to %s", a.EventAction)
		}
		a.DedupKey = uuid.Must(uuid.NewV7()).String()
	}
	if a.EventAction == events.ActionTrigger && strings.TrimSpace(a.Summary) == "" {
		return fault.Field("summary", "is required to trigger")
	}
	if len(a.Summary) > MaxSummaryLen {
		return fault.Field("summary", "longer than %d characters", MaxSummaryLen)
	}
	switch a.Severity {
	case events.SeverityCritical, events.SeverityError, events.SeverityWarning, events.SeverityInfo:
	case "":
		if a.EventAction == events.ActionTrigger {
			return fault.Field("severity", "is required to trigger (critical, error, warning or info)")
		}
	default:
		return fault.Field("severity", "must be critical, error, warning or info, got %q", a.Severity)
	}
	if len(a.Source) > MaxSourceLen {
		return fault.Field("source", "longer than %d characters", MaxSourceLen)
	}
	if d := bytes.TrimSpace(a.Details); len(d) > 0 && !bytes.Equal(d, []byte("null")) && d[0] != '{' {
		return fault.Field("details", "must be a JSON object")
	}
	if bytes.Equal(bytes.TrimSpace(a.Details), []byte("null")) {
		a.Details = nil
	}
	return nil
}

// Received turns a valid alert into the alert.received data.
func (a Alert) Received(integration string, at time.Time) events.AlertReceived {
	return events.AlertReceived{
		Service: a.Service, DedupKey: a.DedupKey, EventAction: a.EventAction, Summary: a.Summary,
		Severity: a.Severity, Source: a.Source, Details: a.Details, Integration: integration, ReceivedAt: at.UTC(),
	}
}

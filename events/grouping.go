package events

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// TypeIncidentAlertGrouped says an alert with a dedup key of its own joined
// an open incident because the service's alert grouping rule found the
// incident's alerts related (equal values of the rule's fields within its
// window). Later events of that dedup key (repeats, acknowledge, resolve)
// apply to the same incident. Sent once per dedup key joining an incident,
// not per repeat.
const TypeIncidentAlertGrouped = "incident.alert_grouped"

// IncidentAlertGrouped is the data of incident.alert_grouped.
type IncidentAlertGrouped struct {
	IncidentRef
	Service string `json:"service"`
	// DedupKey is the joining alert's dedup key.
	DedupKey string `json:"dedup_key"`
	Summary  string `json:"summary,omitempty"`
	Severity string `json:"severity,omitempty"`
	// GroupKey identifies the rule's field values (GroupKeyOf).
	GroupKey string `json:"group_key"`
	// Fields are the rule's fields and the values both alerts share.
	Fields     map[string]string `json:"fields"`
	AlertCount int64             `json:"alert_count"`
}

// AlertGrouping is a technical service's alert grouping rule: a trigger for
// a dedup key with no open incident joins the service's open incident whose
// first alert had the same values of every field in By, if that incident
// opened at most Window ago (0: as long as it is open). Alerts lacking a
// value for any of the fields are not grouped.
type AlertGrouping struct {
	By       []string `json:"by"`
	WindowMs int64    `json:"window_ms,omitempty"`
}

// MaxGroupFields is the most fields one grouping rule compares.
const MaxGroupFields = 10

// Fields of an alert a grouping rule may compare (AlertField):
//
//	summary, severity, source, integration
//	component, group, class          PagerDuty payload fields
//	labels.<name>                    a label: of an Alertmanager or Grafana
//	                                 group, its commonLabels; else
//	                                 details.labels.<name>
//	details.<key>[.<key>…]           a scalar in the alert's details
var groupTopFields = []string{"summary", "severity", "source", "integration", "component", "group", "class"}

// ValidGroupField reports whether name is a field AlertField can read.
func ValidGroupField(name string) error {
	for _, f := range groupTopFields {
		if name == f {
			return nil
		}
	}
	for _, prefix := range []string{"labels.", "details."} {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			if rest == "" || strings.HasPrefix(rest, ".") || strings.HasSuffix(rest, ".") || strings.Contains(rest, "..") {
				return fmt.Errorf("%q names no %s key", name, strings.TrimSuffix(prefix, "."))
			}
			return nil
		}
	}
	return fmt.Errorf("unknown field %q: use %s, labels.<name> or details.<key>", name, strings.Join(groupTopFields, ", "))
}

// AlertField returns the value of field name (see ValidGroupField) of
// alert a, and false when a has no such value (absent, empty, or not a
// scalar). Numbers and booleans read as their JSON text.
func AlertField(a AlertReceived, name string) (string, bool) {
	switch name {
	case "summary":
		return nonEmptyField(a.Summary)
	case "severity":
		return nonEmptyField(a.Severity)
	case "source":
		return nonEmptyField(a.Source)
	case "integration":
		return nonEmptyField(a.Integration)
	case "component", "group", "class":
		return detailsPath(a.Details, []string{name})
	}
	if label, ok := strings.CutPrefix(name, "labels."); ok {
		var g struct {
			GroupKey     string            `json:"groupKey"`
			CommonLabels map[string]string `json:"commonLabels"`
		}
		if len(a.Details) > 0 && json.Unmarshal(a.Details, &g) == nil && g.GroupKey != "" {
			return nonEmptyField(g.CommonLabels[label])
		}
		return detailsPath(a.Details, []string{"labels", label})
	}
	if path, ok := strings.CutPrefix(name, "details."); ok {
		return detailsPath(a.Details, strings.Split(path, "."))
	}
	return "", false
}

func nonEmptyField(s string) (string, bool) {
	s = strings.TrimSpace(s)
	return s, s != ""
}

// detailsPath reads a scalar at path in the JSON object details. A label
// name may itself contain dots, so a path is first tried whole below its
// first key.
func detailsPath(details json.RawMessage, path []string) (string, bool) {
	if len(details) == 0 || len(path) == 0 {
		return "", false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(details, &m) != nil {
		return "", false
	}
	raw, ok := m[path[0]]
	if !ok {
		return "", false
	}
	if len(path) == 1 {
		return scalar(raw)
	}
	if v, ok := detailsPath(raw, []string{strings.Join(path[1:], ".")}); ok {
		return v, true
	}
	return detailsPath(raw, path[1:])
}

func scalar(raw json.RawMessage) (string, bool) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return nonEmptyField(x)
	case float64, bool:
		return strings.TrimSpace(string(raw)), true
	}
	return "", false
}

// GroupKeyOf returns the group key of alert a under rule g: a hash of the
// rule's fields and a's values of them, with the values. ok is false when a
// lacks a value of any field (such an alert is not grouped) or g has no
// fields.
func GroupKeyOf(g AlertGrouping, a AlertReceived) (key string, fields map[string]string, ok bool) {
	if len(g.By) == 0 {
		return "", nil, false
	}
	fields = make(map[string]string, len(g.By))
	pairs := make([]string, 0, 2*len(g.By))
	for _, f := range g.By {
		v, ok := AlertField(a, f)
		if !ok {
			return "", nil, false
		}
		fields[f] = v
		pairs = append(pairs, f, v)
	}
	b, _ := json.Marshal(pairs) // strings only
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), fields, true
}

// EncodeAlertGrouping is how stores keep a rule: its JSON, "" for nil.
func EncodeAlertGrouping(g *AlertGrouping) string {
	if g == nil {
		return ""
	}
	b, _ := json.Marshal(g) // strings and an integer
	return string(b)
}

// DecodeAlertGrouping reads what EncodeAlertGrouping wrote.
func DecodeAlertGrouping(s string) (*AlertGrouping, error) {
	if s == "" {
		return nil, nil
	}
	var g AlertGrouping
	if err := json.Unmarshal([]byte(s), &g); err != nil {
		return nil, fmt.Errorf("alert grouping: %w", err)
	}
	return &g, nil
}

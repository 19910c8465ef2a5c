// Package alertmanager decodes Prometheus Alertmanager webhook notifications
// (payload version 4) into firebreak's incident model: one incident per
// alert group, each alert of the group tracked by its fingerprint with its
// own status, the incident resolved once every alert of the group has.
//
// The payload is the one documented in prometheus/alertmanager
// docs/configuration.md (<webhook_config>) and built by notify/webhook
// (Message{*template.Data, Version "4", GroupKey, TruncatedAlerts}) from
// template.Data and template.Alert in template/template.go.
//
// Decoding is lenient about fields it does not know: Alertmanager adds
// fields to the payload without bumping the version (recent releases add
// "notification_reason", for example), and refusing them would drop pages.
// The version itself is checked, because a new version may change meaning.
//
// Group is the normalized view that the grafana package shares.
package alertmanager

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// Integration names the source of alerts decoded here in alert.received.
const Integration = "alertmanager"

// Version is the only webhook payload version understood.
const Version = "4"

// Alert statuses, as Alertmanager writes them (model.AlertFiring,
// model.AlertResolved).
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Notification is the webhook payload.
type Notification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Alert is one alert of a group: the per-alert record the intake tracks by
// fingerprint.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`

	// Extra holds sender-specific fields (Grafana's values, silenceURL, …)
	// that go into the details of the group's alert but not into its
	// content hash.
	Extra map[string]any `json:"-"`
}

// Decode parses and validates a version 4 notification. Errors are
// fault.Invalid and name the offending field.
func Decode(body []byte) (Notification, error) {
	var n Notification
	if err := decodeLenient(body, &n); err != nil {
		return Notification{}, err
	}
	if n.Version != Version {
		if n.Version == "" {
			return Notification{}, fault.Field("version", "is required; Alertmanager webhooks send \"4\"")
		}
		return Notification{}, fault.Field("version", "must be %q, got %q: only the Alertmanager webhook payload version 4 is understood", Version, n.Version)
	}
	if err := n.Group().Validate(); err != nil {
		return Notification{}, err
	}
	return n, nil
}

// Group returns the normalized view of n.
func (n Notification) Group() Group {
	return Group{
		Integration: Integration, DedupKey: n.GroupDedupKey(), Version: n.Version,
		Receiver: n.Receiver, GroupKey: n.GroupKey, Status: n.Status, TruncatedAlerts: n.TruncatedAlerts,
		GroupLabels: n.GroupLabels, CommonLabels: n.CommonLabels, CommonAnnotations: n.CommonAnnotations,
		ExternalURL: n.ExternalURL, Alerts: n.Alerts,
	}
}

// GroupDedupKey is the dedup key of the group's incident: a stable hash of
// (receiver, groupKey). Alertmanager's groupKey already names the route and
// the group labels; the receiver keeps two receivers that both point at
// firebreak apart.
func (n Notification) GroupDedupKey() string {
	return DedupKey("am", n.Receiver, n.GroupKey)
}

// ContentHash is n's content hash (see Group.ContentHash).
func (n Notification) ContentHash() string { return n.Group().ContentHash() }

// Received is the group-level alert.received data (see Group.Received).
func (n Notification) Received(service string, at time.Time) events.AlertReceived {
	return n.Group().Received(service, at)
}

// ContentHash decodes body and returns its content hash, for use as the
// JetStream Nats-Msg-Id so that the copies sent by Alertmanager HA peers
// are stored once.
func ContentHash(body []byte) (string, error) {
	n, err := Decode(body)
	if err != nil {
		return "", err
	}
	return n.ContentHash(), nil
}

// DedupKey hashes parts, each length-prefixed so that no two part lists
// collide, into prefix + ":" + 32 hex digits.
func DedupKey(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return prefix + ":" + hex.EncodeToString(h.Sum(nil))[:32]
}

// Group is a grouped notification normalized: what an Alertmanager or a
// Grafana webhook says about one alert group.
type Group struct {
	Integration       string
	DedupKey          string
	Version           string
	Receiver          string
	GroupKey          string
	Status            string
	TruncatedAlerts   uint64
	GroupLabels       map[string]string
	CommonLabels      map[string]string
	CommonAnnotations map[string]string
	ExternalURL       string
	Alerts            []Alert
	// HashExtra is sender-specific content that identifies a notification
	// (Grafana's orgId); it is part of the content hash.
	HashExtra map[string]string
}

// Validate checks what the incident model relies on: at least one alert,
// each with a fingerprint (unique in the group) and a known status, and a
// group status that agrees with the alerts (firing if any alert fires).
func (g Group) Validate() error {
	switch g.Status {
	case StatusFiring, StatusResolved:
	case "":
		return fault.Field("status", "is required (firing or resolved)")
	default:
		return fault.Field("status", "must be firing or resolved, got %q", g.Status)
	}
	if strings.TrimSpace(g.GroupKey) == "" {
		return fault.Field("groupKey", "is required: it identifies the alert group")
	}
	if len(g.Alerts) == 0 {
		return fault.Field("alerts", "is empty: a notification carries at least one alert")
	}
	seen := make(map[string]int, len(g.Alerts))
	firing := false
	for i, a := range g.Alerts {
		field := fmt.Sprintf("alerts[%d]", i)
		switch a.Status {
		case StatusFiring:
			firing = true
		case StatusResolved:
		default:
			return fault.Field(field+".status", "must be firing or resolved, got %q", a.Status)
		}
		if strings.TrimSpace(a.Fingerprint) == "" {
			return fault.Field(field+".fingerprint", "is required: alerts are tracked by fingerprint")
		}
		if j, dup := seen[a.Fingerprint]; dup {
			return fault.Field(field+".fingerprint", "%q repeats alerts[%d]", a.Fingerprint, j)
		}
		seen[a.Fingerprint] = i
		if a.StartsAt.IsZero() {
			return fault.Field(field+".startsAt", "is required")
		}
	}
	switch {
	case firing && g.Status != StatusFiring:
		return fault.Field("status", "is %q but an alert is firing (a group fires while any of its alerts fires)", g.Status)
	case !firing && g.Status != StatusResolved:
		return fault.Field("status", "is %q but every alert is resolved", g.Status)
	}
	return nil
}

// Action is the group's event action: trigger while any alert fires,
// resolve once all have resolved. With truncatedAlerts > 0 the sender left
// alerts out and computed its status over the alerts it kept (notify/webhook
// truncates before building template.Data), so a resolve then covers only
// the alerts shown; the per-alert records carry the detail.
func (g Group) Action() string {
	if g.Status == StatusResolved {
		return events.ActionResolve
	}
	return events.ActionTrigger
}

// Summary is commonAnnotations.summary, else commonLabels.alertname (with
// the number of alerts when several), else a description of the group. It
// is never empty and at most intake.MaxSummaryLen bytes.
func (g Group) Summary() string {
	s := strings.TrimSpace(g.CommonAnnotations["summary"])
	if s == "" {
		if name := strings.TrimSpace(g.CommonLabels["alertname"]); name != "" {
			s = name
			if len(g.Alerts) > 1 {
				s = fmt.Sprintf("%s (%d alerts)", name, len(g.Alerts))
			}
		}
	}
	if s == "" {
		s = fmt.Sprintf("%d alerts in group %s of receiver %s", len(g.Alerts), g.GroupKey, g.Receiver)
	}
	return Cut(s, intake.MaxSummaryLen)
}

// Severity maps the severity label onto firebreak's severities:
// critical→critical, error/page/high→error, warning→warning, info→info
// (case-insensitive). It reads commonLabels.severity; when the alerts of
// the group disagree (so there is no common label) it takes the most severe
// firing alert's, so that a critical alert grouped with warnings is not
// paged as a warning. Anything else, or no label at all, is warning: an
// alert nobody classified still deserves a look, but not a page at night.
func (g Group) Severity() string {
	if s, ok := MapSeverity(g.CommonLabels["severity"]); ok {
		return s
	}
	best, found := -1, false
	for _, want := range []string{StatusFiring, StatusResolved} {
		for _, a := range g.Alerts {
			if a.Status != want {
				continue
			}
			if s, ok := MapSeverity(a.Labels["severity"]); ok && rank[s] > best {
				best, found = rank[s], true
			}
		}
		if found {
			return severities[best]
		}
	}
	return events.SeverityWarning
}

var (
	severities = []string{events.SeverityInfo, events.SeverityWarning, events.SeverityError, events.SeverityCritical}
	rank       = map[string]int{events.SeverityInfo: 0, events.SeverityWarning: 1, events.SeverityError: 2, events.SeverityCritical: 3}
)

// MapSeverity maps one severity label value; ok is false for a value it
// does not know.
func MapSeverity(label string) (string, bool) { return events.SeverityOfLabel(label) }

// Source is the common instance or job label, else the integration.
func (g Group) Source() string {
	for _, k := range []string{"instance", "job"} {
		if v := strings.TrimSpace(g.CommonLabels[k]); v != "" {
			return Cut(v, intake.MaxSourceLen)
		}
	}
	return g.Integration
}

// Received is the group-level alert.received data for service: one per
// notification, deduplicated on the group. Its details carry the group and
// every alert record, so the incident service can track alerts by
// fingerprint.
func (g Group) Received(service string, at time.Time) events.AlertReceived {
	return events.AlertReceived{
		Service: service, DedupKey: g.DedupKey, EventAction: g.Action(), Summary: g.Summary(),
		Severity: g.Severity(), Source: g.Source(), Details: g.details(),
		Integration: g.Integration, ReceivedAt: at.UTC(),
	}
}

// Details is the JSON object in alert.received details.
type Details struct {
	Receiver          string            `json:"receiver"`
	GroupKey          string            `json:"groupKey"`
	Status            string            `json:"status"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL,omitempty"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
	Alerts            []map[string]any  `json:"alerts"`
}

func (g Group) details() json.RawMessage {
	d := Details{Receiver: g.Receiver, GroupKey: g.GroupKey, Status: g.Status,
		GroupLabels: nonNil(g.GroupLabels), CommonLabels: nonNil(g.CommonLabels),
		CommonAnnotations: nonNil(g.CommonAnnotations), ExternalURL: g.ExternalURL,
		TruncatedAlerts: g.TruncatedAlerts}
	for _, a := range g.sorted() {
		m := map[string]any{}
		for k, v := range a.Extra {
			m[k] = v
		}
		m["fingerprint"], m["status"] = a.Fingerprint, a.Status
		m["labels"], m["annotations"] = nonNil(a.Labels), nonNil(a.Annotations)
		m["startsAt"], m["generatorURL"] = a.StartsAt.UTC(), a.GeneratorURL
		if !a.EndsAt.IsZero() {
			m["endsAt"] = a.EndsAt.UTC()
		}
		d.Alerts = append(d.Alerts, m)
	}
	b, err := json.Marshal(d)
	if err != nil {
		// Only an Extra value that cannot be encoded gets here; drop extras.
		for _, m := range d.Alerts {
			for k := range m {
				switch k {
				case "fingerprint", "status", "labels", "annotations", "startsAt", "endsAt", "generatorURL":
				default:
					delete(m, k)
				}
			}
		}
		b, _ = json.Marshal(d)
	}
	return b
}

// sorted returns the alerts ordered by fingerprint.
func (g Group) sorted() []Alert {
	as := append([]Alert(nil), g.Alerts...)
	sort.Slice(as, func(i, j int) bool { return as[i].Fingerprint < as[j].Fingerprint })
	return as
}

// ContentHash identifies the notification's content, for JetStream's
// Nats-Msg-Id.
//
// Alertmanager HA peers each notify when gossip has not told them that a
// peer already did (prometheus/alertmanager issues #1718, #3865, #4108).
// Their payloads are built by the same code from the same alerts, since
// Prometheus sends every alert to every peer, with these differences:
//   - externalURL is each peer's own --web.external-url (template.Data's
//     ExternalURL is t.ExternalURL; #1718 shows a duplicate carrying its
//     peer's URL), so it is left out;
//   - the alerts' order follows the peer's group (sorted by labels in
//     dispatch, but not part of the meaning), so alerts are hashed sorted by
//     fingerprint;
//   - times may carry different zone offsets for one instant, so they are
//     hashed in UTC.
//
// endsAt stays in: for a firing alert Alertmanager exposes the zero time
// (types.Alerts: "If the end timestamp is not reached yet, do not expose
// it"), and a resolved alert's end comes from Prometheus, the same for all
// peers. Everything else (receiver, groupKey, status, labels, annotations,
// startsAt, generatorURL, fingerprint, truncatedAlerts) is identical and
// hashed.
func (g Group) ContentHash() string {
	type alert struct {
		Fingerprint  string            `json:"fingerprint"`
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     string            `json:"startsAt"`
		EndsAt       string            `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
	}
	c := struct {
		Integration       string            `json:"integration"`
		Version           string            `json:"version"`
		Receiver          string            `json:"receiver"`
		GroupKey          string            `json:"groupKey"`
		Status            string            `json:"status"`
		TruncatedAlerts   uint64            `json:"truncatedAlerts"`
		GroupLabels       map[string]string `json:"groupLabels"`
		CommonLabels      map[string]string `json:"commonLabels"`
		CommonAnnotations map[string]string `json:"commonAnnotations"`
		Extra             map[string]string `json:"extra"`
		Alerts            []alert           `json:"alerts"`
	}{g.Integration, g.Version, g.Receiver, g.GroupKey, g.Status, g.TruncatedAlerts,
		nonNil(g.GroupLabels), nonNil(g.CommonLabels), nonNil(g.CommonAnnotations), nonNil(g.HashExtra), nil}
	for _, a := range g.sorted() {
		c.Alerts = append(c.Alerts, alert{a.Fingerprint, a.Status, nonNil(a.Labels), nonNil(a.Annotations),
			a.StartsAt.UTC().Format(time.RFC3339Nano), a.EndsAt.UTC().Format(time.RFC3339Nano), a.GeneratorURL})
	}
	// encoding/json writes map keys sorted, so equal content gives equal
	// bytes; nothing in c can fail to encode.
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// Cut shortens s to at most n bytes without splitting a UTF-8 sequence.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// decodeLenient decodes one JSON object into dst, ignoring unknown fields
// but naming the field of a type error; trailing data is refused.
func decodeLenient(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &fault.Error{Kind: fault.Invalid, Code: "empty_body", Message: "request body is empty; a JSON object is required"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return httpapi.JSONError(err)
	}
	if dec.More() {
		return &fault.Error{Kind: fault.Invalid, Code: "malformed_json", Message: "request body has data after the JSON object"}
	}
	return nil
}

// DecodeLenient is decodeLenient for the grafana package.
func DecodeLenient(body []byte, dst any) error { return decodeLenient(body, dst) }

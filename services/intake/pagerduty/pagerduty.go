// Package pagerduty decodes and validates events sent to firebreak's
// PagerDuty-compatible endpoints, so that any tool able to page PagerDuty
// (Alertmanager, Grafana, Datadog, Sentry, scripts) can page firebreak by
// changing only its URL.
//
// The wire format is PagerDuty's Events API v2 as documented in
// PagerDuty/developer-docs docs/events-API-v2/02-Trigger-Events.md (alert
// events, POST /v2/enqueue), 03-Change-Events.md (POST /v2/change/enqueue),
// 01-Overview.md (PD-CEF fields, 512 KB limit) and the OpenAPI description
// PagerDuty/api-schema reference/events-v2/openapiv3.json (responses).
//
// Like PagerDuty, validation reports every problem at once, and fields it
// does not know are ignored: senders written for PagerDuty add vendor fields
// freely, and refusing them would drop a page.
package pagerduty

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// Integration names the source of alerts decoded here in alert.received.
const Integration = "events-v2"

// Limits from PagerDuty's documentation (02-Trigger-Events.md).
const (
	RoutingKeyLen  = 32   // "the 32 character Integration Key"
	MaxDedupKeyLen = 255  // "maximum permitted length of this property is 255 characters"
	MaxSummaryLen  = 1024 // "maximum permitted length of this property is 1024 characters"
)

// Event is an alert event of POST /v2/enqueue.
type Event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"`
	DedupKey    string   `json:"dedup_key,omitempty"`
	Payload     *Payload `json:"payload,omitempty"`
	Client      string   `json:"client,omitempty"`
	ClientURL   string   `json:"client_url,omitempty"`
	Links       []Link   `json:"links,omitempty"`
	Images      []Image  `json:"images,omitempty"`

	// DedupKeyGenerated says the trigger came without a dedup_key and
	// DedupKey was generated (a UUID, as PagerDuty does): the caller must
	// return it, since it is the only handle on the new alert.
	DedupKeyGenerated bool `json:"-"`
}

// Payload is the PD-CEF body of an alert event.
type Payload struct {
	Summary  string `json:"summary"`
	Source   string `json:"source"`
	Severity string `json:"severity"`
	// Timestamp is the sender's string; Time is it parsed (zero if absent).
	Timestamp     string          `json:"timestamp,omitempty"`
	Time          time.Time       `json:"-"`
	Component     string          `json:"component,omitempty"`
	Group         string          `json:"group,omitempty"`
	Class         string          `json:"class,omitempty"`
	CustomDetails json.RawMessage `json:"custom_details,omitempty"`
}

// Link is a text link attached to an alert or change.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// Image is an image attached to an alert.
type Image struct {
	Src  string `json:"src"`
	Href string `json:"href,omitempty"`
	Alt  string `json:"alt,omitempty"`
}

// ChangeEvent is a change event of POST /v2/change/enqueue: context for
// responders, never a page.
type ChangeEvent struct {
	RoutingKey string        `json:"routing_key"`
	Payload    ChangePayload `json:"payload"`
	Links      []Link        `json:"links,omitempty"`
}

// ChangePayload is the body of a change event.
type ChangePayload struct {
	Summary       string          `json:"summary"`
	Source        string          `json:"source,omitempty"`
	Timestamp     string          `json:"timestamp,omitempty"`
	Time          time.Time       `json:"-"`
	CustomDetails json.RawMessage `json:"custom_details,omitempty"`
}

// ValidationError is PagerDuty's 400 answer: every problem found, in
// PagerDuty's words where they are known. It is a fault.Invalid error, so
// generic boundaries map it to 400 too.
type ValidationError struct {
	// Status and Message are PagerDuty's: "invalid event" / "Event object is
	// invalid" for a bad event, "Unrecognized object" / "Event object format
	// is unrecognized" for a body that is not a JSON object.
	Status  string
	Message string
	Errors  []string
}

func (e *ValidationError) Error() string {
	return e.Message + ": " + strings.Join(e.Errors, "; ")
}

// Unwrap classifies the error as fault.Invalid with the list of problems as
// details.
func (e *ValidationError) Unwrap() error {
	return &fault.Error{Kind: fault.Invalid, Code: "invalid_event", Message: e.Error(),
		Details: map[string]any{"errors": e.Errors}}
}

// Response is the body PagerDuty answers a rejected event with.
func (e *ValidationError) Response() InvalidResponse {
	return InvalidResponse{Status: e.Status, Message: e.Message, Errors: e.Errors}
}

// SuccessResponse is the 202 body (api-schema components/responses/Success:
// {"status":"success","message":"Event processed","dedup_key":"srv01/HTTP"}).
// Change events have no dedup_key.
type SuccessResponse struct {
	Status   string `json:"status"`
	Message  string `json:"message"`
	DedupKey string `json:"dedup_key,omitempty"`
}

// Accepted is the answer to an accepted event.
func Accepted(dedupKey string) SuccessResponse {
	return SuccessResponse{Status: "success", Message: "Event processed", DedupKey: dedupKey}
}

// InvalidResponse is the 400 body, e.g. {"status":"invalid event","message":
// "Event object is invalid","errors":["Length of 'routing_key' is incorrect
// (should be 32 characters)"]} (quoted in prometheus/alertmanager
// notify/pagerduty tests and many client issues).
type InvalidResponse struct {
	Status  string   `json:"status"`
	Message string   `json:"message"`
	Errors  []string `json:"errors"`
}

const (
	statusInvalid       = "invalid event"
	messageInvalid      = "Event object is invalid"
	statusUnrecognized  = "Unrecognized object"
	messageUnrecognized = "Event object format is unrecognized"
)

// DecodeEvent parses and validates an alert event. A trigger without a
// dedup_key gets a generated one (DedupKeyGenerated). Every problem is
// reported in one *ValidationError.
func DecodeEvent(body []byte) (Event, error) {
	obj, err := object(body)
	if err != nil {
		return Event{}, err
	}
	v := &validator{}
	var e Event
	e.RoutingKey = v.str(obj, "routing_key")
	e.EventAction = v.str(obj, "event_action")
	e.DedupKey = v.str(obj, "dedup_key")
	e.Client = v.str(obj, "client")
	e.ClientURL = v.str(obj, "client_url")
	e.Links = v.links(obj)
	e.Images = v.images(obj)
	if p, ok := v.obj(obj, "payload"); ok {
		e.Payload = &Payload{
			Summary: v.str(p, "payload.summary"), Source: v.str(p, "payload.source"),
			Severity: v.str(p, "payload.severity"), Timestamp: v.str(p, "payload.timestamp"),
			Component: v.str(p, "payload.component"), Group: v.str(p, "payload.group"),
			Class: v.str(p, "payload.class"), CustomDetails: v.raw(p, "payload.custom_details"),
		}
		e.Payload.Time = v.timestamp(e.Payload.Timestamp, "payload.timestamp")
	}

	v.routingKey(e.RoutingKey)
	switch e.EventAction {
	case events.ActionTrigger, events.ActionAcknowledge, events.ActionResolve:
	case "":
		v.add("'event_action' is missing or blank")
	default:
		v.add("'event_action' is invalid (should be one of trigger, acknowledge, resolve)")
	}
	if utf8.RuneCountInString(e.DedupKey) > MaxDedupKeyLen {
		v.add(fmt.Sprintf("'dedup_key' is too long (maximum is %d characters)", MaxDedupKeyLen))
	}
	blankKey := strings.TrimSpace(e.DedupKey) == ""
	if blankKey && (e.EventAction == events.ActionAcknowledge || e.EventAction == events.ActionResolve) {
		v.add("'dedup_key' is missing or blank")
	}
	if e.Payload != nil {
		p := e.Payload
		switch p.Severity {
		case events.SeverityCritical, events.SeverityError, events.SeverityWarning, events.SeverityInfo, "":
		default:
			v.add("'payload.severity' is invalid (should be one of critical, error, warning, info)")
		}
		if utf8.RuneCountInString(p.Summary) > MaxSummaryLen {
			// PagerDuty says "'summary' is too long (maiximum is 1024
			// characters)"; the typo is not kept.
			v.add(fmt.Sprintf("'summary' is too long (maximum is %d characters)", MaxSummaryLen))
		}
	}
	if e.EventAction == events.ActionTrigger {
		if e.Payload == nil {
			v.add("'payload' is missing or blank")
		} else {
			for _, f := range []struct{ name, val string }{
				{"summary", e.Payload.Summary}, {"source", e.Payload.Source}, {"severity", e.Payload.Severity},
			} {
				if strings.TrimSpace(f.val) == "" {
					v.add("'payload." + f.name + "' is missing or blank")
				}
			}
		}
	}
	if err := v.err(); err != nil {
		return Event{}, err
	}
	if blankKey {
		// Only a trigger gets here (acknowledge and resolve need a key).
		e.DedupKey = uuid.Must(uuid.NewV7()).String()
		e.DedupKeyGenerated = true
	}
	return e, nil
}

// DecodeChange parses and validates a change event.
func DecodeChange(body []byte) (ChangeEvent, error) {
	obj, err := object(body)
	if err != nil {
		return ChangeEvent{}, err
	}
	v := &validator{}
	var c ChangeEvent
	c.RoutingKey = v.str(obj, "routing_key")
	c.Links = v.links(obj)
	p, ok := v.obj(obj, "payload")
	v.routingKey(c.RoutingKey)
	if !ok {
		if _, present := obj["payload"]; !present {
			v.add("'payload' is missing or blank")
		}
		return ChangeEvent{}, v.err()
	}
	c.Payload = ChangePayload{
		Summary: v.str(p, "payload.summary"), Source: v.str(p, "payload.source"),
		Timestamp: v.str(p, "payload.timestamp"), CustomDetails: v.raw(p, "payload.custom_details"),
	}
	c.Payload.Time = v.timestamp(c.Payload.Timestamp, "payload.timestamp")
	switch n := utf8.RuneCountInString(c.Payload.Summary); {
	case strings.TrimSpace(c.Payload.Summary) == "":
		v.add("'payload.summary' is missing or blank")
	case n > MaxSummaryLen:
		v.add(fmt.Sprintf("'summary' is too long (maximum is %d characters)", MaxSummaryLen))
	}
	if err := v.err(); err != nil {
		return ChangeEvent{}, err
	}
	return c, nil
}

// Alert turns a valid event into alert.received data for service. The
// details keep what the generic alert has no field for: custom_details as
// sent, and component, group, class, timestamp, links, images, client and
// client_url when present. Source is cut to intake.MaxSourceLen bytes.
func (e Event) Alert(service string, at time.Time) events.AlertReceived {
	a := events.AlertReceived{Service: service, DedupKey: e.DedupKey, EventAction: e.EventAction,
		Integration: Integration, ReceivedAt: at.UTC()}
	d := map[string]any{}
	if p := e.Payload; p != nil {
		a.Summary, a.Severity, a.Source = p.Summary, p.Severity, cut(p.Source, intake.MaxSourceLen)
		if len(p.CustomDetails) > 0 && !bytes.Equal(p.CustomDetails, []byte("null")) {
			d["custom_details"] = p.CustomDetails
		}
		setNonEmpty(d, "component", p.Component)
		setNonEmpty(d, "group", p.Group)
		setNonEmpty(d, "class", p.Class)
		setNonEmpty(d, "timestamp", p.Timestamp)
	}
	setNonEmpty(d, "client", e.Client)
	setNonEmpty(d, "client_url", e.ClientURL)
	if len(e.Links) > 0 {
		d["links"] = e.Links
	}
	if len(e.Images) > 0 {
		d["images"] = e.Images
	}
	if len(d) > 0 {
		// Cannot fail: every value is a string, a slice of plain structs or
		// a json.RawMessage that was decoded from valid JSON. URLs keep
		// their '&' unescaped.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(d)
		a.Details = bytes.TrimSpace(buf.Bytes())
	}
	return a
}

func setNonEmpty(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// cut shortens s to at most n bytes without splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// object decodes the body as one JSON object, or answers as PagerDuty does
// to anything else.
func object(body []byte) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	err := dec.Decode(&obj)
	if err == nil && dec.More() {
		err = fmt.Errorf("data after the JSON object")
	}
	if err != nil || obj == nil {
		return nil, &ValidationError{Status: statusUnrecognized, Message: messageUnrecognized, Errors: []string{"JSON parse error"}}
	}
	return obj, nil
}

// validator collects problems instead of stopping at the first.
type validator struct{ errs []string }

func (v *validator) add(msg string) { v.errs = append(v.errs, msg) }

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return &ValidationError{Status: statusInvalid, Message: messageInvalid, Errors: v.errs}
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// leaf is the last element of a dotted path: the key inside its object.
func leaf(path string) string { return path[strings.LastIndexByte(path, '.')+1:] }

func (v *validator) str(obj map[string]json.RawMessage, path string) string {
	raw, ok := obj[leaf(path)]
	if !ok || isNull(raw) {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		v.add(fmt.Sprintf("'%s' must be a string", path))
		return ""
	}
	return s
}

func (v *validator) raw(obj map[string]json.RawMessage, path string) json.RawMessage {
	raw, ok := obj[leaf(path)]
	if !ok || isNull(raw) {
		return nil
	}
	return json.RawMessage(bytes.TrimSpace(raw))
}

func (v *validator) obj(obj map[string]json.RawMessage, path string) (map[string]json.RawMessage, bool) {
	raw, ok := obj[leaf(path)]
	if !ok || isNull(raw) {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		v.add(fmt.Sprintf("'%s' must be an object", path))
		return nil, false
	}
	return m, true
}

func (v *validator) array(obj map[string]json.RawMessage, name string) []map[string]json.RawMessage {
	raw, ok := obj[name]
	if !ok || isNull(raw) {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		v.add(fmt.Sprintf("'%s' must be an array", name))
		return nil
	}
	out := make([]map[string]json.RawMessage, 0, len(items))
	for i, it := range items {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(it, &m); err != nil || m == nil {
			v.add(fmt.Sprintf("'%s[%d]' must be an object", name, i))
			continue
		}
		out = append(out, m)
	}
	return out
}

func (v *validator) links(obj map[string]json.RawMessage) []Link {
	var out []Link
	for i, m := range v.array(obj, "links") {
		p := fmt.Sprintf("links[%d].", i)
		l := Link{Href: v.str(m, p+"href"), Text: v.str(m, p+"text")}
		if strings.TrimSpace(l.Href) == "" {
			v.add("'" + p + "href' is missing or blank")
		}
		out = append(out, l)
	}
	return out
}

func (v *validator) images(obj map[string]json.RawMessage) []Image {
	var out []Image
	for i, m := range v.array(obj, "images") {
		p := fmt.Sprintf("images[%d].", i)
		im := Image{Src: v.str(m, p+"src"), Href: v.str(m, p+"href"), Alt: v.str(m, p+"alt")}
		if strings.TrimSpace(im.Src) == "" {
			v.add("'" + p + "src' is missing or blank")
		}
		out = append(out, im)
	}
	return out
}

func (v *validator) routingKey(k string) {
	switch {
	case k == "":
		v.add("'routing_key' is missing or blank")
	case utf8.RuneCountInString(k) != RoutingKeyLen:
		// PagerDuty's exact wording.
		v.add(fmt.Sprintf("Length of 'routing_key' is incorrect (should be %d characters)", RoutingKeyLen))
	}
}

// timestampLayouts are the ISO 8601 forms senders use: RFC 3339, and the
// offset without a colon of PagerDuty's own examples
// ("2015-07-17T08:42:58.315+0000").
var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999Z07",
}

func (v *validator) timestamp(s, path string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	v.add(fmt.Sprintf("'%s' is invalid (should be an ISO 8601 date-time, like 2015-07-17T08:42:58.315+0000)", path))
	return time.Time{}
}

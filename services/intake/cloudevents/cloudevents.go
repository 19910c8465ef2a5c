// Package cloudevents decodes CloudEvents 1.0 delivered over HTTP and turns
// those that carry an alert into firebreak's generic alert.
//
// Sources: cloudevents/spec cloudevents/bindings/http-protocol-binding.md
// (version 1.0.2: §3 mode by Content-Type, §3.1 binary mode with ce-*
// headers and their percent-encoding, §3.2 structured mode, §3.3 batched
// mode), cloudevents/formats/json-format.md (attributes as members, data or
// data_base64, the batch is a JSON array) and cloudevents/spec.md (required
// id, source, specversion, type; time is RFC 3339).
//
// Unknown extension attributes are accepted and dropped, as the spec asks
// receivers to tolerate them; firebreak's own extensions (typeversion,
// correlationid, …) are kept in events.CloudEvent.
package cloudevents

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// Integration names the source of alerts decoded here in alert.received.
const Integration = "cloudevents"

// Media types of the JSON event format (json-format.md §4).
const (
	MediaStructured = "application/cloudevents+json"
	MediaBatch      = "application/cloudevents-batch+json"
)

// TypeAlertReceived is the CloudEvents type of firebreak's own
// alert.received events (events.ToCloudEvent).
const TypeAlertReceived = events.CloudEventTypePrefix + events.TypeAlertReceived

// MaxBatch bounds the events of one batch.
const MaxBatch = 100

// attributes are the context attributes that map onto events.CloudEvent,
// other than data and datacontenttype.
var attributes = []string{"specversion", "id", "source", "type", "subject", "time", "typeversion",
	"correlationid", "causationid", "actorkind", "actorid", "actorname", "actorchannel"}

// DecodeHTTP decodes the CloudEvents of an HTTP request: one in structured
// or binary mode, zero or more in batched mode. Every event is validated
// (specversion 1.0, required attributes, time in RFC 3339). Errors are
// fault.Invalid and name the attribute, with the index for a batch.
func DecodeHTTP(header http.Header, body []byte) ([]events.CloudEvent, error) {
	ct := header.Get("Content-Type")
	media := ""
	if ct != "" {
		m, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return nil, fault.Field("Content-Type", "is not a media type: %v", err)
		}
		media = m
	}
	switch {
	case strings.HasPrefix(media, "application/cloudevents-batch"):
		if media != MediaBatch {
			return nil, fault.Field("Content-Type", "batch format %q is not supported; use %s", media, MediaBatch)
		}
		return decodeBatch(body)
	case strings.HasPrefix(media, "application/cloudevents"):
		if media != MediaStructured {
			return nil, fault.Field("Content-Type", "event format %q is not supported; use %s", media, MediaStructured)
		}
		ce, err := decodeStructured(body, "")
		if err != nil {
			return nil, err
		}
		return []events.CloudEvent{ce}, nil
	default:
		ce, err := decodeBinary(header, body)
		if err != nil {
			return nil, err
		}
		return []events.CloudEvent{ce}, nil
	}
}

func decodeBatch(body []byte) ([]events.CloudEvent, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, fault.Field("(body)", "a batch must be a JSON array of events: %v", err)
	}
	if len(items) > MaxBatch {
		return nil, fault.Field("(body)", "a batch has at most %d events, got %d", MaxBatch, len(items))
	}
	out := make([]events.CloudEvent, 0, len(items))
	for i, raw := range items {
		ce, err := decodeStructured(raw, fmt.Sprintf("[%d].", i))
		if err != nil {
			return nil, err
		}
		// http-protocol-binding §3.3.2: all batched events have the same
		// specversion; validation already pins it to 1.0.
		out = append(out, ce)
	}
	return out, nil
}

// decodeStructured decodes one event in the JSON format; prefix locates it
// in a batch for error messages.
func decodeStructured(body []byte, prefix string) (events.CloudEvent, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		msg := "is not a JSON object"
		if err != nil {
			msg += ": " + err.Error()
		}
		return events.CloudEvent{}, fault.Field(prefix+"(event)", "%s", msg)
	}
	if dec.More() {
		return events.CloudEvent{}, fault.Field(prefix+"(event)", "has data after the JSON object")
	}
	attrs := map[string]string{}
	for _, name := range append(attributes, "datacontenttype") {
		raw, ok := obj[name]
		if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return events.CloudEvent{}, fault.Field(prefix+name, "must be a string")
		}
		attrs[name] = s
	}
	ce := fromAttrs(attrs)
	ce.DataContentType = attrs["datacontenttype"]
	data, hasData := obj["data"]
	b64, hasB64 := obj["data_base64"]
	switch {
	case hasData && hasB64:
		return events.CloudEvent{}, fault.Field(prefix+"data_base64", "must not be present together with data")
	case hasB64:
		var s string
		if err := json.Unmarshal(b64, &s); err != nil {
			return events.CloudEvent{}, fault.Field(prefix+"data_base64", "must be a base64 string")
		}
		dec, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return events.CloudEvent{}, fault.Field(prefix+"data_base64", "is not valid base64: %v", err)
		}
		if !json.Valid(dec) {
			return events.CloudEvent{}, fault.Field(prefix+"data_base64", "must hold JSON: firebreak only takes JSON event data")
		}
		ce.Data = dec
	case hasData:
		// json-format.md §3.1: with a JSON datacontenttype (or none) the
		// member is the JSON value itself.
		ce.Data = json.RawMessage(bytes.TrimSpace(data))
	}
	if err := validate(ce, prefix); err != nil {
		return events.CloudEvent{}, err
	}
	return ce, nil
}

func decodeBinary(header http.Header, body []byte) (events.CloudEvent, error) {
	if header.Get("ce-specversion") == "" {
		return events.CloudEvent{}, fault.Field("ce-specversion", "is required: send a CloudEvent in binary mode (ce-* headers) or with Content-Type %s", MediaStructured)
	}
	// §3.1.1: the Content-Type is datacontenttype, and a
	// ce-datacontenttype header must not also be present.
	if header.Get("ce-datacontenttype") != "" {
		return events.CloudEvent{}, fault.Field("ce-datacontenttype", "must not be sent in binary mode: Content-Type is the datacontenttype")
	}
	attrs := map[string]string{}
	for _, name := range attributes {
		h := "ce-" + name
		vals := header.Values(h)
		if len(vals) == 0 {
			continue
		}
		if len(vals) > 1 {
			return events.CloudEvent{}, fault.Field(h, "is repeated")
		}
		v, err := headerValue(vals[0])
		if err != nil {
			return events.CloudEvent{}, fault.Field(h, "%v", err)
		}
		attrs[name] = v
	}
	ce := fromAttrs(attrs)
	ce.DataContentType = header.Get("Content-Type")
	if len(bytes.TrimSpace(body)) > 0 {
		if !json.Valid(body) {
			return events.CloudEvent{}, fault.Field("(body)", "must be JSON: firebreak only takes JSON event data")
		}
		ce.Data = json.RawMessage(bytes.TrimSpace(body))
	}
	if err := validate(ce, "ce-"); err != nil {
		return events.CloudEvent{}, err
	}
	return ce, nil
}

// headerValue decodes a binary-mode header value (§3.1.3.2): an optional
// RFC 7230 quoted string, then one round of percent-decoding, rejecting
// invalid UTF-8.
func headerValue(v string) (string, error) {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		var b strings.Builder
		for i := 1; i < len(v)-1; i++ {
			if v[i] == '\\' && i+1 < len(v)-1 {
				i++
			}
			b.WriteByte(v[i])
		}
		v = b.String()
	}
	// PathUnescape, unlike QueryUnescape, leaves '+' alone.
	s, err := url.PathUnescape(v)
	if err != nil {
		return "", fmt.Errorf("bad percent-encoding: %v", err)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("percent-encoding is not valid UTF-8")
	}
	return s, nil
}

func fromAttrs(a map[string]string) events.CloudEvent {
	return events.CloudEvent{
		SpecVersion: a["specversion"], ID: a["id"], Source: a["source"], Type: a["type"],
		Subject: a["subject"], Time: a["time"], TypeVersion: a["typeversion"],
		CorrelationID: a["correlationid"], CausationID: a["causationid"], ActorKind: a["actorkind"],
		ActorID: a["actorid"], ActorName: a["actorname"], ActorChannel: a["actorchannel"],
	}
}

// validate applies spec.md's rules for the attributes firebreak reads;
// prefix is the field prefix for error messages.
func validate(ce events.CloudEvent, prefix string) error {
	switch {
	case ce.SpecVersion == "":
		return fault.Field(prefix+"specversion", "is required")
	case ce.SpecVersion != "1.0":
		return fault.Field(prefix+"specversion", "must be \"1.0\", got %q", ce.SpecVersion)
	case ce.ID == "":
		return fault.Field(prefix+"id", "is required")
	case ce.Source == "":
		return fault.Field(prefix+"source", "is required")
	case ce.Type == "":
		return fault.Field(prefix+"type", "is required")
	}
	if _, err := url.Parse(ce.Source); err != nil {
		return fault.Field(prefix+"source", "must be a URI-reference: %v", err)
	}
	if ce.Time != "" {
		if _, err := time.Parse(time.RFC3339Nano, ce.Time); err != nil {
			return fault.Field(prefix+"time", "must be an RFC 3339 timestamp, got %q", ce.Time)
		}
	}
	if ce.DataContentType != "" {
		if _, _, err := mime.ParseMediaType(ce.DataContentType); err != nil {
			return fault.Field(prefix+"datacontenttype", "is not a media type: %v", err)
		}
	}
	return nil
}

// IdempotencyKey identifies ce for deduplication: CloudEvents producers
// keep source+id unique per distinct event (spec.md "id"), so a redelivery
// has the same key.
func IdempotencyKey(ce events.CloudEvent) string {
	sum := sha256.Sum256([]byte(strconv.Itoa(len(ce.Source)) + ":" + ce.Source + ce.ID))
	return "ce:" + hex.EncodeToString(sum[:16])
}

// ToAlert reads the alert a CloudEvent carries: firebreak's own
// alert.received (type dev.firebreak.alert.received, whose data also has
// integration and received_at, dropped here), or any type whose data is the
// generic alert of POST /api/v1/alerts. Either way the data is validated by
// intake.DecodeAlert.
//
// Two defaults differ from the generic endpoint: a missing source is the
// event's source (cut to intake.MaxSourceLen), and a trigger without a
// dedup_key gets IdempotencyKey(ce) rather than a random one, so that a
// redelivered event does not open a second alert (acknowledge and resolve
// still need a dedup_key).
func ToAlert(ce events.CloudEvent) (intake.Alert, error) {
	if ct := ce.DataContentType; ct != "" {
		m, _, err := mime.ParseMediaType(ct)
		if err != nil || (m != "application/json" && !strings.HasSuffix(m, "+json")) {
			return intake.Alert{}, fault.Field("datacontenttype", "must be JSON to carry an alert, got %q", ct)
		}
	}
	data := bytes.TrimSpace(ce.Data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return intake.Alert{}, fault.Field("data", "is required: an alert event carries the alert as its data")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return intake.Alert{}, fault.Field("data", "must be a JSON object (the generic alert)")
	}
	if ce.Type == TypeAlertReceived {
		delete(fields, "integration")
		delete(fields, "received_at")
	}
	if _, ok := fields["source"]; !ok {
		fields["source"], _ = json.Marshal(cut(ce.Source, intake.MaxSourceLen))
	}
	if raw, ok := fields["dedup_key"]; (!ok || isBlankString(raw)) && isTrigger(fields["event_action"]) {
		fields["dedup_key"], _ = json.Marshal(IdempotencyKey(ce))
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return intake.Alert{}, fault.Field("data", "cannot be re-encoded: %v", err)
	}
	a, err := intake.DecodeAlert(b)
	if err != nil {
		return intake.Alert{}, dataField(err)
	}
	return a, nil
}

// dataField prefixes the field named by an intake error with "data.", so
// that it points into the CloudEvent.
func dataField(err error) error {
	if f, ok := fault.DetailsOf(err)["field"].(string); ok {
		if p, ok := fault.DetailsOf(err)["problem"].(string); ok {
			return fault.Field("data."+f, "%s", p)
		}
	}
	return err
}

// isTrigger says the event_action member is absent, null, "" or "trigger".
func isTrigger(raw json.RawMessage) bool {
	if raw == nil {
		return true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
	}
	return s == "" || s == events.ActionTrigger
}

func isBlankString(raw json.RawMessage) bool {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
	}
	return strings.TrimSpace(s) == ""
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

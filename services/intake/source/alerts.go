package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/intake"
	"github.com/firebreak-dev/firebreak/services/intake/cloudevents"
)

// isCloudEvents says a request carries CloudEvents: a CloudEvents media
// type (structured or batched mode) or a ce-specversion header (binary
// mode), per the HTTP protocol binding §3.
func isCloudEvents(h http.Header) bool {
	if h.Get("ce-specversion") != "" {
		return true
	}
	m, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && strings.HasPrefix(m, "application/cloudevents")
}

// CloudEvents is the intake.Decoder of POST /api/v1/alerts: it takes
// requests that carry CloudEvents and leaves the others to the generic
// format. Each alert's envelope id derives from its event's source and id,
// so a redelivered CloudEvent is stored once.
func CloudEvents(h http.Header, body []byte) (intake.Decoded, bool, error) {
	if !isCloudEvents(h) {
		return intake.Decoded{}, false, nil
	}
	d, err := decodeCloudEvents("", h, body)
	return d, true, err
}

func decodeCloudEvents(service string, h http.Header, body []byte) (intake.Decoded, error) {
	ces, err := cloudevents.DecodeHTTP(h, body)
	if err != nil {
		return intake.Decoded{}, err
	}
	m, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	d := intake.Decoded{Batch: m == cloudevents.MediaBatch, Integration: cloudevents.Integration}
	if len(ces) == 0 {
		return intake.Decoded{}, fault.Field("(body)", "the batch is empty")
	}
	for i, ce := range ces {
		if service != "" {
			ce.Data = withService(ce.Data, service)
		}
		a, err := cloudevents.ToAlert(ce)
		if err != nil {
			if len(ces) > 1 {
				return intake.Decoded{}, fault.Field(fmt.Sprintf("[%d]", i), "%v", err)
			}
			return intake.Decoded{}, err
		}
		if err := sameService(a, service); err != nil {
			return intake.Decoded{}, err
		}
		d.Alerts = append(d.Alerts, a)
		d.IDs = append(d.IDs, intake.DerivedID("cloudevents", cloudevents.IdempotencyKey(ce)))
	}
	return d, nil
}

// readAlerts reads the alerts an integration of service sent: CloudEvents,
// or one generic JSON alert. A body without a service gets service; one
// naming another service is refused.
func readAlerts(service string, h http.Header, body []byte) (intake.Decoded, error) {
	if isCloudEvents(h) || hasSpecVersion(body) {
		if h.Get("Content-Type") == "" || !isCloudEvents(h) {
			h = h.Clone()
			h.Set("Content-Type", cloudevents.MediaStructured)
		}
		return decodeCloudEvents(service, h, body)
	}
	a, err := intake.DecodeAlert(withService(body, service))
	if err != nil {
		return intake.Decoded{}, err
	}
	if err := sameService(a, service); err != nil {
		return intake.Decoded{}, err
	}
	return intake.Decoded{Alerts: []intake.Alert{a}, IDs: []string{""}, Integration: "generic"}, nil
}

func sameService(a intake.Alert, service string) error {
	if service != "" && a.Service != service {
		return fault.Field("service", "is %q, but this integration belongs to service %q", a.Service, service)
	}
	return nil
}

// hasSpecVersion says body is a JSON object with a specversion member: a
// structured CloudEvent sent without its media type (NATS has none).
func hasSpecVersion(body []byte) bool {
	var probe struct {
		SpecVersion *json.RawMessage `json:"specversion"`
	}
	b := bytes.TrimSpace(body)
	return len(b) > 0 && b[0] == '{' && json.Unmarshal(b, &probe) == nil && probe.SpecVersion != nil
}

// withService returns the JSON object body with service filled in when it
// has none; anything else is returned unchanged for the decoder to judge.
func withService(body []byte, service string) []byte {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil || obj == nil {
		return body
	}
	if raw, ok := obj["service"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil || s != "" {
			return body
		}
	}
	obj["service"], _ = json.Marshal(service)
	b, err := json.Marshal(obj)
	if err != nil {
		return body
	}
	return b
}

package source

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/internal/integration"
	"github.com/firebreak-dev/firebreak/services/intake/pagerduty"
)

// PagerDuty's answers other than those of the pagerduty package.
var (
	// invalidRoutingKey is what PagerDuty answers for a well-formed routing
	// key that is not an integration's: 400 with "Invalid routing key"
	// (reported by PagerDuty clients, e.g. robusta-dev/robusta#571:
	// "400, Bad Request, Invalid routing key"). Unknown, revoked and
	// wrong-type keys all get it.
	invalidRoutingKey = pagerduty.InvalidResponse{Status: "invalid event", Message: "Event object is invalid",
		Errors: []string{"Invalid routing key"}}
	// throttled is the 429 body; PagerDuty documents only the status
	// ("429 - Request Limit Exceeded", developer-docs 05-Rate-Limits.md).
	throttled = pagerduty.InvalidResponse{Status: "throttle event", Message: "Request Limit Exceeded",
		Errors: []string{"Too many events for this routing key; retry after the time in Retry-After"}}
)

// errorResponse is PagerDuty's 5XX body (api-schema components/responses/Error).
type errorResponse struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func (s *Sources) enqueue(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readPD(w, r)
	if !ok {
		return
	}
	e, err := pagerduty.DecodeEvent(body)
	if err != nil {
		writeInvalid(w, err)
		return
	}
	in, ok := s.routingKey(w, r, e.RoutingKey)
	if !ok {
		return
	}
	data := e.Alert(in.Service, s.svc.Now())
	data.Integration = in.Label()
	if _, err := s.svc.AcceptReceived(r.Context(), data, actor(in), httpapi.RequestID(r.Context()), ""); err != nil {
		s.writeUnavailable(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusAccepted, pagerduty.Accepted(e.DedupKey))
}

func (s *Sources) changeEnqueue(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readPD(w, r)
	if !ok {
		return
	}
	c, err := pagerduty.DecodeChange(body)
	if err != nil {
		writeInvalid(w, err)
		return
	}
	in, ok := s.routingKey(w, r, c.RoutingKey)
	if !ok {
		return
	}
	data := events.ChangeReceived{Service: in.Service, Summary: c.Payload.Summary, Source: c.Payload.Source,
		CustomDetails: c.Payload.CustomDetails, Integration: in.Label(), ReceivedAt: s.svc.Now().UTC()}
	if !c.Payload.Time.IsZero() {
		t := c.Payload.Time
		data.Timestamp = &t
	}
	for _, l := range c.Links {
		data.Links = append(data.Links, events.ChangeLink{Href: l.Href, Text: l.Text})
	}
	if _, err := s.svc.AcceptChange(r.Context(), data, actor(in), httpapi.RequestID(r.Context())); err != nil {
		s.writeUnavailable(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusAccepted, pagerduty.Accepted(""))
}

// readPD reads a body of at most 512 KB (PagerDuty's limit, 01-Overview.md)
// or answers 413.
func (s *Sources) readPD(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := httpapi.ReadBody(w, r, httpapi.MaxBody)
	if err == nil {
		return body, true
	}
	if fault.KindOf(err) == fault.TooLarge {
		httpapi.WriteJSON(w, http.StatusRequestEntityTooLarge, pagerduty.InvalidResponse{Status: "invalid event",
			Message: "Event object is too large", Errors: []string{fmt.Sprintf("the request body is larger than %d bytes (512 KB)", httpapi.MaxBody)}})
		return nil, false
	}
	httpapi.WriteJSON(w, http.StatusBadRequest, pagerduty.InvalidResponse{Status: "Unrecognized object",
		Message: "Event object format is unrecognized", Errors: []string{"the request body could not be read"}})
	return nil, false
}

// routingKey resolves an events-v2 routing key and takes one event from its
// rate limit, or answers as PagerDuty does.
func (s *Sources) routingKey(w http.ResponseWriter, r *http.Request, key string) (integration.Integration, bool) {
	in, err := s.keys.Lookup(r.Context(), key)
	d := httpapi.Denial{Reason: events.DenyInvalidIntegrationKey, Status: http.StatusBadRequest}
	if err == nil && in.Type != integration.TypeEventsV2 {
		d.Reason, d.Integration = events.DenyIntegrationType, in.ID
		err = integration.ErrUnknownKey
	}
	if err != nil {
		if errors.Is(err, integration.ErrUnknownKey) {
			// The caller learns nothing of which; the audit log does.
			httpapi.Deny(r, d)
			httpapi.WriteJSON(w, http.StatusBadRequest, invalidRoutingKey)
			return integration.Integration{}, false
		}
		s.writeUnavailable(w, r, err)
		return integration.Integration{}, false
	}
	if ok, wait := s.limits.allow(in.ID, s.svc.Now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(wait)))
		httpapi.WriteJSON(w, http.StatusTooManyRequests, throttled)
		return integration.Integration{}, false
	}
	return in, true
}

func writeInvalid(w http.ResponseWriter, err error) {
	var ve *pagerduty.ValidationError
	if errors.As(err, &ve) {
		httpapi.WriteJSON(w, http.StatusBadRequest, ve.Response())
		return
	}
	httpapi.WriteJSON(w, http.StatusBadRequest, pagerduty.InvalidResponse{Status: "invalid event",
		Message: "Event object is invalid", Errors: []string{err.Error()}})
}

// writeUnavailable answers a failure to store the event (or to read the
// keys) with a 5xx, which PagerDuty clients retry.
func (s *Sources) writeUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	status := httpapi.StatusOf(err)
	if status < 500 {
		status = http.StatusInternalServerError
	}
	s.log.ErrorContext(r.Context(), "pagerduty event not accepted", "path", r.URL.Path, "err", err)
	httpapi.WriteJSON(w, status, errorResponse{Status: "error", Message: "the event was not stored; retry"})
}

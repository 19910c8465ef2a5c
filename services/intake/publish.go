package intake

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
)

// idNamespace scopes the envelope ids intake derives from what a sender
// sent (see DerivedID).
var idNamespace = uuid.MustParse("6f1c0b2e-4a57-4c1e-9d7e-2b5f0e8a9c31")

// DerivedID is a stable envelope id (a name-based UUID) for parts: the same
// parts give the same id, so that JetStream's duplicate window (the id is
// the Nats-Msg-Id) stores a re-sent alert once. Parts are length-prefixed,
// so no two part lists collide.
func DerivedID(parts ...string) string {
	var b []byte
	for _, p := range parts {
		b = append(b, []byte(uuid.NewSHA1(uuid.Nil, []byte(p)).String())...)
		b = append(b, ':')
		b = append(b, p...)
	}
	return uuid.NewSHA1(idNamespace, b).String()
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// AcceptReceived publishes an alert.received already normalized by an
// integration's decoder, as actor. id, when not empty, is the envelope id
// (see DerivedID); otherwise a fresh one is made. It returns ErrNotDurable
// when the bus did not store the event.
func (s *Service) AcceptReceived(ctx context.Context, data events.AlertReceived, actor events.Actor, correlation, id string) (events.Envelope, error) {
	env, err := events.New(events.TypeAlertReceived, Name, data.Service+"/"+data.DedupKey, actor, data,
		events.At(data.ReceivedAt), events.WithCorrelation(correlation), events.WithID(id))
	if err != nil {
		return events.Envelope{}, err
	}
	if err := s.pub.PublishEnvelope(ctx, env); err != nil {
		s.log.ErrorContext(ctx, "publish alert", "service", data.Service, "err", err)
		return events.Envelope{}, ErrNotDurable
	}
	return env, nil
}

// AcceptChange publishes a change.received event as actor.
func (s *Service) AcceptChange(ctx context.Context, data events.ChangeReceived, actor events.Actor, correlation string) (events.Envelope, error) {
	env, err := events.New(events.TypeChangeReceived, Name, data.Service, actor, data,
		events.At(data.ReceivedAt), events.WithCorrelation(correlation))
	if err != nil {
		return events.Envelope{}, err
	}
	if err := s.pub.PublishEnvelope(ctx, env); err != nil {
		s.log.ErrorContext(ctx, "publish change", "service", data.Service, "err", err)
		return events.Envelope{}, ErrNotDurable
	}
	return env, nil
}

// Decoded is what a Decoder read from a request.
type Decoded struct {
	// Alerts are the valid alerts; IDs their envelope ids ("" for a fresh
	// one), index by index.
	Alerts []Alert
	IDs    []string
	// Batch says the sender sent a list (the answer is a list too).
	Batch bool
	// Integration names the format in alert.received.
	Integration string
}

// Decoder reads the alerts of a POST /api/v1/alerts request sent in a
// format other than the generic JSON alert (CloudEvents). ok false leaves
// the request to the generic format; err is the reason the request is
// refused (a fault.Invalid error names the field).
type Decoder func(header http.Header, body []byte) (d Decoded, ok bool, err error)

// BatchJSON is the answer to a batch of alerts.
type BatchJSON struct {
	Items []AcceptedJSON `json:"items"`
}

// acceptDecoded publishes what a Decoder read and answers: 202 once every
// alert is stored. Nothing is published unless every alert is valid; a
// failure part-way is answered 503, and a retry stores only what is
// missing when the alerts carry derived ids.
func (s *Service) acceptDecoded(w http.ResponseWriter, r *http.Request, d Decoded) error {
	actor := httpapi.ActorOf(r)
	actor.Kind = events.ActorIntegration
	now := s.now()
	out := BatchJSON{Items: []AcceptedJSON{}}
	for i, a := range d.Alerts {
		id := ""
		if i < len(d.IDs) {
			id = d.IDs[i]
		}
		env, err := s.AcceptReceived(r.Context(), a.Received(d.Integration, now), actor, httpapi.RequestID(r.Context()), id)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, AcceptedJSON{Status: "accepted", DedupKey: a.DedupKey, ID: env.ID})
	}
	if d.Batch || len(out.Items) != 1 {
		httpapi.WriteJSON(w, http.StatusAccepted, out)
		return nil
	}
	httpapi.WriteJSON(w, http.StatusAccepted, out.Items[0])
	return nil
}

// Received is one alert.received to publish with AcceptAll.
type Received struct {
	Data  events.AlertReceived
	Actor events.Actor
	// ID is the envelope id (see DerivedID); "" makes a fresh one.
	ID string
}

// AcceptAll publishes alerts as one asynchronous batch and returns once
// every one is stored, or ErrNotDurable. With derived ids, publishing the
// same batch again stores only what is missing.
func (s *Service) AcceptAll(ctx context.Context, items []Received) error {
	envs := make([]events.Envelope, len(items))
	for i, it := range items {
		env, err := events.New(events.TypeAlertReceived, Name, it.Data.Service+"/"+it.Data.DedupKey, it.Actor, it.Data,
			events.At(it.Data.ReceivedAt), events.WithID(it.ID))
		if err != nil {
			return err
		}
		envs[i] = env
	}
	if err := s.pub.PublishEnvelopes(ctx, envs); err != nil {
		s.log.ErrorContext(ctx, "publish alerts", "alerts", len(envs), "err", err)
		return ErrNotDurable
	}
	return nil
}

// Package intake accepts alerts from monitoring systems, validates and
// normalizes them, and publishes each as an alert.received event. It answers
// 202 only once JetStream has stored the event, so an accepted alert survives
// any crash.
package intake

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
)

// Name is the service's name and the source of its events.
const Name = "intake"

// Publisher stores envelopes durably on the bus (JetStream PubAck).
type Publisher interface {
	// PublishEnvelope returns once env is stored.
	PublishEnvelope(ctx context.Context, env events.Envelope) error
	// PublishEnvelopes returns nil once every one of envs is stored; they
	// are sent without waiting for each other.
	PublishEnvelopes(ctx context.Context, envs []events.Envelope) error
}

// Config tunes the service.
type Config struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Decoder, when set, reads POST /api/v1/alerts bodies in another
	// format (CloudEvents) before the generic JSON alert is tried.
	Decoder Decoder
}

// Service is the intake service.
type Service struct {
	pub     Publisher
	log     *slog.Logger
	now     func() time.Time
	decoder Decoder
}

// New returns the intake service publishing through pub.
func New(pub Publisher, logger *slog.Logger, cfg Config) (*Service, error) {
	if pub == nil {
		return nil, errors.New("intake: nil publisher")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Service{pub: pub, log: logger, now: now, decoder: cfg.Decoder}, nil
}

// ErrNotDurable says an alert could not be stored and was not accepted.
var ErrNotDurable = fault.New(fault.Unavailable, "not_accepted", "alert not accepted: the event bus did not store it; retry")

// Accept publishes a valid alert and returns its event.
func (s *Service) Accept(ctx context.Context, a Alert, actor events.Actor, correlation string) (events.Envelope, error) {
	now := s.now()
	env, err := events.New(events.TypeAlertReceived, Name, a.Service+"/"+a.DedupKey, actor,
		a.Received("generic", now), events.At(now), events.WithCorrelation(correlation))
	if err != nil {
		return events.Envelope{}, err
	}
	if err := s.pub.PublishEnvelope(ctx, env); err != nil {
		s.log.ErrorContext(ctx, "publish alert", "service", a.Service, "err", err)
		return events.Envelope{}, ErrNotDurable
	}
	return env, nil
}

// AcceptedJSON is the answer to an accepted alert.
type AcceptedJSON struct {
	Status   string `json:"status"`
	DedupKey string `json:"dedup_key"`
	ID       string `json:"id"`
}

// Routes mounts the intake API on srv.
func (s *Service) Routes(srv *httpapi.Server, logger *slog.Logger) {
	srv.Handle("POST /api/v1/alerts", httpapi.ScopeIncidentsWrite, func(w http.ResponseWriter, r *http.Request) {
		body, err := httpapi.ReadBody(w, r, httpapi.MaxBody)
		if err != nil {
			httpapi.WriteError(w, r, logger, err)
			return
		}
		if s.decoder != nil {
			if d, ok, err := s.decoder(r.Header, body); ok || err != nil {
				if err == nil {
					err = s.acceptDecoded(w, r, d)
				}
				if err != nil {
					httpapi.WriteError(w, r, logger, err)
				}
				return
			}
		}
		a, err := DecodeAlert(body)
		if err != nil {
			httpapi.WriteError(w, r, logger, err)
			return
		}
		actor := httpapi.ActorOf(r)
		actor.Kind = events.ActorIntegration
		env, err := s.Accept(r.Context(), a, actor, httpapi.RequestID(r.Context()))
		if err != nil {
			httpapi.WriteError(w, r, logger, err)
			return
		}
		httpapi.WriteJSON(w, http.StatusAccepted, AcceptedJSON{Status: "accepted", DedupKey: a.DedupKey, ID: env.ID})
	})
	srv.Handle("POST /api/v1/alerts/batch", httpapi.ScopeIncidentsWrite, s.batch(logger))
}

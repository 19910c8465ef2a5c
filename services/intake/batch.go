package intake

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
)

// Limits of POST /api/v1/alerts/batch.
const (
	MaxBatchAlerts = 1000
	MaxBatchBody   = 4 << 20
)

// BatchRequest is the body of POST /api/v1/alerts/batch.
type BatchRequest struct {
	Alerts []json.RawMessage `json:"alerts"`
}

// ItemError names what is wrong with one alert of a batch.
type ItemError struct {
	Index   int    `json:"index"`
	Field   string `json:"field,omitempty"`
	Problem string `json:"problem"`
}

// DecodeBatch parses a batch of generic alerts. Every alert is validated;
// when any is invalid the error is a fault.Invalid whose details list each
// bad alert (index, field, problem), and nothing may be accepted.
func DecodeBatch(body []byte) ([]Alert, error) {
	var req BatchRequest
	if err := httpapi.DecodeJSON(body, &req); err != nil {
		return nil, err
	}
	switch {
	case req.Alerts == nil:
		return nil, fault.Field("alerts", "is required: a list of alerts")
	case len(req.Alerts) == 0:
		return nil, fault.Field("alerts", "is empty")
	case len(req.Alerts) > MaxBatchAlerts:
		return nil, fault.Field("alerts", "holds %d alerts; at most %d per request", len(req.Alerts), MaxBatchAlerts)
	}
	alerts := make([]Alert, len(req.Alerts))
	var bad []ItemError
	for i, raw := range req.Alerts {
		a, err := DecodeAlert(raw)
		if err != nil {
			item := ItemError{Index: i, Problem: err.Error()}
			if d := fault.DetailsOf(err); d != nil {
				if f, ok := d["field"].(string); ok && f != "(body)" {
					item.Field = f
				}
				if p, ok := d["problem"].(string); ok {
					item.Problem = p
				}
			}
			bad = append(bad, item)
			continue
		}
		alerts[i] = a
	}
	if len(bad) > 0 {
		first := fmt.Sprintf("alerts[%d]", bad[0].Index)
		if bad[0].Field != "" {
			first += "." + bad[0].Field
		}
		return nil, &fault.Error{Kind: fault.Invalid, Code: "invalid_alerts",
			Message: fmt.Sprintf("%d of %d alerts are invalid (first: %s: %s); none was accepted", len(bad), len(alerts), first, bad[0].Problem),
			Details: map[string]any{"field": first, "errors": bad}}
	}
	return alerts, nil
}

// AcceptBatch publishes valid alerts as one durable batch: it returns once
// JetStream stored every one, or ErrNotDurable (a retry of the same request
// then stores new copies; each is a distinct alert).
func (s *Service) AcceptBatch(ctx context.Context, alerts []Alert, actor events.Actor, correlation string) ([]events.Envelope, error) {
	now := s.now()
	envs := make([]events.Envelope, len(alerts))
	for i, a := range alerts {
		env, err := events.New(events.TypeAlertReceived, Name, a.Service+"/"+a.DedupKey, actor,
			a.Received("generic", now), events.At(now), events.WithCorrelation(correlation))
		if err != nil {
			return nil, err
		}
		envs[i] = env
	}
	if err := s.pub.PublishEnvelopes(ctx, envs); err != nil {
		s.log.ErrorContext(ctx, "publish alert batch", "alerts", len(envs), "err", err)
		return nil, ErrNotDurable
	}
	return envs, nil
}

// batch serves POST /api/v1/alerts/batch: up to MaxBatchAlerts generic
// alerts, all valid or none accepted (400 listing every bad alert), 202
// once all are durable.
func (s *Service) batch(logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := httpapi.ReadBody(w, r, MaxBatchBody)
		if err != nil {
			httpapi.WriteError(w, r, logger, err)
			return
		}
		alerts, err := DecodeBatch(body)
		if err != nil {
			httpapi.WriteError(w, r, logger, err)
			return
		}
		actor := httpapi.ActorOf(r)
		actor.Kind = events.ActorIntegration
		envs, err := s.AcceptBatch(r.Context(), alerts, actor, httpapi.RequestID(r.Context()))
		if err != nil {
			httpapi.WriteError(w, r, logger, err)
			return
		}
		out := BatchJSON{Items: make([]AcceptedJSON, len(envs))}
		for i, env := range envs {
			out.Items[i] = AcceptedJSON{Status: "accepted", DedupKey: alerts[i].DedupKey, ID: env.ID}
		}
		httpapi.WriteJSON(w, http.StatusAccepted, out)
	}
}

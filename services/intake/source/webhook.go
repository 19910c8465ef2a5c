package source

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/internal/integration"
	"github.com/firebreak-dev/firebreak/services/intake"
	"github.com/firebreak-dev/firebreak/services/intake/alertmanager"
	"github.com/firebreak-dev/firebreak/services/intake/grafana"
)

// Routes mounts the sources on srv. They are public routes: each
// authenticates its integration itself.
func (s *Sources) Routes(srv *httpapi.Server) {
	srv.HandlePublic("POST /v2/enqueue", http.HandlerFunc(s.enqueue))
	srv.HandlePublic("POST /v2/change/enqueue", http.HandlerFunc(s.changeEnqueue))
	srv.HandlePublic("POST /api/v1/integrations/alertmanager", http.HandlerFunc(s.alertmanager))
	srv.HandlePublic("POST /api/v1/integrations/grafana/{integration_id}", http.HandlerFunc(s.grafana))
	srv.HandlePublic("POST /api/v1/integrations/generic", http.HandlerFunc(s.generic))
}

// bearerIntegration resolves the bearer token as an integration key of
// type typ. Every refusal is integration.ErrUnknownKey (401), reported as
// auth.denied with its precise reason.
func (s *Sources) bearerIntegration(ctx context.Context, r *http.Request, typ string) (integration.Integration, error) {
	key := bearer(r)
	in, err := s.keys.Lookup(ctx, key)
	if err == nil && in.Type != typ {
		httpapi.Deny(r, httpapi.Denial{Reason: events.DenyIntegrationType, Status: http.StatusUnauthorized, Integration: in.ID})
		return integration.Integration{}, integration.ErrUnknownKey
	}
	if errors.Is(err, integration.ErrUnknownKey) {
		reason := events.DenyInvalidIntegrationKey
		if key == "" {
			reason = events.DenyMissingIntegrationKey
		}
		httpapi.Deny(r, httpapi.Denial{Reason: reason, Status: http.StatusUnauthorized})
	}
	return in, err
}

// signatureDenial is the auth.denied reason of a Grafana signature error.
func signatureDenial(err error) string {
	switch {
	case errors.Is(err, grafana.ErrNoSignature), errors.Is(err, grafana.ErrNoTimestamp):
		return events.DenyMissingSignature
	case errors.Is(err, grafana.ErrStale), errors.Is(err, grafana.ErrFuture):
		return events.DenyStaleSignature
	}
	return events.DenyInvalidSignature
}

// alertmanager takes an Alertmanager webhook notification. Alertmanager
// retries only 5xx answers, so 4xx is kept for what can never be accepted
// and 5xx for an event the bus did not store.
func (s *Sources) alertmanager(w http.ResponseWriter, r *http.Request) {
	in, err := s.bearerIntegration(r.Context(), r, integration.TypeAlertmanager)
	if err != nil {
		httpapi.WriteError(w, r, s.log, err)
		return
	}
	body, err := httpapi.ReadBody(w, r, httpapi.MaxBody)
	if err != nil {
		httpapi.WriteError(w, r, s.log, err)
		return
	}
	n, err := alertmanager.Decode(body)
	if err != nil {
		httpapi.WriteError(w, r, s.log, err)
		return
	}
	s.acceptGroup(w, r, in, n.Group())
}

// grafana takes a Grafana webhook notification signed with the
// integration's signing secret.
func (s *Sources) grafana(w http.ResponseWriter, r *http.Request) {
	body, err := httpapi.ReadBody(w, r, httpapi.MaxBody)
	if err != nil {
		httpapi.WriteError(w, r, s.log, err)
		return
	}
	in, secret, err := s.keys.Signed(r.Context(), r.PathValue("integration_id"))
	if err != nil && !errors.Is(err, integration.ErrUnknownKey) {
		httpapi.WriteError(w, r, s.log, err)
		return
	}
	known := err == nil
	if !known {
		// Verify against a secret nobody has, so that an unknown id is
		// answered exactly like a bad signature, at the same cost.
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	// An unknown integration is reported as such, whatever the signature:
	// nothing could have signed for it.
	refuse := func(err error) {
		d := httpapi.Denial{Reason: signatureDenial(err), Status: http.StatusUnauthorized}
		if !known {
			d.Reason, d.Integration = events.DenyUnknownIntegration, r.PathValue("integration_id")
		}
		httpapi.Deny(r, d)
		httpapi.WriteError(w, r, s.log, err)
	}
	ts := r.Header.Get(s.cfg.TimestampHeader)
	if s.cfg.RequireTimestamp {
		if err := grafana.RequireTimestamp(ts); err != nil {
			refuse(err)
			return
		}
	}
	if err := grafana.Verify(secret, body, r.Header.Get(grafana.SignatureHeader), ts, s.svc.Now(), s.cfg.SignatureWindow); err != nil {
		refuse(err)
		return
	}
	if !known {
		refuse(grafana.ErrBadSignature)
		return
	}
	n, err := grafana.Decode(body)
	if err != nil {
		httpapi.WriteError(w, r, s.log, err)
		return
	}
	s.acceptGroup(w, r, in, n.Group())
}

// acceptGroup publishes a group's alert.received with an id derived from
// the notification's content, so that the copies HA peers send are stored
// once (within JetStream's duplicate window), and answers 200.
func (s *Sources) acceptGroup(w http.ResponseWriter, r *http.Request, in integration.Integration, g alertmanager.Group) {
	data := g.Received(in.Service, s.svc.Now())
	data.Integration = in.Label()
	id := intake.DerivedID(g.Integration, in.ID, g.ContentHash())
	env, err := s.svc.AcceptReceived(r.Context(), data, actor(in), httpapi.RequestID(r.Context()), id)
	if err != nil {
		httpapi.WriteError(w, r, s.log, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, intake.AcceptedJSON{Status: "accepted", DedupKey: data.DedupKey, ID: env.ID})
}

// generic takes the generic JSON alert or CloudEvents for the integration's
// service (which a body may leave out).
func (s *Sources) generic(w http.ResponseWriter, r *http.Request) {
	in, err := s.bearerIntegration(r.Context(), r, integration.TypeGeneric)
	if err != nil {
		httpapi.WriteError(w, r, s.log, err)
		return
	}
	body, err := httpapi.ReadBody(w, r, httpapi.MaxBody)
	if err != nil {
		httpapi.WriteError(w, r, s.log, err)
		return
	}
	d, err := readAlerts(in.Service, r.Header, body)
	if err != nil {
		httpapi.WriteError(w, r, s.log, err)
		return
	}
	out := intake.BatchJSON{Items: []intake.AcceptedJSON{}}
	now := s.svc.Now()
	for i, a := range d.Alerts {
		env, err := s.svc.AcceptReceived(r.Context(), a.Received(in.Label(), now), actor(in), httpapi.RequestID(r.Context()), d.IDs[i])
		if err != nil {
			httpapi.WriteError(w, r, s.log, err)
			return
		}
		out.Items = append(out.Items, intake.AcceptedJSON{Status: "accepted", DedupKey: a.DedupKey, ID: env.ID})
	}
	if d.Batch {
		httpapi.WriteJSON(w, http.StatusAccepted, out)
		return
	}
	httpapi.WriteJSON(w, http.StatusAccepted, out.Items[0])
}

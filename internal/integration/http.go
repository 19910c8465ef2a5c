package integration

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
)

// Source is the envelope source of integration events.
const Source = "integration"

// Publisher publishes an event and returns once the bus has stored it.
type Publisher interface {
	PublishEnvelope(ctx context.Context, env events.Envelope) error
}

// API serves the integration endpoints; every one needs config:write.
type API struct {
	store  *Store
	keys   *Keys
	pub    Publisher
	logger *slog.Logger
}

// NewAPI returns the integration endpoints over store. keys, when set,
// learns of revocations at once instead of through its watcher.
func NewAPI(store *Store, keys *Keys, pub Publisher, logger *slog.Logger) *API {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &API{store: store, keys: keys, pub: pub, logger: logger}
}

// ListJSON is the answer to a listing.
type ListJSON struct {
	Items []Integration `json:"items"`
}

// Routes mounts the endpoints on s.
func (api *API) Routes(s *httpapi.Server) {
	s.Handle("POST /api/v1/integrations", httpapi.ScopeConfigWrite, api.create)
	s.Handle("GET /api/v1/integrations", httpapi.ScopeConfigWrite, api.list)
	s.Handle("DELETE /api/v1/integrations/{id}", httpapi.ScopeConfigWrite, api.revoke)
}

func (api *API) create(w http.ResponseWriter, r *http.Request) {
	var spec Spec
	if err := httpapi.ReadJSON(w, r, 64<<10, &spec); err != nil {
		httpapi.WriteError(w, r, api.logger, err)
		return
	}
	actor := httpapi.ActorOf(r)
	c, err := api.store.Create(r.Context(), spec, actor.ID)
	if err != nil {
		httpapi.WriteError(w, r, api.logger, err)
		return
	}
	// Never log the key or the signing secret.
	api.logger.InfoContext(r.Context(), "integration created", "integration_id", c.ID, "service", c.Service, "type", c.Type, "by", actor.ID)
	api.publish(r, events.TypeIntegrationCreated, c.Integration, actor, events.IntegrationCreated{
		IntegrationID: c.ID, Service: c.Service, Type: c.Type, Name: c.Name})
	httpapi.WriteJSON(w, http.StatusCreated, c)
}

func (api *API) list(w http.ResponseWriter, r *http.Request) {
	items, err := api.store.List(r.Context())
	if err != nil {
		httpapi.WriteError(w, r, api.logger, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, ListJSON{Items: items})
}

func (api *API) revoke(w http.ResponseWriter, r *http.Request) {
	actor := httpapi.ActorOf(r)
	in, err := api.store.Revoke(r.Context(), r.PathValue("id"), actor.ID)
	if err != nil {
		httpapi.WriteError(w, r, api.logger, err)
		return
	}
	if api.keys != nil {
		api.keys.Refresh(r.Context(), in.ID)
	}
	api.logger.InfoContext(r.Context(), "integration revoked", "integration_id", in.ID, "service", in.Service, "by", actor.ID)
	api.publish(r, events.TypeIntegrationRevoked, in, actor, events.IntegrationRevoked{
		IntegrationID: in.ID, Service: in.Service, Type: in.Type, Name: in.Name})
	httpapi.WriteJSON(w, http.StatusOK, in)
}

// publish announces a change already written to the bucket. As with
// tokens (ADR 5), the change stands if the bus cannot take the event: the
// new key must reach its caller.
func (api *API) publish(r *http.Request, typ string, in Integration, actor events.Actor, data any) {
	if api.pub == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	env, err := events.New(typ, Source, in.ID, actor, data, events.WithCorrelation(httpapi.RequestID(r.Context())))
	if err == nil {
		err = api.pub.PublishEnvelope(ctx, env)
	}
	if err != nil {
		api.logger.ErrorContext(ctx, "publish integration event; the change is made but not announced",
			"type", typ, "integration_id", in.ID, "err", err)
	}
}

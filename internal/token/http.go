package token

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
)

// Source is the envelope source of token events.
const Source = "token"

// Publisher publishes an event and returns once the bus has stored it
// (bus.Publisher).
type Publisher interface {
	PublishEnvelope(ctx context.Context, env events.Envelope) error
}

// API serves the token endpoints. Every one needs the admin scope.
type API struct {
	store  *Store
	authn  *Authenticator
	pub    Publisher
	logger *slog.Logger
}

// NewAPI returns the token endpoints over store. authn, when set, learns of
// revocations at once instead of through its watcher.
func NewAPI(store *Store, authn *Authenticator, pub Publisher, logger *slog.Logger) *API {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &API{store: store, authn: authn, pub: pub, logger: logger}
}

// CreatedJSON is the answer to a token creation: the token and, this once,
// its secret.
type CreatedJSON struct {
	Token
	// Secret is the bearer token. It is not stored and cannot be shown again.
	Secret string `json:"token"`
}

// ListJSON is the answer to a token listing.
type ListJSON struct {
	Items []Token `json:"items"`
}

// Routes mounts the endpoints on s.
func (api *API) Routes(s *httpapi.Server) {
	s.Handle("POST /api/v1/tokens", httpapi.ScopeAdmin, api.create)
	s.Handle("GET /api/v1/tokens", httpapi.ScopeAdmin, api.list)
	s.Handle("DELETE /api/v1/tokens/{id}", httpapi.ScopeAdmin, api.revoke)
}

func (api *API) create(w http.ResponseWriter, r *http.Request) {
	var spec Spec
	if err := httpapi.ReadJSON(w, r, 64<<10, &spec); err != nil {
		httpapi.WriteError(w, r, api.logger, err)
		return
	}
	actor := httpapi.ActorOf(r)
	tok, secret, err := api.store.Create(r.Context(), spec, actor.ID)
	if err != nil {
		httpapi.WriteError(w, r, api.logger, err)
		return
	}
	api.logger.InfoContext(r.Context(), "token created", "token_id", tok.ID, "user", tok.User, "scopes", tok.Scopes, "by", actor.ID)
	api.publish(r, events.TypeTokenCreated, tok, actor, events.TokenCreated{
		TokenID: tok.ID, User: tok.User, Name: tok.Name, Kind: tok.Kind, Scopes: tok.Scopes})
	httpapi.WriteJSON(w, http.StatusCreated, CreatedJSON{Token: tok, Secret: secret})
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
	tok, err := api.store.Revoke(r.Context(), r.PathValue("id"), actor.ID)
	if err != nil {
		httpapi.WriteError(w, r, api.logger, err)
		return
	}
	if api.authn != nil {
		api.authn.Observe(r.Context(), tok.ID)
	}
	api.logger.InfoContext(r.Context(), "token revoked", "token_id", tok.ID, "user", tok.User, "by", actor.ID)
	api.publish(r, events.TypeTokenRevoked, tok, actor, events.TokenRevoked{
		TokenID: tok.ID, User: tok.User, Name: tok.Name, Kind: tok.Kind, Scopes: tok.Scopes})
	httpapi.WriteJSON(w, http.StatusOK, tok)
}

// publish announces a change already written to the bucket. The change
// stands if the bus cannot take the event (the secret of a new token must
// reach its caller), so a failure is logged loudly rather than answered.
func (api *API) publish(r *http.Request, typ string, tok Token, actor events.Actor, data any) {
	if api.pub == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	env, err := events.New(typ, Source, tok.ID, actor, data, events.WithCorrelation(httpapi.RequestID(r.Context())))
	if err == nil {
		err = api.pub.PublishEnvelope(ctx, env)
	}
	if err != nil {
		api.logger.ErrorContext(ctx, "publish token event; the change is made but not announced",
			"type", typ, "token_id", tok.ID, "err", err)
	}
}

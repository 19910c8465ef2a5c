package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Scopes a token can carry. ScopeAdmin implies every other scope.
const (
	ScopeIncidentsRead  = "incidents:read"
	ScopeIncidentsWrite = "incidents:write"
	ScopeConfigWrite    = "config:write"
	ScopeAuditRead      = "audit:read"
	ScopeCommsApprove   = "comms:approve"
	ScopeVulnsRead      = "vulns:read"
	ScopeVulnsWrite     = "vulns:write"
	ScopeAdmin          = "admin"
)

// Principal is who a request is authenticated as.
type Principal struct {
	ID     string
	Name   string
	Kind   events.ActorKind
	Scopes []string
}

// Has reports whether the principal holds scope.
func (p Principal) Has(scope string) bool {
	return slices.Contains(p.Scopes, ScopeAdmin) || slices.Contains(p.Scopes, scope)
}

// Authenticator resolves a bearer token to a principal.
type Authenticator interface {
	// Authenticate returns the principal for token or an error of kind
	// fault.Unauthorized.
	Authenticate(ctx context.Context, token string) (Principal, error)
}

// ErrBadToken is the one answer for a missing, unknown or revoked token: it
// does not say which.
var ErrBadToken = fault.New(fault.Unauthorized, "unauthorized", "missing or invalid bearer token")

// AdminToken authenticates the bootstrap admin token. It keeps only the
// token's SHA-256 and compares in constant time.
type AdminToken struct{ hash [32]byte }

// NewAdminToken returns an Authenticator for the bootstrap admin token.
func NewAdminToken(token string) *AdminToken {
	return &AdminToken{hash: sha256.Sum256([]byte(token))}
}

// Authenticate implements Authenticator.
func (a *AdminToken) Authenticate(_ context.Context, token string) (Principal, error) {
	h := sha256.Sum256([]byte(token))
	if token == "" || subtle.ConstantTimeCompare(h[:], a.hash[:]) != 1 {
		return Principal{}, ErrBadToken
	}
	return Principal{ID: "admin", Name: "admin", Kind: events.ActorUser, Scopes: []string{ScopeAdmin}}, nil
}

type principalKey struct{}

// PrincipalFrom returns the authenticated principal of a request context.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithPrincipal returns ctx carrying p (for tests and internal callers).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// ChannelHeader lets a client say which channel it is (the CLI sends "cli").
const ChannelHeader = "X-Firebreak-Channel"

// ActorOf is the actor of an authenticated request: its principal, acting
// through the API or the CLI.
func ActorOf(r *http.Request) events.Actor {
	p, _ := PrincipalFrom(r.Context())
	return actorFor(r, p)
}

// actorFor is p acting through r's channel.
func actorFor(r *http.Request, p Principal) events.Actor {
	ch := events.ChannelAPI
	if strings.EqualFold(r.Header.Get(ChannelHeader), string(events.ChannelCLI)) {
		ch = events.ChannelCLI
	}
	kind := p.Kind
	if kind == "" {
		kind = events.ActorUser
	}
	return events.Actor{Kind: kind, ID: p.ID, Name: p.Name, Channel: ch}
}
